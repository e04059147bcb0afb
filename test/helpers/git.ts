import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { removeDir, tempDir } from './tmp.js';

/** A bare `origin` (branch main) and a working clone that pushes every commit to it. */
export interface FleetRepo {
  /** Path of the bare repository: the URL a source under test fetches from. */
  readonly origin: string;
  readonly work: string;
  /** Writes (string) or deletes (null) files, commits everything, pushes to origin main; resolves the new sha. */
  commit(files: Record<string, string | null>, message: string): Promise<string>;
  head(): string;
  cleanup(): void;
}

const GIT_ENV = {
  ...process.env,
  GIT_TERMINAL_PROMPT: '0',
  GIT_CONFIG_NOSYSTEM: '1',
};

/** Creates origin + working clone in one temp dir and commits `files` as the first revision of main. */
export async function createFleetRepo(files: Record<string, string>): Promise<FleetRepo> {
  const root = tempDir('fleetcd-git-');
  const origin = join(root, 'origin.git');
  const work = join(root, 'work');
  try {
    git(root, 'init', '-q', '--bare', '-b', 'main', origin);
    git(origin, 'config', 'gc.auto', '0');
    git(root, 'init', '-q', '-b', 'main', work);
    for (const [key, value] of [
      ['gc.auto', '0'],
      ['user.name', 'fleetcd test'],
      ['user.email', 'test@fleetcd.invalid'],
      ['commit.gpgsign', 'false'],
      ['core.hooksPath', '/dev/null'],
    ] as const) {
      git(work, 'config', key, value);
    }
    git(work, 'remote', 'add', 'origin', origin);
    const repo: FleetRepo = {
      origin,
      work,
      commit: async (changes, message) => commitAndPush(work, changes, message),
      head: () => git(work, 'rev-parse', 'HEAD'),
      cleanup: () => removeDir(root),
    };
    await repo.commit(files, 'initial fleet');
    return repo;
  } catch (error) {
    removeDir(root);
    throw error;
  }
}

function commitAndPush(work: string, changes: Record<string, string | null>, message: string): string {
  for (const [path, content] of Object.entries(changes)) {
    const file = insideRepo(work, path);
    if (content === null) {
      rmSync(file, { force: true });
      continue;
    }
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, content);
  }
  git(work, 'add', '-A');
  git(work, 'commit', '-q', '--allow-empty', '-m', message);
  git(work, 'push', '-q', 'origin', 'HEAD:refs/heads/main');
  return git(work, 'rev-parse', 'HEAD');
}

function insideRepo(work: string, path: string): string {
  const file = resolve(work, path);
  const rel = relative(work, file);
  if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || rel.split(sep)[0] === '.git') {
    throw new Error(`createFleetRepo: path ${JSON.stringify(path)} is outside the working tree`);
  }
  return file;
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: GIT_ENV, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
}

/** What the hostile-repository stages share: the daemon, where they may write, and committing a stage. */
import { mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { RunDetail, SourceView } from '../../src/api/schemas.js';
import type { RunningDaemon } from '../../test/helpers/running-daemon.js';
import { waitFor } from '../../test/helpers/wait.js';
import type { Recorder } from './common.js';

/** One stage's world: the daemon, the record, a folder outside the repository, the hosts' sandbox, the daemon's pid. */
export type Stage = { d: RunningDaemon; r: Recorder; outside: string; sandbox: string; pid: number };

/** Commits `files` (null deletes) and `links` (path → target) and waits until the daemon uses or refuses the tip. */
export async function commitStage(d: RunningDaemon, message: string, files: Record<string, string | null>, links: Record<string, string> = {}): Promise<{ sha: string; accepted: boolean }> {
  for (const [path, target] of Object.entries(links)) {
    mkdirSync(dirname(join(d.repo.work, path)), { recursive: true });
    symlinkSync(target, join(d.repo.work, path));
  }
  const sha = await d.repo.commit(files, message);
  return waitFor(`the daemon to take or refuse ${message}`, async () => {
    const source = await d.get<SourceView>('/api/v1/source');
    if (source.sha === sha) return { sha, accepted: true };
    return source.history.some((h) => h.sha === sha && h.status === 'refused') ? { sha, accepted: false } : undefined;
  }, 60_000, 100);
}

/** Explicit checks of `targets`, each waited for. */
export async function checks(d: RunningDaemon, targets: string[], timeoutMs = 120_000): Promise<RunDetail[]> {
  const { runs } = await d.reconcile({ targets, mode: 'check' });
  return Promise.all(runs.map((run) => d.finished(run.id, timeoutMs)));
}

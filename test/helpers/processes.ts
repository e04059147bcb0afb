import { execFileSync } from 'node:child_process';

/** Processes on the machine, as tests look for what they (or the daemon under test) started. */
export type ProcessLine = { pid: number; pgid: number; stat: string; args: string };

export function processes(): ProcessLine[] {
  const out = execFileSync('ps', ['-eww', '-o', 'pid=,pgid=,stat=,args='], { encoding: 'utf8' });
  return out.split('\n').flatMap((line) => {
    const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!match) return [];
    return [{ pid: Number(match[1]), pgid: Number(match[2]), stat: match[3]!, args: match[4]! }];
  });
}

/** Live (not zombie) processes whose command line mentions `marker`, other than the ps that listed them. */
export function processesMentioning(marker: string): ProcessLine[] {
  return processes().filter((p) => p.args.includes(marker) && !p.stat.startsWith('Z') && !p.args.startsWith('ps -eww'));
}

/** SIGKILLs process groups by id (the ones a test or its daemon started); a group already gone is fine. */
export function killGroups(pgids: Iterable<number>): void {
  for (const pgid of new Set(pgids)) {
    try {
      process.kill(-pgid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** Every process below `pid` in the parent tree (children, their children, …). */
export function descendants(pid: number): number[] {
  const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' });
  const children = new Map<number, number[]>();
  for (const line of out.split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number);
    if (!child || parent === undefined) continue;
    children.set(parent, [...(children.get(parent) ?? []), child]);
  }
  const found: number[] = [];
  for (let queue = [pid]; queue.length > 0; ) {
    const next = children.get(queue.shift()!) ?? [];
    found.push(...next);
    queue.push(...next);
  }
  return found;
}

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

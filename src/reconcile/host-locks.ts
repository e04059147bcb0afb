import { abortable } from './abortable.js';

/** A target's hosts at a revision, or null when they could not be listed (then it overlaps everything). */
export type HostSet = ReadonlySet<string> | null;

type Holder = { key: string; target: string; hosts: () => Promise<HostSet>; released: Promise<void>; release: () => void };

/**
 * Two targets whose inventories share a host never run at the same time: two ansible-playbook processes could
 * otherwise change one host at once. A reconcile holds its target's hosts from `acquire` to the release. The
 * hosts are listed only when another target holds hosts at that moment, so a lone reconcile pays nothing.
 */
export class HostLocks {
  private readonly holders = new Set<Holder>();

  /**
   * Waits until no other holder shares a host with `target` (`hosts` lists them, lazily), then holds them until
   * the returned release is called. `key` names the holder: a target's reconciles are one holder (they never
   * overlap anyway), a preview of it another that always overlaps it. The wait ends early, rejecting, when
   * `signal` aborts.
   */
  async acquire(target: string, hosts: () => Promise<HostSet>, signal: AbortSignal, key = target): Promise<() => void> {
    for (;;) {
      const others = [...this.holders].filter((h) => h.key !== key);
      if (others.length > 0) {
        // A listing can hang (an inventory script that waits, a FIFO in an inventory folder): a holder that
        // leaves meanwhile ends the wait, so one target's broken inventory holds up others only while it runs.
        const listings = Promise.all([hosts(), ...others.map((h) => h.hosts())]);
        const left = others.map((h) => h.released.then(() => undefined));
        const listed = await abortable(Promise.race([listings, ...left]), signal);
        if (!listed) continue;
        const [mine, ...theirs] = listed;
        // Holders came or went while the hosts were listed: look again.
        const now = [...this.holders].filter((h) => h.key !== key);
        if (now.length !== others.length || now.some((h) => !others.includes(h))) continue;
        const blocking = others.filter((other, i) => other.target === target || overlaps(mine ?? null, theirs[i] ?? null));
        if (blocking.length > 0) {
          await abortable(Promise.race(blocking.map((h) => h.released)), signal);
          continue;
        }
      }
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      const holder: Holder = { key, target, hosts, released, release };
      this.holders.add(holder);
      return () => {
        this.holders.delete(holder);
        holder.release();
      };
    }
  }
}

function overlaps(a: HostSet, b: HostSet): boolean {
  if (a === null || b === null) return true;
  for (const host of a) if (b.has(host)) return true;
  return false;
}

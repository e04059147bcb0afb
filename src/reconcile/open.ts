import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { Logger } from '../log.js';
import { killOrphanGroup, Runner } from '../runner/index.js';
import { GitSource } from '../source/index.js';
import { openDatabase, type Db } from '../store/db.js';
import { GateResults, PreviewStore } from '../store/previews.js';
import { RunRetention } from '../store/retention.js';
import { RunStore } from '../store/runs.js';
import { SqliteSourceHistory } from '../store/source-history.js';
import { lockStateDir } from '../store/state-lock.js';
import { TargetStore } from '../store/targets.js';
import { Fleet, type FleetStores } from './fleet.js';

/** Everything a fleetcd process works with, opened in order and closed in reverse. */
export type OpenedFleet = {
  fleet: Fleet;
  source: GitSource;
  stores: FleetStores;
  db: Db;
  /** Previews a previous fleetcd left going, now cancelled: announce them once observers listen. */
  interruptedPreviews: number[];
  /** Closes the database and releases the state directory. */
  close(): void;
};

/**
 * The one way in, for the daemon, the one-shot verbs and the tests: take the state directory's lock, open
 * the record, stop what a crashed predecessor left running and record it as interrupted, then build the
 * source and the fleet. On any failure what was opened is closed and the lock released.
 */
export async function openFleet(config: Config, log: Logger, role: string): Promise<OpenedFleet> {
  const unlock = lockStateDir(config.stateDir, role);
  let db: Db | undefined;
  try {
    db = openDatabase(join(config.stateDir, 'fleetcd.db'));
    const stores = {
      runs: new RunStore(db),
      targets: new TargetStore(db),
      retention: new RunRetention(db),
      previews: new PreviewStore(db),
      gates: new GateResults(db),
    };
    const interruptedPreviews = stores.previews.markInterrupted();
    if (interruptedPreviews.length > 0) log.warn({ previews: interruptedPreviews }, 'marked previews of a previous fleetcd as cancelled');
    await recoverInterruptedRuns(config, stores.runs, log);
    const source = new GitSource(config.repository, config.stateDir, { history: new SqliteSourceHistory(db), log });
    const fleet = new Fleet(config, stores, log);
    const opened = db;
    return {
      fleet,
      source,
      stores,
      db,
      interruptedPreviews,
      close: () => {
        opened.close();
        unlock();
      },
    };
  } catch (error) {
    db?.close();
    unlock();
    throw error;
  }
}

/**
 * Runs a dead daemon left running. Their process groups normally died with it (the watchdog in each group,
 * runner/watchdog.ts); this is the second line: a group whose leader is still the very process it started
 * (same pid and start time) is killed. The SSH control masters of every run that had started go too — they
 * detach into their own session, so no watchdog took them. Then every unfinished run is `interrupted`.
 */
async function recoverInterruptedRuns(config: Config, runs: RunStore, log: Logger): Promise<void> {
  const started = runs.unfinished().filter((run) => run.pgid !== null);
  const orphaned = started.filter((run) => run.pgid !== null && killOrphanGroup(run.pgid, run.pgStart));
  if (orphaned.length > 0) log.warn({ runs: orphaned.map((r) => r.id) }, 'stopped ansible-playbook processes a previous fleetcd left running');
  if (started.length > 0) {
    const runner = new Runner(join(config.stateDir, 'work'), config.ansible);
    for (const target of new Set(started.map((r) => r.target))) await runner.closeControlMasters(target);
  }
  const interrupted = runs.markInterrupted();
  if (interrupted > 0) log.warn({ runs: interrupted }, 'marked runs of a previous fleetcd as interrupted');
}

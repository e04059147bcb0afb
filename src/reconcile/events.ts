import { EventEmitter } from 'node:events';
import type { RunSummary } from '../store/types.js';
import type { PreviewView } from './previews.js';
import type { TargetStatus } from './status.js';

/** What the fleet tells its observers (metrics, notifications): facts after they are recorded. */
export type FleetEventMap = {
  /**
   * A run of a target ended (preview runs are not the target's and are left out): its status before and after,
   * and the same as notifications tell it (`settledStatusOf`).
   */
  'run-finished': { run: RunSummary; before: TargetStatus; after: TargetStatus; settled: { before: TargetStatus; after: TargetStatus } };
  /** A preview was started, moved on, or ended. */
  preview: PreviewView;
  /** A fetch attempt of the source ended. */
  fetched: { ok: boolean; error: string | null; revision: { sha: string; ref: string } | undefined };
};

/** A typed event emitter: a listener's error is caught and reported, never thrown into the reconcile. */
export class FleetEvents {
  private readonly emitter = new EventEmitter();

  constructor(private readonly onListenerError: (event: string, error: unknown) => void) {
    this.emitter.setMaxListeners(50);
  }

  on<E extends keyof FleetEventMap>(event: E, listener: (payload: FleetEventMap[E]) => void): () => void {
    const safe = (payload: FleetEventMap[E]): void => {
      try {
        listener(payload);
      } catch (error) {
        this.onListenerError(event, error);
      }
    };
    this.emitter.on(event, safe);
    return () => this.emitter.off(event, safe);
  }

  emit<E extends keyof FleetEventMap>(event: E, payload: FleetEventMap[E]): void {
    this.emitter.emit(event, payload);
  }
}

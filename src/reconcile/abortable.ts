/** Thrown when a step of a reconcile stops because its signal was aborted; `reason` is the signal's reason. */
export class Aborted extends Error {
  override readonly name = 'Aborted';
  constructor(readonly reason: unknown) {
    super(`stopped (${String(reason)})`);
  }
}

/** `promise`, or a rejection with Aborted as soon as `signal` aborts, whichever comes first. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new Aborted(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Aborted(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from '../api.js';

/** The view's h1, which also names the browser tab; focus lands on it when the route changes. */
export function Heading({ title, children }: { title: string; children?: ComponentChildren }) {
  useEffect(() => {
    document.title = `${title} · fleetcd`;
  }, [title]);
  return (
    <h1 id="view-title" tabIndex={-1}>
      {children ?? title}
    </h1>
  );
}

export type Outcome = { ok: boolean; text: ComponentChildren } | undefined;

/**
 * An action's state: busy while its request runs, then what came of it in words (the API's message on a
 * refusal, as it is). One action at a time per view.
 */
export function useAction(): {
  busy: boolean;
  outcome: Outcome;
  run: (action: () => Promise<ComponentChildren>) => Promise<void>;
} {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome>(undefined);
  const run = async (action: () => Promise<ComponentChildren>): Promise<void> => {
    setBusy(true);
    setOutcome(undefined);
    try {
      setOutcome({ ok: true, text: await action() });
    } catch (error) {
      setOutcome({ ok: false, text: error instanceof ApiError ? error.message : String(error) });
    } finally {
      setBusy(false);
    }
  };
  return { busy, outcome, run };
}

export function OutcomeNote({ outcome }: { outcome: Outcome }) {
  if (!outcome) return null;
  return outcome.ok ? (
    <p class="note ok" role="status">
      <span aria-hidden="true">✓ </span>
      {outcome.text}
    </p>
  ) : (
    <p class="note error" role="alert">
      <span aria-hidden="true">⚠ </span>
      {outcome.text}
    </p>
  );
}

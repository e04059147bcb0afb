import type { Target } from '../api.js';
import { Sha } from '../ui.js';

/**
 * Says when what a target checked is not what it runs (issue 17): `revision` moves only when an apply ends
 * cleanly (or a rollback holds it), so while a newer revision is checked, or waits for a soak, the two differ.
 * Nothing when they are the same.
 */
export function CheckingNote({ target }: { target: Pick<Target, 'revision' | 'checkedRevision'> }) {
  const { revision, checkedRevision } = target;
  if (!checkedRevision || checkedRevision.sha === revision?.sha) return null;
  return (
    <p class="checking" data-checking={checkedRevision.sha}>
      checking <Sha sha={checkedRevision.sha} />, {revision ? <>running <Sha sha={revision.sha} /></> : 'running nothing applied yet'}
    </p>
  );
}

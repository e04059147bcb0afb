import type { RunSummary } from './api.js';
import { durationSeconds, formatSeconds } from './format.js';
import { useNow } from './hooks.js';
import { Time } from './ui.js';

/**
 * The run history as two small bar rows sharing one x axis (one slot per run, oldest left), in the manner of a
 * Grafana panel: no grid, no legend box, the scale written once. The table under it has every figure in text.
 */

type Series = { label: string; unit: (v: number) => string; values: Array<number | undefined>; tone: (run: RunSummary) => string };

const slots = 50;
const slot = 10;
const height = 40;
const width = slots * slot;

/** One row of bars; the newest run is always in the last slot, so bars keep their width as history grows. */
function Panel({ runs, series }: { runs: RunSummary[]; series: Series }) {
  const max = Math.max(0, ...series.values.map((v) => v ?? 0));
  const offset = slots - runs.length;
  const summary = `${series.label} of the last ${runs.length} runs, highest ${series.unit(max)}`;
  return (
    <div class="panel">
      <div class="panel-head">
        <span>{series.label}</span>
        <span class="muted">max {series.unit(max)}</span>
      </div>
      <svg viewBox={`0 0 ${width} ${height}`} preserveAspectRatio="none" role="img" aria-label={summary} class="bars">
        <line x1="0" x2={width} y1={height - 0.5} y2={height - 0.5} class="axis" vector-effect="non-scaling-stroke" />
        {runs.map((run, i) => {
          const value = series.values[i];
          if (value === undefined) return null;
          // A zero is a thin tick, so "measured, nothing" differs from "not measured" (an apply in the drift row).
          const h = max > 0 && value > 0 ? Math.max(2, (value / max) * (height - 2)) : 1;
          return (
            <rect key={run.id} x={(offset + i) * slot + 1.5} width={slot - 3} y={height - h} height={h} class={`bar tone-${series.tone(run)}`}>
              <title>{`run #${run.id} ${run.kind} ${run.status}: ${series.unit(value)}`}</title>
            </rect>
          );
        })}
      </svg>
    </div>
  );
}

export function RunChart({ runs: newestFirst }: { runs: RunSummary[] }) {
  const now = useNow();
  if (newestFirst.length < 2) return null;
  const runs = newestFirst.slice(0, slots).reverse();
  const failedTone = (run: RunSummary) => (run.status === 'failed' || run.status === 'timed-out' ? 'failed' : 'neutral');
  const duration: Series = {
    label: 'Run duration',
    unit: (v) => formatSeconds(v),
    values: runs.map((run) => durationSeconds(run, now)),
    tone: failedTone,
  };
  const drift: Series = {
    label: 'Changes found by checks',
    unit: (v) => `${v} task${v === 1 ? '' : 's'}`,
    values: runs.map((run) => (run.kind === 'check' && run.finishedAt ? run.summary.changed : undefined)),
    tone: (run) => (run.summary.changed > 0 ? 'drifted' : 'neutral'),
  };
  const first = runs[0]!;
  const last = runs[runs.length - 1]!;
  return (
    <figure class="chart">
      <Panel runs={runs} series={duration} />
      <Panel runs={runs} series={drift} />
      <figcaption class="chart-axis muted">
        <span>
          {runs.length} runs, oldest to newest: #{first.id} (<Time at={first.queuedAt} />) to #{last.id} (<Time at={last.queuedAt} />)
        </span>
      </figcaption>
    </figure>
  );
}

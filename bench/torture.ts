/**
 * The torture suite of issue 12: kill -9 at random moments, source faults, hostile requests, hostile repository
 * content, hung hosts and a trigger storm, each against a real `fleetcd serve` (the built dist/: run
 * `npm run build` first). Writes bench/TORTURE.md with what each scenario did, required against observed, and
 * its figures. Exits 1 when a functional requirement did not hold.
 *
 *   npm run torture                        full sizes (8 minutes on a quiet 2-core machine, 20 under load; most of it the 20 kills)
 *   npm run torture -- --short             the sizes CI runs (test/torture/torture.test.ts), under 3 minutes
 *   npm run torture -- --only kill9,hung-host [--out FILE]   some scenarios; writes FILE only when given
 */
import { existsSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { passed, renderReport, scenarios, type Mode, type ScenarioResult } from './torture/index.js';

if (!existsSync(fileURLToPath(new URL('../dist/cli/main.js', import.meta.url)))) {
  console.error('torture: the daemon runs from dist/: run `npm run build` first');
  process.exit(2);
}
const args = process.argv.slice(2);
const option = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const mode: Mode = args.includes('--short') ? 'short' : 'full';
const only = option('--only')?.split(',');
const unknown = only?.filter((name) => !scenarios.some((s) => s.name === name)) ?? [];
if (unknown.length > 0) {
  console.error(`torture: unknown scenario ${unknown.join(', ')} (known: ${scenarios.map((s) => s.name).join(', ')})`);
  process.exit(2);
}
const out = option('--out') ?? (only ? undefined : fileURLToPath(new URL('TORTURE.md', import.meta.url)));
const command = `npm run torture${mode === 'short' ? ' -- --short' : ''}`;
const startedAt = new Date().toISOString();
const results: ScenarioResult[] = [];
for (const scenario of scenarios.filter((s) => !only || only.includes(s.name))) {
  console.error(`torture: ${scenario.name} (${mode}) …`);
  const result = await scenario.run(mode);
  results.push(result);
  console.error(`torture: ${scenario.name}: ${passed(result) ? 'pass' : 'FAIL'} in ${(result.durationMs / 1000).toFixed(1)} s`);
  for (const check of result.checks) if (!check.ok) console.error(`  FAIL ${check.requirement}: ${check.observed}`);
}
const report = renderReport(results, {
  command,
  startedAt,
  machine: `${cpus().length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
});
if (out) writeFileSync(out, report);
else process.stdout.write(report);
process.exitCode = results.every(passed) ? 0 : 1;

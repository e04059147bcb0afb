import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import yaml from 'js-yaml';
import { makeFleet, type TestFleet } from '../helpers/fleet.js';
import { scrape, servedNames } from './exposition.js';

const contrib = fileURLToPath(new URL('../../contrib', import.meta.url));
const dashboardFile = join(contrib, 'grafana-dashboard.json');
const alertsFile = join(contrib, 'prometheus-alerts.yml');

/** Runs promtool (it must be installed: the test suite's installer puts it there), failing with its output. */
function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { cwd: contrib, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const { stdout, stderr, message } = error as { stdout?: string; stderr?: string; message: string };
    assert.fail(`promtool ${args.join(' ')} failed: ${message}\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

type Panel = { title: string; type: string; targets?: Array<{ expr: string }>; panels?: Panel[] };
type Dashboard = { panels: Panel[]; templating: { list: Array<{ name: string; definition?: string }> }; __inputs: Array<{ name: string }> };

/** Every PromQL expression of the dashboard: its panels' queries and its variables' label_values() queries. */
function dashboardQueries(dashboard: Dashboard): string[] {
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  return [...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)), ...dashboard.templating.list.flatMap((v) => (v.definition ? [v.definition] : []))];
}

/** The metric names a PromQL expression reads (fleetcd's and the process metrics it serves). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b((?:fleetcd|process|nodejs)_[a-z0-9_]+)\b/g)].map((m) => m[1]!);
}

/** A dashboard query as plain PromQL: Grafana's variables replaced by values Prometheus accepts. */
function plainPromql(expr: string): string {
  return expr.replace(/label_values\((\w+)(\{[^}]*\})?, \w+\)/, '$1$2').replaceAll('$__rate_interval', '5m').replaceAll('$__range', '1d').replace(/\$\w+/g, '.*');
}

describe('contrib: the Prometheus alerts and the Grafana dashboard', () => {
  let f: TestFleet;
  let served: Set<string>;

  before(async () => {
    f = await makeFleet({ 'inventories/web.yml': 'all:\n  hosts:\n    web1:\n' });
    served = servedNames(await scrape(f.api));
  });

  after(async () => {
    await f?.cleanup();
  });

  test('promtool accepts the alert rules and their unit tests pass', () => {
    assert.match(promtool('check', 'rules', alertsFile), /SUCCESS: 4 rules found/);
    assert.match(promtool('test', 'rules', join(contrib, 'prometheus-alerts.test.yml')), /SUCCESS/);
  });

  test('the alert rules read only metrics /metrics serves', () => {
    const rules = (yaml.load(readFileSync(alertsFile, 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string }> }> }).groups.flatMap((g) => g.rules);
    assert.deepEqual(rules.map((r) => r.alert).sort(), ['FleetcdDriftPersists', 'FleetcdRunFailed', 'FleetcdSourceStale', 'FleetcdTargetNotIdempotent']);
    for (const rule of rules) {
      const names = metricNames(rule.expr);
      assert.ok(names.length > 0, `${rule.alert} reads a metric`);
      for (const name of names) assert.ok(served.has(name), `${rule.alert} reads ${name}, which /metrics does not serve`);
    }
  });

  test("the dashboard is JSON with a Prometheus input, and each query reads metrics /metrics serves", () => {
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
    assert.deepEqual(dashboard.__inputs.map((i) => i.name), ['DS_PROMETHEUS']);
    const text = readFileSync(dashboardFile, 'utf8');
    const uids = [...text.matchAll(/"uid": "([^"]*)"/g)].map((m) => m[1]).filter((uid) => uid !== 'fleetcd' && uid !== '-- Grafana --');
    assert.ok(uids.length > 0 && uids.every((uid) => uid === '${DS_PROMETHEUS}'), 'every query uses the imported data source');
    const queries = dashboardQueries(dashboard);
    assert.ok(queries.length >= 15, `${queries.length} queries`);
    const used = new Set(queries.flatMap(metricNames));
    for (const name of used) assert.ok(served.has(name), `the dashboard reads ${name}, which /metrics does not serve`);
    for (const name of ['fleetcd_target_status', 'fleetcd_target_drifted_hosts', 'fleetcd_runs_total', 'fleetcd_run_duration_seconds_bucket', 'fleetcd_queue_depth', 'fleetcd_running_runs', 'fleetcd_source_last_fetch_success_timestamp_seconds']) {
      assert.ok(used.has(name), `the dashboard shows ${name}`);
    }
  });

  test("the dashboard's queries are valid PromQL (promtool checks them as recording rules)", () => {
    const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard;
    const rules = dashboardQueries(dashboard).map((expr, i) => ({ record: `dashboard:query_${i}`, expr: plainPromql(expr) }));
    const file = join(f.dir, 'dashboard-queries.yml');
    writeFileSync(file, yaml.dump({ groups: [{ name: 'dashboard', rules }] }));
    assert.match(promtool('check', 'rules', file), new RegExp(`SUCCESS: ${rules.length} rules found`));
  });
});

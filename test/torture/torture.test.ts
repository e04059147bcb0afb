import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { scenarios } from '../../bench/torture/index.js';

/*
 * The short mode of the torture suite (bench/torture.ts, issue 12): each scenario against a real daemon, one
 * after the other. Only functional requirements are asserted; timings are figures in bench/TORTURE.md.
 */
describe('torture suite, short mode', { timeout: 600_000 }, () => {
  for (const scenario of scenarios) {
    test(scenario.proves, { timeout: 300_000 }, async () => {
      const result = await scenario.run('short');
      const failed = result.checks.filter((check) => !check.ok).map((check) => `${check.requirement}: ${check.observed}`);
      const context = [...result.defects, ...(result.error ? [result.error] : [])].join('\n\n');
      assert.deepEqual(failed, [], context || undefined);
    });
  }
});

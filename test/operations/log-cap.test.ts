import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runLogFile } from '../../src/reconcile/execute-run.js';
import { apiToken, localInventory, makeFleet, playbook, type TestFleet } from '../helpers/fleet.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * A run's log has a size cap (retention.maxLogSize): beyond it the head and the tail are kept, with a line
 * saying how much was cut; a follower of the live log reads a file that only ever grows.
 */

const cap = 64 * 1024;
const items = 400;

describe('the run log size cap', () => {
  let f: TestFleet;
  let scratch: string;

  before(async () => {
    scratch = tempDir('fleetcd-log-cap-');
    f = await makeFleet(
      {
        // ~700 bytes of output per item, ~280 KiB in all: more than four times the cap.
        'playbooks/site.yml': playbook(`
    - name: talk
      ansible.builtin.debug: { msg: "line-{{ '%04d' | format(item) }} {{ 'x' * 600 }}" }
      loop: "{{ range(1, ${items + 1}) | list }}"
    - name: wait for the test
      ansible.builtin.wait_for: { path: "${join(scratch, 'release')}", timeout: 600 }
      check_mode: false
    - name: last words
      ansible.builtin.debug: { msg: the very end }
`),
        'inventories/web.yml': localInventory(scratch, ['web1']),
      },
      { config: { retention: { maxLogSize: '64KB' } } },
    );
  });

  after(async () => {
    writeFileSync(join(scratch, 'release'), '');
    await f?.cleanup();
    removeDir(scratch);
  });

  async function readLog(id: number, offset: number): Promise<{ text: string; size: number }> {
    const response = await f.api.inject({ method: 'GET', url: `/api/v1/runs/${id}/log?offset=${offset}`, headers: { authorization: `Bearer ${apiToken}` } });
    assert.equal(response.statusCode, 200);
    return { text: response.body, size: Number(response.headers['x-log-size']) };
  }

  test('a run printing more than maxLogSize keeps its head and tail with the cut stated, and can be followed live', async () => {
    const { id } = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    // The items are printed (their result is recorded) and the run waits on the file: the head is full.
    await waitFor('the items printed', () => f.store.events(id, 0, 50).some((e) => e.task === 'talk') && statSync(runLogFile(f.stateDir, id)).size >= cap / 2, 120_000);
    const live = await readLog(id, 0);
    assert.ok(live.size <= cap / 2 + 1024, `while the run goes the log holds the head only: ${live.size} bytes`);
    assert.equal(Buffer.byteLength(live.text), live.size);
    writeFileSync(join(scratch, 'release'), '');
    await f.fleet.reconciler.idle();
    const rest = await readLog(id, live.size);
    const file = runLogFile(f.stateDir, id);
    const log = readFileSync(file, 'utf8');
    assert.equal(live.text + rest.text, log, 'what a follower read, from the offsets the API gave, is the whole log');
    assert.equal(rest.size, statSync(file).size);
    assert.ok(log.length <= cap + 1024, `the log is ${log.length} bytes, the cap ${cap}`);

    assert.match(log.slice(0, 300), /PLAY \[test play\]/, 'it starts with the real head');
    assert.ok(log.includes('line-0001'), 'the first items are kept');
    assert.match(log.slice(-600), /PLAY RECAP[\s\S]*web1\s+: ok=/, 'it ends with the real tail');
    assert.ok(log.includes('the very end'));
    const cut = /\n… ([\d.]+) KiB cut \(of ([\d.]+) KiB\) …\n/.exec(log);
    assert.ok(cut, 'a line says how much was cut');
    const [head, tail] = log.split(cut[0]) as [string, string];
    const numbers = (text: string) => [...text.matchAll(/line-(\d{4})/g)].map((m) => Number(m[1]));
    const lastInHead = Math.max(...numbers(head));
    const firstInTail = Math.min(...numbers(tail));
    assert.ok(firstInTail > lastInHead + 1, `items ${lastInHead + 1}..${firstInTail - 1} were cut`);
    // What one item prints, measured in the head: the stated cut is that many items, give or take two.
    const block = head.indexOf('line-0003') - head.indexOf('line-0002');
    const stated = Number(cut[1]) * 1024;
    const expected = (firstInTail - lastInHead - 1) * block;
    assert.ok(Math.abs(stated - expected) < 2 * block, `stated ${stated} bytes cut, ~${expected} expected`);
    assert.ok(Math.abs(Number(cut[2]) * 1024 - (stated + Buffer.byteLength(head) + Buffer.byteLength(tail))) < 2 * block, 'of the whole output');
  });
});

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { localInventory, makeFleet, type TestFleet } from '../helpers/fleet.js';
import { processesMentioning } from '../helpers/processes.js';
import { removeDir, tempDir } from '../helpers/tmp.js';
import { waitFor } from '../helpers/wait.js';

/*
 * Ansible made faster than its defaults by fleetcd's own: a fact cache per target (gathering: smart), and
 * Ansible's processes at a lower CPU priority than the daemon when `ansible.nice` says so.
 */

const gathering = `- hosts: all
  tasks:
    - name: take a moment
      ansible.builtin.pause: { seconds: 1 }
`;

describe('fleetcd speed settings on real runs', () => {
  let f: TestFleet;
  let sandboxes: string;

  before(async () => {
    sandboxes = tempDir('fleetcd-speed-');
    f = await makeFleet(
      { 'playbooks/site.yml': gathering, 'inventories/web.yml': localInventory(sandboxes, ['web1']) },
      { config: { ansible: { nice: 7 } } },
    );
  });

  after(async () => {
    await f.cleanup();
    removeDir(sandboxes);
  });

  test('facts gathered by one run are cached for the target, and the next run does not gather them again', async () => {
    const first = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    await f.chain(first.id);
    assert.ok(existsSync(join(f.stateDir, 'work', 'facts', 'web', 'web1')), 'a jsonfile cache entry for web1');
    const second = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    await f.chain(second.id);
    const log = (id: number): string => readFileSync(join(f.stateDir, 'logs', `run-${id}.log`), 'utf8');
    assert.match(log(first.id), /TASK \[Gathering Facts\]/);
    assert.doesNotMatch(log(second.id), /TASK \[Gathering Facts\]/);
  });

  test('ansible-playbook and its workers run at the configured niceness', async () => {
    const run = f.fleet.reconcile(['web'], { trigger: 'api', mode: 'check' })[0]!;
    const nices = await waitFor('ansible-playbook to run', () => {
      const ours = processesMentioning(f.root).filter((p) => p.args.includes('ansible-playbook'));
      if (ours.length === 0) return undefined;
      return ours.map((p) => {
        const stat = readFileSync(`/proc/${p.pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
      });
    }, 20_000, 50);
    await f.chain(run.id);
    assert.ok(nices.every((nice) => nice === 7), `niceness ${nices.join(', ')}`);
  });
});

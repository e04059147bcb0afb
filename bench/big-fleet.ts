/**
 * The big target of benchmarks 4 and 5: one inventory of many local-connection hosts, forks 50, three
 * controller-side tasks per host (a debug that reports changed, a set_fact, an assert), facts not gathered.
 */
import type { RunningDaemon } from '../test/helpers/running-daemon.js';
import { ansiblePlaybook, cancelStartupRuns, fleetcdSettingsEnv, startBenchDaemon } from './fixture.js';
import type { Timed } from './lib.js';

export const forks = 50;

const playbook = `- name: scale
  hosts: all
  gather_facts: false
  tasks:
    - name: say something
      ansible.builtin.debug: { msg: "host {{ inventory_hostname }}" }
      changed_when: true
    - name: remember something
      ansible.builtin.set_fact: { bench_value: "{{ inventory_hostname }}-value" }
    - name: check it
      ansible.builtin.assert: { that: [bench_value is defined], quiet: true }
`;

function inventory(hosts: number): string {
  const lines = ['all:', '  vars: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3 }', '  hosts:'];
  for (let i = 0; i < hosts; i++) lines.push(`    node${String(i).padStart(4, '0')}:`);
  return `${lines.join('\n')}\n`;
}

/** A daemon (at info level) over the big target `big`, its startup check cancelled, idle. */
export async function startBigFleet(hosts: number, nice = 0): Promise<RunningDaemon> {
  const d = await startBenchDaemon({ 'playbooks/site.yml': playbook, 'inventories/big.yml': inventory(hosts) }, bigConfig(nice));
  await cancelStartupRuns(d, 1);
  return d;
}

/** The daemon's config lines for the big target (ansible.nice as given). */
export const bigConfig = (nice: number): string =>
  `reconcile: { interval: 1h, timeout: 2h, shutdownGrace: 0s }\ntargets: { big: { forks: ${forks} } }\nansible: { nice: ${nice} }`;

/** The same check by raw ansible-playbook on equal settings (fleetcd's env minus its callback), from the repo's work tree. */
export function rawBigCheck(d: RunningDaemon, dir: string): Promise<Timed> {
  const env = fleetcdSettingsEnv(d.repo.work, dir);
  return ansiblePlaybook(d.repo.work, ['-i', 'inventories/big.yml', '--check', '--diff', '--forks', String(forks), 'playbooks/site.yml'], env);
}

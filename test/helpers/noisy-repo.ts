/**
 * A fleet repository whose playbook writes malformed lines to fleetcd's event pipe, the way a hostile or buggy
 * branch can: a filter plugin next to the playbook runs in Ansible's forked worker, which still holds the pipe
 * (the fd named by FLEETCD_EVENT_FD), and writes to it directly. Used by the malformed-events test and torture.
 */

/** The first malformed line the plugin writes: over 200 bytes, so a log of "its first 200 bytes" can be checked. */
export const firstMalformedLine = `{"event": "stats", "pad": "${'p'.repeat(300)}"}`;

/**
 * The filter plugin (playbooks/filter_plugins/noise.py). Each call writes the malformed lines `repeat` times —
 * `{"event": "stats"}` (the crash of the reproduction), wrong types, non-JSON, binary, an empty line, a line over
 * the 4 MiB cap — and appends how many it wrote to `count_file`, so a test knows the number whatever Ansible
 * does with the template.
 */
export function noiseFilterPlugin(repeat: number): string {
  return `import os

LINES = [
    b'''${firstMalformedLine}''',
    b'{"event": "stats"}',
    b'{"event": "stats", "hosts": {"h1": {"ok": "many"}}}',
    b'{"event": "ok", "host": 5, "task": ["not", "a", "string"]}',
    b'{"event": "changed", "host": "h1"}',
    b'{"event": "task_start"}',
    b'{"event": "no_such_event", "host": "h1"}',
    b'not json at all',
    b'\\x00\\x01\\xff\\xfe binary \\x80\\x81',
    b'[1, 2, 3]',
    b'null',
    b'',
    b'{"event": "' + b'x' * (5 * 1024 * 1024) + b'"}',
]


def noise(value, count_file):
    fd = int(os.environ['FLEETCD_EVENT_FD'])
    for _ in range(${repeat}):
        for line in LINES:
            os.write(fd, line + b'\\n')
    with open(count_file, 'a') as f:
        f.write('%d\\n' % (len(LINES) * ${repeat}))
    return value


class FilterModule(object):
    def filters(self):
        return {'noise': noise}
`;
}

/** A playbook that makes noise, then has one real change to report (a file in the host's sandbox). */
export const noisyPlaybook = `- hosts: all
  gather_facts: false
  tasks:
    - name: noisy
      ansible.builtin.debug: { msg: "{{ 'hello' | noise(host_root + '/sent') }}" }
    - name: config
      ansible.builtin.copy: { dest: "{{ host_root }}/app.conf", content: "managed\\n" }
`;

/** One local host whose sandbox is `hostRoot`. */
export function noisyInventory(hostRoot: string): string {
  return `all:\n  hosts:\n    h1: { ansible_connection: local, ansible_python_interpreter: /usr/bin/python3, host_root: ${JSON.stringify(hostRoot)} }\n`;
}

/** The number of malformed lines the plugin says it wrote (every call of the filter added its count). */
export function sentCount(text: string): number {
  return text.split('\n').filter(Boolean).reduce((sum, n) => sum + Number(n), 0);
}

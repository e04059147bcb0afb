import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ansibleArgv, type RunSpec } from '../../src/runner/argv.js';

const base: RunSpec = {
  cwd: '/var/lib/fleetcd/revisions/abc/site',
  inventory: '/var/lib/fleetcd/revisions/abc/site/inventories/web.yml',
  playbook: '/var/lib/fleetcd/revisions/abc/site/playbooks/site.yml',
  check: true,
};

/** The values that follow each occurrence of `flag`. */
function valuesOf(argv: string[], flag: string): string[] {
  return argv.flatMap((arg, index) => (arg === flag ? [argv[index + 1] ?? '<missing>'] : []));
}

describe('ansibleArgv', () => {
  it('runs a check as --check --diff on the inventory, with the playbook last', () => {
    assert.deepEqual(ansibleArgv(base), ['-i', base.inventory, '--check', '--diff', base.playbook]);
  });

  it('runs an apply with --diff but without --check', () => {
    const argv = ansibleArgv({ ...base, check: false });
    assert.deepEqual(argv, ['-i', base.inventory, '--diff', base.playbook]);
    assert.ok(!argv.includes('--check'));
  });

  it('passes limit, tags, skip-tags, forks and become', () => {
    const argv = ansibleArgv({
      ...base,
      limit: 'web1,web2',
      tags: ['config', 'packages'],
      skipTags: ['slow'],
      forks: 12,
      become: true,
    });
    assert.deepEqual(valuesOf(argv, '--limit'), ['web1,web2']);
    assert.deepEqual(valuesOf(argv, '--tags'), ['config,packages']);
    assert.deepEqual(valuesOf(argv, '--skip-tags'), ['slow']);
    assert.deepEqual(valuesOf(argv, '--forks'), ['12']);
    assert.ok(argv.includes('--become'));
    assert.equal(argv.at(-1), base.playbook);
  });

  it('leaves out options that are unset, empty or false', () => {
    const argv = ansibleArgv({ ...base, limit: '', tags: [], skipTags: [], become: false, extraVars: {}, extraVarFiles: [], vaultIds: [] });
    assert.deepEqual(argv, ['-i', base.inventory, '--check', '--diff', base.playbook]);
  });

  it('passes extra vars as one JSON argument, so values keep their types and need no quoting', () => {
    const extraVars = { app_port: 8080, feature: true, motd: "it's $HOME; rm -rf /", list: [1, 'two'] };
    const argv = ansibleArgv({ ...base, extraVars });
    const values = valuesOf(argv, '--extra-vars');
    assert.equal(values.length, 1);
    assert.deepEqual(JSON.parse(values[0]!), extraVars);
  });

  it('passes each extra-vars file as @file after the inline extra vars', () => {
    const argv = ansibleArgv({ ...base, extraVars: { a: 1 }, extraVarFiles: ['/run/fleetcd/secret-vars.json', '/etc/x.yml'] });
    assert.deepEqual(valuesOf(argv, '--extra-vars'), ['{"a":1}', '@/run/fleetcd/secret-vars.json', '@/etc/x.yml']);
  });

  it('passes the vault password file, vault ids as id@file and the private key as paths', () => {
    const argv = ansibleArgv({
      ...base,
      vaultPasswordFile: '/etc/fleetcd/vault-pass',
      vaultIds: [
        { id: 'prod', file: '/etc/fleetcd/vault-prod' },
        { id: 'dev', file: '/etc/fleetcd/vault-dev' },
      ],
      privateKeyFile: '/etc/fleetcd/id_ed25519',
    });
    assert.deepEqual(valuesOf(argv, '--vault-password-file'), ['/etc/fleetcd/vault-pass']);
    assert.deepEqual(valuesOf(argv, '--vault-id'), ['prod@/etc/fleetcd/vault-prod', 'dev@/etc/fleetcd/vault-dev']);
    assert.deepEqual(valuesOf(argv, '--private-key'), ['/etc/fleetcd/id_ed25519']);
    assert.equal(argv.at(-1), base.playbook);
  });

  it('carries secrets only as file paths: every secret-bearing option is followed by a path', () => {
    const argv = ansibleArgv({
      ...base,
      extraVarFiles: ['/tmp/run-1/secret-vars.json'],
      vaultPasswordFile: '/etc/fleetcd/vault-pass',
      vaultIds: [{ id: 'prod', file: '/etc/fleetcd/vault-prod' }],
      privateKeyFile: '/etc/fleetcd/id_ed25519',
    });
    const secretValues = [
      ...valuesOf(argv, '--extra-vars').map((v) => v.replace(/^@/, '')),
      ...valuesOf(argv, '--vault-password-file'),
      ...valuesOf(argv, '--vault-id').map((v) => v.slice(v.indexOf('@') + 1)),
      ...valuesOf(argv, '--private-key'),
    ];
    assert.equal(secretValues.length, 4);
    for (const value of secretValues) assert.match(value, /^\/[^\s]+$/, `${value} is not an absolute file path`);
    assert.ok(!argv.some((arg) => arg.startsWith('--vault-password=') || arg === '--ask-vault-pass'));
  });

  it('is pure: the same spec gives the same argv and the spec is not changed', () => {
    const spec: RunSpec = { ...base, tags: ['a'], extraVars: { b: 2 } };
    const copy = structuredClone(spec);
    assert.deepEqual(ansibleArgv(spec), ansibleArgv(spec));
    assert.deepEqual(spec, copy);
  });
});

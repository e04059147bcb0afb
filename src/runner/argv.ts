/** Everything one ansible-playbook run needs; built by the reconciler from config and revision. */
export type RunSpec = {
  /** The revision's repo path: Ansible runs here, so the repo's ansible.cfg applies. */
  cwd: string;
  inventory: string;
  playbook: string;
  check: boolean;
  limit?: string;
  tags?: readonly string[];
  skipTags?: readonly string[];
  forks?: number;
  become?: boolean;
  extraVars?: Readonly<Record<string, unknown>>;
  /** Files of extra vars the runner writes privately (secrets); passed as `-e @file`, never as values. */
  extraVarFiles?: readonly string[];
  vaultPasswordFile?: string;
  vaultIds?: ReadonlyArray<{ id: string; file: string }>;
  privateKeyFile?: string;
};

/**
 * The argument vector for ansible-playbook. Pure: no values here reach a shell, and secret values never
 * appear in it (only paths of files that hold them), so `ps` shows nothing secret.
 */
export function ansibleArgv(spec: RunSpec): string[] {
  const argv = ['-i', spec.inventory];
  if (spec.check) argv.push('--check', '--diff');
  else argv.push('--diff');
  if (spec.limit) argv.push('--limit', spec.limit);
  if (spec.tags?.length) argv.push('--tags', spec.tags.join(','));
  if (spec.skipTags?.length) argv.push('--skip-tags', spec.skipTags.join(','));
  if (spec.forks) argv.push('--forks', String(spec.forks));
  if (spec.become) argv.push('--become');
  if (spec.extraVars && Object.keys(spec.extraVars).length > 0) {
    argv.push('--extra-vars', JSON.stringify(spec.extraVars));
  }
  for (const file of spec.extraVarFiles ?? []) argv.push('--extra-vars', `@${file}`);
  argv.push(...vaultArgv(spec));
  if (spec.privateKeyFile) argv.push('--private-key', spec.privateKeyFile);
  argv.push(spec.playbook);
  return argv;
}

/** The vault password arguments, shared by ansible-playbook and ansible-inventory. */
export function vaultArgv(spec: Pick<RunSpec, 'vaultPasswordFile' | 'vaultIds'>): string[] {
  const argv: string[] = [];
  if (spec.vaultPasswordFile) argv.push('--vault-password-file', spec.vaultPasswordFile);
  for (const vault of spec.vaultIds ?? []) argv.push('--vault-id', `${vault.id}@${vault.file}`);
  return argv;
}

import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import type { Config } from '../../config/index.js';
import { resolveTargets, type Target } from '../../reconcile/targets.js';
import { type Cli, verb } from '../context.js';
import { exitCodes } from '../outcome.js';

/** `fleetcd validate`: the config, and a working copy of the fleet repository, with no daemon and no lock. */
export function registerValidate(program: Command): void {
  program
    .command('validate')
    .summary('check the config and a working copy of the repository')
    .description('check the config and, with --repo, a working copy of the fleet repository (no daemon, no lock: for a pre-commit hook or CI)')
    .option('--repo <dir>', "the repository's working copy: finds its targets as the daemon does and checks each inventory and playbook with Ansible")
    .addHelpText(
      'after',
      `
With --repo, each target's inventory goes through \`ansible-inventory -i INV --list\` (it must parse and
have hosts) and its playbook through \`ansible-playbook --syntax-check\`, run in the repository path so
its ansible.cfg applies. Roles and collections from requirements.yml are not installed.

Exit codes:
  0  everything is valid
  1  a problem (each is listed with its target), or an invalid config`,
    )
    .action(verb((cli, options: { repo?: string }) => validate(cli, options.repo)));
}

async function validate(cli: Cli, repo: string | undefined): Promise<number> {
  const config = cli.config();
  cli.print(`config ${config.file}: valid`);
  if (repo === undefined) return exitCodes.inSync;
  const root = resolve(repo, config.repository.path);
  if (!existsSync(root)) throw new Error(`${root}: no such directory`);
  const targets = resolveTargets(config, root);
  if (targets.length === 0) {
    cli.print(`${root}: no targets (no inventories/<name>/ folders or inventories/<name>.yml|.yaml|.ini files)`);
    return exitCodes.error;
  }
  if (existsSync(join(root, 'requirements.yml'))) {
    cli.note('requirements.yml is not installed by validate: the roles and collections it lists must already be on ANSIBLE_ROLES_PATH / ANSIBLE_COLLECTIONS_PATH');
  }
  const work = mkdtempSync(join(tmpdir(), 'fleetcd-validate-'));
  try {
    let failed = 0;
    for (const target of targets) {
      const problems = await validateTarget(config, root, work, target);
      if (problems.length > 0) failed++;
      cli.print(problems.length > 0 ? problems.join('\n') : `${target.name}: valid (${relative(root, target.inventory!)}, ${relative(root, target.playbook)})`);
    }
    cli.print(`${targets.length} target${targets.length === 1 ? '' : 's'}: ${targets.length - failed} valid, ${failed} with problems`);
    return failed > 0 ? exitCodes.error : exitCodes.inSync;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** One line per problem of a target, each naming it; none when it is valid. */
async function validateTarget(config: Config, root: string, work: string, target: Target): Promise<string[]> {
  if (target.problem || !target.inventory) return [`${target.name}: ${target.problem ?? 'no inventory'}`];
  const { checkInventory, syntaxCheck, validationEnv } = await import('../../runner/index.js');
  const env = validationEnv(root, work, config.ansible);
  const inventory = relative(root, target.inventory);
  const playbook = relative(root, target.playbook);
  const problems: string[] = [];
  const listed = await checkInventory(root, inventory, env, config.ansible);
  if (!listed.ok) problems.push(`${target.name}: inventory ${inventory}: ${indent(listed.output)}`);
  const syntax = await syntaxCheck(root, inventory, playbook, env, config.ansible);
  if (!syntax.ok) problems.push(`${target.name}: playbook ${playbook}: ${indent(syntax.output)}`);
  return problems;
}

function indent(text: string): string {
  return text.split('\n').join('\n    ');
}

import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { PreviewView } from '../../api/schemas.js';
import { verb } from '../context.js';
import { exitCodes } from '../outcome.js';
import { previewExit, renderPreview } from '../render/preview.js';
import { pollMs } from '../wait.js';
import { jsonOption } from './options.js';

type PreviewOptions = { target: string[]; wait?: boolean; json?: boolean };

const collect = (value: string, previous: string[]): string[] => [...previous, value];

/** `fleetcd preview REF`: a check of any ref against the live fleet, never applied; --wait prints its plan. */
export function registerPreviewVerb(program: Command): void {
  program
    .command('preview')
    .summary('check a branch, tag or commit against the live fleet, never applying it')
    .description(
      'check a ref (a branch, a tag, a commit sha, refs/pull/7/head) against the live fleet: each target is checked at that revision behind its own runs, never applied, and its plan is what the revision would change beyond the drift already there',
    )
    .argument('<ref>', 'feature/x, v1.4.0, a full sha, or refs/pull/7/head')
    .option('--target <name>', 'check only this target (repeat for more; default: every target of the revision)', collect, [])
    .option('--wait', 'follow the preview to its end and print its plan per target, with unified diffs')
    .addOption(jsonOption())
    .addHelpText(
      'after',
      `
Without --wait it prints the preview's id and exits 0.

Exit codes with --wait:
  0  nothing would change (drift already there is shown, and not counted)
  2  the revision would change something
  1  the preview failed (a check, a gate, the ref), was cancelled, or any error`,
    )
    .action(
      verb(async (cli, ref: string, options: PreviewOptions) => {
        const client = cli.client(true);
        const body = { ref, ...(options.target.length > 0 ? { targets: options.target } : {}) };
        const { id } = await client.post<{ id: number }>('/api/v1/previews', body);
        if (!options.wait) {
          if (options.json) cli.printJson({ id });
          else cli.print(`preview #${id} of ${ref} queued (GET /api/v1/previews/${id} shows its plan)`);
          return exitCodes.inSync;
        }
        let view = await client.get<PreviewView>(`/api/v1/previews/${id}`);
        while (view.status === 'queued' || view.status === 'running') {
          await sleep(pollMs);
          view = await client.get<PreviewView>(`/api/v1/previews/${id}`);
        }
        if (options.json) cli.printJson(view);
        else cli.print(renderPreview(view, cli.look()));
        return previewExit(view);
      }),
    );
}

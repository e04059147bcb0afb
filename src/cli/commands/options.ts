import { InvalidArgumentError, Option } from 'commander';

/** Parses a positive integer argument or option value (a run id, a limit), or says what it must be. */
export function positiveInt(value: string): number {
  if (!/^[1-9][0-9]{0,15}$/.test(value)) throw new InvalidArgumentError('must be a positive integer');
  return Number(value);
}

/** A run id; a word is most likely a target's name, so the error says where that is shown. */
export function runId(value: string): number {
  if (/^[1-9][0-9]{0,15}$/.test(value)) return Number(value);
  const hint = /^[A-Za-z]/.test(value) ? `; to see target ${value}, run \`fleetcd target ${value}\`` : '';
  throw new InvalidArgumentError(`must be a run id (a positive integer), got "${value}"${hint}`);
}

/** `--json` of the read verbs: the API's JSON as it came, for scripts and jq. */
export const jsonOption = (): Option => new Option('--json', "print the API's JSON instead of text");

/** Help text listing exit codes, for the verbs where they carry meaning. */
export const reconcileExitCodes = `
Exit codes:
  0  in sync, or applied cleanly
  2  drift left: the last run of a chain is a check that found changes
  1  a run did not succeed, a host failed or was unreachable, or any error`;

/**
 * Commander's usage errors in fleetcd's voice: `fleetcd: unknown command 'statsu' (did you mean 'status'?)`
 * on stderr rather than "error: …" with the suggestion on a line of its own.
 */
export function errorText(text: string): string {
  const suggestion = /\n\(Did you mean (one of )?(.+)\?\)/.exec(text);
  let message = text.replace(/\n\(Did you mean .+\?\)/, '').replace(/^error: /, '').trimEnd();
  if (suggestion?.[2]) {
    const names = suggestion[2].split(', ').map((name) => `'${name}'`).join(', ');
    message += ` (did you mean ${suggestion[1] ?? ''}${names}?)`;
  }
  return `fleetcd: ${message}\n`;
}

/**
 * Colour for the terminal, by hand (a few SGR codes need no library). It only ever adds to text that already
 * says everything: a status is a word, a diff line keeps its +/- prefix.
 */
export type Style = Record<'bold' | 'dim' | 'red' | 'green' | 'yellow' | 'cyan', (text: string) => string>;

const codes = { bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], cyan: [36, 39] } as const;
const names = Object.keys(codes) as Array<keyof Style>;

/** No colour: what pipes, files, tests and NO_COLOR get. */
export const plain: Style = Object.fromEntries(names.map((name) => [name, (text: string) => text])) as Style;

/** ANSI SGR colours, each switched off again by its own reset so that styles nest. */
export const colour: Style = Object.fromEntries(
  names.map((name) => {
    const [on, off] = codes[name];
    return [name, (text: string) => (text === '' ? text : `\x1b[${on}m${text}\x1b[${off}m`)];
  }),
) as Style;

/** Colour only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function styleFor(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
  return stream.isTTY === true && env.NO_COLOR === undefined ? colour : plain;
}

/** The width a string takes on screen: its length without colour codes. */
export function visibleWidth(text: string): number {
  return text.replace(/\u001b\[[0-9;]*m/g, '').length;
}

const tones: Record<string, keyof Style> = {
  'in-sync': 'green',
  succeeded: 'green',
  ok: 'green',
  drifted: 'yellow',
  changed: 'yellow',
  cancelled: 'yellow',
  interrupted: 'yellow',
  suspended: 'yellow',
  held: 'yellow',
  failed: 'red',
  'timed-out': 'red',
  unreachable: 'red',
  running: 'cyan',
  queued: 'cyan',
  unknown: 'dim',
};

/** A status word (target, run or host status) in its colour. */
export function statusWord(status: string, style: Style): string {
  const tone = tones[status];
  return tone ? style[tone](status) : status;
}

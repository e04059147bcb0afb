/**
 * Ways to write one path that a router might take for the same route (contract note 20): the fixed list the
 * API test walks, and random compositions of the same transforms for the torture scenario.
 */

/** One way of rewriting a request target; `port` for the absolute forms. */
export type Spelling = { name: string; apply: (path: string, port: number) => string };

const hex = (c: string, upper = false): string => {
  const code = `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  return upper ? code.toUpperCase() : code;
};

/** Rewrites of the path alone (composable); the absolute forms go last, as they wrap a path. */
export const pathSpellings: readonly Spelling[] = [
  { name: 'with a query', apply: (p) => `${p}?x=1` },
  { name: 'first letter percent-encoded', apply: (p) => p.replace(/\/([a-z])/, (_all, c: string) => `/${hex(c, true)}`) },
  { name: 'every letter percent-encoded', apply: (p) => p.replace(/[a-z]/g, (c) => hex(c)) },
  { name: 'slashes percent-encoded', apply: (p) => `/${p.slice(1).replaceAll('/', '%2F')}` },
  { name: 'lower-case %2f', apply: (p) => `/${p.slice(1).replaceAll('/', '%2f')}` },
  { name: 'doubled leading slash', apply: (p) => `/${p}` },
  { name: 'doubled inner slash', apply: (p) => p.replace(/(.)\//, '$1//') },
  { name: 'every slash doubled', apply: (p) => p.replaceAll('/', '//') },
  { name: 'trailing slash', apply: (p) => `${p}/` },
  { name: 'dot segment', apply: (p) => p.replace(/\/([^/]*)$/, '/./$1') },
  { name: 'dot-dot segment', apply: (p) => p.replace(/\/([^/]*)$/, '/x/../$1') },
  { name: 'encoded dot segment', apply: (p) => p.replace(/\/([^/]*)$/, '/%2e/$1') },
  { name: 'encoded dot-dot segment', apply: (p) => p.replace(/\/([^/]*)$/, '/x/%2e%2e/$1') },
  { name: 'upper case', apply: (p) => p.toUpperCase() },
  { name: 'semicolon parameter', apply: (p) => `${p};x=1` },
  { name: 'encoded semicolon', apply: (p) => `${p}%3Bx` },
  { name: 'backslash for a slash', apply: (p) => p.replace(/(.)\//, '$1\\') },
  { name: 'encoded backslash', apply: (p) => p.replace(/(.)\//, '$1%5C') },
  { name: 'fragment', apply: (p) => `${p}#x` },
  { name: 'double-encoded letter', apply: (p) => p.replace(/\/([a-z])/, (_all, c: string) => `/%25${hex(c).slice(1)}`) },
];

export const absoluteSpellings: readonly Spelling[] = [
  { name: 'absolute form', apply: (p, port) => `http://127.0.0.1:${port}${p}` },
  { name: 'absolute form, localhost', apply: (p, port) => `http://localhost:${port}${p}` },
  { name: 'absolute form, https scheme', apply: (p, port) => `https://127.0.0.1:${port}${p}` },
  { name: 'absolute form, another host', apply: (p) => `http://example.com${p}` },
];

/** The fixed list: the canonical path, each path rewrite, and each absolute form of the path and of its first rewrite. */
export function spellings(path: string, port: number): Array<[string, string]> {
  return [
    ['canonical', path],
    ...pathSpellings.map((s): [string, string] => [s.name, s.apply(path, port)]),
    ...absoluteSpellings.map((s): [string, string] => [s.name, s.apply(path, port)]),
    ['absolute form, encoded', absoluteSpellings[0]!.apply(pathSpellings[1]!.apply(path, port), port)],
  ];
}

/** One to three rewrites picked by `random`, composed, then an absolute form one time in four. */
export function randomSpelling(path: string, port: number, random: () => number): [string, string] {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const chosen = Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(pathSpellings));
  let target = chosen.reduce((p, s) => s.apply(p, port), path);
  const names = chosen.map((s) => s.name);
  if (random() < 0.25) {
    const absolute = pick(absoluteSpellings);
    target = absolute.apply(target, port);
    names.push(absolute.name);
  }
  return [names.join(' + '), target];
}

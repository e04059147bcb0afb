import type { z } from 'zod';

/**
 * One template for every validation message, config file or API request alike:
 * `<key.path>: <problem>, got <what was found>`. Parse with `{ reportInput: true }` so the input is known.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], unknownKey = 'unknown key'): string[] {
  return issues.flatMap((issue) => describeIssue(issue, unknownKey));
}

function describeIssue(issue: z.core.$ZodIssue, unknownKey: string): string[] {
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((key) => `${keyPath([...issue.path, key])}: ${unknownKey}`);
  }
  const message = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
  const problem =
    issue.input !== undefined
      ? `${message}, got ${quote(issue.input)}`
      : issue.code === 'invalid_type'
        ? 'is required'
        : message;
  return [issue.path.length > 0 ? `${keyPath(issue.path)}: ${problem}` : problem];
}

function keyPath(path: readonly PropertyKey[]): string {
  return path.map(String).join('.');
}

function quote(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // Too deep to write out (a stack overflow) or circular: say what it is instead.
    text = Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : typeof value;
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** What kind of signature a commit carries, read from its `gpgsig` header; git verifies each kind differently. */
export type SignatureKind = 'ssh' | 'gpg' | 'x509';

/** The facts of one commit that the source reports and checks, read from the raw commit object. */
export type CommitInfo = {
  sha: string;
  subject: string;
  /** `Name <email>` of the author. */
  author: string;
  /** Committer time, ISO 8601 UTC. */
  committedAt: string;
  /** The commit's real parents, even when the mirror is shallow and does not hold them. */
  parents: string[];
  signature: SignatureKind | null;
};

/**
 * Parses `git cat-file commit <sha>` output. One git call gives everything (subject, author, time, parents,
 * signature kind), which keeps an unchanged poll cheap.
 */
export function parseCommit(sha: string, raw: string): CommitInfo {
  const split = raw.indexOf('\n\n');
  const head = split === -1 ? raw : raw.slice(0, split);
  const message = split === -1 ? '' : raw.slice(split + 2);
  const headers = new Map<string, string[]>();
  let last: string[] | undefined;
  for (const line of head.split('\n')) {
    if (line.startsWith(' ') && last) {
      last[last.length - 1] += `\n${line.slice(1)}`;
      continue;
    }
    const space = line.indexOf(' ');
    const name = space === -1 ? line : line.slice(0, space);
    last = headers.get(name) ?? [];
    last.push(space === -1 ? '' : line.slice(space + 1));
    headers.set(name, last);
  }
  return {
    sha,
    subject: (message.split('\n', 1)[0] ?? '').trim(),
    author: identityOf(headers.get('author')?.[0]),
    committedAt: timeOf(headers.get('committer')?.[0]),
    parents: headers.get('parent') ?? [],
    signature: signatureKind(headers.get('gpgsig')?.[0]),
  };
}

function identityOf(line: string | undefined): string {
  const match = /^(.*?<[^>]*>)/.exec(line ?? '');
  return match?.[1]?.trim() ?? '';
}

function timeOf(line: string | undefined): string {
  const match = /> (\d+) [+-]\d{4}$/.exec(line ?? '');
  return match?.[1] ? new Date(Number(match[1]) * 1000).toISOString() : new Date(0).toISOString();
}

function signatureKind(signature: string | undefined): SignatureKind | null {
  if (!signature) return null;
  if (signature.startsWith('-----BEGIN SSH SIGNATURE-----')) return 'ssh';
  if (signature.startsWith('-----BEGIN PGP SIGNATURE-----')) return 'gpg';
  if (signature.startsWith('-----BEGIN SIGNED MESSAGE-----')) return 'x509';
  return null;
}

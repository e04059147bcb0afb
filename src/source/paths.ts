import { lstatSync, realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';

/** True when `path` is `root` or below it; both must already be real (symlink-free) paths. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

/**
 * Why `relPath` inside the checkout `dir` cannot be used, if it cannot: a symlink (anywhere along the path)
 * that leads outside the checkout, or that dangles, since what it points to could appear on the host later.
 * A plainly missing folder is not a problem here: the targets report what they do not find.
 */
export function checkoutPathProblem(dir: string, relPath: string): string | undefined {
  const realDir = realpathSync(dir);
  let prefix = dir;
  for (const part of relPath.split('/').filter((p) => p !== '' && p !== '.')) {
    prefix = join(prefix, part);
    let isLink: boolean;
    try {
      isLink = lstatSync(prefix).isSymbolicLink();
    } catch {
      return undefined;
    }
    if (!isLink) continue;
    let real: string;
    try {
      real = realpathSync(prefix);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      return `${relative(dir, prefix)} is a symlink that ${code === 'ELOOP' ? 'loops' : 'points to nothing'}`;
    }
    if (!isInside(realDir, real)) {
      return `${relative(dir, prefix)} is a symlink to ${real}, outside the repository checkout`;
    }
  }
  return undefined;
}

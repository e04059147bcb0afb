// Builds the status page: web/src/main.tsx bundled and minified by esbuild into dist/web/app.js, next to a copy of
// web/index.html and web/app.css. Prints the gzipped size of what a browser downloads and fails above the budget.
import { copyFileSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'web');
const budgetBytes = 150 * 1024;

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
await build({
  absWorkingDir: root,
  entryPoints: ['web/src/main.tsx'],
  outfile: join(out, 'app.js'),
  tsconfig: 'web/tsconfig.json',
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['es2022', 'chrome111', 'firefox113', 'safari16.4'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css']) copyFileSync(join(root, 'web', file), join(out, file));

const sizes = readdirSync(out).map((file) => ({ file, gzip: gzipSync(readFileSync(join(out, file)), { level: 9 }).length }));
const total = sizes.reduce((sum, s) => sum + s.gzip, 0);
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;
console.log(`fleetcd: web page in dist/web, ${kb(total)} gzipped (${sizes.map((s) => `${s.file} ${kb(s.gzip)}`).join(', ')})`);
if (total > budgetBytes) {
  console.error(`fleetcd: the web page is ${kb(total)} gzipped, over its ${kb(budgetBytes)} budget`);
  process.exit(1);
}

/**
 * `npm run playground`: builds examples/playground/ into static files in
 * examples/playground/dist/ (index.html, style.css, playground.js and the
 * chunk `validate()` loads on first use). Serve that folder with any static
 * server, e.g. `npx vite preview --outDir examples/playground/dist` or
 * `python3 -m http.server -d examples/playground/dist`; ES modules and wasm
 * need http://, not file://.
 */
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'examples/playground');

export const PLAYGROUND_DIST = join(source, 'dist');

/** Builds the page into `outdir`; returns the files written with their gzip sizes. */
export async function buildPlayground(
  outdir = PLAYGROUND_DIST,
): Promise<Array<{ file: string; gzip: number }>> {
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const result = await build({
    absWorkingDir: root,
    entryPoints: { playground: join(source, 'playground.ts') },
    bundle: true,
    format: 'esm',
    splitting: true,
    platform: 'browser',
    target: 'es2022',
    minify: true,
    outdir,
    loader: { '.xml': 'text' },
    logLevel: 'error',
  });
  if (result.errors.length > 0) throw new Error('the playground did not build');
  for (const f of ['index.html', 'style.css']) copyFileSync(join(source, f), join(outdir, f));
  return readdirSync(outdir)
    .filter((f) => statSync(join(outdir, f)).isFile())
    .map((file) => ({ file, gzip: gzipSync(readFileSync(join(outdir, file))).length }));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const files = await buildPlayground();
  for (const f of files) console.log(`${f.file.padEnd(40)} ${(f.gzip / 1024).toFixed(1)} KB gzip`);
  console.log(
    `\nplayground built in ${relative(process.cwd(), PLAYGROUND_DIST) || '.'}/ (serve it over http)`,
  );
}

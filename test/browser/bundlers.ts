/**
 * A web developer's bundlers, driven from their Node APIs, each making a
 * page out of one entry file that imports virtkit by its package name. The
 * page is a folder with `index.html` and what the bundler wrote; every build
 * is one file unless `split` asks for the bundler's code splitting. Entries
 * are plain JavaScript, so no bundler needs a TypeScript loader.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { REPO_ROOT } from '../shared-data.js';

export type BundlerName = 'esbuild' | 'vite' | 'webpack';

export interface PageBuild {
  bundler: BundlerName;
  format: 'esm' | 'iife';
  /** Let the bundler split lazily loaded code into chunks (default: one file). */
  split?: boolean;
}

export const HAS_BUNDLER: Record<BundlerName, boolean> = {
  esbuild: existsSync(join(REPO_ROOT, 'node_modules/esbuild/package.json')),
  vite: existsSync(join(REPO_ROOT, 'node_modules/vite/package.json')),
  webpack: existsSync(join(REPO_ROOT, 'node_modules/webpack/package.json')),
};

export function pageName(b: PageBuild): string {
  return `${b.bundler}-${b.format}${b.split ? '-split' : ''}`;
}

/**
 * Bundles `entry` (a file under `work`, whose node_modules holds virtkit)
 * into `outdir`, and writes the HTML that loads it; `head` adds to `<head>`.
 * Returns the JavaScript files written.
 */
export async function bundlePage(
  b: PageBuild,
  work: string,
  entry: string,
  outdir: string,
  head = '',
): Promise<string[]> {
  if (b.bundler === 'vite' && b.split) {
    await withViteApp(work, entry, outdir);
    return readdirSync(outdir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
  }
  if (b.bundler === 'esbuild') await withEsbuild(b, work, entry, outdir);
  else if (b.bundler === 'vite') await withVite(b, work, entry, outdir);
  else await withWebpack(b, work, entry, outdir);
  const script =
    b.format === 'esm' ? '<script type="module" src="page.js"></script>' : '<script src="page.js"></script>';
  writeFileSync(
    join(outdir, 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8">${head}</head><body>${script}</body></html>`,
  );
  return readdirSync(outdir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.js'));
}

async function withEsbuild(b: PageBuild, work: string, entry: string, outdir: string): Promise<void> {
  const { build } = await import('esbuild');
  await build({
    absWorkingDir: work,
    entryPoints: { page: entry },
    bundle: true,
    format: b.format,
    platform: 'browser',
    target: 'es2022',
    outdir,
    splitting: b.split === true,
    logLevel: 'error',
  });
}

/**
 * A Vite app as `npm create vite` makes one: an index.html whose module
 * script is the entry, built with Vite's defaults (code splitting on), with
 * relative asset paths so the page can be served from a sub-folder.
 */
async function withViteApp(work: string, entry: string, outdir: string): Promise<void> {
  const { build } = await import('vite');
  const app = join(work, `vite-app-${basename(outdir)}`);
  mkdirSync(app, { recursive: true });
  writeFileSync(
    join(app, 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8"></head><body><script type="module" src="${relative(app, entry)}"></script></body></html>`,
  );
  await build({
    root: app,
    base: './',
    configFile: false,
    logLevel: 'error',
    build: { outDir: outdir, emptyOutDir: true },
  });
}

async function withVite(b: PageBuild, work: string, entry: string, outdir: string): Promise<void> {
  const { build } = await import('vite');
  await build({
    root: work,
    configFile: false,
    logLevel: 'error',
    build: {
      outDir: outdir,
      emptyOutDir: true,
      minify: true,
      lib: {
        entry,
        formats: [b.format === 'esm' ? 'es' : 'iife'],
        name: 'page',
        fileName: () => 'page.js',
      },
      // library mode writes one file (dynamic imports inlined), the case asked for here
      rolldownOptions: { output: { codeSplitting: false } },
    },
  });
}

async function withWebpack(b: PageBuild, work: string, entry: string, outdir: string): Promise<void> {
  const webpack = (await import('webpack')).default;
  const plugins = b.split ? [] : [new webpack.optimize.LimitChunkCountPlugin({ maxChunks: 1 })];
  const compiler = webpack({
    mode: 'production',
    context: work,
    entry,
    target: 'web',
    devtool: false,
    experiments: { outputModule: b.format === 'esm' },
    output: {
      path: outdir,
      filename: 'page.js',
      module: b.format === 'esm',
      ...(b.format === 'iife' ? { iife: true } : {}),
    },
    plugins,
    performance: { hints: false },
    // terser over libxml2's wasm (a 1 MB string) takes seconds and proves nothing here
    optimization: { minimize: false },
    infrastructureLogging: { level: 'error' },
  });
  await new Promise<void>((ok, fail) => {
    compiler.run((err, stats) => {
      compiler.close(() => undefined);
      if (err) fail(err);
      else if (stats?.hasErrors()) fail(new Error(stats.toString({ all: false, errors: true })));
      else ok();
    });
  });
}

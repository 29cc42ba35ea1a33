/**
 * What the browser entries cost a page: each is bundled by esbuild for the
 * browser (minified, code splitting on, as an app build does) and measured
 * raw and gzipped. The row's time is the bundling time; the sizes are in its
 * name and in `note`. `validate()`'s libxml2 (the wasm and its wrapper) is a
 * chunk of its own, loaded on the first call, so it is shown apart.
 *
 * The goal: a CPU-only page (the CPU models and the CPU engine) under 60 KB
 * gzip. The sources are bundled directly; they are in the package's scope, so
 * its `sideEffects: false` applies as it does to the built files.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { BenchRow } from './harness.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** A page's code, importing the sources as `virtkit/<subpath>` would give them. */
const PAGES: Record<string, string> = {
  'virtkit/conf (all of it)': "export * from './src/conf/index.ts';",
  'virtkit/cpu (all of it)': "export * from './src/cpu/index.ts';",
  'virtkit/xml (all of it)': "export * from './src/xml/index.ts';",
  'CPU-only page (CpuDef, compare, baseline, policy, -cpu)': `
    import { CpuDef } from './src/conf/index.ts';
    import { baselineCpu, compareCpu, qemuCpuArg, resolveGuestCpu } from './src/cpu/index.ts';
    globalThis.api = { CpuDef, baselineCpu, compareCpu, qemuCpuArg, resolveGuestCpu };`,
  'virtkit/conf + virtkit/cpu (all of both)':
    "export * from './src/conf/index.ts'; export * from './src/cpu/index.ts';",
};

export const CPU_PAGE_GOAL_KB = 60;

const kb = (n: number) => (n / 1024).toFixed(1);

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [name, contents] of Object.entries(PAGES)) {
    const t0 = process.hrtime.bigint();
    const result = await build({
      stdin: { contents, resolveDir: root, loader: 'ts', sourcefile: 'page.ts' },
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      minify: true,
      splitting: true,
      outdir: join(root, 'dist-bench'),
      write: false,
      metafile: true,
      logLevel: 'error',
    });
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    // what the page loads up front: the entry and the chunks it imports statically
    // (code shared with the lazy part); the rest loads on the first validate()
    const outputs = result.metafile?.outputs ?? {};
    const entry = Object.keys(outputs).find((f) => f.endsWith('/stdin.js'));
    if (!entry) throw new Error(`esbuild wrote no entry for ${name}`);
    const upfront = new Set<string>();
    const visit = (file: string) => {
      if (upfront.has(file)) return;
      upfront.add(file);
      for (const i of outputs[file]?.imports ?? []) if (i.kind === 'import-statement') visit(i.path);
    };
    visit(entry);
    let raw = 0;
    let gz = 0;
    let lazy = 0;
    for (const f of result.outputFiles) {
      const size = gzipSync(f.contents).length;
      if ([...upfront].some((u) => f.path.endsWith(u))) {
        raw += f.contents.length;
        gz += size;
      } else lazy += size;
    }
    let label = `${name}: ${kb(raw)} KB, ${kb(gz)} KB gzip`;
    if (name.startsWith('CPU-only'))
      label += gz < CPU_PAGE_GOAL_KB * 1024 ? ' (goal < 60: met)' : ' (goal < 60: MISSED)';
    if (lazy > 0) label += `; loaded on the first validate(): ${kb(lazy)} KB gzip more`;
    rows.push({ name: label, virtkitUs: Math.round(us), note: `${gz} bytes gzip` });
  }
  return rows;
}

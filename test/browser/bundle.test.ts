// virtkit/conf, /cpu and /xml bundled by esbuild for the browser and run in
// Debian's Chromium (headless, over CDP with puppeteer-core). The page gets
// the same answers as Node. Bundles are made from the built package, as a
// web developer's bundler sees it; gzip sizes per entry are printed.
//
// libxml2-wasm (behind `validate()`) has a top-level await inside a cycle of
// its own modules: inlined into one file by esbuild it never finishes
// initialising, and an IIFE cannot hold it at all. So: with code splitting
// (what an app bundler does by default) `validate()` works; in a single ESM
// file, and in an IIFE with libxml2-wasm left external, it rejects with a
// `VirError` instead of hanging, and everything else works.
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as conf from '../../src/conf/index.js';
import * as cpu from '../../src/cpu/index.js';
import * as xml from '../../src/xml/index.js';
import { ensureBuilt } from '../packaging/built-package.js';
import { REPO_ROOT } from '../shared-data.js';
import { runChecks } from './page-checks.js';

const CHROMIUM =
  process.env.CHROMIUM_PATH ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(existsSync);
const HAS_ESBUILD = existsSync(join(REPO_ROOT, 'node_modules/esbuild/package.json'));
const HAS_PUPPETEER = existsSync(join(REPO_ROOT, 'node_modules/puppeteer-core/package.json'));
const CAN_RUN = CHROMIUM !== undefined && HAS_ESBUILD && HAS_PUPPETEER;
const SKIP_NOTE = CAN_RUN
  ? ''
  : ` (skipped: ${CHROMIUM ? '' : 'chromium not installed; '}${HAS_ESBUILD && HAS_PUPPETEER ? '' : 'esbuild/puppeteer-core missing'})`;

const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// The page: page-checks.ts bundled against the package's entries.
const ENTRY = `
import * as conf from 'virtkit/conf';
import * as cpu from 'virtkit/cpu';
import * as xml from 'virtkit/xml';
import { runChecks } from './page-checks.ts';
const validateWorks = document.documentElement.dataset.validate === 'yes';
runChecks({ conf, cpu, xml }, { validate: validateWorks }).then(async (out) => {
  if (!validateWorks) {
    const started = Date.now();
    out.validateRefused = await xml.validate('<cpu/>', 'cpu').then(
      () => 'resolved',
      (e) => e.name + ':' + e.code,
    );
    out.refusedWithinMs = Date.now() - started < 20000;
  }
  window.__result = out;
}, (e) => { window.__result = { failed: String(e && e.stack || e) }; });
`;

type Build = typeof import('esbuild')['build'];

describe.skipIf(!CAN_RUN)(`virtkit in Chromium, bundled by esbuild${SKIP_NOTE}`, () => {
  let work = '';
  let server: Server | undefined;
  let base = '';
  let build: Build;
  let expected: Record<string, unknown>;

  beforeAll(async () => {
    ensureBuilt();
    build = (await import('esbuild')).build;
    work = mkdtempSync(join(tmpdir(), 'virtkit-browser-'));
    // the package as installed: node_modules/virtkit is the repository (its exports, its dist)
    mkdirSync(join(work, 'node_modules'));
    symlinkSync(REPO_ROOT, join(work, 'node_modules/virtkit'));
    writeFileSync(join(work, 'page.ts'), ENTRY);
    writeFileSync(
      join(work, 'page-checks.ts'),
      readFileSync(join(REPO_ROOT, 'test/browser/page-checks.ts'), 'utf8'),
    );
    expected = await runChecks({ conf, cpu, xml }, { validate: true });
    server = createServer((req, res) => {
      const file = join(work, 'out', decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
      if (!file.startsWith(join(work, 'out')) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      const type = extname(file) === '.html' ? 'text/html' : 'text/javascript';
      res.writeHead(200, { 'content-type': type }).end(readFileSync(file));
    });
    await new Promise<void>((ok) => server?.listen(0, '127.0.0.1', ok));
    const addr = server.address();
    base = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  }, 180_000);

  afterAll(async () => {
    await new Promise((ok) => (server ? server.close(ok) : ok(undefined)));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function bundle(
    name: string,
    format: 'esm' | 'iife',
    opts: { splitting?: boolean; external?: string[] },
  ) {
    const outdir = join(work, 'out', name);
    await build({
      absWorkingDir: work,
      entryPoints: { page: join(work, 'page.ts') },
      bundle: true,
      format,
      platform: 'browser',
      target: 'es2022',
      outdir,
      splitting: opts.splitting ?? false,
      external: opts.external ?? [],
      logLevel: 'error',
    });
    const validate = name === 'esm-split' ? 'yes' : 'no';
    const script =
      format === 'esm' ? `<script type="module" src="page.js"></script>` : `<script src="page.js"></script>`;
    writeFileSync(
      join(outdir, 'index.html'),
      `<!doctype html><html data-validate="${validate}"><body>${script}</body></html>`,
    );
    return `${base}/${name}/index.html`;
  }

  async function runInChromium(url: string): Promise<Record<string, unknown>> {
    const puppeteer = (await import('puppeteer-core')).default;
    const profile = mkdtempSync(join(tmpdir(), 'virtkit-chromium-'));
    const browser = await puppeteer.launch({
      executablePath: CHROMIUM as string,
      headless: true,
      args: FLAGS,
      userDataDir: profile,
    });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(url);
      await page.waitForFunction('window.__result !== undefined', { timeout: 40_000 });
      const out = (await page.evaluate('window.__result')) as Record<string, unknown>;
      expect(errors).toEqual([]);
      return out;
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  }

  it('esm with code splitting: every API, validate() included, answers as in Node', async () => {
    const out = await runInChromium(await bundle('esm-split', 'esm', { splitting: true }));
    expect(out).toEqual(expected);
  }, 90_000);

  it('one esm file: the models and CPU engine work; validate() rejects with a VirError, never hangs', async () => {
    const out = await runInChromium(await bundle('esm-single', 'esm', {}));
    const { valid: _v, invalid: _i, ...rest } = expected;
    expect(out).toEqual({ ...rest, validateRefused: 'VirError:NO_SUPPORT', refusedWithinMs: true });
  }, 90_000);

  it('iife (libxml2-wasm external): the models and CPU engine work; validate() rejects with a VirError', async () => {
    const out = await runInChromium(await bundle('iife', 'iife', { external: ['libxml2-wasm'] }));
    const { valid: _v, invalid: _i, ...rest } = expected;
    expect(out).toEqual({ ...rest, validateRefused: 'VirError:NO_SUPPORT', refusedWithinMs: true });
  }, 90_000);

  it('prints bundle sizes per entry (minified, gzip)', async () => {
    const sizes: Record<string, string> = {};
    const entries: Record<string, string> = {
      'virtkit/conf': "export * from 'virtkit/conf';",
      'virtkit/cpu': "export * from 'virtkit/cpu';",
      'virtkit/xml (without libxml2-wasm)': "export * from 'virtkit/xml';",
      'CPU-only page (compareCpu + CpuDef)':
        "import { CpuDef } from 'virtkit/conf'; import { compareCpu } from 'virtkit/cpu'; console.log(compareCpu(CpuDef.fromXML(''), ''));",
    };
    for (const [name, code] of Object.entries(entries)) {
      const r = await build({
        absWorkingDir: work,
        stdin: { contents: code, resolveDir: work, loader: 'ts' },
        bundle: true,
        format: 'esm',
        platform: 'browser',
        minify: true,
        write: false,
        external: ['libxml2-wasm'],
        logLevel: 'error',
      });
      const bytes = r.outputFiles?.[0]?.contents ?? new Uint8Array();
      sizes[name] =
        `${(bytes.length / 1024).toFixed(1)} KB, ${(gzipSync(bytes).length / 1024).toFixed(1)} KB gzip`;
    }
    console.log('bundle sizes (esbuild, minified):', sizes);
    expect(Object.keys(sizes)).toHaveLength(4);
  }, 60_000);
});

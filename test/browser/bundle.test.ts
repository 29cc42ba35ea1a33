// virtkit/conf, /cpu and /xml bundled as a web developer does (esbuild esm and
// iife, Vite esm and iife, webpack), from the packed tarball installed into a
// scratch project, and run in Debian's Chromium (headless, over CDP with puppeteer-core).
// Every page gets the same answers as Node, `validate()` included; where the
// wasm cannot load (a missing chunk, a content security policy without
// 'wasm-unsafe-eval') `validate()` rejects with a VirError instead of hanging.
// Bundle sizes are measured by bench/bundle-size.ts.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as conf from '../../src/conf/index.js';
import * as cpu from '../../src/cpu/index.js';
import * as xml from '../../src/xml/index.js';
import { HAS_NPM, installTarball, packTarball } from '../packaging/built-package.js';
import { REPO_ROOT } from '../shared-data.js';
import { bundlePage, HAS_BUNDLER, type PageBuild, pageName } from './bundlers.js';
import { CHROMIUM_MISSING, serve, withPage } from './chromium.js';
import { runChecks } from './page-checks.js';

// The page: page-checks.ts against the package's entries. With `data-expect="refused"`
// it only asks validate() and reports how it failed and how long that took.
const ENTRY = `
import * as conf from 'virtkit/conf';
import * as cpu from 'virtkit/cpu';
import * as xml from 'virtkit/xml';
import { runChecks } from './page-checks.js';
async function main() {
  if (document.documentElement.dataset.expect !== 'refused') return runChecks({ conf, cpu, xml }, { validate: true });
  const started = Date.now();
  const refused = await xml.validate('<cpu/>', 'cpu').then(
    () => 'resolved',
    (e) => e.name + ':' + e.code,
  );
  return { refused, withinMs: Date.now() - started < 20000, model: conf.CpuDef.fromXML('<cpu><model>Haswell</model></cpu>').model.name };
}
main().then((out) => { window.__result = out; }, (e) => { window.__result = { failed: String((e && e.stack) || e) }; });
`;

const BUILDS: PageBuild[] = [
  { bundler: 'esbuild', format: 'esm' },
  { bundler: 'esbuild', format: 'esm', split: true },
  { bundler: 'esbuild', format: 'iife' },
  { bundler: 'vite', format: 'esm' },
  { bundler: 'vite', format: 'esm', split: true },
  { bundler: 'vite', format: 'iife' },
  { bundler: 'webpack', format: 'iife' },
  { bundler: 'webpack', format: 'esm' },
];

const CSP = "default-src 'self'; script-src 'self'"; // no 'wasm-unsafe-eval': WebAssembly may not compile

describe.skipIf(CHROMIUM_MISSING !== undefined || !HAS_NPM)(
  `virtkit in Chromium, bundled${CHROMIUM_MISSING ? ` (skipped: ${CHROMIUM_MISSING})` : HAS_NPM ? '' : ' (skipped: npm not found)'}`,
  () => {
    let work = '';
    let server: Awaited<ReturnType<typeof serve>> | undefined;
    let expected: Record<string, unknown>;

    beforeAll(async () => {
      work = mkdtempSync(join(tmpdir(), 'virtkit-browser-'));
      // the package as a web developer installs it: from the packed tarball
      writeFileSync(
        join(work, 'package.json'),
        JSON.stringify({ name: 'page', private: true, type: 'module' }),
      );
      const tarball = packTarball();
      installTarball(work, tarball);
      rmSync(dirname(tarball), { recursive: true, force: true });
      writeFileSync(join(work, 'page.js'), ENTRY);
      const { transform } = await import('esbuild');
      const checks = readFileSync(join(REPO_ROOT, 'test/browser/page-checks.ts'), 'utf8');
      writeFileSync(join(work, 'page-checks.js'), (await transform(checks, { loader: 'ts' })).code);
      mkdirSync(join(work, 'out'));
      expected = await runChecks({ conf, cpu, xml }, { validate: true });
      server = await serve(join(work, 'out'), (path) =>
        path.startsWith('/csp/') ? { 'content-security-policy': CSP } : {},
      );
    }, 240_000);

    afterAll(async () => {
      await server?.close();
      if (work) rmSync(work, { recursive: true, force: true });
    });

    async function build(b: PageBuild, dir = pageName(b)): Promise<string[]> {
      return bundlePage(b, work, join(work, 'page.js'), join(work, 'out', dir));
    }

    function open(dir: string): Promise<Record<string, unknown>> {
      return withPage(async (page, errors) => {
        await page.goto(`${server?.base}/${dir}/index.html`);
        await page.waitForFunction('window.__result !== undefined', { timeout: 40_000 });
        const out = (await page.evaluate('window.__result')) as Record<string, unknown>;
        expect(errors).toEqual([]);
        return out;
      });
    }

    for (const b of BUILDS) {
      const what = `${b.bundler} ${b.format}${b.split ? ' with code splitting' : ', one file'}`;
      it.skipIf(!HAS_BUNDLER[b.bundler])(
        `${what}: every API, validate() included, answers as in Node`,
        async () => {
          const files = await build(b);
          if (!b.split) expect(files).toEqual(['page.js']);
          else expect(files.length).toBeGreaterThan(1);
          expect(await open(pageName(b))).toEqual(expected);
        },
        90_000,
      );
    }

    it('validate() rejects with a VirError when its chunk cannot be fetched', async () => {
      const dir = 'missing-chunk';
      const files = await build({ bundler: 'esbuild', format: 'esm', split: true }, dir);
      // the wasm's chunk is by far the largest file
      const sized = files.map((f) => [f, statSync(join(work, 'out', dir, f)).size] as const);
      const [largest] = [...sized].sort((a, b) => b[1] - a[1]);
      expect(largest?.[0]).not.toBe('page.js');
      rmSync(join(work, 'out', dir, largest?.[0] ?? ''));
      await markRefused(dir);
      expect(await open(dir)).toEqual({ refused: 'VirError:NO_SUPPORT', withinMs: true, model: 'Haswell' });
    }, 90_000);

    it('validate() rejects with a VirError where the page may not compile WebAssembly (CSP)', async () => {
      await build({ bundler: 'esbuild', format: 'iife' }, 'csp');
      await markRefused('csp');
      expect(await open('csp')).toEqual({ refused: 'VirError:NO_SUPPORT', withinMs: true, model: 'Haswell' });
    }, 90_000);

    async function markRefused(dir: string): Promise<void> {
      const html = join(work, 'out', dir, 'index.html');
      writeFileSync(html, readFileSync(html, 'utf8').replace('<html>', '<html data-expect="refused">'));
    }
  },
);

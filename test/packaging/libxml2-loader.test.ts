// src/xml/libxml2-loader.gen.ts is libxml2-wasm's wrapper as one async function,
// generated (never committed) by scripts/gen-libxml2-loader.ts: it must be the
// installed version's, and the dependency must stay pinned to that version,
// since the wrapper and the wasm build it imports come from one release.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderLoaderModule } from '../../scripts/gen-libxml2-loader.js';
import { REPO_ROOT } from '../shared-data.js';

describe('the libxml2-wasm loader', () => {
  it('is generated from the installed libxml2-wasm (the set-up wrote it)', async () => {
    const onDisk = readFileSync(join(REPO_ROOT, 'src/xml/libxml2-loader.gen.ts'), 'utf8');
    expect(onDisk === (await renderLoaderModule()), 'stale: run npm run gen:libxml2').toBe(true);
  });

  it('is for the exact version package.json asks for', () => {
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const installed = JSON.parse(
      readFileSync(join(REPO_ROOT, 'node_modules/libxml2-wasm/package.json'), 'utf8'),
    ) as { version: string };
    expect(pkg.dependencies['libxml2-wasm']).toBe(installed.version);
    expect(readFileSync(join(REPO_ROOT, 'src/xml/libxml2-loader.gen.ts'), 'utf8')).toContain(
      `from libxml2-wasm ${installed.version}.`,
    );
  });

  it('has no top-level await: importing it instantiates nothing', async () => {
    const text = readFileSync(join(REPO_ROOT, 'src/xml/libxml2-loader.gen.ts'), 'utf8');
    const outside = text.split('\nexport async function loadLibxml2')[0] ?? '';
    expect(outside).not.toMatch(/\bawait\b/);
    const { loadLibxml2 } = await import('../../src/xml/libxml2-loader.gen.js');
    const lib = await loadLibxml2();
    expect(typeof lib.RelaxNGValidator.fromDoc).toBe('function');
  });
});

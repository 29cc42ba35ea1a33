/**
 * Checks of the rules the layout promises: the browser-safe folders import
 * no Node module, and relative imports carry their `.js` suffix (Node's ESM
 * resolution needs it in the built package).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './shared-data.js';

function sources(dir: string): string[] {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]/g;

function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(IMPORT_RE)].map((m) => m[1]!);
}

describe('house rules', () => {
  const browserSafe = ['conf', 'cpu', 'machine', 'xml'].flatMap((d) => sources(join(REPO_ROOT, 'src', d)));

  it('src/conf, src/cpu, src/machine and src/xml import no node: module', () => {
    const offenders = browserSafe.flatMap((f) =>
      imports(f)
        .filter((m) => m.startsWith('node:') || ['fs', 'path', 'os', 'child_process', 'net'].includes(m))
        .map((m) => `${relative(REPO_ROOT, f)} imports ${m}`),
    );
    expect(offenders).toEqual([]);
  });

  it('relative imports in src end in .js', () => {
    const offenders = sources(join(REPO_ROOT, 'src')).flatMap((f) =>
      imports(f)
        .filter((m) => m.startsWith('.') && !m.endsWith('.js') && !m.endsWith('.json'))
        .map((m) => `${relative(REPO_ROOT, f)} imports ${m}`),
    );
    expect(offenders).toEqual([]);
  });
});

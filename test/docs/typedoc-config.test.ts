/**
 * The API docs cover the whole published surface: every subpath of
 * package.json `exports` that is code is a TypeDoc entry point, and the
 * configuration makes an undocumented export fail `npm run docs` (and so
 * CI) instead of warning. The docs run itself is CI's step, not a test: it
 * takes a minute.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../shared-data.js';

const json = (name: string) => JSON.parse(readFileSync(join(REPO_ROOT, name), 'utf8'));
const pkg = json('package.json') as {
  exports: Record<string, string | { types?: string; import?: string }>;
  scripts: Record<string, string>;
};
const typedoc = json('typedoc.json') as {
  entryPoints: string[];
  validation: Record<string, boolean>;
  treatWarningsAsErrors?: boolean;
  treatValidationWarningsAsErrors?: boolean;
};

describe('TypeDoc configuration', () => {
  it('has one entry point per code subpath of package.json exports, and no other', () => {
    const fromExports = Object.values(pkg.exports).flatMap((target) => {
      const js = typeof target === 'string' ? undefined : target.import;
      const m = js === undefined ? null : /^\.\/dist\/(.+)\.js$/.exec(js);
      return m ? [`src/${m[1]}.ts`] : [];
    });
    expect(fromExports.length).toBeGreaterThan(0);
    expect([...typedoc.entryPoints].sort()).toEqual([...new Set(fromExports)].sort());
  });

  it('turns a missing doc comment, a broken link and an unexported type into errors', () => {
    expect(typedoc.validation).toMatchObject({ notDocumented: true, invalidLink: true, notExported: true });
    expect(typedoc.treatWarningsAsErrors).toBe(true);
    expect(typedoc.treatValidationWarningsAsErrors).toBe(true);
  });

  it('generates the libxml2 loader (gitignored) before TypeDoc reads the sources', () => {
    expect(pkg.scripts.docs).toMatch(/^tsx scripts\/gen-libxml2-loader\.ts && typedoc\b/);
  });
});

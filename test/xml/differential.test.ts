/**
 * Our parser accepts exactly what libxml2 accepts, and the trees agree:
 * over every XML file of libvirt's conformance data and our fixtures, and
 * over seeded mutations of a sample of them.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';
import { type Comparison, compare } from './libxml2-diff.js';
import { mutate, rng, SNIPPETS } from './mutate.js';

function xmlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.xml')) out.push(join(e.parentPath, e.name));
  }
  return out.sort();
}

function disagreements(docs: Iterable<[string, string]>): string[] {
  const bad: string[] = [];
  for (const [name, xml] of docs) {
    const c: Comparison = compare(xml);
    if (c.agree || c.excused) continue;
    bad.push(
      `${name}: ours ${c.ours.tree ? 'accepts' : `refuses (${c.ours.error})`}, libxml2 ${c.libxml2.tree ? 'accepts' : `refuses (${c.libxml2.error})`}${c.ours.tree && c.libxml2.tree ? `\n  ours ${c.ours.tree.slice(0, 300)}\n  lib  ${c.libxml2.tree.slice(0, 300)}` : ''}\n  input ${JSON.stringify(xml.slice(0, 200))}`,
    );
  }
  return bad;
}

const SMALL = [
  '<a/>',
  '<a x=\'1\' y="2">t<b/>u<!--c--><?p v?><![CDATA[d]]></a>',
  '<?xml version="1.0" encoding="UTF-8"?>\n<p:a xmlns:p="urn:p" p:x="1" x="2">\r\n<b xmlns="urn:d"/></p:a>',
  "<a v='x&#xA;y&#x9;z &amp; &apos;q&apos;'>1 &lt; 2 &#x1F600; \u{1F600}</a>",
];

describe('parser equivalence with libxml2', () => {
  it('agrees on every snippet injected into small documents', () => {
    const docs: Array<[string, string]> = [];
    for (const base of SMALL)
      for (const s of SNIPPETS)
        for (const at of [1, base.indexOf('>') + 1, base.length - 2, base.length])
          docs.push([`${base} + ${s}@${at}`, base.slice(0, at) + s + base.slice(at)]);
    expect(disagreements(docs)).toEqual([]);
  });

  it('agrees on our fixtures and 2,000 seeded mutations of them', () => {
    const files = xmlFiles(fixture());
    const texts = files.map((f) => readFileSync(f, 'utf8'));
    const r = rng(20);
    const docs: Array<[string, string]> = files.map((f, k) => [f, texts[k]!]);
    for (let k = 0; k < 2000; k++) {
      const base = texts[k % texts.length]!;
      docs.push([`mutation ${k}`, mutate(k % 3 === 0 ? mutate(base, r) : base, r)]);
    }
    expect(disagreements(docs)).toEqual([]);
  });

  describe.skipIf(!HAS_SHARED)(`over libvirt's conformance data${SHARED_NOTE}`, () => {
    it('agrees on every XML file', () => {
      const files = xmlFiles(SHARED_DIR);
      expect(files.length).toBeGreaterThan(1000);
      expect(disagreements(files.map((f) => [f, readFileSync(f, 'utf8')]))).toEqual([]);
    });

    it('agrees on 2,000 seeded mutations of them', () => {
      const files = xmlFiles(SHARED_DIR);
      const r = rng(11);
      const docs: Array<[string, string]> = [];
      for (let k = 0; k < 2000; k++) {
        const f = files[Math.floor(r() * files.length)]!;
        docs.push([`mutation ${k} of ${f}`, mutate(readFileSync(f, 'utf8'), r)]);
      }
      expect(disagreements(docs)).toEqual([]);
    });
  });
});

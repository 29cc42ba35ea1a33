/**
 * Every number the domain model reads, fed the values that break naive code
 * (0, -1, 2^31, 2^32-1, 2^64, 10^30, in decimal and where the site is
 * hexadecimal also in hex): parsing, normalising and formatting must give a
 * definition or a VirError, never another exception, a hang or a loop as
 * long as the number (a drive controller index once made Node run out of
 * memory). One site per element and attribute, taken from libvirt's domain
 * cases when present, else from our fixtures.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../src/conf/domain/domain-def.js';
import { VirError } from '../../src/errors.js';
import { parseXml } from '../../src/xml/parse.js';
import { serializeXml } from '../../src/xml/serialize.js';
import { cloneNode, type XmlElement } from '../../src/xml/tree.js';
import { fixture, HAS_SHARED, SHARED_DIR } from '../shared-data.js';

const VALUES = [
  '0',
  '-1',
  '2147483648',
  '4294967295',
  '18446744073709551616',
  '1000000000000000000000000000000',
];
const HEX = ['0x0', '-0x1', '0x80000000', '0xffffffff', '0x10000000000000000', '0xc9f2c9cd04674edea40000000'];
const NUMERIC = /^(?:0x[0-9a-f]+|-?[0-9]+)$/i;

interface Site {
  file: string;
  xml: string;
  /** Path of child indexes from the root to the element. */
  path: number[];
  /** Attribute name, or undefined for the element's text. */
  attr?: string;
  hex: boolean;
}

function domainFiles(): string[] {
  const dirs = HAS_SHARED
    ? [join(SHARED_DIR, 'domainxml/generic'), join(SHARED_DIR, 'domainxml/qemu')]
    : [fixture('domain')];
  const out: string[] = [];
  for (const d of dirs)
    for (const f of readdirSync(d).sort())
      if (f.endsWith('.xml') && !f.includes('.x86_64-') && !f.endsWith('.out.xml')) out.push(join(d, f));
  return out;
}

/** The first occurrence of every element/attribute (and element/text) holding a number. */
function collectSites(): Site[] {
  const seen = new Set<string>();
  const sites: Site[] = [];
  for (const file of domainFiles()) {
    const xml = readFileSync(file, 'utf8');
    let root: XmlElement;
    try {
      root = parseXml(xml);
      DomainDef.fromXML(xml);
    } catch {
      continue; // only documents the model accepts make good carriers
    }
    const walk = (el: XmlElement, path: number[], where: string) => {
      for (const a of el.attrs) {
        const key = `${where}@${a.name}`;
        if (NUMERIC.test(a.value) && !seen.has(key)) {
          seen.add(key);
          sites.push({ file, xml, path, attr: a.name, hex: /^0x/i.test(a.value) });
        }
      }
      const kids = el.children;
      if (kids.length === 1 && kids[0]!.type === 'text' && NUMERIC.test(kids[0]!.value.trim())) {
        const key = `${where}#text`;
        if (!seen.has(key)) {
          seen.add(key);
          sites.push({ file, xml, path, hex: /^0x/i.test(kids[0]!.value.trim()) });
        }
      }
      kids.forEach((c, i) => {
        if (c.type === 'element') walk(c, [...path, i], `${where}/${c.name}`);
      });
    };
    walk(root, [], `/${root.name}`);
  }
  return sites;
}

function withValue(site: Site, value: string): string {
  const root = cloneNode(parseXml(site.xml));
  let el = root;
  for (const i of site.path) el = el.children[i] as XmlElement;
  if (site.attr !== undefined) el.attrs.find((a) => a.name === site.attr)!.value = value;
  else el.children = [{ type: 'text', value }];
  return serializeXml(root);
}

describe('hostile numbers in domain XML', () => {
  const sites = collectSites();

  it('finds numeric sites to test', () => {
    expect(sites.length).toBeGreaterThan(HAS_SHARED ? 100 : 10);
  });

  it('answers every value at every site with a definition or a VirError', () => {
    const bad: string[] = [];
    for (const site of sites) {
      for (const value of site.hex ? [...VALUES, ...HEX] : VALUES) {
        const xml = withValue(site, value);
        try {
          DomainDef.fromXML(xml).toXML();
        } catch (err) {
          if (!(err instanceof VirError))
            bad.push(`${site.file} ${site.attr ?? 'text'}=${value}: ${String(err)}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('refuses a drive controller index that would imply billions of controllers', () => {
    const xml = `<domain type='kvm'><name>d</name><memory>1024</memory><os><type>hvm</type></os><devices>
      <disk type='file' device='disk'><source file='/x'/><target dev='sda' bus='scsi'/>
      <address type='drive' controller='4294967295' bus='0' target='0' unit='0'/></disk></devices></domain>`;
    expect(() => DomainDef.fromXML(xml)).toThrow(VirError);
  });

  it('formats 40,000 unknown attributes in linear time', () => {
    const attrs = Array.from({ length: 40_000 }, (_, i) => ` x${i}='${i}'`).join('');
    const xml = `<domain type='kvm'${attrs}><name>d</name><memory>1024</memory><os><type>hvm</type></os></domain>`;
    // past the parser's default limit of 1,024 attributes, which is the first line of defence
    expect(() => DomainDef.fromXML(xml)).toThrow(/limit of 1024 attributes/);
    const out = DomainDef.fromElement(parseXml(xml, { maxAttributes: 50_000 })).toXML();
    expect(out).toContain("x39999='39999'");
  });

  it('keeps 5,000 unknown elements among 5,000 known ones in place', () => {
    const devs = Array.from(
      { length: 5000 },
      (_, i) => `<watchdog model='i6300esb' action='reset'/><x${i}/>`,
    ).join('');
    const xml = `<domain type='kvm'><name>d</name><memory>1024</memory><os><type>hvm</type></os><devices>${devs}</devices></domain>`;
    let out: string;
    try {
      out = DomainDef.fromXML(xml).toXML();
    } catch (err) {
      // the model may refuse so many watchdogs; it must say so with a VirError
      expect(err).toBeInstanceOf(VirError);
      return;
    }
    expect(out).toContain('<x4999/>');
  });
});

/**
 * Generates src/cpu/data/x86-map.ts, the compact x86 CPU model database,
 * from the facts in a libvirt-style CPU map directory (vendors, features with
 * their CPUID/MSR bits, models with signatures and feature lists).
 *
 *   npm run gen:cpu-db [-- --map DIR]
 *
 * Default DIR: ../shared/conformance/cpu/map. The output is committed, so the
 * package never needs the map at run time. Features are numbered in map
 * order (the order libvirt lists decoded features in); models keep the index
 * order (the decoder walks them newest first) and refer to features by number.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseXml } from '../src/xml/parse.js';
import { childElements, getAttr, type XmlElement } from '../src/xml/tree.js';

const here = dirname(fileURLToPath(import.meta.url));

function argValue(flag: string): string | undefined {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// The repository sits beside ../shared; a git worktree one level deeper finds it one more level up.
const defaultMap = [
  join(here, '../../shared/conformance/cpu/map'),
  join(here, '../../../shared/conformance/cpu/map'),
].find((d) => existsSync(d));
const mapDir = resolve(argValue('--map') ?? defaultMap ?? join(here, '../../shared/conformance/cpu/map'));
const outFile = resolve(argValue('--out') ?? join(here, '../src/cpu/data/x86-map.ts'));

function loader(dir: string): (file: string) => XmlElement {
  return (file) => parseXml(readFileSync(join(dir, file), 'utf8'));
}

function hex(v: string | undefined): number {
  return v === undefined ? 0 : Number.parseInt(v, 16) >>> 0;
}

function need(el: XmlElement, name: string): string {
  const v = getAttr(el, name);
  if (v === undefined) throw new Error(`<${el.name}> line ${el.line ?? '?'} lacks '${name}'`);
  return v;
}

// Register slots of a bit: 0..3 = CPUID eax/ebx/ecx/edx, 4..5 = MSR edx/eax.
type Bit = [kind: 0 | 1, leaf: number, sub: number, reg: number, bit: number];

interface Feature {
  name: string;
  migratable: boolean;
  aliases: string[];
  bits: Bit[];
}

interface Model {
  name: string;
  vendor: string | undefined;
  decodeHost: boolean;
  decodeGuest: boolean;
  /** `<check partial='compat'/>`: a partial check compares with the host CPU, not QEMU's blockers. */
  compatCheck: boolean;
  signatures: Array<[number, number, number]>; // family, model, stepping mask (0 = any)
  features: number[];
  removed: number[];
  added: number[];
}

function bitsOf(el: XmlElement): Bit[] {
  const out: Bit[] = [];
  const push = (kind: 0 | 1, leaf: number, sub: number, reg: number, value: number) => {
    for (let b = 0; b < 32; b++) if ((value >>> b) & 1) out.push([kind, leaf, sub, reg, b]);
  };
  for (const c of childElements(el, 'cpuid')) {
    const leaf = hex(need(c, 'eax_in'));
    const sub = hex(getAttr(c, 'ecx_in'));
    ['eax', 'ebx', 'ecx', 'edx'].forEach((r, i) => {
      push(0, leaf, sub, i, hex(getAttr(c, r)));
    });
  }
  for (const m of childElements(el, 'msr')) {
    const index = hex(need(m, 'index'));
    push(1, index, 0, 4, hex(getAttr(m, 'edx')));
    push(1, index, 0, 5, hex(getAttr(m, 'eax')));
  }
  return out;
}

function steppingMask(spec: string | undefined): number {
  if (spec === undefined) return 0;
  let mask = 0;
  for (const part of spec.split(',')) {
    const [a, b] = part.split('-').map((s) => Number.parseInt(s, 10));
    if (a === undefined || Number.isNaN(a)) throw new Error(`bad stepping '${spec}'`);
    for (let s = a; s <= (b ?? a); s++) mask |= 1 << s;
  }
  return mask;
}

/** The generated module's text and what it holds, from the map in `dir`. */
export function renderX86Map(dir: string): { text: string; summary: string } {
  const load = loader(dir);
  const index = load('index.xml');
  const arch = childElements(index, 'arch').find((a) => getAttr(a, 'name') === 'x86');
  if (!arch) throw new Error('index.xml has no x86 arch');

  const includes: string[] = [];
  const walk = (el: XmlElement) => {
    for (const c of childElements(el)) {
      if (c.name === 'include') includes.push(need(c, 'filename'));
      else if (c.name === 'group') walk(c);
    }
  };
  walk(arch);

  const vendors: Array<[string, string]> = [];
  const features: Feature[] = [];
  const featureIndex = new Map<string, number>();
  const models: Model[] = [];
  const modelIndex = new Map<string, number>();
  const canonical: Array<[string, string]> = [];

  function featureNo(name: string, where: string): number {
    const i = featureIndex.get(name);
    if (i === undefined) throw new Error(`${where}: unknown feature '${name}'`);
    return i;
  }

  for (const file of includes) {
    const root = load(file);
    for (const el of childElements(root)) {
      if (el.name === 'vendor') {
        vendors.push([need(el, 'name'), need(el, 'string')]);
      } else if (el.name === 'feature') {
        const name = need(el, 'name');
        featureIndex.set(name, features.length);
        features.push({
          name,
          migratable: getAttr(el, 'migratable') !== 'no',
          aliases: childElements(el, 'alias').map((a) => need(a, 'name')),
          bits: bitsOf(el),
        });
      } else if (el.name === 'model') {
        const name = need(el, 'name');
        const parentEl = childElements(el, 'model')[0];
        const parent = parentEl ? models[modelIndex.get(need(parentEl, 'name')) ?? -1] : undefined;
        if (parentEl && !parent) throw new Error(`${name}: unknown parent model`);
        const decode = childElements(el, 'decode')[0];
        const vendorEl = childElements(el, 'vendor')[0];
        const own = childElements(el, 'feature');
        const m: Model = {
          name,
          vendor: vendorEl ? need(vendorEl, 'name') : parent?.vendor,
          decodeHost: decode ? getAttr(decode, 'host') === 'on' : true,
          decodeGuest: decode ? getAttr(decode, 'guest') === 'on' : true,
          compatCheck: childElements(el, 'check').some((c) => getAttr(c, 'partial') === 'compat'),
          signatures: childElements(el, 'signature').map((s) => [
            Number(need(s, 'family')),
            Number(need(s, 'model')),
            steppingMask(getAttr(s, 'stepping')),
          ]),
          features: [...(parent?.features ?? [])],
          // An ancestor lends its vendor, signatures and features, not its removal history.
          removed: [],
          added: [],
        };
        if (m.signatures.length === 0 && parent)
          m.signatures = parent.signatures.map((s) => [...s] as typeof s);
        for (const f of own) {
          const n = featureNo(need(f, 'name'), name);
          if (getAttr(f, 'removed') === 'yes') {
            m.removed.push(n);
            continue;
          }
          // Features added to a model after its release are listed for the hypervisor
          // driver; they are not part of the model's data (decoding lists them explicitly).
          if (getAttr(f, 'added') === 'yes') {
            m.added.push(n);
            continue;
          }
          if (!m.features.includes(n)) m.features.push(n);
        }
        m.features.sort((a, b) => a - b);
        // A model that only names its ancestor is the ancestor's canonical (versioned) name.
        if (parent && own.length === 0 && !vendorEl && childElements(el, 'signature').length === 0) {
          if (canonical.some(([alias]) => alias === parent.name))
            throw new Error(`${name}: ${parent.name} already has a canonical name`);
          canonical.push([parent.name, name]);
        }
        modelIndex.set(name, models.length);
        models.push(m);
      }
    }
  }

  // Every bit must belong to one feature: the engine works on feature numbers.
  const owner = new Map<string, string>();
  for (const f of features) {
    for (const b of f.bits) {
      const key = b.join(':');
      const prev = owner.get(key);
      if (prev) throw new Error(`features '${prev}' and '${f.name}' share the bit ${key}`);
      owner.set(key, f.name);
    }
  }

  const lines: string[] = [];
  lines.push('// Generated by scripts/gen-cpu-db.ts from a libvirt-style x86 CPU map. Do not edit.');
  lines.push(
    '// Facts only (names, CPUID/MSR bits, model feature lists); regenerate with `npm run gen:cpu-db`.',
  );
  lines.push('');
  lines.push('/** [name, CPUID vendor string] */');
  lines.push(
    `export const X86_VENDORS: ReadonlyArray<readonly [string, string]> = ${JSON.stringify(vendors)};`,
  );
  lines.push('');
  lines.push('/**');
  lines.push(' * [name, migratable (1/0), aliases, bits]; each bit is');
  lines.push(
    ' * [kind (0 CPUID, 1 MSR), leaf or MSR index, sub-leaf, register (0-3 eax..edx, 4 msr edx, 5 msr eax), bit].',
  );
  lines.push(' */');
  lines.push('export const X86_FEATURES: ReadonlyArray<');
  lines.push(
    '  readonly [string, number, readonly string[], ReadonlyArray<readonly [number, number, number, number, number]>]',
  );
  lines.push('> = [');
  for (const f of features) {
    lines.push(`  ${JSON.stringify([f.name, f.migratable ? 1 : 0, f.aliases, f.bits])},`);
  }
  lines.push('];');
  lines.push('');
  lines.push('/**');
  lines.push(
    ' * [name, vendor or "", flags (1 decode host, 2 decode guest, 4 compat check), signatures [family, model, stepping mask],',
  );
  lines.push(' *  feature numbers, removed feature numbers, added feature numbers], in map order.');
  lines.push(' */');
  lines.push('export const X86_MODELS: ReadonlyArray<');
  lines.push('  readonly [');
  lines.push('    string,');
  lines.push('    string,');
  lines.push('    number,');
  lines.push('    ReadonlyArray<readonly [number, number, number]>,');
  lines.push('    readonly number[],');
  lines.push('    readonly number[],');
  lines.push('    readonly number[],');
  lines.push('  ]');
  lines.push('> = [');
  for (const m of models) {
    const flags = (m.decodeHost ? 1 : 0) | (m.decodeGuest ? 2 : 0) | (m.compatCheck ? 4 : 0);
    lines.push(
      `  ${JSON.stringify([m.name, m.vendor ?? '', flags, m.signatures, m.features, m.removed, m.added])},`,
    );
  }
  lines.push('];');
  lines.push('');
  lines.push(
    '/** [alias, canonical]: models whose versioned name the map defines (`Broadwell` -> `Broadwell-v1`). */',
  );
  lines.push(
    `export const X86_CANONICAL: ReadonlyArray<readonly [string, string]> = ${JSON.stringify(canonical)};`,
  );
  lines.push('');
  return {
    text: lines.join('\n'),
    summary: `${vendors.length} vendors, ${features.length} features, ${models.length} models`,
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { text, summary } = renderX86Map(mapDir);
  writeFileSync(outFile, text);
  console.log(`wrote ${outFile}: ${summary}`);
}

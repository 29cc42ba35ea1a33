/**
 * Family `domaincaps`: builds domain capabilities with our builder and
 * compares them semantically with libvirt's expected documents, section by
 * section, and validates ours against schemas/domaincaps.rng.
 *
 * Inputs, and why:
 * - QEMU facts: the case names libvirt's caps cache XML; we replay the QMP
 *   transcript beside it (`caps_<ver>_x86_64.replies`, the conversation that
 *   XML was made from) through our own probe builder, so the whole path from
 *   QMP answers to domain capabilities is exercised.
 * - CPU model catalogue (which models exist, vendors, feature spellings):
 *   libvirt's CPU map in `cpu/map`, the facts our CPU database is built from.
 * - Host facts the data README says the harness mocks: firmware descriptors
 *   (two fake images, secure-boot capable), VFIO available, a TPM emulator
 *   offering TPM 2.0. They are passed in as host facts, never compared away.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildDomainCapabilities,
  type CpuModelCatalog,
  type DomainCapsHostFacts,
  type FirmwareImage,
} from '../../src/drivers/qemu/domain-caps-builder.js';
import { buildQemuCaps } from '../../src/drivers/qemu/qemu-caps.js';
import { probeDataFromTranscript } from '../../src/drivers/qemu/transcript.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { parseXml } from '../../src/xml/parse.js';
import { getAttr, type XmlElement } from '../../src/xml/tree.js';
import { validate } from '../../src/xml/validate.js';
import { attempt, type CaseResult } from './types.js';

interface DomainCapsCase {
  name: string;
  arch: string;
  virtType: 'kvm' | 'qemu';
  machine: string | null;
  emulator: string;
  qemuCaps: string;
  expected: string;
}

const HARNESS_FIRMWARE: FirmwareImage[] = [
  {
    path: '/obviously/fake/firmware1.fd',
    interface: 'uefi',
    type: 'pflash',
    targets: [{ arch: 'x86_64', machines: ['pc-i440fx-*', 'pc-q35-*'] }],
    features: ['secure-boot', 'requires-smm'],
  },
  {
    path: '/obviously/fake/firmware2.fd',
    interface: 'uefi',
    type: 'pflash',
    targets: [{ arch: 'x86_64', machines: ['pc-i440fx-*', 'pc-q35-*'] }],
    features: [],
  },
];

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'domaincaps');
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as DomainCapsCase[];
  const catalog = loadCatalog(join(dataDir, 'cpu/map'));
  const out: CaseResult[] = [];
  for (const c of cases) {
    out.push(
      await attempt(c.name, async () => {
        const replies = join(dir, c.qemuCaps).replace(/\.xml$/, '.replies');
        if (!existsSync(replies)) return `no QMP transcript beside ${c.qemuCaps}`;
        const caps = buildQemuCaps(probeDataFromTranscript(readFileSync(replies, 'utf8'), c.emulator));
        const host: DomainCapsHostFacts = {
          firmware: HARNESS_FIRMWARE,
          vfio: true,
          tpmEmulatorVersions: ['2.0'],
        };
        if (catalog) host.cpuCatalog = catalog;
        const req: { virttype: 'kvm' | 'qemu'; arch: string; machine?: string } = {
          virttype: c.virtType,
          arch: c.arch,
        };
        if (c.machine !== null) req.machine = c.machine;
        const ours = buildDomainCapabilities(caps, req, host).toXML();
        const expected = readFileSync(join(dir, c.expected), 'utf8');
        const problems = compareSections(parseXml(ours), parseXml(expected));
        const v = await validate(ours, 'domaincaps');
        if (!v.valid)
          problems.push(`schema: ${v.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`);
        return problems.length === 0 ? undefined : problems.join(' | ');
      }),
    );
  }
  return out;
}

/** Differences per section (cpu modes, each device, each feature), so failures group by cause. */
function compareSections(ours: XmlElement, theirs: XmlElement): string[] {
  const problems: string[] = [];
  const sections = (root: XmlElement): Map<string, XmlElement> => {
    const m = new Map<string, XmlElement>();
    for (const c of root.children) {
      if (c.type !== 'element') continue;
      if (c.name === 'cpu' || c.name === 'devices' || c.name === 'features') {
        for (const k of c.children) {
          if (k.type !== 'element') continue;
          const key = c.name === 'cpu' ? `cpu/mode[${getAttr(k, 'name')}]` : `${c.name}/${k.name}`;
          m.set(key, k);
        }
      } else m.set(c.name, c);
    }
    return m;
  };
  const a = sections(ours);
  const b = sections(theirs);
  for (const [key, el] of b) {
    const mine = a.get(key);
    if (!mine) problems.push(`${key}: missing`);
    else {
      const d = xmlDiff(mine, el);
      if (d) problems.push(`${key}: ${d}`);
    }
  }
  for (const key of a.keys()) if (!b.has(key)) problems.push(`${key}: extra`);
  return problems;
}

/** Model names, vendors and QEMU feature spellings from libvirt's x86 CPU map. */
function loadCatalog(mapDir: string): CpuModelCatalog | undefined {
  if (!existsSync(mapDir)) return undefined;
  const vendorOf = new Map<string, string | undefined>();
  const parentOf = new Map<string, string>();
  for (const f of readdirSync(mapDir)) {
    if (!/^x86_.+\.xml$/.test(f) || f === 'x86_features.xml' || f === 'x86_vendors.xml') continue;
    const root = parseXml(readFileSync(join(mapDir, f), 'utf8'));
    for (const m of root.children) {
      if (m.type !== 'element' || m.name !== 'model') continue;
      const name = getAttr(m, 'name');
      if (!name) continue;
      let vendor: string | undefined;
      for (const k of m.children) {
        if (k.type !== 'element') continue;
        if (k.name === 'vendor') vendor = getAttr(k, 'name');
        if (k.name === 'model') {
          const parent = getAttr(k, 'name');
          if (parent) parentOf.set(name, parent);
        }
      }
      vendorOf.set(name, vendor);
    }
  }
  const qemuAlias = new Map<string, string>();
  const featuresFile = join(mapDir, 'x86_features.xml');
  if (existsSync(featuresFile)) {
    const root = parseXml(readFileSync(featuresFile, 'utf8'));
    for (const f of root.children) {
      if (f.type !== 'element' || f.name !== 'feature') continue;
      const name = getAttr(f, 'name');
      if (!name) continue;
      for (const k of f.children) {
        if (k.type === 'element' && k.name === 'alias' && getAttr(k, 'source') === 'qemu') {
          const alias = getAttr(k, 'name');
          if (alias) qemuAlias.set(alias, name);
        }
      }
    }
  }
  const vendor = (model: string, depth = 0): string | undefined => {
    const v = vendorOf.get(model);
    if (v !== undefined || depth > 8) return v;
    const p = parentOf.get(model);
    return p ? vendor(p, depth + 1) : undefined;
  };
  return {
    has: (model) => vendorOf.has(model),
    vendor: (model) => vendor(model),
    featureName: (q) => qemuAlias.get(q) ?? q,
  };
}

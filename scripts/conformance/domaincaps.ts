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
 * - CPU model map (which models exist, vendors, signatures, features and
 *   their QEMU spellings): libvirt's CPU map in `cpu/map`, the facts our CPU
 *   database is built from; host-model is resolved against it.
 * - Host facts the data README says the harness mocks: firmware descriptors
 *   (a BIOS ROM and two fake UEFI flash images, secure-boot capable), VFIO available, a TPM emulator
 *   offering TPM 2.0, and a host CPU with 64 physical address bits. They are passed in as host facts, never compared away.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildDomainCapabilities,
  type DomainCapsHostFacts,
  type FirmwareImage,
} from '../../src/drivers/qemu/caps/domain-caps-builder.js';
import { resolveHostModel } from '../../src/drivers/qemu/caps/host-model.js';
import {
  catalogFromCpuMap,
  parseX86CpuMap,
  type X86CpuMap,
} from '../../src/drivers/qemu/caps/x86-cpu-map.js';
import { buildQemuCaps } from '../../src/drivers/qemu/probe/qemu-caps.js';
import { probeDataFromTranscript } from '../../src/drivers/qemu/probe/transcript.js';
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
    path: '/obviously/fake/bios.bin',
    interface: 'bios',
    type: 'rom',
    targets: [{ arch: 'x86_64', machines: ['pc-i440fx-*', 'pc-q35-*'] }],
    features: [],
  },
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
  const map = loadCpuMap(join(dataDir, 'cpu/map'));
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
        if (map) {
          host.cpuCatalog = catalogFromCpuMap(map);
          // The harness's mocked host CPU has 64 physical address bits (passed through to KVM guests).
          host.hostModel = (qc, accel) => resolveHostModel(qc, accel, map, { physAddrBits: 64 });
        }
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

/** libvirt's x86 CPU map (the facts our CPU database is built from). */
function loadCpuMap(mapDir: string): X86CpuMap | undefined {
  const index = join(mapDir, 'index.xml');
  if (!existsSync(index)) return undefined;
  return parseX86CpuMap(readFileSync(index, 'utf8'), (file) => {
    const path = join(mapDir, file);
    return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  });
}

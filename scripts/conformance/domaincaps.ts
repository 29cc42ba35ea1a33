/**
 * Family `domaincaps`: builds domain capabilities with our builder and
 * compares the formatted document with libvirt's expected one byte for byte
 * (as domaincapstest does), and validates ours against schemas/domaincaps.rng.
 *
 * Inputs, and why:
 * - QEMU facts: the case names libvirt's caps cache XML; we replay the QMP
 *   transcript beside it (`caps_<ver>_x86_64.replies`, the conversation that
 *   XML was made from) through our own probe builder, so the whole path from
 *   QMP answers to domain capabilities is exercised.
 * - CPU models, vendors, canonical names and host-model come from the
 *   shipped CPU database (src/cpu/data). libvirt's CPU map in `cpu/map` is
 *   only used to check that database is current: the generator's output for
 *   that map must equal the committed file, or every case fails.
 * - Host facts the harness mocks, passed in as host facts: firmware
 *   descriptors (a BIOS ROM and two fake UEFI flash images, secure-boot
 *   capable), VFIO available, 64 physical address bits, the TPM versions
 *   swtpm offers by QEMU version (domaincapstest sets them so: QEMU 6.x gets
 *   1.2 and 2.0, later ones 2.0), and the SEV address-space ids its fake
 *   CPUID leaf 0x8000001F reports (ECX 509, EDX 451).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  buildDomainCapabilities,
  type DomainCapsHostFacts,
  type FirmwareImage,
} from '../../src/drivers/qemu/caps/domain-caps-builder.js';
import { buildQemuCaps } from '../../src/drivers/qemu/probe/qemu-caps.js';
import { probeDataFromTranscript } from '../../src/drivers/qemu/probe/transcript.js';
import { validate } from '../../src/xml/validate.js';
import { renderX86Map } from '../gen-cpu-db.js';
import { attempt, type CaseResult } from './types.js';

interface DomainCapsCase {
  name: string;
  qemuVersion: string;
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
  const stale = cpuDatabaseProblem(join(dataDir, 'cpu/map'));
  const out: CaseResult[] = [];
  for (const c of cases) {
    out.push(
      await attempt(c.name, async () => {
        if (stale) return stale;
        const ours = buildCaseXml(dataDir, c);
        const expected = readFileSync(join(dir, c.expected), 'utf8');
        const problems: string[] = [];
        if (ours !== expected) problems.push(firstDifference(ours, expected));
        const v = await validate(ours, 'domaincaps');
        if (!v.valid)
          problems.push(`schema: ${v.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`);
        return problems.length === 0 ? undefined : problems.join(' | ');
      }),
    );
  }
  return out;
}

/** The harness's host facts for one case (see the module comment). */
export function harnessHostFacts(qemuVersion: string): DomainCapsHostFacts {
  const major = Number(qemuVersion.split('.')[0]);
  return {
    firmware: HARNESS_FIRMWARE,
    vfio: true,
    physAddrBits: 64,
    tpmEmulatorVersions: major <= 5 ? ['1.2'] : major === 6 ? ['1.2', '2.0'] : ['2.0'],
    sevAsids: { max: 509, minSev: 451 },
  };
}

/** Our domain capabilities document for a case. */
export function buildCaseXml(dataDir: string, c: DomainCapsCase): string {
  const replies = join(dataDir, 'domaincaps', c.qemuCaps).replace(/\.xml$/, '.replies');
  if (!existsSync(replies)) throw new Error(`no QMP transcript beside ${c.qemuCaps}`);
  const caps = buildQemuCaps(probeDataFromTranscript(readFileSync(replies, 'utf8'), c.emulator));
  const req: { virttype: 'kvm' | 'qemu'; arch: string; machine?: string } = {
    virttype: c.virtType,
    arch: c.arch,
  };
  if (c.machine !== null) req.machine = c.machine;
  return buildDomainCapabilities(caps, req, harnessHostFacts(c.qemuVersion)).toXML();
}

const shippedDatabase = join(dirname(fileURLToPath(import.meta.url)), '../../src/cpu/data/x86-map.ts');

/** Why the shipped CPU database does not match libvirt's map in `mapDir`, or undefined when it does. */
export function cpuDatabaseProblem(mapDir: string): string | undefined {
  if (!existsSync(join(mapDir, 'index.xml')))
    return `no CPU map in ${mapDir} to check the CPU database against`;
  const fresh = renderX86Map(mapDir).text;
  if (fresh !== readFileSync(shippedDatabase, 'utf8'))
    return 'src/cpu/data/x86-map.ts is not what `npm run gen:cpu-db` makes from cpu/map: regenerate it';
  return undefined;
}

/** The first line where two documents differ, with both versions of it. */
function firstDifference(ours: string, expected: string): string {
  const a = ours.split('\n');
  const b = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i])
      return `line ${i + 1}: ours ${JSON.stringify(a[i] ?? '(end)')}, libvirt ${JSON.stringify(b[i] ?? '(end)')}`;
  }
  return 'documents differ';
}

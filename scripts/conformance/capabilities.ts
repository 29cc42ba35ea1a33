/**
 * Family `capabilities`: builds the host capabilities document with the
 * code `qemu:///` uses (probe -> buildCapabilities) and compares it with
 * libvirt's expected file byte for byte, as qemucaps2xmltest does; ours is
 * validated against schemas/capability.rng too.
 *
 * Inputs, and why:
 * - QEMU facts: the probe the case names, replayed from the QMP transcript
 *   beside its caps XML (`caps_<ver>_<arch>.replies`) through our probe
 *   builder, for the binary `/usr/bin/qemu-system-<arch>`.
 * - The harness's view, passed in explicitly: qemucaps2xmltest loads only
 *   the capability flags of the caps file into an otherwise empty QEMU
 *   capabilities object, so no machine types reach the document; and its
 *   host is libvirt's empty capabilities for the architecture (CPU arch
 *   only, no power management, no IOMMU, no migration features), with
 *   `/dev/kvm` mocked present.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CapsHost } from '../../src/conf/capabilities.js';
import { buildCapabilities } from '../../src/drivers/qemu/caps/capabilities-builder.js';
import { buildQemuCaps, type QemuCaps } from '../../src/drivers/qemu/probe/qemu-caps.js';
import { probeDataFromTranscript } from '../../src/drivers/qemu/probe/transcript.js';
import { validate } from '../../src/xml/validate.js';
import { attempt, type CaseResult } from './types.js';

interface CapsCase {
  name: string;
  qemuCaps: string;
  arch: string;
  expected: string;
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'capabilities');
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as CapsCase[];
  const out: CaseResult[] = [];
  for (const c of cases) {
    out.push(
      await attempt(c.name, async () => {
        const replies = join(dir, c.qemuCaps).replace(/\.xml$/, '.replies');
        if (!existsSync(replies)) return `no QMP transcript beside ${c.qemuCaps}`;
        const probed = buildQemuCaps(
          probeDataFromTranscript(readFileSync(replies, 'utf8'), `/usr/bin/qemu-system-${c.arch}`),
        );
        const ours = buildCapabilities(harnessHost(c.arch), [flagsOnly(probed)]).toXML();
        const expected = readFileSync(join(dir, c.expected), 'utf8');
        const problems: string[] = [];
        if (ours !== expected) problems.push(firstDifference(ours, expected));
        const v = await validate(ours, 'capability');
        if (!v.valid)
          problems.push(`schema: ${v.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`);
        return problems.length === 0 ? undefined : problems.join(' | ');
      }),
    );
  }
  return out;
}

/** libvirt's empty host capabilities for an architecture (no NUMA, power management, IOMMU or migration). */
function harnessHost(arch: string): CapsHost {
  return { cpu: { arch }, powerManagement: {}, iommu: false };
}

/** The probe as the harness sees it: its flags (accelerators among them) but no machine types. */
function flagsOnly(caps: QemuCaps): QemuCaps {
  const accel: QemuCaps['accel'] = {};
  if (caps.accel.kvm) accel.kvm = { ...caps.accel.kvm, machines: [] };
  if (caps.accel.tcg) accel.tcg = { ...caps.accel.tcg, machines: [] };
  return { ...caps, accel };
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

/**
 * Family `qemucaps`: replays libvirt's recorded QMP probe conversation
 * (`.replies`) through our probe-data builder, formats the resulting
 * QemuCaps as libvirt's capabilities cache document (`formatQemuCapsXml`)
 * and compares it byte for byte with libvirt's expected file, as
 * qemucapabilitiestest does: capability flags (set and order), version,
 * microcode and package, host CPU expansions, CPU models, machine types,
 * SEV/SGX facts and Hyper-V enlightenments.
 *
 * The values libvirt's test harness fixes rather than QEMU are the inputs of
 * {@link libvirtHarnessStamp}; nothing is read from the expected file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildQemuCaps } from '../../src/drivers/qemu/probe/qemu-caps.js';
import { formatQemuCapsXml, type QemuCapsCacheStamp } from '../../src/drivers/qemu/probe/qemu-caps-xml.js';
import { probeDataFromTranscript } from '../../src/drivers/qemu/probe/transcript.js';
import { attempt, type CaseResult } from './types.js';

interface QemuCapsCase {
  name: string;
  arch: string;
  replies: string;
  expected: string;
}

/**
 * What libvirt's qemucapabilitiestest writes where a real cache has facts
 * of the host and of libvirt itself: the binary is `/usr/bin/qemu-system-<arch>`,
 * file times and the libvirt version are zero, and the microcode revision
 * is made up from the file name so it stays the same for a given probe:
 * (sum of the character codes of the arch name) * 100000 + (sum of those of
 * the version string).
 */
export function libvirtHarnessStamp(arch: string, version: string): QemuCapsCacheStamp {
  return {
    emulator: `/usr/bin/qemu-system-${arch}`,
    qemuctime: 0,
    selfctime: 0,
    selfvers: 0,
    microcodeVersion: charSum(arch) * 100_000 + charSum(version),
  };
}

function charSum(s: string): number {
  let n = 0;
  for (const c of s) n += c.charCodeAt(0);
  return n;
}

/** The QEMU version a replies file is named after: `caps_<version>_<arch>[+variant].replies`. */
export function versionOfReplies(file: string, arch: string): string {
  const at = file.lastIndexOf(`_${arch}`);
  if (!file.startsWith('caps_') || at <= 5 || !file.endsWith('.replies')) {
    throw new Error(`cannot tell the QEMU version from replies file name '${file}'`);
  }
  return file.slice(5, at);
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'qemucaps');
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as QemuCapsCase[];
  const out: CaseResult[] = [];
  for (const c of cases) {
    out.push(
      await attempt(c.name, () => {
        const stamp = libvirtHarnessStamp(c.arch, versionOfReplies(c.replies, c.arch));
        const data = probeDataFromTranscript(
          readFileSync(join(dir, c.replies), 'utf8'),
          stamp.emulator ?? '',
        );
        const ours = formatQemuCapsXml(buildQemuCaps(data), stamp);
        const theirs = readFileSync(join(dir, c.expected), 'utf8');
        return ours === theirs ? undefined : describeDifference(ours, theirs);
      }),
    );
  }
  return out;
}

/** Where two cache documents differ: flags first (the usual cause), then the first lines that differ. */
export function describeDifference(ours: string, theirs: string): string {
  const problems: string[] = [];
  const flagsOf = (doc: string) =>
    [...doc.matchAll(/^ {2}<flag name='([^']*)'\/>$/gm)].map((m) => m[1] ?? '');
  const a = flagsOf(ours);
  const b = flagsOf(theirs);
  const missing = b.filter((f) => !a.includes(f));
  const extra = a.filter((f) => !b.includes(f));
  if (missing.length > 0) problems.push(`flags missing: ${missing.join(' ')}`);
  if (extra.length > 0) problems.push(`flags extra: ${extra.join(' ')}`);
  const x = ours.split('\n');
  const y = theirs.split('\n');
  let shown = 0;
  let differing = 0;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] === y[i]) continue;
    differing++;
    if (shown < 3) {
      problems.push(
        `line ${i + 1}: ours ${JSON.stringify(x[i] ?? null)}, libvirt ${JSON.stringify(y[i] ?? null)}`,
      );
      shown++;
    }
  }
  problems.push(`${differing} of ${y.length} lines differ`);
  return problems.join('; ');
}

/**
 * Formats {@link QemuCaps} as libvirt's QEMU capabilities cache document
 * (`<qemuCaps>`, what libvirt keeps under its `capabilities/` cache
 * directory), element for element and byte for byte in libvirt's layout, so
 * a probe of ours can be compared with libvirt's test data or read by tools
 * that read libvirt's cache.
 *
 * A few values are not QEMU's but the cache writer's (file times, the
 * libvirt version, the host's microcode): they are inputs here.
 *
 * @module
 */
import type { QemuAccel, QemuAccelCaps, QemuCaps } from './qemu-caps.js';
import { hasFlag } from './qemu-caps.js';

/** The cache writer's own facts, which QEMU does not answer. */
export interface QemuCapsCacheStamp {
  /** Binary path to record. Default: `caps.emulator`. */
  emulator?: string;
  /** Change time of the binary, seconds. */
  qemuctime: number;
  /** Modification time of QEMU's module directory, seconds; written only when > 0. */
  qemumoddirmtime?: number;
  /** Change time of the libvirt daemon binary, seconds. */
  selfctime: number;
  /** libvirt's version number of the writer. */
  selfvers: number;
  /** Host CPU microcode revision when probed. */
  microcodeVersion: number;
  /** Host CPU signature string, when known. */
  hostCpuSignature?: string;
  /** Host kernel version, when recorded (libvirt does so for some architectures). */
  kernelVersion?: string;
}

const ACCELS: readonly QemuAccel[] = ['kvm', 'tcg'];

/** The caps as libvirt's `qemucaps` XML, the format of its capabilities cache and test data. */
export function formatQemuCapsXml(caps: QemuCaps, stamp: QemuCapsCacheStamp): string {
  const out: string[] = ['<qemuCaps>'];
  const line = (depth: number, text: string) => out.push(`${'  '.repeat(depth)}${text}`);
  line(1, `<emulator>${esc(stamp.emulator ?? caps.emulator)}</emulator>`);
  line(1, `<qemuctime>${int(stamp.qemuctime)}</qemuctime>`);
  if ((stamp.qemumoddirmtime ?? 0) > 0)
    line(1, `<qemumoddirmtime>${int(stamp.qemumoddirmtime ?? 0)}</qemumoddirmtime>`);
  line(1, `<selfctime>${int(stamp.selfctime)}</selfctime>`);
  line(1, `<selfvers>${int(stamp.selfvers)}</selfvers>`);
  for (const flag of caps.flags ?? []) line(1, `<flag name='${esc(flag)}'/>`);
  line(1, `<version>${caps.versionNumber}</version>`);
  line(1, `<microcodeVersion>${int(stamp.microcodeVersion)}</microcodeVersion>`);
  if (stamp.hostCpuSignature !== undefined) {
    line(1, `<hostCPUSignature>${esc(stamp.hostCpuSignature)}</hostCPUSignature>`);
  }
  if (caps.package !== '') line(1, `<package>${esc(caps.package)}</package>`);
  if (stamp.kernelVersion !== undefined)
    line(1, `<kernelVersion>${esc(stamp.kernelVersion)}</kernelVersion>`);
  line(1, `<arch>${esc(caps.arch)}</arch>`);
  for (const accel of ACCELS) {
    const a = caps.accel[accel];
    // libvirt writes the KVM part only for a binary that can use KVM, and the TCG part always.
    if (!a || (accel === 'kvm' && caps.flags !== undefined && !hasFlag(caps, 'kvm'))) continue;
    formatAccel(a, accel, line);
  }
  for (const g of caps.gic ?? []) {
    line(1, `<gic version='${int(g.version)}' kernel='${yesNo(g.kernel)}' emulated='${yesNo(g.emulated)}'/>`);
  }
  if (caps.sevCaps) {
    const s = caps.sevCaps;
    line(1, '<sev>');
    line(2, `<cbitpos>${int(s.cbitpos)}</cbitpos>`);
    line(2, `<reducedPhysBits>${int(s.reducedPhysBits)}</reducedPhysBits>`);
    line(2, `<pdh>${esc(s.pdh)}</pdh>`);
    line(2, `<certChain>${esc(s.certChain)}</certChain>`);
    if (s.cpu0Id !== undefined) line(2, `<cpu0Id>${esc(s.cpu0Id)}</cpu0Id>`);
    line(1, '</sev>');
  }
  if (caps.sgxCaps) {
    const s = caps.sgxCaps;
    line(1, "<sgx supported='yes'>");
    line(2, `<flc>${yesNo(s.flc)}</flc>`);
    line(2, `<sgx1>${yesNo(s.sgx1)}</sgx1>`);
    line(2, `<sgx2>${yesNo(s.sgx2)}</sgx2>`);
    line(2, `<section_size unit='KiB'>${int(s.sectionSize)}</section_size>`);
    if (s.sections.length > 0) {
      line(2, '<sections>');
      for (const sec of s.sections) {
        line(3, `<section node='${int(sec.node)}' size='${int(sec.size)}' unit='KiB'/>`);
      }
      line(2, '</sections>');
    }
    line(1, '</sgx>');
  }
  if (caps.hypervFeatures && caps.hypervFeatures.length > 0) {
    line(1, "<hypervCapabilities supported='yes'>");
    for (const f of caps.hypervFeatures) line(2, `<cap name='${esc(f)}'/>`);
    line(1, '</hypervCapabilities>');
  }
  out.push('</qemuCaps>', '');
  return out.join('\n');
}

function formatAccel(a: QemuAccelCaps, type: QemuAccel, line: (depth: number, text: string) => void): void {
  const host = a.hostCpu;
  if (host) {
    line(
      1,
      `<hostCPU type='${type}' model='${esc(host.model)}' migratability='${yesNo(host.migratability)}'>`,
    );
    for (const p of host.props) {
      const value = typeof p.value === 'boolean' ? String(p.value) : esc(String(p.value));
      const mig = p.migratable === undefined ? '' : ` migratable='${yesNo(p.migratable)}'`;
      line(2, `<property name='${esc(p.name)}' type='${p.type}' value='${value}'${mig}/>`);
    }
    if (host.deprecatedProps) {
      line(2, '<deprecatedFeatures>');
      for (const name of host.deprecatedProps) line(3, `<property name='${esc(name)}'/>`);
      line(2, '</deprecatedFeatures>');
    }
    line(1, '</hostCPU>');
  }
  for (const m of a.cpuModels) {
    let el = `<cpu type='${type}' name='${esc(m.name)}'`;
    if (m.typename !== undefined) el += ` typename='${esc(m.typename)}'`;
    if (m.usable !== undefined) el += ` usable='${yesNo(m.usable)}'`;
    if (m.deprecated) el += " deprecated='yes'";
    if (m.blockers.length === 0) {
      line(1, `${el}/>`);
      continue;
    }
    line(1, `${el}>`);
    for (const b of m.blockers) line(2, `<blocker name='${esc(b)}'/>`);
    line(1, '</cpu>');
  }
  for (const m of a.machines) {
    let el = `<machine type='${type}' name='${esc(m.name)}'`;
    if (m.alias !== undefined) el += ` alias='${esc(m.alias)}'`;
    if (m.hotplugCpus) el += " hotplugCpus='yes'";
    el += ` maxCpus='${int(m.maxCpus)}'`;
    if (m.isDefault) el += " default='yes'";
    if (m.defaultCpuType !== undefined) el += ` defaultCPU='${esc(m.defaultCpuType)}'`;
    if (m.numaMemSupported) el += " numaMemSupported='yes'";
    if (m.defaultRamId !== undefined) el += ` defaultRAMid='${esc(m.defaultRamId)}'`;
    if (m.deprecated) el += " deprecated='yes'";
    if (m.acpi !== undefined) el += ` acpi='${yesNo(m.acpi)}'`;
    line(1, `${el}/>`);
  }
}

function yesNo(v: boolean): 'yes' | 'no' {
  return v ? 'yes' : 'no';
}

/** Integers as libvirt prints them (no exponent, no fraction). */
function int(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : BigInt(Math.trunc(n)).toString();
}

/** The five characters libvirt escapes in attribute values and text. */
function esc(s: string): string {
  return s.replace(/[&<>'"]/g, (c) => ESCAPES[c] ?? c);
}

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  "'": '&apos;',
  '"': '&quot;',
};

/**
 * `QemuCaps`: what one QEMU binary can do, as plain JSON-safe data (it is
 * cached on disk as is). Built from {@link ProbeData} by
 * {@link buildQemuCaps}; the live probe and transcript replay both end here.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import type { QemuCapabilityFlag } from './capability-flag-names.js';
import { deriveCapabilityFlags, sevSupported, sgxSupported } from './capability-flags.js';
import { qemuFeatureSpelling } from './cpu-feature-spelling.js';
import { PREFERRED_MACHINE } from './preferred-machines.js';
import type { AccelProbeData, ProbeData, QmpCpuModelExpansion } from './probe-data.js';
import type {
  QemuAccel,
  QemuAccelCaps,
  QemuCaps,
  QemuCpuModel,
  QemuHostCpu,
  QemuHostCpuProp,
  QemuMachineType,
  QemuSevCaps,
  QemuSgxCaps,
} from './qemu-caps-types.js';

/** Bumped whenever the shape or the derivation of QemuCaps changes: old cache files are then ignored. */
export const QEMU_CAPS_FORMAT = 2;

export type {
  QemuAccel,
  QemuAccelCaps,
  QemuCaps,
  QemuCpuModel,
  QemuHostCpu,
  QemuHostCpuProp,
  QemuMachineType,
  QemuSevCaps,
  QemuSgxCaps,
} from './qemu-caps-types.js';

const ARCH_FROM_QEMU: Record<string, string> = {
  i386: 'i686',
  x86_64: 'x86_64',
  aarch64: 'aarch64',
  arm: 'armv7l',
  ppc64: 'ppc64',
  ppc: 'ppc',
  s390x: 's390x',
  riscv64: 'riscv64',
  riscv32: 'riscv32',
  mips: 'mips',
  mips64: 'mips64',
  loongarch64: 'loongarch64',
};

/** libvirt's architecture name for a QEMU target name. */
export function archFromQemuTarget(target: string): string {
  return ARCH_FROM_QEMU[target] ?? target;
}

/** Hyper-V features by libvirt's name; QEMU's property is `hv-` plus the name with `-` for `_`. */
export const HYPERV_FEATURES = [
  'relaxed',
  'vapic',
  'spinlocks',
  'vpindex',
  'runtime',
  'synic',
  'stimer',
  'reset',
  'vendor_id',
  'frequencies',
  'reenlightenment',
  'tlbflush',
  'ipi',
  'evmcs',
  'avic',
  'emsr_bitmap',
  'xmm_input',
] as const;

export function buildQemuCaps(data: ProbeData): QemuCaps {
  if (!data.version || !data.target) {
    throw new VirError(
      'INTERNAL_ERROR',
      'qemu',
      `${data.emulator}: probe did not get the QEMU version and target architecture`,
    );
  }
  const v = data.version.qemu;
  const arch = archFromQemuTarget(data.target.arch);
  const caps: QemuCaps = {
    format: QEMU_CAPS_FORMAT,
    emulator: data.emulator,
    flags: deriveCapabilityFlags(data, arch),
    arch,
    version: { major: v.major, minor: v.minor, micro: v.micro },
    versionNumber: v.major * 1_000_000 + v.minor * 1_000 + v.micro,
    package: data.version.package ?? '',
    kvm: { present: data.kvm?.present === true, enabled: data.kvm?.enabled === true },
    commands: data.commands ?? [],
    events: data.events ?? [],
    displayTypes: data.displayTypes ?? [],
    netdevTypes: data.netdevTypes ?? [],
    qomTypes: data.qomTypes ?? [],
    typeProps: data.typeProps ?? {},
    tpm: { models: data.tpmModels ?? [], types: data.tpmTypes ?? [] },
    commandLineOptions: data.commandLineOptions ?? {},
    migrationCapabilities: data.migrationCapabilities ?? [],
    sev: data.sev ?? null,
    sgx: data.sgx ?? null,
    accel: {},
  };
  const preferred = PREFERRED_MACHINE[arch];
  if (data.accel.kvm) caps.accel.kvm = buildAccel(data.accel.kvm, arch, preferred);
  if (data.accel.tcg) caps.accel.tcg = buildAccel(data.accel.tcg, arch, preferred);
  // libvirt asks ARM binaries only; others answer nothing worth keeping.
  if (data.gic && data.gic.length > 0 && ['aarch64', 'armv6l', 'armv7l'].includes(arch)) {
    caps.gic = data.gic.map((g) => ({ ...g }));
  }
  const sevCaps = buildSevCaps(data);
  if (sevCaps && (hasFlag(caps, 'sev-guest') || hasFlag(caps, 'sev-snp-guest'))) caps.sevCaps = sevCaps;
  const sgxCaps = buildSgxCaps(data);
  if (sgxCaps && hasFlag(caps, 'sgx-epc')) caps.sgxCaps = sgxCaps;
  const full = data.accel.kvm?.hostExpansionFull?.model.props;
  if (full)
    caps.hypervFeatures = HYPERV_FEATURES.filter((f) => hypervOn(full[`hv-${f.replaceAll('_', '-')}`]));
  return caps;
}

/** An enlightenment is on when its property is true, a positive number, or any string. */
function hypervOn(v: unknown): boolean {
  return v === true || (typeof v === 'number' && v > 0) || typeof v === 'string';
}

function buildAccel(a: AccelProbeData, arch: string, preferred: string | undefined): QemuAccelCaps {
  const machines: QemuMachineType[] = [];
  for (const m of a.machines ?? []) {
    if (m.name === 'none') continue; // the probe's own empty machine is not a guest machine
    const mt: QemuMachineType = {
      name: m.name,
      isDefault: m['is-default'] === true,
      maxCpus: m['cpu-max'] ?? 1,
      hotplugCpus: m['hotpluggable-cpus'] === true,
      numaMemSupported: m['numa-mem-supported'] === true,
      deprecated: m.deprecated === true,
    };
    if (m.alias !== undefined) mt.alias = m.alias;
    if (m['default-cpu-type'] !== undefined) mt.defaultCpuType = m['default-cpu-type'];
    if (m['default-ram-id'] !== undefined) mt.defaultRamId = m['default-ram-id'];
    if (m.acpi !== undefined) mt.acpi = m.acpi;
    machines.push(mt);
  }
  // The preferred machine (the last one matching, as libvirt scans) moves to the front; the rest keep QEMU's order.
  let first = -1;
  machines.forEach((m, i) => {
    if (preferred !== undefined && (m.name === preferred || m.alias === preferred)) first = i;
  });
  if (first < 0) first = machines.findLastIndex((m) => m.isDefault);
  if (first > 0) machines.unshift(...machines.splice(first, 1));
  const cpuModels: QemuCpuModel[] = (a.cpuDefinitions ?? []).map((d) => {
    const unavailable = d['unavailable-features'];
    const model: QemuCpuModel = {
      name: d.name,
      blockers: unavailable ? unavailable.map((f) => qemuFeatureSpelling(arch, f)) : [],
      deprecated: d.deprecated === true,
    };
    if (d.typename !== undefined) model.typename = d.typename;
    if (unavailable) model.usable = unavailable.length === 0;
    if (d['alias-of'] !== undefined) model.aliasOf = d['alias-of'];
    if (d['migration-safe'] !== undefined) model.migrationSafe = d['migration-safe'];
    if (d.static !== undefined) model.static = d.static;
    return model;
  });
  const out: QemuAccelCaps = { machines, cpuModels };
  const hostCpu = buildHostCpu(a.hostExpansion, a.hostExpansionAll);
  if (hostCpu) {
    if (a.deprecatedProps && a.deprecatedProps.length > 0) hostCpu.deprecatedProps = [...a.deprecatedProps];
    out.hostCpu = hostCpu;
  }
  return out;
}

/**
 * Properties come from the migratable expansion, in its order. Comparing
 * with the expansion that ignores migratability tells, for each boolean
 * feature, whether it is on and migratable, or on only when migration does
 * not matter (then listed on, not migratable).
 */
function buildHostCpu(
  migratable: QmpCpuModelExpansion | undefined,
  all: QmpCpuModelExpansion | undefined,
): QemuHostCpu | undefined {
  if (!migratable) return undefined;
  const allProps = all?.model.props ?? {};
  const props: QemuHostCpuProp[] = [];
  for (const [name, value] of Object.entries(migratable.model.props ?? {})) {
    if (typeof value === 'boolean') {
      const p: QemuHostCpuProp = { name, type: 'boolean', value };
      const other = allProps[name];
      if (all && typeof other === 'boolean') {
        if (value) p.migratable = true;
        else if (other) {
          p.value = true;
          p.migratable = false;
        }
      }
      props.push(p);
    } else if (typeof value === 'number') props.push({ name, type: 'number', value });
    else if (typeof value === 'string') props.push({ name, type: 'string', value });
  }
  return { model: migratable.model.name, migratability: all !== undefined, props };
}

function buildSevCaps(data: ProbeData): QemuSevCaps | undefined {
  if (!sevSupported(data) || !data.sev) return undefined;
  const sev = data.sev;
  const out: QemuSevCaps = {
    cbitpos: Number(sev.cbitpos),
    reducedPhysBits: Number(sev['reduced-phys-bits']),
    pdh: typeof sev.pdh === 'string' ? sev.pdh : '',
    certChain: typeof sev['cert-chain'] === 'string' ? sev['cert-chain'] : '',
  };
  if (typeof sev['cpu0-id'] === 'string') out.cpu0Id = sev['cpu0-id'];
  return out;
}

/** QEMU reports bytes; libvirt keeps KiB (and sums the sections when QEMU dropped `section-size`). */
function buildSgxCaps(data: ProbeData): QemuSgxCaps | undefined {
  if (!sgxSupported(data) || !data.sgx) return undefined;
  const sgx = data.sgx;
  const sections = (Array.isArray(sgx.sections) ? sgx.sections : []).map((s) => {
    const r = (typeof s === 'object' && s !== null ? s : {}) as Record<string, unknown>;
    return { node: Number(r.node ?? 0), size: Math.floor(Number(r.size ?? 0) / 1024) };
  });
  const sectionSize =
    typeof sgx['section-size'] === 'number'
      ? Math.floor(sgx['section-size'] / 1024)
      : sections.reduce((sum, s) => sum + s.size, 0);
  return { flc: sgx.flc === true, sgx1: sgx.sgx1 === true, sgx2: sgx.sgx2 === true, sectionSize, sections };
}

/** The accelerator-specific part of the caps, preferring `virttype`. */
export function accelCaps(caps: QemuCaps, virttype: QemuAccel): QemuAccelCaps | undefined {
  return caps.accel[virttype];
}

/** A machine by name or alias. */
export function findMachine(caps: QemuCaps, virttype: QemuAccel, name: string): QemuMachineType | undefined {
  return caps.accel[virttype]?.machines.find((m) => m.name === name || m.alias === name);
}

/**
 * The machine a definition without one gets: the first of the list, as
 * libvirt takes it (the probe puts the preferred or QEMU's default machine
 * there).
 */
export function defaultMachine(caps: QemuCaps, virttype: QemuAccel): QemuMachineType | undefined {
  return caps.accel[virttype]?.machines[0];
}

/** Whether a QOM type (device, object, machine, CPU) exists in this binary. */
export function hasType(caps: QemuCaps, type: string): boolean {
  return caps.qomTypes.includes(type);
}

export function hasCommand(caps: QemuCaps, command: string): boolean {
  return caps.commands.includes(command);
}

/** Whether the binary has one of libvirt's capability flags. */
export function hasFlag(caps: QemuCaps, flag: QemuCapabilityFlag): boolean {
  return caps.flags?.includes(flag) === true;
}

/**
 * The per-host CPU calls of the QEMU driver, as libvirt's QEMU driver
 * answers them:
 *
 * - `compareCpu`: the CPU against the host CPU of the capabilities;
 * - `baselineCpu`: the baseline of host CPUs with no hypervisor in the loop,
 *   less the features QEMU never supports;
 * - `compareHypervisorCpu`: against what QEMU can give a guest here — a model
 *   QEMU reports usable is enough on its own; a model the CPU map marks for
 *   the compatible check (and a CPU without a model) is compared with the
 *   host-model CPU; any other model takes QEMU's blockers and the features
 *   the CPU asks for beyond its model (libvirt's `qemuDomainCheckCPU`);
 * - `baselineHypervisorCpu`: the baseline limited to QEMU's models (with
 *   their blockers) and to the features QEMU knows, fallback forbidden, the
 *   smallest physical address limit of the inputs passed through.
 *
 * @module
 */
import type { CapsHostCpu } from '../../../conf/capabilities.js';
import { CpuDef } from '../../../conf/cpu.js';
import { baselineCpu, compareCpu, expandCpuFeatures, x86Database } from '../../../cpu/index.js';
import type { CpuCompareResult } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import type { QemuAccel, QemuCaps } from '../probe/qemu-caps.js';
import { qemuHostModelCpu } from './host-model.js';

/** Features QEMU never supported or dropped: libvirt leaves them out of a plain baseline. */
const IGNORED_FEATURES = new Set([
  'cmt',
  'mbm_total',
  'mbm_local',
  'osxsave',
  'ospke',
  'vmx-ept-uc',
  'vmx-ept-wb',
  'vmx-invvpid-single-context',
]);

export interface CpuCallOptions {
  /** Throw CPU_INCOMPATIBLE instead of answering `incompatible`. */
  failIncompatible?: boolean;
}

export interface BaselineCallOptions {
  expandFeatures?: boolean;
  migratable?: boolean;
}

const lower = (r: 'IDENTICAL' | 'SUPERSET' | 'INCOMPATIBLE'): CpuCompareResult =>
  r.toLowerCase() as CpuCompareResult;

// Per probe result (and host CPU object) the CPU they stand for, made once: the caps cache
// hands out the same objects until the binary changes.
const hostCpus = new WeakMap<CapsHostCpu, CpuDef>();
const hostModels = new WeakMap<QemuCaps, Map<QemuAccel, CpuDef | undefined>>();

function hostModelOf(caps: QemuCaps, accel: QemuAccel): CpuDef | undefined {
  let byAccel = hostModels.get(caps);
  if (!byAccel) {
    byAccel = new Map();
    hostModels.set(caps, byAccel);
  }
  if (!byAccel.has(accel)) byAccel.set(accel, qemuHostModelCpu(caps, accel));
  return byAccel.get(accel);
}

/** `virConnectCompareCPU` of the QEMU driver. */
export function qemuCompareCpu(
  host: CapsHostCpu,
  xml: string,
  options: CpuCallOptions = {},
): CpuCompareResult {
  let cpu = hostCpus.get(host);
  if (!cpu) {
    cpu = new CpuDef(host);
    hostCpus.set(host, cpu);
  }
  return lower(compareCpu(cpu, xml, options).result);
}

/** `virConnectBaselineCPU` of the QEMU driver. */
export function qemuBaselineCpu(xmls: readonly string[], options: BaselineCallOptions = {}): string {
  const cpu = baselineCpu(xmls, options.migratable ? { migratable: true } : {});
  if (cpu.features) {
    cpu.features = cpu.features.filter((f) => !IGNORED_FEATURES.has(f.name));
    if (cpu.features.length === 0) delete cpu.features;
  }
  return (options.expandFeatures ? expandCpuFeatures(cpu) : cpu).toXML();
}

function isX86(arch: string): boolean {
  return arch === 'x86_64' || arch === 'i686';
}

/** `virConnectCompareHypervisorCPU` of the QEMU driver, for one binary and accelerator. */
export function qemuCompareHypervisorCpu(
  caps: QemuCaps,
  accel: QemuAccel,
  xml: string,
  options: CpuCallOptions = {},
): CpuCompareResult {
  const hv = hostModelOf(caps, accel);
  if (!hv) {
    throw new VirError(
      'OPERATION_UNSUPPORTED',
      'qemu',
      `QEMU '${caps.emulator}' does not support reporting CPU model for virttype '${virttypeOf(accel)}'`,
    );
  }
  if (!isX86(caps.arch)) {
    throw new VirError(
      'OPERATION_UNSUPPORTED',
      'qemu',
      `comparing with the hypervisor CPU is not supported for arch ${caps.arch}`,
    );
  }
  const cpu = CpuDef.fromXML(xml);
  const models = caps.accel[accel]?.cpuModels ?? [];
  const name = cpu.model?.name;
  const qemuModel = name === undefined ? undefined : models.find((m) => m.name === name);
  // A model QEMU runs as it is, with nothing turned on beyond it.
  if (qemuModel?.usable === true && (cpu.features ?? []).every((f) => f.policy === 'disable')) {
    return 'superset';
  }
  let compat = !qemuModel;
  if (qemuModel && name !== undefined) {
    const model = x86Database().model(name);
    if (!model) throw new VirError('INVALID_ARG', 'cpu', `unknown CPU model ${name}`, { field: 'model' });
    compat = model.compatCheck;
  }
  if (compat) return lower(compareCpu(hv, cpu, options).result);
  return compareUnusable(hv, cpu, qemuModel?.blockers ?? [], options);
}

/** libvirt's check of a model QEMU calls unusable: its blockers disabled, its extra features offered. */
function compareUnusable(
  hv: CpuDef,
  cpu: CpuDef,
  blockers: readonly string[],
  options: CpuCallOptions,
): CpuCompareResult {
  const db = x86Database();
  const policyOf = (name: string) => cpu.features?.find((f) => f.name === name)?.policy;
  const missing: string[] = [];
  for (const b of blockers) {
    const name = db.featureAnyName(b)?.name ?? b;
    if (policyOf(name) !== 'disable') missing.push(name);
  }
  const offered = new Set(
    (expandCpuFeatures(hv).features ?? []).filter((f) => f.policy === 'require').map((f) => f.name),
  );
  for (const f of cpu.features ?? []) {
    if (f.policy === 'require' && !offered.has(f.name)) missing.push(f.name);
  }
  if (missing.length === 0) return 'superset';
  if (options.failIncompatible) {
    throw new VirError(
      'CPU_INCOMPATIBLE',
      'cpu',
      `Host CPU does not provide required features: ${missing.join(', ')}`,
    );
  }
  return 'incompatible';
}

function virttypeOf(accel: QemuAccel): string {
  return accel === 'kvm' ? 'kvm' : 'qemu';
}

/** `virConnectBaselineHypervisorCPU` of the QEMU driver, for one binary and accelerator. */
export function qemuBaselineHypervisorCpu(
  caps: QemuCaps,
  accel: QemuAccel,
  xmls: readonly string[],
  options: BaselineCallOptions = {},
): string {
  const accelCaps = caps.accel[accel];
  const models = accelCaps?.cpuModels ?? [];
  if (models.length === 0) {
    throw new VirError(
      'OPERATION_UNSUPPORTED',
      'qemu',
      `QEMU '${caps.emulator}' does not support any CPU models for virttype '${virttypeOf(accel)}'`,
    );
  }
  if (!isX86(caps.arch)) {
    throw new VirError(
      'OPERATION_UNSUPPORTED',
      'qemu',
      `computing baseline hypervisor CPU is not supported for arch ${caps.arch}`,
    );
  }
  const cpus = xmls.map((x) => CpuDef.fromXML(x));
  const host = accelCaps?.hostCpu;
  let migratable = options.migratable === true;
  let features: string[] | undefined;
  if (host) {
    // QEMU's own feature list; when QEMU tells migratable features apart it is already filtered.
    features = host.props.filter((p) => !(migratable && p.migratable === false)).map((p) => p.name);
    if (migratable && host.migratability) migratable = false;
  }
  const cpu = baselineCpu(cpus, {
    models: models.map((m) => ({ name: m.name, blockers: m.blockers })),
    ...(features ? { features } : {}),
    ...(migratable ? { migratable: true } : {}),
  });
  if (cpu.model) cpu.model.fallback = 'forbid';
  const out = options.expandFeatures ? expandCpuFeatures(cpu) : cpu;
  // The smallest address width any input passes through, when every input has one.
  let limit = 0;
  for (const [i, c] of cpus.entries()) {
    const l = c.maxPhysAddr?.limit ?? 0;
    if (l === 0) {
      limit = 0;
      continue;
    }
    if (i === 0 || l < limit) limit = l;
  }
  if (limit > 0) out.maxPhysAddr = { mode: 'passthrough', limit };
  return out.toXML();
}

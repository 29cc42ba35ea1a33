/**
 * What the domain capabilities and the command line need from the CPU
 * engine, fed from probed {@link QemuCaps}: the host-model CPU (the
 * engine's one resolver, {@link hostModelFromQemuExpansion}, given QEMU's
 * expansion of `host`/`max` and the models QEMU offers with their blockers)
 * and the model catalogue of the shipped CPU database.
 *
 * @module
 */
import type { CpuDef } from '../../../conf/cpu.js';
import type { DomainCapsCpuMode } from '../../../conf/domaincaps.js';
import { type HostModelOptions, hostModelFromQemuExpansion, x86Database } from '../../../cpu/index.js';
import { VirError } from '../../../errors.js';
import type { QemuAccel, QemuCaps } from '../probe/qemu-caps.js';

/** What a CPU model database knows about models and features. */
export interface CpuModelCatalog {
  /** Whether the model is one guests may name (models the database lacks are not offered). */
  has(model: string): boolean;
  /** The model's vendor (`Intel`, `AMD`, ...), or undefined when it has none. */
  vendor(model: string): string | undefined;
  /** The versioned name the database gives the model (`Broadwell` -> `Broadwell-v1`), if any. */
  canonical(model: string): string | undefined;
  /** The database's name for a feature QEMU spells differently (`pclmulqdq` -> `pclmuldq`). */
  featureName(qemuName: string): string;
}

/** The host-model part of `<mode name='host-model'>`. */
export type HostModel = Omit<DomainCapsCpuMode, 'name' | 'supported'>;

/** The shipped CPU database as a catalogue (x86 models; other architectures have none yet). */
export function shippedCpuCatalog(): CpuModelCatalog {
  const db = x86Database();
  return {
    has: (name) => db.model(name) !== undefined,
    vendor: (name) => db.model(name)?.vendor,
    canonical: (name) => db.canonical(name),
    featureName: (q) => db.featureAnyName(q)?.name ?? q,
  };
}

/**
 * The host-model guest CPU for one accelerator, or undefined when QEMU did
 * not expand its host CPU (or the architecture has no CPU database).
 */
export function qemuHostModelCpu(
  caps: QemuCaps,
  accel: QemuAccel,
  options: HostModelOptions = {},
): CpuDef | undefined {
  if (caps.arch !== 'x86_64' && caps.arch !== 'i686') return undefined;
  const accelCaps = caps.accel[accel];
  const host = accelCaps?.hostCpu;
  if (!accelCaps || !host) return undefined;
  // Models QEMU has, with what blocks each here, so the choice is one QEMU can run.
  const models = accelCaps.cpuModels.map((m) => ({ name: m.name, blockers: m.blockers }));
  const props = Object.fromEntries(host.props.map((p) => [p.name, p.value]));
  try {
    return hostModelFromQemuExpansion({ name: host.model, props }, models, options);
  } catch (err) {
    // No model of the database fits: the host-model mode is not available.
    if (err instanceof VirError && err.code === 'CONFIG_UNSUPPORTED') return undefined;
    throw err;
  }
}

/**
 * The host-model mode of domain capabilities. KVM guests get the host's
 * physical address bits passed through, so `physAddrBits` is reported for
 * KVM only.
 */
export function hostModelMode(
  caps: QemuCaps,
  accel: QemuAccel,
  physAddrBits?: number,
): HostModel | undefined {
  const cpu = qemuHostModelCpu(caps, accel);
  const name = cpu?.model?.name;
  if (!cpu || !name) return undefined;
  const out: HostModel = { models: [{ name, fallback: 'forbid' }] };
  if (cpu.vendor) out.vendor = cpu.vendor;
  if (accel === 'kvm' && physAddrBits !== undefined) {
    out.maxPhysAddr = { mode: 'passthrough', limit: physAddrBits };
  }
  const features = (cpu.features ?? []).map((f) => ({ policy: f.policy ?? 'require', name: f.name }));
  if (features.length > 0) out.features = features;
  return out;
}

/**
 * The host-model CPU: the named model, plus feature adjustments, that
 * describes the CPU QEMU gives a guest with `-cpu host` (KVM) or `-cpu max`
 * (TCG). It is computed from QEMU's static expansion of that CPU and the
 * models QEMU offers on this host (with what blocks each), by the same
 * decoder that turns CPUID data into a guest CPU, against the shipped CPU
 * database.
 *
 * This is the one resolver: domain capabilities (`<mode name='host-model'>`),
 * the QEMU command line of a host-model guest and the conformance runners
 * all call it.
 *
 * @module
 */
import type { CpuDef } from '../conf/cpu.js';
import { type QemuCpuModelInfo, x86DataFromQemuExpansion } from './operations.js';
import { decodedToCpu, decodeX86, type HypervisorModel } from './x86.js';
import { x86Database } from './x86-db.js';

/** How `hostModelFromQemuExpansion` builds the host-model CPU. */
export interface HostModelOptions {
  /**
   * Leave out required features that cannot survive a migration (as a
   * guest started with host-model gets); default false, the CPU as reported.
   */
  migratable?: boolean;
}

/**
 * The host-model guest CPU from QEMU's static expansion of `host`/`max`,
 * limited to the models QEMU reports (`query-cpu-definitions` names, with
 * their blockers) when given. Throws `CONFIG_UNSUPPORTED` when no model fits.
 */
export function hostModelFromQemuExpansion(
  model: QemuCpuModelInfo,
  models?: readonly (string | HypervisorModel)[] | null,
  options: HostModelOptions = {},
): CpuDef {
  const db = x86Database();
  const decoded = decodeX86(x86DataFromQemuExpansion(model), { kind: 'guest', models: models ?? null }, db);
  const cpu = decodedToCpu(decoded, 'guest', db, { fallback: 'forbid' });
  if (options.migratable && cpu.features) {
    cpu.features = cpu.features.filter(
      (f) => f.policy === 'disable' || db.feature(f.name)?.migratable !== false,
    );
  }
  return cpu;
}

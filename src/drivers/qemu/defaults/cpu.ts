/**
 * CPU defaults of the QEMU driver: a guest with no CPU model gets the
 * machine type's default CPU (an x86 `pc` gets `qemu64`), and each mode
 * gets the `check` it implies.
 *
 * @module
 */
import { CpuDef } from '../../../conf/cpu.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { QemuCaps, QemuMachineType } from '../probe/qemu-caps.js';

/** `qemu64-x86_64-cpu` -> `qemu64`: the CPU model name of a QOM CPU type. */
export function cpuModelFromType(type: string, arch: string): string {
  const qemuArch = arch === 'i686' ? 'i386' : arch;
  const suffix = `-${qemuArch}-cpu`;
  return type.endsWith(suffix) ? type.slice(0, -suffix.length) : type;
}

export function applyCpuDefaults(def: DomainDef, caps: QemuCaps, machine: QemuMachineType | undefined): void {
  const cpu = def.cpu;
  const mode = cpu?.mode ?? 'custom';
  if (mode === 'custom' && !cpu?.model?.name) {
    const arch = def.os?.type.arch ?? caps.arch;
    const defaultType = machine?.defaultCpuType;
    if (!defaultType || !arch.match(/^(x86_64|i686)$/)) return;
    const target = cpu ?? new CpuDef({});
    target.mode = 'custom';
    target.match ??= 'exact';
    target.check ??= 'none';
    target.model = { ...target.model, fallback: 'forbid', name: cpuModelFromType(defaultType, caps.arch) };
    def.cpu = target;
  } else if (cpu) {
    if (mode === 'host-passthrough' || mode === 'maximum') {
      cpu.check ??= 'none';
      if (mode === 'host-passthrough') cpu.migratable ??= true;
    } else if (mode === 'host-model') {
      cpu.check ??= 'partial';
      // The model is chosen from the host at each start; a nameless <model> says nothing.
      if (cpu.model && !cpu.model.name) delete cpu.model;
    } else if (mode === 'custom') {
      cpu.mode = 'custom';
      cpu.match ??= 'exact';
      cpu.check ??= def.type === 'kvm' ? 'partial' : 'none';
      if (cpu.model) cpu.model.fallback ??= 'allow';
    }
  }
  const topo = def.cpu?.topology;
  if (topo) {
    topo.dies ??= 1;
    topo.clusters ??= 1;
  }
}

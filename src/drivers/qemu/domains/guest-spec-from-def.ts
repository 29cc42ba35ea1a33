/**
 * From a typed `DomainDef` to the runner's {@link QemuGuestSpec}: the facts
 * the runner's command line can express today. Devices it cannot put on
 * QEMU's command line yet are refused rather than silently left out, so a
 * guest never boots without a disk or NIC its definition promises.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import { qemuCpuArg } from '../../../cpu/index.js';
import { VirError } from '../../../errors.js';
import type { LifecycleAction, QemuGuestSpec } from '../lifecycle/index.js';

/** Device lists the default command line has no way to express yet. */
const UNSUPPORTED_DEVICES = [
  'disks',
  'filesystems',
  'interfaces',
  'smartcards',
  'serials',
  'parallels',
  'consoles',
  'channels',
  'tpms',
  'graphics',
  'sounds',
  'hostdevs',
  'redirdevs',
  'hubs',
  'watchdogs',
  'rngs',
  'shmems',
  'memories',
] as const;

/**
 * Builds the spec for starting `def`. `liveXml` is kept in the status file
 * so a re-attached guest keeps its whole definition.
 */
export function guestSpecFromDef(def: DomainDef, emulator: string, liveXml: string): QemuGuestSpec {
  const unsupported = (field: string, message: string): never => {
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', message, { field });
  };
  if (def.type !== 'kvm' && def.type !== 'qemu') {
    unsupported(
      '/domain/@type',
      `virt type '${def.type}' is not supported by the QEMU driver (use kvm or qemu)`,
    );
  }
  const devices = def.devices ?? {};
  for (const key of UNSUPPORTED_DEVICES) {
    const list = devices[key] as readonly unknown[] | undefined;
    if (list && list.length > 0) {
      unsupported(
        `/domain/devices/${key}`,
        `devices of kind '${key}' cannot be started by virtkit's QEMU driver yet`,
      );
    }
  }
  const memoryKiB = def.memory?.value;
  if (memoryKiB === undefined) unsupported('/domain/memory', 'the domain has no <memory>');
  const machine = def.os?.type?.machine;
  if (!machine) unsupported('/domain/os/type/@machine', 'the domain has no machine type');
  const spec: {
    -readonly [K in keyof QemuGuestSpec]: QemuGuestSpec[K];
  } = {
    name: def.name,
    uuid: def.uuid ?? '',
    virtType: def.type === 'kvm' ? 'kvm' : 'qemu',
    memoryKiB: memoryKiB ?? 0,
    vcpus: def.vcpu?.current ?? def.vcpu?.count ?? 1,
    machine: machine ?? '',
    emulator,
    memballoon: devices.memballoon?.model !== 'none',
    domainXml: liveXml,
  };
  const cur = def.currentMemory?.value;
  if (cur !== undefined) spec.currentMemoryKiB = cur;
  const cpu = cpuValue(def);
  if (cpu !== undefined) {
    spec.cpu = cpu.arg;
    spec.cpuEnforce = cpu.enforce;
  }
  const poweroff = action(def.onPoweroff, 'on_poweroff');
  const reboot = action(def.onReboot, 'on_reboot');
  const crash = action(def.onCrash, 'on_crash');
  if (poweroff) spec.onPoweroff = poweroff;
  if (reboot) spec.onReboot = reboot;
  if (crash) spec.onCrash = crash;
  return spec;
}

/**
 * The `-cpu` value: host-passthrough → `host`, maximum → `max`, a custom
 * model with its features through the CPU engine. host-model needs the host
 * CPU resolved against QEMU's models, which the driver does not do yet:
 * refused with `CONFIG_UNSUPPORTED`.
 */
function cpuValue(def: DomainDef): { arg: string; enforce: boolean } | undefined {
  const cpu = def.cpu;
  if (!cpu) return undefined;
  const mode = cpu.mode ?? 'custom';
  if (mode === 'host-passthrough') return { arg: 'host', enforce: false };
  if (mode === 'maximum') return { arg: 'max', enforce: false };
  if (mode === 'host-model' || cpu.match === 'minimum') {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `CPU mode '${mode}'${cpu.match === 'minimum' ? " with match='minimum'" : ''} is not supported by virtkit's QEMU driver yet`,
      { field: '/domain/cpu/@mode' },
    );
  }
  // A <cpu> with only topology or NUMA (no model) leaves QEMU's default model.
  if (!cpu.model?.name) return undefined;
  return { arg: qemuCpuArg(cpu), enforce: cpu.check !== 'none' };
}

function action(value: string | undefined, field: string): LifecycleAction | undefined {
  if (value === undefined) return undefined;
  if (value === 'destroy' || value === 'restart' || value === 'preserve') return value;
  throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field} action '${value}' is not supported`, {
    field: `/domain/${field}`,
  });
}

/**
 * From a typed `DomainDef` to the {@link RunnerGuest} the lifecycle runner
 * manages: the facts of the definition the runner acts on itself. The
 * command line is `buildCommandLine`'s business and is not derived here.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import { VirError } from '../../../errors.js';
import type { LifecycleAction, RunnerGuest } from '../lifecycle/index.js';

/** The runner's view of `def`; `liveXml` (default `def.toXML()`) is what the status file records. */
export function runnerGuestFromDef(def: DomainDef, liveXml: string = def.toXML()): RunnerGuest {
  const unsupported = (field: string, message: string): never => {
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', message, { field });
  };
  if (def.type !== 'kvm' && def.type !== 'qemu') {
    unsupported(
      '/domain/@type',
      `virt type '${def.type}' is not supported by the QEMU driver (use kvm or qemu)`,
    );
  }
  const memoryKiB = def.memory?.value;
  if (memoryKiB === undefined) unsupported('/domain/memory', 'the domain has no <memory>');
  const guest: { -readonly [K in keyof RunnerGuest]: RunnerGuest[K] } = {
    name: def.name,
    uuid: def.uuid ?? '',
    memoryKiB: memoryKiB ?? 0,
    vcpus: def.vcpu?.current ?? def.vcpu?.count ?? 1,
    memballoon: def.devices?.memballoon !== undefined && def.devices.memballoon.model !== 'none',
    domainXml: liveXml,
  };
  const cur = def.currentMemory?.value;
  if (cur !== undefined) guest.currentMemoryKiB = cur;
  const cpu = def.cpu;
  // A named model of mode custom is checked unless the definition says check='none'.
  if (cpu?.model?.name && (cpu.mode ?? 'custom') === 'custom' && cpu.check !== 'none')
    guest.cpuCheck = { model: cpu.model.name };
  const poweroff = action(def.onPoweroff, 'on_poweroff');
  const reboot = action(def.onReboot, 'on_reboot');
  const crash = action(def.onCrash, 'on_crash');
  if (poweroff) guest.onPoweroff = poweroff;
  if (reboot) guest.onReboot = reboot;
  if (crash) guest.onCrash = crash;
  return guest;
}

function action(value: string | undefined, field: string): LifecycleAction | undefined {
  if (value === undefined) return undefined;
  if (value === 'destroy' || value === 'restart' || value === 'preserve') return value;
  throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field} action '${value}' is not supported`, {
    field: `/domain/${field}`,
  });
}

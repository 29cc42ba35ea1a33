/**
 * `-machine`: the machine type with the options libvirt derives from
 * `<features>`, `<memory>`/`<memoryBacking>`, firmware, NUMA and timers,
 * in libvirt's order.
 *
 * @module
 */

import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import { optList, optValue } from './escape.js';
import { pcspkMachineOption } from './sound.js';

const onOff = (b: boolean): string => (b ? 'on' : 'off');

export interface MachineInputs {
  machine: string;
  facts: MachineFacts;
  /** The machine's default RAM id, when the guest has no NUMA cells. */
  ramId: string | undefined;
  /** `pflash0=…`/`pflash1=…` naming the firmware block nodes. */
  pflash: readonly string[];
}

/** Whether the guest NUMA description asks for ACPI HMAT (interconnects or memory-side caches). */
export function hasHmat(def: DomainDef): boolean {
  const numa = def.cpu?.numa;
  if (!numa) return false;
  return (numa.interconnects ?? []).length > 0 || (numa.cells ?? []).some((c) => (c.caches ?? []).length > 0);
}

export function machineArgument(def: DomainDef, m: MachineInputs): string {
  const f = def.features;
  const opts: Array<string | undefined> = [optValue(m.machine, '/domain/os/type/@machine')];
  const pc = m.facts.family === 'q35' || m.facts.family === 'i440fx';
  // libvirt always turns QEMU's own USB controller off: USB controllers come from the definition.
  opts.push('usb=off');
  if (f?.vmport?.state !== undefined) opts.push(`vmport=${onOff(f.vmport.state)}`);
  if (f?.smm?.state !== undefined) opts.push(`smm=${onOff(f.smm.state)}`);
  // An IOAPIC emulated by QEMU splits the irqchip: KVM keeps the local APICs (needed for intremap).
  if (f?.ioapic?.driver === 'qemu') opts.push('kernel_irqchip=split');
  else if (f?.ioapic?.driver === 'kvm') opts.push('kernel_irqchip=on');
  if (f?.ps2?.state !== undefined) opts.push(`i8042=${onOff(f.ps2.state)}`);
  // libvirt's qemu.conf default for dump_guest_core is off.
  opts.push(`dump-guest-core=${onOff(def.memory?.dumpCore === true)}`);
  if (def.memoryBacking?.nosharepages) opts.push('mem-merge=off');
  if ((def.devices?.memories ?? []).some((m) => m.model === 'nvdimm')) opts.push('nvdimm=on');
  if (m.ramId && (def.cpu?.numa?.cells ?? []).length === 0) opts.push(`memory-backend=${m.ramId}`);
  opts.push(...m.pflash);
  if (hasHmat(def)) opts.push('hmat=on');
  // SeaBIOS writes to the first serial port when the machine has no graphics.
  if (def.os?.bios?.useserial === true) {
    if (!/^(x86_64|i[3-6]86)$/.test(def.os.type?.arch ?? 'x86_64'))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'a BIOS serial console is only supported on x86', {
        field: '/domain/os/bios/@useserial',
      });
    opts.push('graphics=off');
  }
  const hpet = def.clock?.timers?.find((t) => t.name === 'hpet');
  if (hpet?.present !== undefined) opts.push(`hpet=${onOff(hpet.present)}`);
  opts.push(pcspkMachineOption(def));
  if (pc || m.facts.family === 'isapc') opts.push(`acpi=${def.features?.acpi ? 'on' : 'off'}`);
  return optList(opts);
}

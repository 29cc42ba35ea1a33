/**
 * Define-time defaults of the QEMU driver: what libvirt's QEMU driver adds
 * to a definition before it stores it (machine type, emulator, CPU model,
 * implicit controllers and devices, PCI addresses). Runs after the generic
 * normalisation {@link DomainDef.fromXML} already applied.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { machineFacts } from '../../../machine/machine-types.js';
import {
  defaultMachine,
  findMachine,
  type QemuAccel,
  type QemuCaps,
  type QemuMachineType,
} from '../qemu-caps.js';
import { applyCpuDefaults } from './cpu.js';
import { applyDeviceDefaults } from './devices.js';
import { assignPciAddresses } from './pci.js';

export { cpuModelFromType } from './cpu.js';

/** The accelerator a domain type runs on. */
export function accelOf(def: DomainDef): QemuAccel {
  return def.type === 'kvm' ? 'kvm' : 'tcg';
}

/**
 * The machine type entry for a definition, resolving the default machine
 * and aliases (`pc` -> `pc-i440fx-10.0`) from the probed caps.
 */
export function resolveMachine(def: DomainDef, caps: QemuCaps): QemuMachineType | undefined {
  const accel = accelOf(def);
  const name = def.os?.type.machine;
  if (name === undefined) return defaultMachine(caps, accel) ?? defaultMachine(caps, 'tcg');
  return findMachine(caps, accel, name) ?? findMachine(caps, 'tcg', name);
}

/**
 * Applies the QEMU driver's define-time defaults to `def` in place and
 * returns it. Refuses (`CONFIG_UNSUPPORTED`) an accelerator or machine type
 * the probed binary does not have.
 */
export function applyQemuDefaults(def: DomainDef, caps: QemuCaps): DomainDef {
  const accel = accelOf(def);
  if (!caps.accel[accel]) {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${caps.emulator} cannot run domain type '${def.type}' (accelerator ${accel} not available)`,
      { field: '/domain/@type' },
    );
  }
  def.devices ??= {};
  def.devices.emulator ??= caps.emulator;
  const machine = resolveMachine(def, caps);
  if (def.os) {
    const given = def.os.type.machine;
    if (given !== undefined && !machine) {
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `machine type '${given}' is not supported by ${caps.emulator}`,
        { field: '/domain/os/type/@machine' },
      );
    }
    // An alias is stored as the versioned machine it stands for, so the guest ABI does not move
    // when QEMU is upgraded.
    if (machine) def.os.type.machine = machine.name;
  }
  const facts = machineFacts(def.os?.type.machine ?? '');
  if (def.features?.hyperv) def.features.hyperv.mode ??= 'custom';
  applyCpuDefaults(def, caps, machine);
  applyDeviceDefaults(def, facts);
  assignPciAddresses(def, facts);
  return def;
}

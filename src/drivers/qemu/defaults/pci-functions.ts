/**
 * Functions of PCI slots at define time: partial addresses completed,
 * multifunction slots marked, root ports aggregated eight to a slot.
 *
 * @module
 */
import type { DeviceAddress, PciAddress } from '../../../conf/domain/address.js';
import type { ControllerDef } from '../../../conf/domain/devices/index.js';
import type { PciAddressBook, PciSlot } from '../../../machine/pci-layout.js';

interface Addressable {
  address?: DeviceAddress;
}

function pciOf(d: Addressable): PciAddress | undefined {
  return d.address?.type === 'pci' ? d.address : undefined;
}

/**
 * A PCI address that names no slot (`<address type='pci'/>`, or all zeros)
 * asks for one to be assigned, as no address does; a partial one has its
 * missing parts zero, as libvirt stores them.
 */
export function completePartialAddresses(all: Addressable[]): void {
  for (const d of all) {
    const a = pciOf(d);
    if (!a) continue;
    if (!a.domain && !a.bus && !a.slot && !a.function) {
      delete d.address;
      continue;
    }
    a.domain ??= 0;
    a.bus ??= 0;
    a.slot ??= 0;
    a.function ??= 0;
  }
}

/**
 * A slot with more than one function in use is multifunction: its
 * function 0 says so, unless the definition switched it off.
 */
export function markMultifunction(all: Addressable[]): void {
  const key = (a: PciAddress) => `${a.domain ?? 0}:${a.bus ?? 0}:${a.slot ?? 0}`;
  const shared = new Set<string>();
  for (const d of all) {
    const a = pciOf(d);
    if (a && (a.function ?? 0) !== 0) shared.add(key(a));
  }
  for (const d of all) {
    const a = pciOf(d);
    if (a && (a.function ?? 0) === 0 && shared.has(key(a))) a.multifunction ??= true;
  }
}

/**
 * A root port's place on the root bus: the first slot that is free, or
 * that holds only root ports (and is not marked single-function) with a
 * function left; root ports aggregate, eight to a slot.
 */
export function takeRootPortFunction(book: PciAddressBook, ctrls: ControllerDef[]): PciSlot | undefined {
  for (let slot = 1; slot < 32; slot++) {
    if (book.slotFree(0, slot)) {
      const a = { bus: 0, slot, function: 0 };
      book.reserve(a);
      return a;
    }
    const here = ctrls.filter((c) => {
      const a = pciOf(c);
      return a !== undefined && (a.bus ?? 0) === 0 && a.slot === slot;
    });
    const used = [...Array(8).keys()].filter((f) => !book.isFree({ bus: 0, slot, function: f }));
    const head = here.find((c) => (pciOf(c)?.function ?? 0) === 0);
    const aggregate =
      here.length === used.length &&
      here.every((c) => c.model === 'pcie-root-port') &&
      pciOf(head ?? {})?.multifunction !== false;
    if (!aggregate) continue;
    for (let f = 1; f < 8; f++) {
      const a = { bus: 0, slot, function: f };
      if (!book.isFree(a)) continue;
      book.reserve(a);
      return a;
    }
  }
  return undefined;
}

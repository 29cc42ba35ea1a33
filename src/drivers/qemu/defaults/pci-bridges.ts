/**
 * Growing a conventional PCI machine (i440fx) when its root bus cannot
 * take every device: libvirt first fills the buses of the PCI bridges and
 * expander buses the definition has, then adds pci-bridges, each giving 31
 * more slots (slot 0 of a bridge is not usable) and itself taking one slot. Bridges
 * are PCI controllers, so they are placed before the devices: on the root
 * bus right after the integrated functions.
 *
 * @module
 */
import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { ControllerDef } from '../../../conf/domain/devices/index.js';
import type { PciAddressBook } from '../../../machine/pci-layout.js';
import { completePciController, insertController } from './devices.js';
import { isUsb2Set } from './pci-chipset.js';

const BRIDGE_SLOTS = 31;

/**
 * The first slot a device may take on the bus of a PCI controller that
 * carries conventional PCI devices, or undefined for one that does not: a
 * pci-bridge's slot 0 is the bridge's own, a pci-expander-bus (pxb) offers
 * all 32.
 */
export function firstDeviceSlot(c: ControllerDef): number | undefined {
  if (c.type !== 'pci') return undefined;
  if (c.model === 'pci-bridge') return 1;
  if (c.model === 'pci-expander-bus') return 0;
  return undefined;
}

/** Free whole slots on the root bus and on the PCI bridges and expander buses already defined. */
function freeSlots(ctrls: ControllerDef[], book: PciAddressBook): number {
  let n = 0;
  for (let slot = 1; slot <= 31; slot++) if (book.slotFree(0, slot)) n++;
  for (const c of ctrls) {
    const first = firstDeviceSlot(c);
    if (first === undefined) continue;
    for (let slot = first; slot <= 31; slot++) if (book.slotFree(c.index ?? 0, slot)) n++;
  }
  return n;
}

/**
 * A device addressed on a bus nothing provides gets the pci-bridges up to
 * that bus number (libvirt sizes the address set by the highest bus used
 * and adds the controllers missing below it). Returns how many were added:
 * each of them needs a slot.
 */
function addReferencedBridges(
  ctrls: ControllerDef[],
  addresses: ReadonlyArray<DeviceAddress | undefined>,
): number {
  let max = 0;
  for (const a of addresses) if (a?.type === 'pci') max = Math.max(max, a.bus ?? 0);
  let added = 0;
  for (let i = 1; i <= max; i++) {
    if (ctrls.some((c) => c.type === 'pci' && c.index === i)) continue;
    const c: ControllerDef = { type: 'pci', index: i, model: 'pci-bridge' };
    completePciController(c);
    insertController(ctrls, c);
    added++;
  }
  return added;
}

/**
 * Adds the pci-bridges `wanting` (devices still without an address, each
 * needing a slot; a USB2 controller set shares one) calls for.
 */
export function addPciBridges(
  ctrls: ControllerDef[],
  wanting: readonly object[],
  book: PciAddressBook,
  addresses: ReadonlyArray<DeviceAddress | undefined>,
): void {
  const sets = new Set<number>();
  let need = addReferencedBridges(ctrls, addresses);
  for (const d of wanting) {
    const c = ctrls.find((x) => x === d);
    if (c && isUsb2Set(c)) {
      if (sets.has(c.index ?? 0)) continue;
      sets.add(c.index ?? 0);
    }
    need++;
  }
  let free = freeSlots(ctrls, book);
  let next = Math.max(0, ...ctrls.filter((c) => c.type === 'pci').map((c) => c.index ?? 0)) + 1;
  while (need > free) {
    const c: ControllerDef = { type: 'pci', index: next++, model: 'pci-bridge' };
    completePciController(c);
    insertController(ctrls, c);
    // The bridge takes a slot of its own and brings a bus of slots.
    need++;
    free += BRIDGE_SLOTS;
  }
}

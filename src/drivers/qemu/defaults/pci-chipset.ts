/**
 * PCI placement rules tied to the chipset rather than to the generic
 * "next free slot" search: the ICH9 USB2 controller sets (one EHCI master and
 * up to three UHCI companions sharing one slot, each at a fixed function),
 * and the Q35 machine's preferred homes for its first USB2 sets (00:1d, then
 * 00:1a) and for the DMI-to-PCI bridge (00:1e), as on the real hardware.
 *
 * @module
 */
import type { PciAddress } from '../../../conf/domain/address.js';
import type { ControllerDef } from '../../../conf/domain/devices/index.js';
import type { PciAddressBook, PciSlot } from '../../../machine/pci-layout.js';

/** The function each member of an ICH9 USB2 set takes in the set's slot. */
const USB2_FUNCTION: Readonly<Record<string, number>> = {
  'ich9-ehci1': 7,
  'ich9-uhci1': 0,
  'ich9-uhci2': 1,
  'ich9-uhci3': 2,
};

/** Whether the controller belongs to an ICH9 USB2 set (EHCI master or UHCI companion). */
export function isUsb2Set(c: ControllerDef): boolean {
  return c.type === 'usb' && c.model !== undefined && c.model in USB2_FUNCTION;
}

function pciAddr(a: PciSlot, multifunction: boolean): PciAddress {
  const out: PciAddress = { type: 'pci', domain: 0, bus: a.bus, slot: a.slot, function: a.function };
  if (multifunction) out.multifunction = true;
  return out;
}

/**
 * Places a member of an ICH9 USB2 set in the slot of a member of the same
 * index that already has a PCI address. Returns false when no member has one.
 * UHCI1 sits at function 0 of a slot whose other functions are used, so it
 * is marked multifunction.
 */
export function joinUsb2Set(c: ControllerDef, ctrls: ControllerDef[], book: PciAddressBook): boolean {
  const fn = USB2_FUNCTION[c.model ?? ''];
  if (fn === undefined) return false;
  const mate = ctrls.find((o) => o !== c && isUsb2Set(o) && o.index === c.index && o.address?.type === 'pci');
  if (mate?.address?.type !== 'pci') return false;
  const where = { bus: mate.address.bus ?? 0, slot: mate.address.slot ?? 0, function: fn };
  book.reserve(where);
  c.address = pciAddr(where, c.model === 'ich9-uhci1');
  return true;
}

/** Gives the first member of a USB2 set a wholly free slot on `bus` (from `first`), at its own function. */
export function startUsb2Set(c: ControllerDef, bus: number, book: PciAddressBook, first = 1): boolean {
  const fn = USB2_FUNCTION[c.model ?? ''];
  if (fn === undefined) return false;
  for (let slot = first; slot < 32; slot++) {
    if (!book.slotFree(bus, slot)) continue;
    const where = { bus, slot, function: fn };
    book.reserve(where);
    c.address = pciAddr(where, c.model === 'ich9-uhci1');
    return true;
  }
  return false;
}

/**
 * Q35's own preferences, tried before any generic assignment and never
 * insisted on: each UHCI1 without an address goes to 00:1d, else 00:1a, when
 * that slot is wholly free; a DMI-to-PCI bridge goes to 00:1e when free.
 */
export function placeQ35Chipset(ctrls: ControllerDef[], book: PciAddressBook): void {
  for (const c of ctrls) {
    if (c.address !== undefined) continue;
    if (c.type === 'usb' && c.model === 'ich9-uhci1') {
      const slot = [0x1d, 0x1a].find((s) => book.slotFree(0, s));
      if (slot === undefined) continue;
      const where = { bus: 0, slot, function: 0 };
      book.reserve(where);
      c.address = pciAddr(where, true);
    } else if (c.type === 'pci' && c.model === 'dmi-to-pci-bridge' && book.slotFree(0, 0x1e)) {
      const where = { bus: 0, slot: 0x1e, function: 0 };
      book.reserve(where);
      c.address = pciAddr(where, false);
    }
  }
}

const PCIE_NICS = new Set(['virtio', 'virtio-non-transitional', 'e1000e', 'igb']);
const PCI_SOUNDS = new Set(['es1370', 'ac97', 'ich6', 'ich9']);
const PCI_VIDEOS = new Set(['vga', 'cirrus', 'vmvga', 'xen', 'vbox', 'qxl', 'parallels']);
const PCIE_USB = new Set(['qemu-xhci', 'nec-xhci']);
const PCIE_SCSI = new Set(['virtio-scsi', 'virtio-non-transitional']);

/** What a device is, as far as its kind of PCI slot goes. */
export type PciKind =
  | { kind: 'controller'; c: ControllerDef }
  | { kind: 'nic'; model: string | undefined }
  | { kind: 'sound'; model: string }
  | { kind: 'video'; model: string | undefined }
  | { kind: 'watchdog'; model: string }
  | { kind: 'other'; model?: string | undefined; conventional?: boolean };

/**
 * Whether the device is a conventional PCI device, which a PCIe machine can
 * only take on a PCI bridge, never on a PCIe root port. Transitional virtio
 * models are conventional too (their legacy interface needs I/O space).
 */
export function isConventionalPci(d: PciKind): boolean {
  switch (d.kind) {
    case 'controller': {
      const { c } = d;
      if (c.type === 'usb') return !PCIE_USB.has(c.model ?? '') && c.model !== 'none';
      if (c.type === 'scsi') return !PCIE_SCSI.has(c.model ?? '') && c.model !== 'ncr53c90';
      if (c.type === 'virtio-serial') return c.model === 'virtio-transitional';
      return c.type === 'ide';
    }
    case 'nic':
      return d.model !== undefined && !PCIE_NICS.has(d.model);
    case 'sound':
      return PCI_SOUNDS.has(d.model);
    case 'video':
      return PCI_VIDEOS.has(d.model ?? '');
    case 'watchdog':
      return d.model === 'i6300esb';
    case 'other':
      return d.conventional === true || d.model === 'virtio-transitional';
  }
}

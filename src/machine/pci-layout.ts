/**
 * The PCI slots a machine type fills by itself, and a small address book
 * for handing out the rest. Used when guest devices get their PCI
 * addresses at define time.
 *
 * i440fx: the host bridge sits at 00:00.0 and the PIIX3 chipset takes the
 * whole of slot 1 (ISA bridge .0, IDE .1, UHCI .2, power management .3).
 * q35: the host bridge at 00:00.0 and the ICH9 functions in slot 0x1f (LPC
 * .0, SATA .2, SMBus .3). No I/O here: this module also runs in browsers.
 *
 * @module
 */
import type { MachineFamily } from './machine-types.js';

export interface PciSlot {
  bus: number;
  slot: number;
  function: number;
}

/** Slot/function pairs of bus 0 the machine itself occupies. */
export function machineReservedPci(family: MachineFamily): PciSlot[] {
  const out: PciSlot[] = [{ bus: 0, slot: 0, function: 0 }];
  if (family === 'i440fx') for (let f = 0; f < 8; f++) out.push({ bus: 0, slot: 1, function: f });
  if (family === 'q35') for (const f of [0, 2, 3]) out.push({ bus: 0, slot: 0x1f, function: f });
  return out;
}

/** Where the chipset's own IDE/SATA and USB functions sit, when the machine has them. */
export function integratedPciFunction(
  family: MachineFamily,
  device: 'ide0' | 'sata0' | 'piix3-usb' | 'primary-video',
): PciSlot | undefined {
  if (family === 'i440fx') {
    if (device === 'ide0') return { bus: 0, slot: 1, function: 1 };
    if (device === 'piix3-usb') return { bus: 0, slot: 1, function: 2 };
    if (device === 'primary-video') return { bus: 0, slot: 2, function: 0 };
  }
  if (family === 'q35') {
    if (device === 'sata0') return { bus: 0, slot: 0x1f, function: 2 };
    if (device === 'primary-video') return { bus: 0, slot: 1, function: 0 };
  }
  return undefined;
}

/** Which slot/functions of which buses are taken. */
export class PciAddressBook {
  readonly #used = new Set<string>();

  static key(a: PciSlot): string {
    return `${a.bus}:${a.slot}.${a.function}`;
  }

  reserve(a: PciSlot): void {
    this.#used.add(PciAddressBook.key(a));
  }

  isFree(a: PciSlot): boolean {
    return !this.#used.has(PciAddressBook.key(a));
  }

  /** Whether no function of the slot is taken. */
  slotFree(bus: number, slot: number): boolean {
    for (let f = 0; f < 8; f++) if (!this.isFree({ bus, slot, function: f })) return false;
    return true;
  }

  /** The first wholly free slot on `bus` in [first, last], reserved at function 0. */
  takeSlot(bus: number, first: number, last = 31): PciSlot | undefined {
    for (let slot = first; slot <= last; slot++) {
      if (this.slotFree(bus, slot)) {
        const a = { bus, slot, function: 0 };
        this.reserve(a);
        return a;
      }
    }
    return undefined;
  }
}

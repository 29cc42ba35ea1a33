/**
 * USB port numbers for devices on the guest's USB buses, handed out when
 * the command line is built: hubs first (so devices can go behind them),
 * then the other USB devices in definition order. A port is `N` on the
 * root hub or `H.N` behind the hub on root port H.
 *
 * @module
 */
import type { ControllerDef } from '../../../conf/domain/devices/index.js';

/** Root hub ports of each USB controller model. */
const ROOT_PORTS: Record<string, number> = {
  'piix3-uhci': 2,
  'piix4-uhci': 2,
  'vt82c686b-uhci': 2,
  ehci: 6,
  'ich9-ehci1': 6,
  'qemu-xhci': 15,
  'nec-xhci': 4,
};

/** Ports of a usb-hub. */
const HUB_PORTS = 8;

export class UsbPorts {
  readonly #free = new Map<number, string[]>();

  constructor(controllers: readonly ControllerDef[]) {
    for (const c of controllers) {
      if (c.type !== 'usb' || c.model === 'none' || !c.model) continue;
      // Companion UHCI controllers share the EHCI controller's bus.
      if (/^ich9-uhci\d$/.test(c.model)) continue;
      const idx = c.index ?? 0;
      const count = c.ports ?? ROOT_PORTS[c.model] ?? 4;
      this.#free.set(
        idx,
        Array.from({ length: count }, (_, i) => String(i + 1)),
      );
    }
  }

  /** Marks a port given in the definition as taken. */
  reserve(bus: number, port: string): void {
    const list = this.#free.get(bus);
    if (list)
      this.#free.set(
        bus,
        list.filter((p) => p !== port),
      );
  }

  /** The next free port, or undefined when every bus is full. */
  take(): { bus: number; port: string } | undefined {
    for (const [bus, list] of this.#free) {
      const port = list.shift();
      if (port !== undefined) return { bus, port };
    }
    return undefined;
  }

  /** A hub plugged at `port` of `bus` offers its own ports after the root's. */
  addHub(bus: number, port: string): void {
    const list = this.#free.get(bus) ?? [];
    for (let i = 1; i <= HUB_PORTS; i++) list.push(`${port}.${i}`);
    this.#free.set(bus, list);
  }
}

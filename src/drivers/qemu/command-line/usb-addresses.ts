/**
 * USB ports for the guest's USB devices, worked out before the command
 * line is written, with libvirt's rules: each USB controller is a bus of
 * so many root ports; hubs given an address plug in first, then every
 * device with an address takes its port; when the devices outnumber the
 * ports, hubs are added (8 ports each, one of them spent on the hub
 * chain); hubs without an address are placed next, then the other
 * devices in libvirt's device order, each on the first free port of the
 * first bus, a port behind a hub only when the root ports are all taken.
 *
 * A port is `N` on the root hub or `H.N` behind the hub on root port H.
 * The bus QEMU knows is the controller's alias plus `.0` (`usb.0`,
 * `usb1.0`, `ua-mine.0`).
 *
 * @module
 */
import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { ControllerDef, HubDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { type Props, rawAttr } from './device-props.js';

/** Something that may sit on a USB port. */
export interface UsbPlaced {
  address?: DeviceAddress;
}

/** The `bus`/`port` properties of a USB device (empty when it has none). */
export type UsbAddrFn = (dev: UsbPlaced) => Props;

/** Ports of a usb-hub. */
const HUB_PORTS = 8;

/** Root ports of each controller model when `ports` does not say (libvirt's table). */
function rootPorts(c: ControllerDef): number {
  switch (c.model) {
    case 'piix3-uhci':
    case 'piix4-uhci':
    case 'vt82c686b-uhci':
      return 2;
    case 'ehci':
    case 'ich9-ehci1':
      return 6;
    case 'pci-ohci':
      return 3;
    case 'nec-xhci':
    case 'qemu-xhci':
      return c.ports ?? 4;
    case 'qusb1':
    case 'qusb2':
      return c.ports ?? 8;
    default:
      // ICH9 UHCI companions share their EHCI master's ports; 'none' has none.
      return 0;
  }
}

/**
 * QEMU's id of a USB controller (libvirt's alias): a user alias (`ua-...`)
 * when given, else `usb` for index 0 and `usb<index>` for the others.
 */
export function usbControllerAlias(c: ControllerDef): string {
  const user = rawAttr(c, 'alias', 'name');
  if (user?.startsWith('ua-')) return user;
  const index = c.index ?? 0;
  return index === 0 ? 'usb' : `usb${index}`;
}

class Hub {
  readonly taken: boolean[];
  readonly hubs: Array<Hub | undefined>;
  constructor(n: number) {
    this.taken = Array.from({ length: n }, () => false);
    this.hubs = Array.from({ length: n }, () => undefined);
  }

  /** The first free port here, else (depth first) behind a hub plugged here. */
  free(depth: number): number[] | undefined {
    const i = this.taken.indexOf(false);
    if (i >= 0) return [i + 1];
    if (depth >= 4) return undefined;
    for (const [j, h] of this.hubs.entries()) {
      const below = h?.free(depth + 1);
      if (below) return [j + 1, ...below];
    }
    return undefined;
  }
}

/** Where one device sits: the bus index and the port path. */
interface Place {
  bus: number;
  port: string;
}

export class UsbAddresses {
  readonly #buses = new Map<number, Hub>();
  readonly #aliases = new Map<number, string>();
  readonly #places = new Map<object, Place>();
  /** The hubs to build: the definition's, then those added for want of ports. */
  readonly hubs: HubDef[];

  constructor(def: DomainDef) {
    const dev = def.devices ?? {};
    for (const c of dev.controllers ?? []) {
      if (c.type !== 'usb') continue;
      const n = rootPorts(c);
      if (n === 0) continue;
      const index = c.index ?? 0;
      this.#buses.set(index, new Hub(n));
      this.#aliases.set(index, usbControllerAlias(c));
    }
    const devices = usbDevices(def);
    const userHubs = (dev.hubs ?? []).filter((h) => h.type === 'usb');
    const count = devices.length + userHubs.length;
    const ports =
      [...this.#buses.values()].reduce((n, h) => n + h.taken.length, 0) + HUB_PORTS * userHubs.length;
    const usbOn = (dev.controllers ?? []).some((c) => c.type === 'usb' && c.model !== 'none');
    if (count > 0 && !usbOn)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        'USB is disabled for this domain, but USB devices are present in the domain XML',
        { field: '/domain/devices/controller[@type=usb]/@model' },
      );
    // Each added hub spends one of its ports on the next hub of the chain.
    const needed = count > ports ? Math.ceil((count - ports + 1) / (HUB_PORTS - 1)) : 0;
    this.hubs = [...userHubs, ...Array.from({ length: needed }, (): HubDef => ({ type: 'usb' }))];
    for (const [i, h] of this.hubs.entries())
      if (hasPort(h)) this.#plugHub(h, this.#reserve(h, `/domain/devices/hub[${i + 1}]`));
    for (const [d, field] of devices) if (hasPort(d)) this.#reserve(d, field);
    for (const [i, h] of this.hubs.entries())
      if (!hasPort(h)) this.#plugHub(h, this.#assign(h, `/domain/devices/hub[${i + 1}]`));
    for (const [d, field] of devices) if (!hasPort(d)) this.#assign(d, field);
  }

  /** Where `dev` sits (bus index, port path), or undefined when it is not on USB. */
  placeOf(dev: UsbPlaced): Readonly<Place> | undefined {
    return this.#places.get(dev);
  }

  /** The `bus` and `port` properties of `dev`, or none when it is not on USB. */
  props(dev: UsbPlaced): Props {
    const p = this.#places.get(dev);
    if (!p) return {};
    return { bus: `${this.#aliases.get(p.bus) ?? `usb${p.bus}`}.0`, port: p.port };
  }

  #hubAt(bus: number, path: number[], field: string): Hub {
    let hub: Hub | undefined = this.#buses.get(bus);
    if (!hub)
      throw new VirError(
        'XML_DETAIL',
        'qemu',
        `USB bus ${bus} requested but no controller with that index is present`,
        {
          field: `${field}/address/@bus`,
        },
      );
    for (const p of path) {
      const next: Hub | undefined = hub.hubs[p - 1];
      if (!next)
        throw new VirError('XML_DETAIL', 'qemu', `there is no hub at port ${p} of USB bus ${bus}`, {
          field: `${field}/address/@port`,
        });
      hub = next;
    }
    return hub;
  }

  #reserve(d: UsbPlaced, field: string): Place {
    const a = d.address as { bus?: number; port?: string };
    const bus = a.bus ?? 0;
    const path = (a.port ?? '').split('.').map(Number);
    const last = path.pop() ?? 0;
    const hub = this.#hubAt(bus, path, field);
    if (last < 1 || last > hub.taken.length)
      throw new VirError('XML_DETAIL', 'qemu', `USB port ${a.port} is not present on USB bus ${bus}`, {
        field: `${field}/address/@port`,
      });
    if (hub.taken[last - 1])
      throw new VirError('XML_DETAIL', 'qemu', `duplicate USB address bus ${bus} port ${a.port}`, {
        field: `${field}/address/@port`,
      });
    hub.taken[last - 1] = true;
    const place = { bus, port: a.port ?? '' };
    this.#places.set(d, place);
    return place;
  }

  #assign(d: UsbPlaced, field: string): Place {
    const want = d.address?.type === 'usb' ? d.address.bus : undefined;
    const buses = want === undefined ? [...this.#buses.keys()].sort((x, y) => x - y) : [want];
    for (const bus of buses) {
      const path = this.#buses.get(bus)?.free(0);
      if (!path) continue;
      const last = path.pop() ?? 0;
      this.#hubAt(bus, path, field).taken[last - 1] = true;
      const place = { bus, port: [...path, last].join('.') };
      this.#places.set(d, place);
      return place;
    }
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'no free USB ports', { field: `${field}/address` });
  }

  #plugHub(h: HubDef, at: Place): void {
    const path = at.port.split('.').map(Number);
    const last = path.pop() ?? 0;
    this.#hubAt(at.bus, path, '/domain/devices/hub').hubs[last - 1] = new Hub(HUB_PORTS);
    this.#places.set(h, at);
  }
}

/**
 * Writes each USB device's port into the definition, and the hubs added
 * for want of ports after the definition's own, as libvirt's QEMU driver
 * does at define (and at a start or hot-plug for what has none yet): the
 * XML then says where each device is, and the command line takes those
 * ports as given.
 */
export function assignUsbPorts(def: DomainDef): void {
  const usb = new UsbAddresses(def);
  def.devices ??= {};
  const dev = def.devices;
  const own = new Set(dev.hubs ?? []);
  const added = usb.hubs.filter((h) => !own.has(h));
  if (added.length > 0) dev.hubs = [...(dev.hubs ?? []), ...added];
  for (const d of [...usb.hubs, ...usbDevices(def).map(([d]) => d)]) {
    const at = usb.placeOf(d);
    if (at) d.address = { type: 'usb', bus: at.bus, port: at.port };
  }
}

function hasPort(d: UsbPlaced): boolean {
  return d.address?.type === 'usb' && d.address.port !== undefined && !/^0(\.|$)/.test(d.address.port);
}

/**
 * The guest's USB devices other than hubs, in the order libvirt walks a
 * definition's USB devices (host devices, disks, NICs, smartcard
 * controllers, inputs, serial ports, sound, MTP shares, redirected
 * devices; checked against libvirt 9.0's define in usb-ports-libvirt.test.ts),
 * each with its field.
 */
function usbDevices(def: DomainDef): Array<[UsbPlaced, string]> {
  const dev = def.devices ?? {};
  const out: Array<[UsbPlaced, string]> = [];
  const add = <T extends UsbPlaced>(name: string, list: T[] | undefined, usb: (d: T) => boolean) => {
    for (const [i, d] of (list ?? []).entries())
      if (usb(d)) out.push([d, `/domain/devices/${name}[${i + 1}]`]);
  };
  add('hostdev', dev.hostdevs, (h) => h.mode === 'subsystem' && h.type === 'usb');
  add('disk', dev.disks, (d) => d.target.bus === 'usb');
  add('interface', dev.interfaces, (n) => n.model?.type === 'usb-net');
  add('controller', dev.controllers, (c) => c.type === 'ccid');
  add('input', dev.inputs, (i) => i.bus === 'usb');
  add(
    'serial',
    dev.serials,
    (s) => s.target?.type === 'usb-serial' || s.target?.model?.name === 'usb-serial',
  );
  add('sound', dev.sounds, (s) => s.model === 'usb');
  add('filesystem', dev.filesystems, (f) => f.driver?.type === 'mtp');
  add('redirdev', dev.redirdevs, (r) => r.bus === 'usb');
  return out;
}

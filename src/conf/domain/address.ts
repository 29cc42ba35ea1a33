/**
 * `<address>`: where a device sits on its bus. One element name, many
 * shapes chosen by `type`, modelled as a discriminated union so code can
 * switch on `address.type` and get the right fields.
 *
 * @module
 */

import { VirError } from '../../errors.js';
import type { XmlElement } from '../../xml/tree.js';
import {
  attr,
  type ElementMapper,
  elementMapper,
  type Field,
  hexUint,
  type Infer,
  onOff,
  refine,
  req,
  str,
  uint32,
} from '../binding.js';

const zpciMapper = elementMapper('zpci', {
  uid: attr('uid', hexUint(4, 0xffff)),
  fid: attr('fid', hexUint(8, 0xffffffff)),
});

const pci = elementMapper('address', {
  type: literal('pci'),
  domain: attr('domain', hexUint(4, 0xffff)),
  bus: attr('bus', hexUint(2, 0xff)),
  slot: attr('slot', hexUint(2, 0x1f)),
  function: attr('function', hexUint(1, 7)),
  multifunction: attr('multifunction', onOff),
  zpci: childOf(zpciMapper),
});

function childOf<T>(m: ElementMapper<T>): Field<T> {
  return {
    attrNames: [],
    childNames: [m.name],
    ownsText: false,
    read(el, ctx) {
      for (const c of el.children)
        if (c.type === 'element' && c.name === m.name) return m.read(c, `${ctx.path}/${m.name}`);
      return undefined;
    },
    writeChildren(value, out) {
      out.push(m.write(value));
    },
  };
}

function literal<const T extends string>(value: T) {
  return req(attr('type', { parse: () => value, format: () => value }));
}

const drive = elementMapper('address', {
  type: literal('drive'),
  controller: attr('controller', uint32),
  bus: attr('bus', uint32),
  target: attr('target', uint32),
  unit: attr('unit', uint32),
});

const virtioSerial = elementMapper('address', {
  type: literal('virtio-serial'),
  controller: attr('controller', uint32),
  bus: attr('bus', uint32),
  port: attr('port', uint32),
});

const ccid = elementMapper('address', {
  type: literal('ccid'),
  controller: attr('controller', uint32),
  slot: attr('slot', uint32),
});

const usb = elementMapper('address', {
  type: literal('usb'),
  bus: attr('bus', uint32),
  port: attr(
    'port',
    refine(str, (s) => (/^\d+(\.\d+){0,4}$/.test(s) ? undefined : `'${s}' is not a USB port path`)),
  ),
});

const spaprVio = elementMapper('address', {
  type: literal('spapr-vio'),
  // libvirt writes the register as eight hex digits
  reg: attr('reg', hexUint(8)),
});

const ccw = elementMapper('address', {
  type: literal('ccw'),
  cssid: attr('cssid', hexUint(0, 0xfe)),
  ssid: attr('ssid', hexUint(0, 3)),
  devno: attr('devno', hexUint(4, 0xffff)),
});

const isa = elementMapper('address', {
  type: literal('isa'),
  iobase: attr('iobase', hexUint(0, 0xffff)),
  irq: attr('irq', hexUint(0, 0xff)),
});

const dimm = elementMapper('address', {
  type: literal('dimm'),
  slot: attr('slot', uint32),
  base: attr('base', hexUint(0)),
});

const virtioMmio = elementMapper('address', { type: literal('virtio-mmio') });
const unassigned = elementMapper('address', { type: literal('unassigned') });
const virtioS390 = elementMapper('address', { type: literal('virtio-s390') });

export type PciAddress = Infer<typeof pci.spec>;
export type DriveAddress = Infer<typeof drive.spec>;
export type VirtioSerialAddress = Infer<typeof virtioSerial.spec>;
export type CcidAddress = Infer<typeof ccid.spec>;
export type UsbAddress = Infer<typeof usb.spec>;
export type SpaprVioAddress = Infer<typeof spaprVio.spec>;
export type CcwAddress = Infer<typeof ccw.spec>;
export type IsaAddress = Infer<typeof isa.spec>;
export type DimmAddress = Infer<typeof dimm.spec>;

/** Every address shape libvirt knows, discriminated by `type`. */
export type DeviceAddress =
  | PciAddress
  | DriveAddress
  | VirtioSerialAddress
  | CcidAddress
  | UsbAddress
  | SpaprVioAddress
  | CcwAddress
  | IsaAddress
  | DimmAddress
  | {
      /** A virtio-mmio device: the machine places it, no address fields. */
      type: 'virtio-mmio';
    }
  | {
      /** A host device the domain holds (detached from the host) but does not show to the guest. */
      type: 'unassigned';
    }
  | {
      /** A legacy s390 virtio device: no address fields. */
      type: 'virtio-s390';
    };

/** The `type` of an `<address>`: the kind of bus it is on. */
export type AddressType = DeviceAddress['type'];

const BY_TYPE: Record<AddressType, ElementMapper<DeviceAddress>> = {
  pci: pci as ElementMapper<DeviceAddress>,
  drive: drive as ElementMapper<DeviceAddress>,
  'virtio-serial': virtioSerial as ElementMapper<DeviceAddress>,
  ccid: ccid as ElementMapper<DeviceAddress>,
  usb: usb as ElementMapper<DeviceAddress>,
  'spapr-vio': spaprVio as ElementMapper<DeviceAddress>,
  ccw: ccw as ElementMapper<DeviceAddress>,
  isa: isa as ElementMapper<DeviceAddress>,
  dimm: dimm as ElementMapper<DeviceAddress>,
  'virtio-mmio': virtioMmio as ElementMapper<DeviceAddress>,
  unassigned: unassigned as ElementMapper<DeviceAddress>,
  'virtio-s390': virtioS390 as ElementMapper<DeviceAddress>,
};

/** Reads and writes one `<address>` element of any type. */
export const addressMapper: ElementMapper<DeviceAddress> = {
  name: 'address',
  read(el: XmlElement, path = '/address') {
    const type = el.attrs.find((a) => a.name === 'type')?.value;
    if (type === undefined || !Object.hasOwn(BY_TYPE, type)) {
      throw new VirError(
        'XML_DETAIL',
        'conf',
        `${type === undefined ? 'missing' : `unknown`} address type${type ? ` '${type}'` : ''} at ${path}${el.line !== undefined ? ` (line ${el.line})` : ''}`,
        { field: `${path}/@type`, ...(el.line !== undefined ? { line: el.line } : {}) },
      );
    }
    const a = BY_TYPE[type as AddressType].read(el, path);
    // libvirt reads a drive address's missing numbers as 0 and always writes all four.
    if (a.type === 'drive') {
      a.controller ??= 0;
      a.bus ??= 0;
      a.target ??= 0;
      a.unit ??= 0;
    }
    return a;
  },
  write(value) {
    return BY_TYPE[value.type].write(value);
  },
};

/** `<acpi index>`: the ACPI index a PCI device is given (the guest's stable NIC/disk naming). */
export const acpiIndexMapper = elementMapper('acpi', { index: req(attr('index', uint32)) });

/** The `<address>` child of a device. */
export function addressField(): Field<DeviceAddress> {
  return childOf(addressMapper);
}

/** `0000:00:1f.7`-style text of a PCI address, for messages. */
export function formatPciAddress(a: PciAddress): string {
  const h = (n: number | undefined, w: number) => (n ?? 0).toString(16).padStart(w, '0');
  return `${h(a.domain, 4)}:${h(a.bus, 2)}:${h(a.slot, 2)}.${h(a.function, 1)}`;
}

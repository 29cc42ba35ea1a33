/**
 * USB devices and interfaces (`/sys/bus/usb/devices`) as libvirt's udev
 * backend reports them. The kernel's `uevent` says which is which
 * (`DEVTYPE=usb_device` or `usb_interface`); both are named
 * `usb_<sysname>` (`usb_usb1` for a root hub, `usb_1_2`, `usb_1_2_1_0`).
 *
 * A device's bus and device numbers are the kernel's `BUSNUM`/`DEVNUM`.
 * Its ids and names are udev's `ID_VENDOR_ID`, `ID_MODEL_ID` and the
 * `*_FROM_DATABASE` names when udev's database has the device; without an
 * entry (a host without udevd) they come from what udev itself reads them
 * from: the `idVendor`/`idProduct` attributes and usb.ids. Where neither
 * names it, the device's own `manufacturer`/`product` strings, as libvirt
 * falls back to.
 *
 * @module
 */

import { realpath } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { XmlElement } from '../../../xml/tree.js';
import { usbIds } from './pci-ids.js';
import {
  cleanText,
  deviceName,
  driverEl,
  driverOf,
  el,
  type FoundDevice,
  type HostDeviceSources,
  hex,
  list,
  read,
  readInt,
  textEl,
  udevId,
  udevProps,
  uevent,
} from './sysfs.js';

/** An id element with its name as text, or empty when nothing names it. */
function idEl(name: string, id: number, text: string | undefined): XmlElement {
  return text ? textEl(name, text, { id: hex(id, 4) }) : el(name, { id: hex(id, 4) });
}

/** `strtoul(…, 16)` of a udev property or sysfs attribute; 0 when neither has it, as libvirt leaves it. */
const hexOf = (v: string | undefined) => {
  const n = v === undefined ? Number.NaN : Number.parseInt(v, 16);
  return Number.isFinite(n) ? n : 0;
};

async function usbDevice(src: HostDeviceSources, dir: string, ev: Map<string, string>): Promise<FoundDevice> {
  const props = await udevProps(src, await udevId(dir, 'usb'));
  const known = props.size > 0;
  const vendor = hexOf(known ? props.get('ID_VENDOR_ID') : await read(join(dir, 'idVendor')));
  const product = hexOf(known ? props.get('ID_MODEL_ID') : await read(join(dir, 'idProduct')));
  let vendorName = props.get('ID_VENDOR_FROM_DATABASE');
  let productName = props.get('ID_MODEL_FROM_DATABASE');
  if (!known) {
    const names = (await usbIds(src.usbIds)).get(vendor.toString(16).padStart(4, '0'));
    vendorName = names?.name;
    productName = names?.devices.get(product.toString(16).padStart(4, '0'));
  }
  // libvirt strips control characters and drops an empty string
  const attr = async (f: string) => cleanText(await read(join(dir, f)));
  vendorName ||= await attr('manufacturer');
  productName ||= await attr('product');
  const driver = ev.get('DRIVER') ?? (await driverOf(dir));
  const devname = ev.get('DEVNAME');
  return {
    name: deviceName('usb', basename(dir)),
    sysfsPath: dir,
    caps: ['usb_device'],
    driver,
    devnodes: devname ? [textEl('devnode', `/dev/${devname}`, { type: 'dev' })] : [],
    body: [
      ...driverEl(driver),
      el('capability', { type: 'usb_device' }, [
        textEl('bus', String(Number.parseInt(ev.get('BUSNUM') ?? '0', 10) || 0)),
        textEl('device', String(Number.parseInt(ev.get('DEVNUM') ?? '0', 10) || 0)),
        idEl('product', product, productName),
        idEl('vendor', vendor, vendorName),
      ]),
    ],
  };
}

async function usbInterface(dir: string, ev: Map<string, string>): Promise<FoundDevice> {
  const num = async (f: string) => String((await readInt(join(dir, f), 16)) ?? 0);
  const driver = ev.get('DRIVER') ?? (await driverOf(dir));
  return {
    name: deviceName('usb', basename(dir)),
    sysfsPath: dir,
    caps: ['usb'],
    driver,
    body: [
      ...driverEl(driver),
      el('capability', { type: 'usb' }, [
        textEl('number', await num('bInterfaceNumber')),
        textEl('class', await num('bInterfaceClass')),
        textEl('subclass', await num('bInterfaceSubClass')),
        textEl('protocol', await num('bInterfaceProtocol')),
      ]),
    ],
  };
}

/** Every USB device and interface on the host's USB buses. */
export async function usbDevices(src: HostDeviceSources): Promise<FoundDevice[]> {
  const bus = join(src.sysRoot, 'bus/usb/devices');
  const out: FoundDevice[] = [];
  for (const entry of await list(bus)) {
    const dir = await realpath(join(bus, entry)).catch(() => undefined);
    if (!dir) continue;
    const ev = await uevent(dir);
    const type = ev.get('DEVTYPE');
    if (type === 'usb_device') out.push(await usbDevice(src, dir, ev));
    else if (type === 'usb_interface') out.push(await usbInterface(dir, ev));
  }
  return out;
}

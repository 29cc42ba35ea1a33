/**
 * Vendor and device names from the host's PCI and USB ID databases
 * (`/usr/share/misc/pci.ids` and `usb.ids`, the files udev's hwdb is built
 * from and libvirt's names come from; both have one format). Read once per
 * process and path; no file, no names (the ids are still reported).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';

/** The vendor's name and its devices' names, by lower-case 4-digit hex id. */
export interface PciVendorNames {
  readonly name: string;
  readonly devices: ReadonlyMap<string, string>;
}

const loaded = new Map<string, Promise<ReadonlyMap<string, PciVendorNames>>>();

export const PCI_IDS_PATHS = ['/usr/share/misc/pci.ids', '/usr/share/hwdata/pci.ids'];
/** Where Debian's usbutils/hwdata and Fedora's hwdata put usb.ids. */
export const USB_IDS_PATHS = [
  '/usr/share/misc/usb.ids',
  '/var/lib/usbutils/usb.ids',
  '/usr/share/hwdata/usb.ids',
];

/** The USB database at the first of `paths` that exists (same format as pci.ids); empty when none does. */
export function usbIds(
  paths: readonly string[] = USB_IDS_PATHS,
): Promise<ReadonlyMap<string, PciVendorNames>> {
  return pciIds(paths);
}

/** The database at the first of `paths` that exists; empty when none does. */
export function pciIds(
  paths: readonly string[] = PCI_IDS_PATHS,
): Promise<ReadonlyMap<string, PciVendorNames>> {
  const key = paths.join('\0');
  let p = loaded.get(key);
  if (!p) {
    p = (async () => {
      for (const path of paths) {
        const text = await readFile(path, 'latin1').catch(() => undefined);
        if (text !== undefined) return parsePciIds(text);
      }
      return new Map();
    })();
    loaded.set(key, p);
  }
  return p;
}

/** pci.ids' format: `vvvv  name` at the start of a line, `\tdddd  name` under it; classes (`C`) end the vendors. */
export function parsePciIds(text: string): Map<string, PciVendorNames> {
  const out = new Map<string, PciVendorNames>();
  let devices: Map<string, string> | undefined;
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('C ')) break;
    const vendor = /^([0-9a-fA-F]{4}) {2}(.*)$/.exec(line);
    if (vendor) {
      devices = new Map();
      out.set(vendor[1]!.toLowerCase(), { name: vendor[2]!.trim(), devices });
      continue;
    }
    const device = /^\t([0-9a-fA-F]{4}) {2}(.*)$/.exec(line);
    if (device && devices) devices.set(device[1]!.toLowerCase(), device[2]!.trim());
  }
  return out;
}

/**
 * What every reader of the host's devices shares: sysfs attributes and
 * directories read without throwing (a device can vanish mid-scan), a
 * device's `uevent` properties (what udev starts from), its entry in udev's
 * database when udevd keeps one, libvirt's name rule, and the small XML
 * builders the readers write `<device>` trees with.
 *
 * @module
 */
import { readdir, readFile, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { XmlElement, XmlNode } from '../../../xml/tree.js';

/** Where the host facts are read: tests point these at copies. */
export interface HostDeviceSources {
  /** `/sys`. */
  readonly sysRoot: string;
  /** pci.ids candidates. */
  readonly pciIds?: readonly string[];
  /** usb.ids candidates (the file udev's hwdb takes USB names from). */
  readonly usbIds?: readonly string[];
  /** udev's database (`/run/udev/data`): the properties libvirt's names use. */
  readonly udevData?: string;
}

/** One device a reader found, before its parent is known. */
export interface FoundDevice {
  name: string;
  /** Its sysfs directory, real path. */
  sysfsPath: string;
  /** Capability names as libvirt lists them: the top-level one, then nested ones (`mdev_types`, `fc_host`). */
  caps: string[];
  /** The bound driver's name, if any. */
  driver: string | undefined;
  /** `<devnode>` elements, written between `<path>` and `<parent>`. */
  devnodes?: XmlElement[];
  /** The `<capability>` elements and what comes before them (`<driver>`). */
  body: XmlElement[];
}

export function el(name: string, attrs: Record<string, string> = {}, children: XmlNode[] = []): XmlElement {
  return {
    type: 'element',
    name,
    attrs: Object.entries(attrs).map(([n, value]) => ({ name: n, value })),
    children,
  };
}

export function textEl(name: string, value: string, attrs: Record<string, string> = {}): XmlElement {
  return el(name, attrs, [{ type: 'text', value }]);
}

/** A sysfs attribute without its final newline; undefined when it cannot be read. */
export async function read(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

/** A directory's entries, sorted; empty when it cannot be read. */
export async function list(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}

/** libvirt's device names: every character that is not a letter or digit becomes `_`. */
export function deviceName(...parts: string[]): string {
  return parts.join('_').replace(/[^A-Za-z0-9]/g, '_');
}

/** The basename of a symlink's target (`driver`, `subsystem`, `iommu_group`); undefined without one. */
export async function linkName(path: string): Promise<string | undefined> {
  const link = await readlink(path).catch(() => undefined);
  return link === undefined ? undefined : basename(link);
}

/** The driver bound to the device at `dir`. */
export const driverOf = (dir: string) => linkName(join(dir, 'driver'));

/** `<driver><name>…</name></driver>` when a driver is bound, else nothing. */
export const driverEl = (driver: string | undefined): XmlElement[] =>
  driver ? [el('driver', {}, [textEl('name', driver)])] : [];

/** The `KEY=value` lines of a device's `uevent` file (`DEVTYPE`, `DEVNAME`, `BUSNUM`, ...). */
export async function uevent(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const line of ((await read(join(dir, 'uevent'))) ?? '').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/**
 * The `E:KEY=value` properties udev stored for a device: `id` is udev's
 * key (`b8:0`, `c189:1`, `+usb:1-2:1.0`); empty without a database entry.
 */
export async function udevProps(src: HostDeviceSources, id: string): Promise<Map<string, string>> {
  const text = await read(join(src.udevData ?? '/run/udev/data', id));
  const out = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    const m = /^E:([^=]+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** udev's database key of the device at `dir`: its device number, else `+subsystem:sysname`. */
export async function udevId(dir: string, subsystem: string): Promise<string> {
  const dev = await read(join(dir, 'dev'));
  if (dev) return `${subsystem === 'block' ? 'b' : 'c'}${dev}`;
  return `+${subsystem}:${basename(dir)}`;
}

/** A sysfs number in base `radix`, as libvirt's parsers take it; undefined when absent or not a number. */
export async function readInt(path: string, radix: number): Promise<number | undefined> {
  const text = (await read(path))?.trim();
  if (text === undefined || text === '') return undefined;
  const n = Number.parseInt(text, radix);
  return Number.isFinite(n) ? n : undefined;
}

export const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, '0')}`;

/** A string attribute as libvirt keeps it: control characters removed, empty as missing. */
export function cleanText(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const s = [...v].filter((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f).join('');
  return s === '' ? undefined : s;
}

/**
 * The host's devices read from sysfs the way libvirt's udev backend reports
 * them: `computer`, `pci_DDDD_BB_SS_F` (class, ids and names, the bound
 * driver, IOMMU group, NUMA node) and `net_<ifname>_<mac>` (link state and
 * speed), with libvirt's names and parents (the nearest sysfs ancestor that
 * is a device of the list, else `computer`). Read afresh on each call:
 * sysfs is the state, nothing is cached but the PCI name database.
 *
 * Block devices (`block_<name>[_<ID_SERIAL>]`) are the whole disks whose
 * drive type udev's database says is `disk`, or, without one, virtio and Xen
 * disks (`vd*`, `xvd*`), as libvirt decides.
 *
 * Not produced yet (see docs/drivers.md): USB and SCSI devices, partitions,
 * CD-ROMs and floppies, the udev properties beyond ID_SERIAL and ID_TYPE, a
 * network interface's offload features (ethtool ioctls Node cannot make),
 * PCI Express link capabilities and SR-IOV functions (PCI config space).
 *
 * @module
 */
import { readdir, readFile, readlink, realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { XmlElement, XmlNode } from '../../../xml/tree.js';
import { pciIds } from './pci-ids.js';

/** One device as the driver lists it. */
export interface HostDevice {
  readonly name: string;
  /** Its sysfs directory, real path; undefined for `computer`. */
  readonly sysfsPath: string | undefined;
  readonly parent: string | undefined;
  /** Top-level capability types, in the XML's order. */
  readonly caps: readonly string[];
  /** The `<device>` element. */
  readonly xml: XmlElement;
  /** The bound driver's name, if any. */
  readonly driver: string | undefined;
}

/** Where the host facts are read: tests point these at copies. */
export interface HostDeviceSources {
  /** `/sys`. */
  readonly sysRoot: string;
  /** pci.ids candidates. */
  readonly pciIds?: readonly string[];
  /** udev's database (`/run/udev/data`): the properties libvirt's names use. */
  readonly udevData?: string;
}

export function el(name: string, attrs: Record<string, string> = {}, children: XmlNode[] = []): XmlElement {
  return {
    type: 'element',
    name,
    attrs: Object.entries(attrs).map(([n, value]) => ({ name: n, value })),
    children,
  };
}

function textEl(name: string, value: string, attrs: Record<string, string> = {}): XmlElement {
  return el(name, attrs, [{ type: 'text', value }]);
}

async function read(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).replace(/\n$/, '');
  } catch {
    return undefined;
  }
}

async function list(path: string): Promise<string[]> {
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

interface Partial {
  name: string;
  sysfsPath: string;
  caps: string[];
  driver: string | undefined;
  /** `<devnode>` elements, written between `<path>` and `<parent>`. */
  devnodes?: XmlElement[];
  /** The `<capability>` elements and what comes before them (`<driver>`). */
  body: XmlElement[];
}

/** Every device the backend knows, `computer` first. */
export async function scanHostDevices(src: HostDeviceSources): Promise<HostDevice[]> {
  const found = [...(await pciDevices(src)), ...(await netDevices(src)), ...(await blockDevices(src))];
  const byPath = new Map(found.map((d) => [d.sysfsPath, d.name]));
  const parentOf = (path: string): string => {
    for (let p = dirname(path); p !== '/' && p !== '.'; p = dirname(p)) {
      const name = byPath.get(p);
      if (name) return name;
    }
    return 'computer';
  };
  const out: HostDevice[] = [computer()];
  for (const d of found) {
    const parent = parentOf(d.sysfsPath);
    const children: XmlElement[] = [
      textEl('name', d.name),
      textEl('path', d.sysfsPath),
      ...(d.devnodes ?? []),
      textEl('parent', parent),
      ...d.body,
    ];
    out.push({
      name: d.name,
      sysfsPath: d.sysfsPath,
      parent,
      caps: d.caps,
      driver: d.driver,
      xml: el('device', {}, children),
    });
  }
  return out;
}

/** The root: libvirt fills it from dmidecode, which virtkit does not run (see docs). */
function computer(): HostDevice {
  return {
    name: 'computer',
    sysfsPath: undefined,
    parent: undefined,
    caps: ['system'],
    driver: undefined,
    xml: el('device', {}, [textEl('name', 'computer'), el('capability', { type: 'system' })]),
  };
}

async function driverOf(dir: string): Promise<string | undefined> {
  const link = await readlink(join(dir, 'driver')).catch(() => undefined);
  return link === undefined ? undefined : basename(link);
}

const hex = (n: number, width: number) => `0x${n.toString(16).padStart(width, '0')}`;

async function pciDevices(src: HostDeviceSources): Promise<Partial[]> {
  const bus = join(src.sysRoot, 'bus/pci/devices');
  const ids = await pciIds(src.pciIds);
  const out: Partial[] = [];
  for (const addr of await list(bus)) {
    const m = /^([0-9a-f]{4,}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(addr);
    if (!m) continue;
    const dir = await realpath(join(bus, addr)).catch(() => undefined);
    if (!dir) continue;
    const [domain, busNo, slot, fn] = [m[1]!, m[2]!, m[3]!, m[4]!].map((x) => Number.parseInt(x, 16)) as [
      number,
      number,
      number,
      number,
    ];
    const cls = Number.parseInt((await read(join(dir, 'class'))) ?? '0', 16);
    const vendor = ((await read(join(dir, 'vendor'))) ?? '0x0000').replace(/^0x/, '').toLowerCase();
    const product = ((await read(join(dir, 'device'))) ?? '0x0000').replace(/^0x/, '').toLowerCase();
    const names = ids.get(vendor);
    const productName = names?.devices.get(product);
    const cap: XmlElement[] = [
      textEl('class', hex(cls, 6)),
      textEl('domain', String(domain)),
      textEl('bus', String(busNo)),
      textEl('slot', String(slot)),
      textEl('function', String(fn)),
      productName
        ? textEl('product', productName, { id: `0x${product}` })
        : el('product', { id: `0x${product}` }),
      names ? textEl('vendor', names.name, { id: `0x${vendor}` }) : el('vendor', { id: `0x${vendor}` }),
    ];
    const group = await readlink(join(dir, 'iommu_group')).catch(() => undefined);
    if (group !== undefined) {
      const members = await list(join(src.sysRoot, 'kernel/iommu_groups', basename(group), 'devices'));
      cap.push(
        el(
          'iommuGroup',
          { number: basename(group) },
          members.flatMap((a) => {
            const g = /^([0-9a-f]{4,}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(a);
            return g
              ? [
                  el('address', {
                    domain: `0x${g[1]}`,
                    bus: `0x${g[2]}`,
                    slot: `0x${g[3]}`,
                    function: `0x${g[4]}`,
                  }),
                ]
              : [];
          }),
        ),
      );
    }
    const numa = Number.parseInt((await read(join(dir, 'numa_node'))) ?? '-1', 10);
    if (numa >= 0) cap.push(el('numa', { node: String(numa) }));
    const driver = await driverOf(dir);
    out.push({
      name: deviceName('pci', addr.replace(/[:.]/g, '_')),
      sysfsPath: dir,
      caps: ['pci'],
      driver,
      body: [
        ...(driver ? [el('driver', {}, [textEl('name', driver)])] : []),
        el('capability', { type: 'pci' }, cap),
      ],
    });
  }
  return out;
}

async function netDevices(src: HostDeviceSources): Promise<Partial[]> {
  const cls = join(src.sysRoot, 'class/net');
  const out: Partial[] = [];
  for (const ifname of await list(cls)) {
    const dir = await realpath(join(cls, ifname)).catch(() => undefined);
    if (!dir) continue;
    const mac = (await read(join(dir, 'address'))) ?? '';
    const state = (await read(join(dir, 'operstate'))) ?? 'unknown';
    // the kernel answers the speed only for a link that is up; -1 (unknown) as libvirt's unsigned
    const speed = state === 'up' ? await read(join(dir, 'speed')) : undefined;
    const speedNum = speed === undefined ? undefined : Number.parseInt(speed, 10);
    const link: Record<string, string> = {};
    if (speedNum !== undefined && Number.isFinite(speedNum)) link.speed = String(speedNum >>> 0);
    link.state = state;
    const wireless =
      (await list(join(dir, 'phy80211'))).length > 0 || (await read(join(dir, 'phy80211/name')));
    // no <driver>: libvirt reports the interface's own, which a net class device has not
    out.push({
      name: deviceName('net', ifname, mac),
      sysfsPath: dir,
      caps: ['net'],
      driver: undefined,
      body: [
        el('capability', { type: 'net' }, [
          textEl('interface', ifname),
          textEl('address', mac),
          el('link', link),
          el('capability', { type: wireless ? '80211' : '80203' }),
        ]),
      ],
    });
  }
  return out;
}

/** The `E:KEY=value` properties of a device in udev's database; empty without one. */
async function udevProps(src: HostDeviceSources, id: string): Promise<Map<string, string>> {
  const text = await read(join(src.udevData ?? '/run/udev/data', id));
  const out = new Map<string, string>();
  for (const line of (text ?? '').split('\n')) {
    const m = /^E:([^=]+)=(.*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

async function blockDevices(src: HostDeviceSources): Promise<Partial[]> {
  const cls = join(src.sysRoot, 'class/block');
  const out: Partial[] = [];
  for (const name of await list(cls)) {
    const dir = await realpath(join(cls, name)).catch(() => undefined);
    // partitions have a `partition` file; libvirt reports the disks
    if (!dir || (await read(join(dir, 'partition'))) !== undefined) continue;
    const majmin = (await read(join(dir, 'dev'))) ?? '';
    const props = await udevProps(src, `b${majmin}`);
    const type = props.get('ID_TYPE') ?? (/^(vd|xvd)/.test(name) ? 'disk' : undefined);
    if (type !== 'disk') continue;
    const serial = props.get('ID_SERIAL');
    const sectors = BigInt((await read(join(dir, 'size'))) ?? '0');
    const lbs = BigInt((await read(join(dir, 'queue/logical_block_size'))) ?? '512');
    const size = sectors * 512n;
    const model = await read(join(dir, 'device/model'));
    const vendor = await read(join(dir, 'device/vendor'));
    out.push({
      name: deviceName('block', name, ...(serial ? [serial] : [])),
      sysfsPath: dir,
      caps: ['storage'],
      driver: undefined,
      devnodes: [textEl('devnode', `/dev/${name}`, { type: 'dev' })],
      body: [
        el('capability', { type: 'storage' }, [
          textEl('block', `/dev/${name}`),
          textEl('drive_type', type),
          ...(model ? [textEl('model', model.trim())] : []),
          ...(vendor ? [textEl('vendor', vendor.trim())] : []),
          textEl('size', String(size)),
          textEl('logical_block_size', String(lbs)),
          textEl('num_blocks', String(lbs > 0n ? size / lbs : 0n)),
        ]),
      ],
    });
  }
  return out;
}

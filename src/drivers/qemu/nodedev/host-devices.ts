/**
 * The host's devices read from sysfs the way libvirt's udev backend reports
 * them, with libvirt's names and parents (the nearest sysfs ancestor that
 * is a device of the list, else `computer`): `computer` (DMI), PCI devices
 * `pci_DDDD_BB_SS_F` (class, ids and names, the bound driver, the mdev
 * types they offer, IOMMU group, NUMA node), USB devices and interfaces
 * (usb-devices.ts), `net_<ifname>_<mac>` (link state and speed), SCSI
 * hosts, targets, devices and generic nodes (scsi-devices.ts), disks and
 * mediated devices (mdev-devices.ts). Read afresh on each call: sysfs is
 * the state, nothing is cached but the ID name databases.
 *
 * Block devices (`block_<name>[_<ID_SERIAL>]`) are the whole disks whose
 * drive type udev's database says is `disk`, or, without one, virtio and Xen
 * disks (`vd*`, `xvd*`), as libvirt decides.
 *
 * Not produced yet (see docs/drivers.md): partitions, CD-ROMs and floppies,
 * DRM and s390 devices, a network interface's offload features (ethtool
 * ioctls Node cannot make), PCI Express link capabilities and SR-IOV
 * functions (PCI config space).
 *
 * @module
 */
import { realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { XmlElement } from '../../../xml/tree.js';
import { mdevDevices, mdevTypesCap } from './mdev-devices.js';
import { pciIds } from './pci-ids.js';
import { scsiDevices } from './scsi-devices.js';
import {
  cleanText,
  deviceName,
  driverEl,
  driverOf,
  el,
  type FoundDevice,
  type HostDeviceSources,
  hex,
  linkName,
  list,
  read,
  textEl,
  udevProps,
} from './sysfs.js';
import { usbDevices } from './usb-devices.js';

export type { HostDeviceSources } from './sysfs.js';

/** One device as the driver lists it. */
export interface HostDevice {
  readonly name: string;
  /** Its sysfs directory, real path; undefined for `computer`. */
  readonly sysfsPath: string | undefined;
  readonly parent: string | undefined;
  /**
   * Capability names as `virNodeDeviceListCaps` gives them: each top-level
   * one in the XML's order, followed by the nested ones libvirt counts
   * (`mdev_types` of a PCI device, `fc_host` and `vports` of a SCSI host).
   */
  readonly caps: readonly string[];
  /** The `<device>` element. */
  readonly xml: XmlElement;
  /** The bound driver's name, if any. */
  readonly driver: string | undefined;
}

/** Every device the backend knows, `computer` first. */
export async function scanHostDevices(src: HostDeviceSources): Promise<HostDevice[]> {
  const found = [
    ...(await pciDevices(src)),
    ...(await usbDevices(src)),
    ...(await netDevices(src)),
    ...(await scsiDevices(src)),
    ...(await blockDevices(src)),
    ...(await mdevDevices(src)),
  ];
  const byPath = new Map(found.map((d) => [d.sysfsPath, d.name]));
  const parentOf = (path: string): string => {
    for (let p = dirname(path); p !== '/' && p !== '.'; p = dirname(p)) {
      const name = byPath.get(p);
      if (name) return name;
    }
    return 'computer';
  };
  const out: HostDevice[] = [await computer(src)];
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

/** A DMI attribute as libvirt takes it: control characters stripped, empty as missing. */
async function dmi(dir: string, name: string): Promise<string | undefined> {
  return cleanText(await read(join(dir, name)));
}

const ZERO_UUID = '00000000-0000-0000-0000-000000000000';

/**
 * The root, from the firmware's DMI tables as sysfs shows them
 * (`/sys/devices/virtual/dmi/id`), as libvirt's udev backend fills it.
 * Without them (a VM without SMBIOS, or not x86) libvirt reports only an
 * all-zero UUID and an empty `<firmware>`, and so does this. The UUID is
 * `product_uuid` (readable by root only); where libvirt would make up a
 * random one for want of it, this reports zeros.
 */
async function computer(src: HostDeviceSources): Promise<HostDevice> {
  const dir = join(src.sysRoot, 'devices/virtual/dmi/id');
  const opt = async (tag: string, file: string) => {
    const v = await dmi(dir, file);
    return v === undefined ? [] : [textEl(tag, v)];
  };
  const raw = (await dmi(dir, 'product_uuid'))?.toLowerCase();
  const uuid =
    raw && /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/.test(raw) && !/^(.)\1*$/.test(raw.replace(/-/g, ''))
      ? raw
      : ZERO_UUID;
  const firmware = [
    ...(await opt('vendor', 'bios_vendor')),
    ...(await opt('version', 'bios_version')),
    ...(await opt('release_date', 'bios_date')),
  ];
  const cap = el('capability', { type: 'system' }, [
    ...(await opt('product', 'product_name')),
    el('hardware', {}, [
      ...(await opt('vendor', 'sys_vendor')),
      ...(await opt('version', 'product_version')),
      ...(await opt('serial', 'product_serial')),
      textEl('uuid', uuid),
    ]),
    // libvirt writes an empty <firmware> open and closed on two lines
    firmware.length > 0 ? el('firmware', {}, firmware) : textEl('firmware', '\n    '),
  ]);
  return {
    name: 'computer',
    sysfsPath: undefined,
    parent: undefined,
    caps: ['system'],
    driver: undefined,
    xml: el('device', {}, [textEl('name', 'computer'), cap]),
  };
}

async function pciDevices(src: HostDeviceSources): Promise<FoundDevice[]> {
  const bus = join(src.sysRoot, 'bus/pci/devices');
  const ids = await pciIds(src.pciIds);
  const out: FoundDevice[] = [];
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
    // libvirt writes the mdev types between the ids and the IOMMU group
    const mdev = await mdevTypesCap(dir);
    if (mdev) cap.push(mdev);
    const group = await linkName(join(dir, 'iommu_group'));
    if (group !== undefined) {
      const members = await list(join(src.sysRoot, 'kernel/iommu_groups', group, 'devices'));
      cap.push(
        el(
          'iommuGroup',
          { number: group },
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
      caps: mdev ? ['pci', 'mdev_types'] : ['pci'],
      driver,
      body: [...driverEl(driver), el('capability', { type: 'pci' }, cap)],
    });
  }
  return out;
}

async function netDevices(src: HostDeviceSources): Promise<FoundDevice[]> {
  const cls = join(src.sysRoot, 'class/net');
  const out: FoundDevice[] = [];
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

async function blockDevices(src: HostDeviceSources): Promise<FoundDevice[]> {
  const cls = join(src.sysRoot, 'class/block');
  const out: FoundDevice[] = [];
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
          ...(props.get('ID_BUS') ? [textEl('bus', props.get('ID_BUS')!)] : []),
          textEl('drive_type', type),
          ...(model?.trim() ? [textEl('model', model.trim())] : []),
          ...(vendor?.trim() ? [textEl('vendor', vendor.trim())] : []),
          ...(serial ? [textEl('serial', serial)] : []),
          textEl('size', String(size)),
          textEl('logical_block_size', String(lbs)),
          textEl('num_blocks', String(lbs > 0n ? size / lbs : 0n)),
        ]),
      ],
    });
  }
  return out;
}

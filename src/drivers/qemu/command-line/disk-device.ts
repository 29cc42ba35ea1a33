/**
 * The guest-visible half of a `<disk>`: the `-device` properties of its
 * frontend (ide-hd, scsi-cd, virtio-blk-pci, usb-storage, floppy, ...),
 * in the order libvirt writes them, and the alias every disk gets.
 *
 * @module
 */
import type { DriveAddress } from '../../../conf/domain/address.js';
import type { DiskDef } from '../../../conf/domain/devices/index.js';

type DiskCache = NonNullable<NonNullable<DiskDef['driver']>['cache']>;

import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { diskNameIndex } from '../../../conf/domain/normalize.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import {
  acpiIndexProps,
  firstVirtioOption,
  type Props,
  pciProps,
  rawAttr,
  userAliasOf,
  virtioDriverProps,
  virtioModel,
} from './device-props.js';
import { checkValue } from './escape.js';
import { hasIothread, iothreadMappingProps } from './iothreads.js';

/** SCSI controllers whose bus QEMU numbers per `bus` and addresses by `scsi-id` alone. */
const SCSI_SPI_MODELS = new Set(['lsilogic', 'ncr53c90', 'dc390', 'am53c974']);

function scsiControllerModel(def: DomainDef, index: number): string | undefined {
  const c = (def.devices?.controllers ?? []).find((x) => x.type === 'scsi' && (x.index ?? 0) === index);
  return c?.model;
}

/** The id libvirt gives a disk: from its drive address, or from its target name. */
export function diskAlias(def: DomainDef, d: DiskDef): string {
  // a user alias replaces the generated one as the QEMU id, as for any device
  const user = userAliasOf(d);
  if (user !== undefined) return user;
  const bus = d.target.bus ?? 'ide';
  const a = d.address;
  if (a?.type === 'drive') {
    const c = a.controller ?? 0;
    if (bus !== 'scsi' || (scsiControllerModel(def, c) ?? 'lsilogic') === 'lsilogic')
      return `${bus}${c}-${a.bus ?? 0}-${a.unit ?? 0}`;
    return `scsi${c}-${a.bus ?? 0}-${a.target ?? 0}-${a.unit ?? 0}`;
  }
  return `${bus}-disk${diskNameIndex(d.target.dev) ?? 0}`;
}

/** `bus`/`channel`/`scsi-id`/`lun` of a device on a SCSI controller, as its model numbers them. */
export function scsiDriveProps(def: DomainDef, a: DriveAddress): Props {
  const c = a.controller ?? 0;
  const model = scsiControllerModel(def, c) ?? 'lsilogic';
  if (SCSI_SPI_MODELS.has(model)) return { bus: `scsi${c}.${a.bus ?? 0}`, 'scsi-id': a.unit ?? 0 };
  return { bus: `scsi${c}.0`, channel: a.bus ?? 0, 'scsi-id': a.target ?? 0, lun: a.unit ?? 0 };
}

/** `bus`/`unit`/`scsi-id`/... of a disk on a drive address. */
function driveAddressProps(def: DomainDef, d: DiskDef, facts: MachineFacts, field: string): Props {
  const a = d.address;
  if (a?.type !== 'drive') return {};
  const bus = d.target.bus ?? 'ide';
  const c = a.controller ?? 0;
  // libvirt's rules: IDE, SATA and floppy drives have no targets, SATA and floppy one bus
  const only = (what: 'target' | 'bus', value: number | undefined) => {
    if ((value ?? 0) !== 0)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${what} must be 0 for a ${bus} drive address`, {
        field: `${field}/address/@${what}`,
      });
  };
  if (bus === 'ide' || bus === 'sata' || bus === 'fdc') only('target', a.target);
  if (bus === 'sata' || bus === 'fdc') only('bus', a.bus);
  if (bus === 'fdc' && c !== 0)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'only one floppy controller (0) is supported', {
      field: `${field}/address/@controller`,
    });
  switch (bus) {
    case 'ide':
      // The built-in IDE controller of i440fx (and any machine's first) is called plain 'ide'.
      return { bus: `${c === 0 ? 'ide' : `ide${c}`}.${a.bus ?? 0}`, unit: a.unit ?? 0 };
    case 'sata':
      return { bus: `${c === 0 && facts.family === 'q35' ? 'ide' : `sata${c}`}.${a.unit ?? 0}` };
    case 'fdc':
      return { unit: a.unit ?? 0 };
    case 'scsi':
      return scsiDriveProps(def, a);
    default:
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `a drive address on a '${bus}' disk`, {
        field: `${field}/address`,
      });
  }
}

/**
 * The cache mode a disk runs with: a writable shared disk without one
 * bypasses the host page cache, so that every guest sharing it sees the
 * same data.
 */
export function effectiveCache(d: DiskDef): DiskCache | undefined {
  const mode = d.driver?.cache;
  if ((mode === undefined || mode === 'default') && d.shareable !== undefined && d.readonly === undefined)
    return 'none';
  return mode;
}

/** Whether the guest sees a write cache: undefined when the cache mode is QEMU's default. */
export function writeCache(mode: DiskCache | undefined): string | undefined {
  if (mode === undefined || mode === 'default') return undefined;
  return mode === 'writethrough' || mode === 'directsync' ? 'off' : 'on';
}

/** QEMU's spelling of a disk error policy. */
function errorPolicies(d: DiskDef): { werror?: string; rerror?: string } {
  const w = d.driver?.errorPolicy;
  const r = d.driver?.rerrorPolicy;
  if (w === 'enospace') return { werror: 'enospc', ...(r !== undefined ? { rerror: r } : {}) };
  const out: { werror?: string; rerror?: string } = {};
  if (w !== undefined) out.werror = w;
  const read = r ?? w;
  if (read !== undefined) out.rerror = read;
  return out;
}

function numberAttr(d: DiskDef, child: string, name: string, field: string): number | undefined {
  const v = rawAttr(d, child, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v))
    throw new VirError('XML_DETAIL', 'qemu', `${child}/@${name} '${v}' is not a number`, {
      field: `${field}/${child}/@${name}`,
    });
  return Number(v);
}

export interface DiskDeviceInput {
  def: DomainDef;
  disk: DiskDef;
  facts: MachineFacts;
  field: string;
  /** The node the device reads, when it has media. */
  drive: string | undefined;
  /** The socket chardev of a vhost-user disk (which has no node). */
  chardev?: string;
  bootindex: number | undefined;
  /** `bus`/`port` of a USB disk, from its address or the next free port. */
  usb: Props;
}

/** The `-device` object of one disk's frontend. */
export function diskDeviceProps(x: DiskDeviceInput): Props {
  const { def, disk: d, facts, field } = x;
  const bus = d.target.bus ?? 'ide';
  const alias = diskAlias(def, d);
  const p: Props = {};
  let deviceId: string | undefined;
  let removable: boolean | undefined;
  let model: string | undefined;
  let product: string | undefined;
  checkDiskIothreads(def, d, bus, field);
  switch (bus) {
    case 'ide':
    case 'sata':
      p.driver = d.device === 'cdrom' ? 'ide-cd' : 'ide-hd';
      model = d.product;
      break;
    case 'scsi':
      if (d.device === 'lun') p.driver = 'scsi-block';
      else {
        p.driver = d.device === 'cdrom' ? 'scsi-cd' : 'scsi-hd';
        if (d.device !== 'cdrom' && d.target.removable !== undefined) removable = d.target.removable;
        // QEMU once named the VPD device id after -drive; libvirt keeps it stable by setting it.
        deviceId = d.serial ?? `drive-${alias}`;
      }
      product = d.product;
      break;
    case 'virtio':
      p.driver = virtioModel(x.chardev !== undefined ? 'vhost-user-blk-pci' : 'virtio-blk-pci', d.model);
      Object.assign(p, virtioDriverProps(d.driver));
      if (d.driver?.iothread !== undefined) p.iothread = `iothread${d.driver.iothread}`;
      if (d.driver?.ioeventfd !== undefined) p.ioeventfd = d.driver.ioeventfd;
      if (d.driver?.eventIdx !== undefined) p.event_idx = d.driver.eventIdx;
      if (d.device === 'lun') p.scsi = true;
      if (d.driver?.queues !== undefined) p['num-queues'] = d.driver.queues;
      if (d.driver?.queueSize !== undefined) p['queue-size'] = d.driver.queueSize;
      {
        const mapping = iothreadMappingProps(def, d.driver?.iothreads, d.driver?.queues, field);
        if (mapping) p['iothread-vq-mapping'] = mapping;
      }
      break;
    case 'usb':
      p.driver = 'usb-storage';
      removable = d.target.removable ?? false;
      break;
    case 'fdc':
      p.driver = 'floppy';
      break;
    default:
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `disk bus '${bus}' is not supported`, {
        field: `${field}/target/@bus`,
      });
  }
  if (bus !== 'virtio') {
    // The virtio models and transport options mean nothing to another bus's device.
    const opt = firstVirtioOption(d.driver);
    if (d.model !== undefined || opt !== undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `a ${bus} disk is not a virtio device`, {
        field: `${field}${opt !== undefined ? `/driver/@${opt}` : '/@model'}`,
      });
  }
  // Only a virtio disk is a PCI device of its own; an ACPI index elsewhere is refused.
  if (bus !== 'virtio') acpiIndexProps(d.acpi, undefined, field);
  if (bus === 'virtio')
    Object.assign(p, pciProps(d.address, facts), acpiIndexProps(d.acpi, d.address, field));
  else if (bus === 'usb') Object.assign(p, x.usb);
  else Object.assign(p, driveAddressProps(def, d, facts, field));
  if (deviceId !== undefined) p.device_id = checkValue(deviceId, `${field}/serial`);
  if (d.shareable !== undefined) p['share-rw'] = true;
  if (x.drive !== undefined) p.drive = x.drive;
  if (x.chardev !== undefined) p.chardev = x.chardev;
  p.id = alias;
  if (d.device !== 'floppy' && x.bootindex !== undefined) p.bootindex = x.bootindex;
  for (const [name, key] of [
    ['logical_block_size', 'logical_block_size'],
    ['physical_block_size', 'physical_block_size'],
    ['discard_granularity', 'discard_granularity'],
  ] as const) {
    const v = numberAttr(d, 'blockio', name, field);
    if (v !== undefined) p[key] = v;
  }
  if (d.wwn !== undefined) {
    if (!/^(0x)?[0-9a-fA-F]{16}$/.test(d.wwn))
      throw new VirError('XML_DETAIL', 'qemu', `wwn '${d.wwn}' is not 16 hex digits`, {
        field: `${field}/wwn`,
      });
    p.wwn = BigInt(`0x${d.wwn.replace(/^0x/, '')}`);
  }
  if (d.target.rotationRate !== undefined) p.rotation_rate = d.target.rotationRate;
  if (d.vendor !== undefined) p.vendor = checkValue(d.vendor, `${field}/vendor`);
  if (product !== undefined) p.product = checkValue(product, `${field}/product`);
  if (model !== undefined) p.model = checkValue(model, `${field}/product`);
  if (removable !== undefined) p.removable = removable;
  const wc = d.device === 'lun' ? undefined : writeCache(effectiveCache(d));
  if (wc !== undefined) p['write-cache'] = wc;
  for (const k of ['cyls', 'heads', 'secs'] as const) {
    const v = numberAttr(d, 'geometry', k, field);
    if (v !== undefined) p[k] = v;
  }
  const trans = rawAttr(d, 'geometry', 'trans');
  if (trans !== undefined && trans !== 'default')
    p['bios-chs-trans'] = checkValue(trans, `${field}/geometry/@trans`);
  // libvirt writes each space of a serial backslash-escaped (kept from its -drive days), so do we.
  if (d.serial !== undefined) p.serial = checkValue(d.serial, `${field}/serial`).replaceAll(' ', '\\ ');
  Object.assign(p, errorPolicies(d));
  return p;
}

/** A disk's I/O thread (or thread mapping) must be one the domain has, on a virtio disk. */
function checkDiskIothreads(def: DomainDef, d: DiskDef, bus: string, field: string): void {
  const id = d.driver?.iothread;
  const mapped = (d.driver?.iothreads?.iothreads ?? []).length > 0;
  if (id === undefined && !mapped) return;
  const where = `${field}/driver/${id !== undefined ? '@iothread' : 'iothreads'}`;
  if (bus !== 'virtio')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `I/O threads are not available for a ${bus} disk`, {
      field: where,
    });
  if (id !== undefined && !hasIothread(def, id))
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `I/O thread ${id} is not one of the domain's I/O threads`,
      {
        field: where,
      },
    );
}

/**
 * `<disk>`: a block device given to the guest, with its backing source
 * (file, block device, directory, network, storage volume, NVMe), driver,
 * target bus and name, boot order and I/O tuning.
 *
 * @module
 */
import {
  assignParsed,
  attr,
  child,
  children,
  childText,
  elementMapper,
  enumOf,
  type Infer,
  onOff,
  rawChild,
  req,
  str,
  trimmed,
  uint,
  uint32,
  yesNo,
} from '../../binding.js';
import { acpiIndexMapper, addressField } from '../address.js';
import { presence } from '../presence.js';
import { reconnectMapper } from './chardev.js';
import { virtioDriverOptions } from './virtio-options.js';

/**
 * The `type` values of `<disk>`: where the data comes from on the host (`file`, `block`, `network`,
 * ...).
 */
export const DISK_TYPES = [
  'file',
  'block',
  'dir',
  'network',
  'volume',
  'nvme',
  'vhostuser',
  'vhostvdpa',
] as const;
/** The `device` values of `<disk>`: what the guest sees. */
export const DISK_DEVICES = ['disk', 'cdrom', 'floppy', 'lun'] as const;
/** The `bus` values of a disk `<target>` (`virtio`, `sata`, `scsi`, `usb`, ...). */
export const DISK_BUSES = [
  'ide',
  'fdc',
  'scsi',
  'virtio',
  'xen',
  'usb',
  'uml',
  'sata',
  'sd',
  'none',
] as const;

const diskHostMapper = elementMapper('host', {
  name: attr('name', str),
  port: attr('port', str),
  transport: attr('transport', enumOf(['tcp', 'unix', 'rdma', 'fd'])),
  socket: attr('socket', str),
});

export const diskSourceMapper = elementMapper('source', {
  file: attr('file', str),
  dev: attr('dev', str),
  dir: attr('dir', str),
  protocol: attr('protocol', str),
  name: attr('name', str),
  pool: attr('pool', str),
  volume: attr('volume', str),
  mode: attr('mode', str),
  type: attr('type', str),
  managed: attr('managed', yesNo),
  namespace: attr('namespace', uint32),
  startupPolicy: attr('startupPolicy', enumOf(['mandatory', 'requisite', 'optional'])),
  /** Live state: the number the start gave the image's block nodes (libvirt writes it after the policy). */
  index: attr('index', uint32),
  /** A vhost-user disk's UNIX socket (with `type='unix'`). */
  path: attr('path', str),
  hosts: children(diskHostMapper),
  address: rawChild('address'),
  reconnect: child(reconnectMapper),
});
export type DiskSource = Infer<typeof diskSourceMapper.spec>;

/**
 * `<driver><iothreads>`: which I/O threads serve a virtio device's queues
 * (each thread optionally naming its queues by index).
 */
export const iothreadMappingMapper = elementMapper('iothreads', {
  iothreads: children(
    elementMapper('iothread', {
      id: req(attr('id', uint32)),
      queues: children(elementMapper('queue', { id: req(attr('id', uint32)) })),
    }),
  ),
});
export type IothreadMapping = Infer<typeof iothreadMappingMapper.spec>;

export const diskDriverMapper = elementMapper('driver', {
  name: attr('name', str),
  type: attr('type', str),
  cache: attr('cache', enumOf(['default', 'none', 'writethrough', 'writeback', 'directsync', 'unsafe'])),
  errorPolicy: attr('error_policy', str),
  rerrorPolicy: attr('rerror_policy', str),
  io: attr('io', enumOf(['threads', 'native', 'io_uring'])),
  ioeventfd: attr('ioeventfd', onOff),
  eventIdx: attr('event_idx', onOff),
  copyOnRead: attr('copy_on_read', onOff),
  discard: attr('discard', enumOf(['unmap', 'ignore'])),
  discardNoUnref: attr('discard_no_unref', onOff),
  detectZeroes: attr('detect_zeroes', enumOf(['off', 'on', 'unmap'])),
  iothread: attr('iothread', uint32),
  queues: attr('queues', uint32),
  queueSize: attr('queue_size', uint32),
  ...virtioDriverOptions,
  iothreads: child(iothreadMappingMapper),
});
export type DiskDriver = Infer<typeof diskDriverMapper.spec>;

export const diskTargetMapper = elementMapper('target', {
  dev: req(attr('dev', str)),
  bus: attr('bus', enumOf(DISK_BUSES)),
  tray: attr('tray', enumOf(['open', 'closed'])),
  removable: attr('removable', onOff),
  rotationRate: attr('rotation_rate', uint32),
});
export type DiskTarget = Infer<typeof diskTargetMapper.spec>;

/**
 * The limits shared by a disk's `<iotune>` and a domain `<throttlegroup>`,
 * in libvirt's order: rates, bursts, the I/O size, burst lengths.
 */
const throttleLimits = {
  totalBytesSec: childText('total_bytes_sec', uint),
  readBytesSec: childText('read_bytes_sec', uint),
  writeBytesSec: childText('write_bytes_sec', uint),
  totalIopsSec: childText('total_iops_sec', uint),
  readIopsSec: childText('read_iops_sec', uint),
  writeIopsSec: childText('write_iops_sec', uint),
  totalBytesSecMax: childText('total_bytes_sec_max', uint),
  readBytesSecMax: childText('read_bytes_sec_max', uint),
  writeBytesSecMax: childText('write_bytes_sec_max', uint),
  totalIopsSecMax: childText('total_iops_sec_max', uint),
  readIopsSecMax: childText('read_iops_sec_max', uint),
  writeIopsSecMax: childText('write_iops_sec_max', uint),
  sizeIopsSec: childText('size_iops_sec', uint),
};
const throttleLengths = {
  totalBytesSecMaxLength: childText('total_bytes_sec_max_length', uint),
  readBytesSecMaxLength: childText('read_bytes_sec_max_length', uint),
  writeBytesSecMaxLength: childText('write_bytes_sec_max_length', uint),
  totalIopsSecMaxLength: childText('total_iops_sec_max_length', uint),
  readIopsSecMaxLength: childText('read_iops_sec_max_length', uint),
  writeIopsSecMaxLength: childText('write_iops_sec_max_length', uint),
};

// libvirt writes <group_name> between the I/O size and the burst lengths in <iotune>, last in a group.
const iotuneMapper = elementMapper('iotune', {
  ...throttleLimits,
  groupName: childText('group_name', trimmed),
  ...throttleLengths,
});
export type DiskIotune = Infer<typeof iotuneMapper.spec>;

/** `<throttlegroups>`: named limits disks share through `<throttlefilters>`. */
export const throttleGroupsMapper = elementMapper('throttlegroups', {
  groups: children(
    elementMapper('throttlegroup', {
      ...throttleLimits,
      ...throttleLengths,
      groupName: childText('group_name', trimmed),
    }),
  ),
});
/** One `<throttlegroup>` of `<throttlegroups>`: its `group_name` and the I/O limits its disks share. */
export type ThrottleGroup = NonNullable<Infer<typeof throttleGroupsMapper.spec>['groups']>[number];

const throttleFiltersMapper = elementMapper('throttlefilters', {
  filters: children(elementMapper('throttlefilter', { group: req(attr('group', str)) })),
});

export const bootOrderMapper = elementMapper('boot', {
  order: req(attr('order', uint32)),
  loadparm: attr('loadparm', str),
});

const diskElementMapper = elementMapper('disk', {
  type: attr('type', enumOf(DISK_TYPES)),
  device: attr('device', enumOf(DISK_DEVICES)),
  model: attr('model', str),
  rawio: attr('rawio', yesNo),
  sgio: attr('sgio', enumOf(['filtered', 'unfiltered'])),
  snapshot: attr('snapshot', str),
  driver: child(diskDriverMapper),
  // the older place of a network disk's credentials (today's is inside <source>):
  // libvirt writes it there again, after the driver
  auth: rawChild('auth'),
  source: child(diskSourceMapper),
  backingStore: rawChild('backingStore'),
  backendDomain: child(elementMapper('backenddomain', { name: req(attr('name', str)) })),
  target: req(child(diskTargetMapper)),
  iotune: child(iotuneMapper),
  throttleFilters: child(throttleFiltersMapper),
  readonly: presence('readonly'),
  shareable: presence('shareable'),
  transient: presence('transient'),
  // libvirt keeps a serial's spaces (QEMU reads them escaped).
  serial: childText('serial', str),
  wwn: childText('wwn', trimmed),
  vendor: childText('vendor', trimmed),
  product: childText('product', trimmed),
  // libvirt writes the boot order with the device info, after the disk's own children.
  boot: child(bootOrderMapper),
  acpi: child(acpiIndexMapper),
  address: addressField(),
});
export type DiskDef = Infer<typeof diskElementMapper.spec>;

/**
 * `<disk>` with libvirt's format-time rules: the model keeps what was read
 * (the command line uses it), but libvirt writes `removable` only for a USB
 * disk and leaves out `snapshot='no'` on a read-only disk, where it is implied.
 */
export const diskMapper: typeof diskElementMapper = {
  ...diskElementMapper,
  write(d) {
    const hideRemovable = d.target.removable !== undefined && d.target.bus !== 'usb';
    const hideSnapshot = d.snapshot === 'no' && d.readonly !== undefined;
    if (!hideRemovable && !hideSnapshot) return diskElementMapper.write(d);
    // Shallow copies, carrying the unknown XML kept on the originals.
    const shown: DiskDef = assignParsed({} as DiskDef, d);
    if (hideRemovable) {
      shown.target = assignParsed({} as DiskDef['target'], d.target);
      delete shown.target.removable;
    }
    if (hideSnapshot) delete shown.snapshot;
    return diskElementMapper.write(shown);
  },
};

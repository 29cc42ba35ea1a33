/**
 * Node device capabilities of hosts, USB, network, SCSI, block storage and
 * DRM devices: each type's shape, in libvirt's output order, and the rules
 * libvirt applies when reading it.
 *
 * @module
 */
import {
  attr,
  child,
  children,
  childText,
  elementMapper,
  enumOf,
  type Field,
  type Infer,
  int,
  req,
  str,
  text,
  uint64,
} from '../binding.js';
import { keepEndTag, objectError, uuid } from '../object-xml.js';
import { capabilitiesField, dec, hexId } from './capability.js';

// --- system ------------------------------------------------------------------

const hardwareMapper = elementMapper('hardware', {
  vendor: childText('vendor', str),
  version: childText('version', str),
  serial: childText('serial', str),
  uuid: req(childText('uuid', uuid)),
});
const firmwareMapper = elementMapper('firmware', {
  vendor: childText('vendor', str),
  version: childText('version', str),
  releaseDate: childText('release_date', str),
});

/** libvirt always writes `<firmware>`, with an end tag even when it is empty. */
const firmwareField: Field<Infer<typeof firmwareMapper.spec>> = {
  ...child(firmwareMapper),
  writeChildren(value, out) {
    out.push(keepEndTag(firmwareMapper.write(value), 2));
  },
};

export const systemCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['system']))),
  product: childText('product', str),
  hardware: req(child(hardwareMapper)),
  /** The `<firmware>` child: the system firmware's vendor, version and release date. */
  firmware: firmwareField,
});
export type SystemCapability = Infer<typeof systemCapMapper.spec>;

// --- usb ---------------------------------------------------------------------

const idName = (name: string) => elementMapper(name, { id: req(attr('id', hexId(4))), name: text(str) });

export const usbDeviceCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['usb_device']))),
  bus: req(childText('bus', dec)),
  device: req(childText('device', dec)),
  product: req(child(idName('product'))),
  vendor: req(child(idName('vendor'))),
});
export type UsbDeviceCapability = Infer<typeof usbDeviceCapMapper.spec>;

export const usbInterfaceCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['usb']))),
  number: req(childText('number', dec)),
  class: req(childText('class', dec)),
  subclass: req(childText('subclass', dec)),
  protocol: req(childText('protocol', dec)),
  description: childText('description', str),
});
export type UsbInterfaceCapability = Infer<typeof usbInterfaceCapMapper.spec>;

// --- net ---------------------------------------------------------------------

/**
 * The offload features a host network device may report (`<feature name>` of a `net` capability).
 */
export const NET_FEATURES = [
  'rx',
  'tx',
  'sg',
  'tso',
  'gso',
  'gro',
  'lro',
  'rxvlan',
  'txvlan',
  'ntuple',
  'rxhash',
  'rdma',
  'txudptnl',
  'switchdev',
] as const;

const netFeatureMapper = elementMapper('feature', { name: req(attr('name', enumOf(NET_FEATURES))) });
const netLinkMapper = elementMapper('link', {
  speed: attr('speed', dec),
  state: attr(
    'state',
    enumOf(['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up']),
  ),
});
const netSubtypeMapper = elementMapper('capability', { type: req(attr('type', enumOf(['80203', '80211']))) });

export const netCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['net']))),
  interface: req(childText('interface', str)),
  address: childText('address', str),
  link: child(netLinkMapper),
  features: children(netFeatureMapper),
  /** The nested `<capability type='80203'|'80211'>`: Ethernet or wireless. */
  subtype: capabilitiesField<Infer<typeof netSubtypeMapper.spec>>(
    { '80203': netSubtypeMapper, '80211': netSubtypeMapper },
    {
      unknown: (_t, el, path) => {
        throw objectError('CONFIG_UNSUPPORTED', `${path}/@type`, 'invalid network type supplied', el);
      },
    },
  ),
});
export type NetCapability = Infer<typeof netCapMapper.spec>;

// --- scsi --------------------------------------------------------------------

const fcHostMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['fc_host']))),
  wwnn: childText('wwnn', str),
  wwpn: childText('wwpn', str),
  fabricWwn: childText('fabric_wwn', str),
});
const vportOpsMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['vport_ops']))),
  // Counted from sysfs by the driver, never read from a document.
  maxVports: reportedCount('max_vports'),
  vports: reportedCount('vports'),
});
/** A nested capability of a SCSI host: Fibre Channel host, or vport operations. */
export type ScsiHostSubCapability = Infer<typeof fcHostMapper.spec> | Infer<typeof vportOpsMapper.spec>;

function reportedCount(name: string): Field<number> {
  return {
    attrNames: [],
    childNames: [name],
    ownsText: false,
    read: () => undefined,
    writeChildren(value, out) {
      out.push({ type: 'element', name, attrs: [], children: [{ type: 'text', value: String(value) }] });
    },
  };
}

export const scsiHostCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['scsi_host']))),
  host: req(childText('host', dec)),
  uniqueId: childText('unique_id', int({ min: -0x80000000, max: 0x7fffffff, hex: false })),
  capabilities: capabilitiesField<ScsiHostSubCapability>(
    { fc_host: fcHostMapper, vport_ops: vportOpsMapper },
    { sorted: true },
  ),
});
export type ScsiHostCapability = Infer<typeof scsiHostCapMapper.spec>;

const fcRemotePortMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['fc_remote_port']))),
  rport: req(childText('rport', str)),
  wwpn: req(childText('wwpn', str)),
});

export const scsiTargetCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['scsi_target']))),
  target: req(childText('target', str)),
  capabilities: capabilitiesField<Infer<typeof fcRemotePortMapper.spec>>({
    fc_remote_port: fcRemotePortMapper,
  }),
});
export type ScsiTargetCapability = Infer<typeof scsiTargetCapMapper.spec>;

export const scsiCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['scsi']))),
  host: req(childText('host', dec)),
  bus: req(childText('bus', dec)),
  target: req(childText('target', dec)),
  lun: req(childText('lun', dec)),
  scsiType: childText('type', str),
});
export type ScsiCapability = Infer<typeof scsiCapMapper.spec>;

// --- storage -----------------------------------------------------------------

const mediaAvailable = { parse: (raw: string) => raw === '1', format: (v: boolean) => (v ? '1' : '0') };

/** Block counts are computed from sizes by the driver, not read. */
function blockCount(name: string): Field<bigint> {
  return {
    attrNames: [],
    childNames: [name],
    ownsText: false,
    read: () => undefined,
    writeChildren(value, out) {
      out.push({ type: 'element', name, attrs: [], children: [{ type: 'text', value: value.toString() }] });
    },
  };
}

const removableMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['removable']))),
  mediaAvailable: childText('media_available', mediaAvailable),
  mediaSize: req(childText('media_size', uint64)),
  mediaLabel: childText('media_label', str),
  logicalBlockSize: blockCount('logical_block_size'),
  numBlocks: blockCount('num_blocks'),
});
const hotpluggableMapper = elementMapper('capability', { type: req(attr('type', enumOf(['hotpluggable']))) });
/** A nested capability of a storage device: removable media, or hot-pluggable. */
export type StorageSubCapability = Infer<typeof removableMapper.spec> | Infer<typeof hotpluggableMapper.spec>;

export const storageCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['storage']))),
  block: req(childText('block', str)),
  bus: childText('bus', str),
  driveType: childText('drive_type', str),
  model: childText('model', str),
  vendor: childText('vendor', str),
  serial: childText('serial', str),
  size: childText('size', uint64),
  /** The `<logical_block_size>` child, in bytes: set by the driver and written, never read. */
  logicalBlockSize: blockCount('logical_block_size'),
  /** The `<num_blocks>` child: `size` over `logicalBlockSize`, set by the driver and written, never read. */
  numBlocks: blockCount('num_blocks'),
  capabilities: capabilitiesField<StorageSubCapability>(
    { removable: removableMapper, hotpluggable: hotpluggableMapper },
    { sorted: true },
  ),
});
export type StorageCapability = Infer<typeof storageCapMapper.spec>;

/** A removable drive reports media facts instead of a size; anything else needs its size. */
export function normalizeStorage(cap: StorageCapability, field: string): StorageCapability {
  const removable = cap.capabilities?.find((c) => c.type === 'removable');
  if (removable) {
    delete cap.size;
    if (removable.type === 'removable') removable.mediaAvailable ??= false;
  } else if (cap.size === undefined) throw objectError('INTERNAL_ERROR', `${field}/size`, 'no size supplied');
  return cap;
}

// --- scsi_generic ------------------------------------------------------------

/** A SCSI generic node (`/dev/sg<N>`), as libvirt's udev backend reports one. */
export const scsiGenericCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['scsi_generic']))),
  /** The character device (`/dev/sg0`). */
  char: req(childText('char', str)),
});
export type ScsiGenericCapability = Infer<typeof scsiGenericCapMapper.spec>;

// --- drm ---------------------------------------------------------------------

export const drmCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['drm']))),
  drmType: req(childText('type', enumOf(['primary', 'control', 'render']))),
});
export type DrmCapability = Infer<typeof drmCapMapper.spec>;

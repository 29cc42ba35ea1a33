/**
 * `<pool>`: a storage pool definition (`virStoragePoolGetXMLDesc`).
 *
 * What a pool's `<source>` may hold depends on its type (a directory pool
 * has no source at all, an iSCSI pool has hosts, devices and an initiator,
 * a SCSI pool an adapter, ...). The tables below say which parts each type
 * uses; parsing drops the rest and fills libvirt's defaults (the format,
 * the source name, the target path of LVM and ZFS pools), then checks what
 * the type requires.
 *
 * @module
 */
import { serializeXml } from '../../xml/serialize.js';
import type { XmlElement, XmlNode } from '../../xml/tree.js';
import {
  assignParsed,
  attr,
  child,
  childAttr,
  children,
  childText,
  elementMapper,
  enumOf,
  type Field,
  type Infer,
  req,
  setUnknownContent,
  str,
  unknownContent,
  yesNo,
} from '../binding.js';
import {
  ignored,
  ignoredAttrs,
  keepEndTag,
  newUuid,
  objectError,
  type ParseObjectOptions,
  parseRoot,
  sanitizePath,
  textElement,
  uuid,
  withoutUnknown,
} from '../object-xml.js';
import {
  adapterMapper,
  authMapper,
  hostMapper,
  normalizeAdapter,
  normalizePerms,
  permissionsMapper,
} from './common.js';
import { canonicalPrefix, FS_NS, mountOptsField, RBD_NS, rbdConfigField } from './pool-namespaces.js';

/** The `type` values of `<pool>`. */
export const STORAGE_POOL_TYPES = [
  'dir',
  'fs',
  'netfs',
  'logical',
  'disk',
  'iscsi',
  'iscsi-direct',
  'scsi',
  'mpath',
  'rbd',
  'sheepdog',
  'gluster',
  'zfs',
  'vstorage',
] as const;
/** One of `STORAGE_POOL_TYPES`. */
export type StoragePoolType = (typeof STORAGE_POOL_TYPES)[number];

/** Source parts a pool type uses (libvirt's per-type pool options). */
type SourcePart = 'host' | 'device' | 'dir' | 'adapter' | 'name' | 'initiator' | 'network';

interface PoolTypeInfo {
  parts: readonly SourcePart[];
  /** Source formats the type knows, the first being its default. */
  formats?: readonly string[];
  /** Default format when it is not the first of `formats`. */
  defaultFormat?: string;
}

const FS_FORMATS = [
  'auto',
  'ext2',
  'ext3',
  'ext4',
  'ufs',
  'iso9660',
  'udf',
  'gfs',
  'gfs2',
  'vfat',
  'hfs+',
  'xfs',
  'ocfs2',
  'vmfs',
] as const;
const NETFS_FORMATS = ['auto', 'nfs', 'glusterfs', 'cifs'] as const;
const DISK_FORMATS = ['unknown', 'dos', 'dvh', 'gpt', 'mac', 'bsd', 'pc98', 'sun', 'lvm2'] as const;
const LOGICAL_FORMATS = ['unknown', 'lvm2'] as const;

/**
 * Per pool type, which source parts it uses and its source formats, as libvirt's per-type pool
 * options.
 */
export const POOL_TYPE_INFO: Readonly<Record<StoragePoolType, PoolTypeInfo>> = {
  dir: { parts: [] },
  fs: { parts: ['device'], formats: FS_FORMATS },
  netfs: { parts: ['host', 'dir'], formats: NETFS_FORMATS },
  logical: { parts: ['name', 'device'], formats: LOGICAL_FORMATS, defaultFormat: 'lvm2' },
  disk: { parts: ['device'], formats: DISK_FORMATS },
  iscsi: { parts: ['host', 'device', 'initiator'] },
  'iscsi-direct': { parts: ['host', 'device', 'network', 'initiator'] },
  scsi: { parts: ['adapter'] },
  mpath: { parts: [] },
  rbd: { parts: ['host', 'network', 'name'] },
  sheepdog: { parts: ['host', 'network', 'name'] },
  gluster: { parts: ['host', 'network', 'name', 'dir'] },
  zfs: { parts: ['name', 'device'] },
  vstorage: { parts: ['name'] },
};

/** Pools that are not local block devices or files have no `<target>`. */
const NO_TARGET: ReadonlySet<StoragePoolType> = new Set(['rbd', 'sheepdog', 'gluster', 'iscsi-direct']);

const deviceMapper = elementMapper('device', {
  path: req(attr('path', str)),
  partSeparator: attr('part_separator', yesNo),
  // Free extents are what a refresh found, not configuration: libvirt never reads them.
  freeExtents: ignored('freeExtent'),
});
export type StoragePoolSourceDevice = Infer<typeof deviceMapper.spec>;

const initiatorMapper = elementMapper('initiator', { iqn: req(childAttr('iqn', 'name', str)) });

const sourceMapper = elementMapper('source', {
  hosts: children(hostMapper),
  devices: children(deviceMapper),
  dir: childAttr('dir', 'path', str),
  adapter: child(adapterMapper),
  name: childText('name', str),
  initiator: child(initiatorMapper),
  format: childAttr('format', 'type', str),
  auth: child(authMapper),
  protocolVer: childAttr('protocol', 'ver', str),
  vendor: childAttr('vendor', 'name', str),
  product: childAttr('product', 'name', str),
});
export type StoragePoolSource = Infer<typeof sourceMapper.spec>;

/** libvirt writes a pool's `<source>` with an end tag even when it is empty. */
const sourceField: Field<StoragePoolSource> = {
  ...child(sourceMapper),
  writeChildren(value, out) {
    out.push(keepEndTag(sourceMapper.write(value), 1));
  },
};

const targetMapper = elementMapper('target', {
  path: childText('path', str),
  permissions: child(permissionsMapper),
});
export type StoragePoolTarget = Infer<typeof targetMapper.spec>;

const featuresMapper = elementMapper('features', { cow: childAttr('cow', 'state', yesNo) });

const refreshMapper = elementMapper('refresh', {
  volumeAllocation: childAttr('volume', 'allocation', enumOf(['default', 'capacity'])),
});

/**
 * Sizes a pool reports (`<capacity>`, `<allocation>`, `<available>`): a
 * driver fills them on refresh, so a definition's own values are not read,
 * and they are always written, in bytes.
 */
function reportedSize(name: string): Field<bigint> {
  return {
    attrNames: [],
    childNames: [name],
    ownsText: false,
    read: () => undefined,
    writeChildren(value, out) {
      const el = textElement(name, value.toString());
      el.attrs.push({ name: 'unit', value: 'bytes' });
      out.push(el);
    },
  };
}

export const storagePoolMapper = elementMapper('pool', {
  type: req(attr('type', enumOf(STORAGE_POOL_TYPES))),
  // Declared by the namespaced elements below; written back by toElement.
  /**
   * The `xmlns:fs` and `xmlns:rbd` declarations: read and dropped, written back when their options
   * are there.
   */
  xmlns: ignoredAttrs('xmlns:fs', 'xmlns:rbd'),
  name: childText('name', str),
  uuid: childText('uuid', uuid),
  capacity: reportedSize('capacity'),
  allocation: reportedSize('allocation'),
  available: reportedSize('available'),
  features: child(featuresMapper),
  /** The `<source>` child: where the pool's storage is, by the pool type's rules. */
  source: sourceField,
  target: child(targetMapper),
  refresh: child(refreshMapper),
  /** The `<fs:mount_opts>` child: extra mount options of a filesystem pool. */
  mountOpts: mountOptsField,
  /** The `<rbd:config_opts>` child: Ceph client options of an RBD pool. */
  rbdConfigOpts: rbdConfigField,
});
type StoragePoolData = Infer<typeof storagePoolMapper.spec>;

export interface StoragePoolDef extends StoragePoolData {}

/** A storage pool (`<pool>`): its type, source and target, with libvirt's per-type rules. */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class StoragePoolDef {
  /**
   * Parses pool XML with libvirt's defaults and checks. Throws
   * `XML_ERROR` / `XML_DETAIL` / `CONFIG_UNSUPPORTED` / `NO_SUPPORT` naming
   * the field and line at fault.
   */
  static fromXML(xml: string, options: ParseObjectOptions = {}): StoragePoolDef {
    return StoragePoolDef.fromElement(parseRoot(xml, 'pool'), options);
  }

  /** Reads an element already parsed (by `parseXml` or as part of a larger document). */
  static fromElement(root: XmlElement, options: ParseObjectOptions = {}): StoragePoolDef {
    const el = canonicalPrefix(root);
    let data = storagePoolMapper.read(el, '/pool');
    if (options.preserveUnknown === false) data = withoutUnknown(data);
    const def = assignParsed(new StoragePoolDef(), data);
    normalizePool(def, el);
    return def;
  }

  /** What the type's source uses (see `POOL_TYPE_INFO`). */
  get typeInfo(): PoolTypeInfo {
    return POOL_TYPE_INFO[this.type];
  }

  /** The model as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(): XmlElement {
    const out: StoragePoolData = { ...this };
    out.capacity ??= 0n;
    out.allocation ??= 0n;
    out.available ??= 0n;
    out.source ??= {};
    if (NO_TARGET.has(this.type)) delete out.target;
    setUnknownContent(out, unknownContent(this));
    const el = storagePoolMapper.write(out);
    const ns: Array<[string, string]> = [];
    if (out.mountOpts) ns.push(['xmlns:fs', FS_NS]);
    if (out.rbdConfigOpts) ns.push(['xmlns:rbd', RBD_NS]);
    el.attrs.splice(1, 0, ...ns.map(([name, value]) => ({ name, value })));
    return el;
  }

  /** Formats the definition as libvirt does. */
  toXML(): string {
    return serializeXml(this.toElement());
  }
}

function childEl(root: XmlElement, ...path: string[]): XmlElement | undefined {
  let cur: XmlElement | undefined = root;
  for (const name of path) {
    cur = cur?.children.find((c: XmlNode): c is XmlElement => c.type === 'element' && c.name === name);
  }
  return cur;
}

function normalizePool(def: StoragePoolDef, el: XmlElement): void {
  const info = POOL_TYPE_INFO[def.type];
  const parts = new Set(info.parts);
  const src: StoragePoolSource = def.source ?? {};
  def.source = src;
  const srcEl = childEl(el, 'source');

  if ((def.type === 'rbd' || def.type === 'sheepdog') && src.name === undefined && def.type === 'rbd')
    throw objectError('XML_ERROR', '/pool/source/name', "element 'name' is mandatory for RBD pool", srcEl);

  if (info.formats) {
    const fmt = src.format ?? info.defaultFormat ?? info.formats[0]!;
    if (!info.formats.includes(fmt))
      throw objectError(
        'CONFIG_UNSUPPORTED',
        '/pool/source/format/@type',
        `unknown pool format type ${fmt}`,
        srcEl,
      );
    src.format = fmt;
  } else delete src.format;

  if (src.dir !== undefined) src.dir = sanitizePath(src.dir);
  if (src.dir === undefined && def.type === 'gluster') src.dir = '/';

  if (src.adapter) src.adapter = normalizeAdapter(src.adapter, '/pool/source/adapter');

  if (src.auth && src.auth.type === undefined)
    throw objectError(
      'CONFIG_UNSUPPORTED',
      '/pool/source/auth/@type',
      'storage pool missing auth type',
      srcEl,
    );

  if (src.protocolVer !== undefined) {
    // libvirt compares the format's number with NFS's and "auto"'s: the first two of any list pass.
    const index = info.formats && src.format !== undefined ? info.formats.indexOf(src.format) : 0;
    if (index > 1)
      throw objectError(
        'CONFIG_UNSUPPORTED',
        '/pool/source/protocol/@ver',
        `storage pool protocol ver unsupported for pool format '${src.format}'`,
        srcEl,
      );
    if (src.protocolVer.includes(','))
      throw objectError(
        'XML_DETAIL',
        '/pool/source/protocol/@ver',
        `'${src.protocolVer}' must not contain ','`,
        srcEl,
      );
  }

  if (def.name === undefined && parts.has('name')) {
    if (src.name !== undefined) def.name = src.name;
  }
  if (def.name === undefined)
    throw objectError('XML_ERROR', '/pool/name', 'missing pool source name element', el);
  if (def.name.includes('/'))
    throw objectError('XML_ERROR', '/pool/name', `name ${def.name} cannot contain '/'`, childEl(el, 'name'));
  def.uuid ??= newUuid();

  if (def.features?.cow !== undefined && def.type !== 'fs' && def.type !== 'dir')
    throw objectError(
      'NO_SUPPORT',
      '/pool/features/cow',
      "cow feature may only be used for 'fs' and 'dir' pools",
      el,
    );

  if (parts.has('host') && !src.hosts)
    throw objectError('XML_ERROR', '/pool/source/host', 'missing storage pool source host name', srcEl ?? el);
  if (parts.has('dir') && src.dir === undefined)
    throw objectError('XML_ERROR', '/pool/source/dir', 'missing storage pool source path', srcEl ?? el);
  if (parts.has('name') && src.name === undefined) src.name = def.name;
  if (parts.has('adapter') && !src.adapter)
    throw objectError(
      'XML_ERROR',
      '/pool/source/adapter',
      'missing storage pool source adapter',
      srcEl ?? el,
    );
  if (info.parts.length === 1 && parts.has('device') && !src.devices)
    throw objectError(
      'XML_ERROR',
      '/pool/source/device',
      'missing storage pool source device name',
      srcEl ?? el,
    );

  if (parts.has('network')) delete def.target;
  else {
    const target: StoragePoolTarget = def.target ?? {};
    if (def.type === 'logical') target.path = `/dev/${src.name}`;
    else if (def.type === 'zfs') target.path = `/dev/zvol/${src.name}`;
    else if (target.path === undefined)
      throw objectError(
        'XML_ERROR',
        '/pool/target/path',
        'missing storage pool target path',
        childEl(el, 'target') ?? el,
      );
    target.path = sanitizePath(target.path);
    const perms = normalizePerms(target.permissions);
    if (perms) target.permissions = perms;
    else delete target.permissions;
    def.target = target;
  }

  if (def.type === 'iscsi-direct' && src.initiator === undefined)
    throw objectError('CONFIG_UNSUPPORTED', '/pool/source/initiator', 'missing initiator IQN', srcEl ?? el);

  // What the type does not use is never read by libvirt, so it is not kept.
  if (!parts.has('host')) delete src.hosts;
  if (!parts.has('device')) delete src.devices;
  if (!parts.has('dir')) delete src.dir;
  if (!parts.has('adapter')) delete src.adapter;
  if (!parts.has('name')) delete src.name;
  if (!parts.has('initiator')) delete src.initiator;
  // Mount options belong to (net)fs pools, configuration options to RBD pools.
  if (def.type !== 'fs' && def.type !== 'netfs') delete def.mountOpts;
  if (def.type !== 'rbd') delete def.rbdConfigOpts;
}

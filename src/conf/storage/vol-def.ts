/**
 * `<volume>`: a storage volume (`virStorageVolGetXMLDesc`), always read
 * in the context of its pool: the pool type decides which formats the
 * volume may have and its default.
 *
 * Sizes are read with their unit (bytes by default) and written in bytes;
 * what a refresh computes (extents, timestamps, physical size) is not read.
 *
 * @module
 */
import { serializeXml } from '../../xml/serialize.js';
import type { XmlElement } from '../../xml/tree.js';
import {
  assignParsed,
  attr,
  child,
  childAttr,
  childText,
  elementMapper,
  enumOf,
  type Field,
  flag,
  type Infer,
  str,
  uint64,
} from '../binding.js';
import {
  ignored,
  objectError,
  type ParseObjectOptions,
  parseRoot,
  textElement,
  withoutUnknown,
} from '../object-xml.js';
import { toBytes } from '../units.js';
import { normalizePerms, permissionsMapper } from './common.js';
import { encryptionMapper, normalizeEncryption } from './encryption.js';
import type { StoragePoolDef, StoragePoolType } from './pool-def.js';

/** The `type` values of `<volume>`. */
export const STORAGE_VOL_TYPES = ['file', 'block', 'dir', 'network', 'netdir', 'ploop'] as const;
/** One of `STORAGE_VOL_TYPES`. */
export type StorageVolType = (typeof STORAGE_VOL_TYPES)[number];

/** Image formats of file-backed volumes (`none` is not a volume format). */
export const FILE_VOL_FORMATS = [
  'raw',
  'dir',
  'bochs',
  'cloop',
  'dmg',
  'iso',
  'vpc',
  'vdi',
  'fat',
  'vhd',
  'ploop',
  'cow',
  'qcow',
  'qcow2',
  'qed',
  'vmdk',
] as const;
/** Partition types of volumes in a disk pool. */
export const DISK_VOL_FORMATS = [
  'none',
  'linux',
  'fat16',
  'fat32',
  'linux-swap',
  'linux-lvm',
  'linux-raid',
  'extended',
] as const;
/** The qcow2 `<features>` a volume target may have. */
export const VOL_FEATURES = ['lazy_refcounts', 'extended_l2', 'data_file'] as const;

/** Volume formats a pool type knows, default first; none for pools of raw block devices. */
export function volFormatsFor(pool: StoragePoolType): readonly string[] | undefined {
  switch (pool) {
    case 'dir':
    case 'fs':
    case 'netfs':
    case 'gluster':
    case 'vstorage':
    case 'rbd':
      return FILE_VOL_FORMATS;
    case 'disk':
      return DISK_VOL_FORMATS;
    default:
      return undefined;
  }
}

/** The largest file size there is (`off_t` is signed): libvirt refuses a capacity or allocation above it. */
const MAX_FILE_SIZE = (1n << 63n) - 1n;

/**
 * A size with a `unit` attribute (bytes by default), normalised to bytes and
 * written so; `limit` is the largest value allowed (`OVERFLOW` above it).
 */
function scaledBytes(name: string, limit?: bigint): Field<bigint> {
  return {
    attrNames: [],
    childNames: [name],
    ownsText: false,
    read(el, ctx) {
      const c = el.children.find((k): k is XmlElement => k.type === 'element' && k.name === name);
      if (!c) return undefined;
      const path = `${ctx.path}/${name}`;
      let raw = '';
      for (const k of c.children) if (k.type === 'text' || k.type === 'cdata') raw += k.value;
      let value: bigint;
      try {
        value = uint64.parse(raw);
      } catch {
        throw objectError('XML_ERROR', path, `malformed size '${raw.trim()}'`, c);
      }
      const unit = c.attrs.find((a) => a.name === 'unit')?.value ?? 'B';
      let bytes: bigint;
      try {
        bytes = toBytes(value, unit);
      } catch (err) {
        throw objectError('XML_ERROR', path, (err as Error).message, c);
      }
      if (limit !== undefined && bytes > limit)
        throw objectError(
          'OVERFLOW',
          path,
          `value too large: ${raw.trim()}${unit === 'B' ? '' : ` ${unit}`}`,
          c,
        );
      return bytes;
    },
    writeChildren(value, out) {
      const el = textElement(name, value.toString());
      el.attrs.push({ name: 'unit', value: name === 'clusterSize' ? 'B' : 'bytes' });
      out.push(el);
    },
  };
}

/** `<features>` of a qcow2 target: empty elements named after each feature; `<features/>` when none. */
const volFeaturesField: Field<string[]> = {
  attrNames: [],
  childNames: ['features'],
  ownsText: false,
  read(el, ctx) {
    const f = el.children.find((k): k is XmlElement => k.type === 'element' && k.name === 'features');
    if (!f) return undefined;
    const names: string[] = [];
    for (const k of f.children) {
      if (k.type !== 'element') continue;
      if (!(VOL_FEATURES as readonly string[]).includes(k.name))
        throw objectError(
          'CONFIG_UNSUPPORTED',
          `${ctx.path}/features/${k.name}`,
          `unsupported feature ${k.name}`,
          k,
        );
      if (!names.includes(k.name)) names.push(k.name);
    }
    return VOL_FEATURES.filter((n) => names.includes(n));
  },
  writeChildren(value, out) {
    out.push({
      type: 'element',
      name: 'features',
      attrs: [],
      children: value.map((n) => ({ type: 'element', name: n, attrs: [], children: [] })),
    });
  },
};

const backingStoreMapper = elementMapper('backingStore', {
  path: childText('path', str),
  format: childAttr('format', 'type', str),
  permissions: child(permissionsMapper),
});
export type StorageVolBackingStore = Infer<typeof backingStoreMapper.spec>;

/** `<nocow/>` is read (it asks for no copy-on-write at creation) but libvirt never writes it back. */
const { writeChildren: _neverWritten, ...nocowField } = flag('nocow');

const targetMapper = elementMapper('target', {
  path: childText('path', str),
  format: childAttr('format', 'type', str),
  permissions: child(permissionsMapper),
  /** The `<timestamps>` child: reported by the pool, read and dropped. */
  timestamps: ignored('timestamps'),
  encryption: child(encryptionMapper),
  compat: childText('compat', str),
  /** Whether the target has an empty `<nocow/>` child (no copy-on-write on btrfs). */
  nocow: nocowField,
  clusterSize: scaledBytes('clusterSize'),
  /** The `<features>` child: the qcow2 features of the image. */
  features: volFeaturesField,
});
export type StorageVolTarget = Infer<typeof targetMapper.spec>;

export const storageVolMapper = elementMapper('volume', {
  type: attr('type', enumOf(STORAGE_VOL_TYPES)),
  name: childText('name', str),
  key: childText('key', str),
  // A volume's source lists the extents a refresh found: not configuration.
  /** The `<source>` child: reported by the pool, read and dropped. */
  source: ignored('source'),
  capacity: scaledBytes('capacity', MAX_FILE_SIZE),
  allocation: scaledBytes('allocation', MAX_FILE_SIZE),
  /** The `<physical>` child: reported by the pool, read and dropped. */
  physical: ignored('physical'),
  target: child(targetMapper),
  backingStore: child(backingStoreMapper),
});
type StorageVolData = Infer<typeof storageVolMapper.spec>;

export interface ParseVolOptions extends ParseObjectOptions {
  /** The pool the volume belongs to (or its type). Default: a `dir` pool. */
  pool?: StoragePoolDef | StoragePoolType;
  /** Capacity may be left out when the volume has a backing store (it comes from there). */
  optionalCapacity?: boolean;
  /** Capacity may be left out in any case. */
  noCapacity?: boolean;
}

export interface StorageVolDef extends StorageVolData {}

/**
 * A storage volume (`<volume>`), read for the pool it belongs to (its type decides the volume's defaults).
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class StorageVolDef {
  /** The pool type the volume was read for. */
  declare poolType: StoragePoolType;

  /**
   * Parses volume XML for a pool. Throws `XML_ERROR` for a missing name
   * or capacity, a name with `/`, a bad size, mode or compat level, and
   * `CONFIG_UNSUPPORTED` for a type, format or feature libvirt does not
   * know, naming the field and line.
   */
  static fromXML(xml: string, options: ParseVolOptions = {}): StorageVolDef {
    return StorageVolDef.fromElement(parseRoot(xml, 'volume'), options);
  }

  /** Reads an element already parsed (by `parseXml` or as part of a larger document). */
  static fromElement(el: XmlElement, options: ParseVolOptions = {}): StorageVolDef {
    const poolType = typeof options.pool === 'string' ? options.pool : (options.pool?.type ?? 'dir');
    const typeAttr = el.attrs.find((a) => a.name === 'type')?.value;
    if (typeAttr !== undefined && !(STORAGE_VOL_TYPES as readonly string[]).includes(typeAttr))
      throw objectError('CONFIG_UNSUPPORTED', '/volume/@type', `unknown volume type '${typeAttr}'`, el);
    let data = storageVolMapper.read(el, '/volume');
    if (options.preserveUnknown === false) data = withoutUnknown(data);
    const def = assignParsed(new StorageVolDef(), data);
    Object.defineProperty(def, 'poolType', { value: poolType, enumerable: false, writable: true });
    normalizeVol(def, el, options);
    return def;
  }

  /** The model as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(): XmlElement {
    return storageVolMapper.write(this);
  }

  /** Formats the volume as libvirt does. */
  toXML(): string {
    return serializeXml(this.toElement());
  }
}

function childEl(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c): c is XmlElement => c.type === 'element' && c.name === name);
}

function checkFormat(
  formats: readonly string[] | undefined,
  value: string | undefined,
  field: string,
  at?: XmlElement,
) {
  if (!formats) return undefined;
  const fmt = value ?? formats[0]!;
  if (!formats.includes(fmt))
    throw objectError('CONFIG_UNSUPPORTED', field, `unknown volume format type ${fmt}`, at);
  return fmt;
}

function normalizeVol(def: StorageVolDef, el: XmlElement, options: ParseVolOptions): void {
  const formats = volFormatsFor(def.poolType);
  def.type ??= 'file';
  if (def.name === undefined)
    throw objectError('XML_ERROR', '/volume/name', 'missing volume name element', el);
  // libvirt refuses such names when the volume is created; a name is a file name in most pools.
  if (def.name.includes('/'))
    throw objectError(
      'XML_ERROR',
      '/volume/name',
      `volume name '${def.name}' cannot contain '/'`,
      childEl(el, 'name'),
    );

  const backing = def.backingStore;
  if (backing?.path === undefined) delete def.backingStore;
  else {
    const f = checkFormat(
      formats,
      backing.format,
      '/volume/backingStore/format/@type',
      childEl(el, 'backingStore'),
    );
    if (f === undefined) delete backing.format;
    else backing.format = f;
    const perms = normalizePerms(backing.permissions);
    if (perms) backing.permissions = perms;
    else delete backing.permissions;
  }

  if (def.capacity === undefined) {
    const optional = options.noCapacity || (options.optionalCapacity && def.backingStore !== undefined);
    if (!optional) throw objectError('XML_ERROR', '/volume/capacity', 'missing capacity element', el);
    def.capacity = 0n;
  }
  def.allocation ??= def.capacity;

  const target: StorageVolTarget = def.target ?? {};
  def.target = target;
  const targetEl = childEl(el, 'target');
  const f = checkFormat(formats, target.format, '/volume/target/format/@type', targetEl);
  if (f === undefined) delete target.format;
  else target.format = f;
  const perms = normalizePerms(target.permissions);
  if (perms) target.permissions = perms;
  else delete target.permissions;
  if (target.encryption)
    target.encryption = normalizeEncryption(target.encryption, '/volume/target/encryption');
  if (target.compat !== undefined && !/^\d+\.\d+$/.test(target.compat))
    throw objectError(
      'XML_ERROR',
      '/volume/target/compat',
      "forbidden characters in 'compat' attribute",
      targetEl,
    );
  if (target.clusterSize === 0n) delete target.clusterSize;
  // Asking for qcow2 features implies the qcow2 level that has them.
  if (target.features && target.compat === undefined) target.compat = '1.1';
}

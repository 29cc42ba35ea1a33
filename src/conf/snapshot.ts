/**
 * `<domainsnapshot>`: a domain snapshot's definition (what
 * `virDomainSnapshotCreateXML` takes and `virDomainSnapshotGetXMLDesc`
 * returns), with the facts of libvirt's documented format: name,
 * description, the state and creation time the driver records, the parent
 * in the snapshot tree, where memory goes (`<memory snapshot=…>`), what
 * happens to each disk (`<disks>`), the domain definition of that moment
 * (`<domain>`, and for a running guest with a different next-boot
 * definition `<inactiveDomain>`), the driver's `<cookie>` and, in the
 * driver's own metadata files, whether it is the current one (`<active>`).
 *
 * The embedded definitions are kept as XML trees, read with
 * {@link DomainSnapshotDef.domainDef}: a snapshot's definition is what the
 * domain was, which the domain parser's define-time checks need not accept
 * again, and the round trip stays lossless either way.
 *
 * @module
 */
import { VirError } from '../errors.js';
import { serializeXml } from '../xml/serialize.js';
import { cloneNode, type XmlElement } from '../xml/tree.js';
import {
  assignParsed,
  attr,
  child,
  children,
  childText,
  elementMapper,
  enumOf,
  type Infer,
  int,
  rawChild,
  req,
  str,
  trimmed,
} from './binding.js';
import { DomainDef, type ParseDomainOptions } from './domain/domain-def.js';
import { leaveOutSecrets } from './domain/leave-out.js';
import { objectError, type ParseObjectOptions, parseRoot, withoutUnknown } from './object-xml.js';

/** The `<state>` values of a snapshot: the domain's state when it was taken, or `disk-snapshot`. */
export const SNAPSHOT_STATES = [
  'nostate',
  'running',
  'blocked',
  'paused',
  'shutdown',
  'shutoff',
  'crashed',
  'pmsuspended',
  'disk-snapshot',
] as const;
/** One of `SNAPSHOT_STATES`. */
export type SnapshotState = (typeof SNAPSHOT_STATES)[number];

/** Where a disk's snapshot goes (`<disk snapshot=…>` of a snapshot). */
export const SNAPSHOT_DISK_LOCATIONS = ['no', 'internal', 'external', 'manual'] as const;
/** One of `SNAPSHOT_DISK_LOCATIONS`. */
export type SnapshotDiskLocation = (typeof SNAPSHOT_DISK_LOCATIONS)[number];

/** Where the memory state goes (`<memory snapshot=…>`); libvirt refuses `manual` for memory. */
export const SNAPSHOT_MEMORY_LOCATIONS = ['no', 'internal', 'external'] as const;
/** One of `SNAPSHOT_MEMORY_LOCATIONS`. */
export type SnapshotMemoryLocation = (typeof SNAPSHOT_MEMORY_LOCATIONS)[number];

/** The storage types an external snapshot's new image may have. */
export const SNAPSHOT_DISK_TYPES = [
  'file',
  'block',
  'network',
  'dir',
  'volume',
  'nvme',
  'vhostuser',
] as const;
/** One of `SNAPSHOT_DISK_TYPES`. */
export type SnapshotDiskType = (typeof SNAPSHOT_DISK_TYPES)[number];

/**
 * The longest snapshot name accepted: drivers keep one metadata file per
 * snapshot named after it, and a file name has at most 255 bytes (the
 * `.xml` suffix included).
 */
export const SNAPSHOT_NAME_MAX_BYTES = 251;

const snapshotParentMapper = elementMapper('parent', {
  name: childText('name', trimmed),
});

const snapshotMemoryMapper = elementMapper('memory', {
  snapshot: attr('snapshot', enumOf(SNAPSHOT_MEMORY_LOCATIONS)),
  file: attr('file', str),
});
/** `<memory snapshot=… file=…>` of a snapshot. */
export type SnapshotMemory = Infer<typeof snapshotMemoryMapper.spec>;

const snapshotDiskDriverMapper = elementMapper('driver', {
  type: attr('type', trimmed),
});

const snapshotDiskSourceMapper = elementMapper('source', {
  file: attr('file', str),
  dev: attr('dev', str),
  dir: attr('dir', str),
  protocol: attr('protocol', trimmed),
  name: attr('name', str),
});

const snapshotDiskMapper = elementMapper('disk', {
  name: req(attr('name', str)),
  snapshot: attr('snapshot', enumOf(SNAPSHOT_DISK_LOCATIONS)),
  type: attr('type', enumOf(SNAPSHOT_DISK_TYPES)),
  driver: child(snapshotDiskDriverMapper),
  source: child(snapshotDiskSourceMapper),
});
/** One `<disk>` of a snapshot's `<disks>`: the disk (by target or source), where its snapshot goes, the new image. */
export type SnapshotDisk = Infer<typeof snapshotDiskMapper.spec>;

const snapshotDisksMapper = elementMapper('disks', {
  disk: children(snapshotDiskMapper),
});

// the overlays a revert to an external snapshot with children put the disks on
const snapshotRevertDisksMapper = elementMapper('revertDisks', {
  disk: children(snapshotDiskMapper),
});

export const domainSnapshotMapper = elementMapper('domainsnapshot', {
  name: childText('name', trimmed),
  description: childText('description', str),
  state: childText('state', enumOf(SNAPSHOT_STATES)),
  parent: child(snapshotParentMapper),
  creationTime: childText('creationTime', int()),
  memory: child(snapshotMemoryMapper),
  disks: child(snapshotDisksMapper),
  revertDisks: child(snapshotRevertDisksMapper),
  domain: rawChild('domain'),
  inactiveDomain: rawChild('inactiveDomain'),
  cookie: rawChild('cookie'),
  active: childText('active', int({ min: 0, max: 1 })),
});
type DomainSnapshotData = Infer<typeof domainSnapshotMapper.spec>;

export interface DomainSnapshotDef extends DomainSnapshotData {}

/**
 * A domain snapshot's definition (`<domainsnapshot>`). `fromXML` checks
 * what libvirt checks at parse time (the name, the memory location against
 * its file, disk names unique); what depends on the domain (which disks
 * exist, their formats) is the driver's.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class DomainSnapshotDef {
  /** Parses `<domainsnapshot>` XML; bad values are `XML_DETAIL`, broken rules `XML_ERROR`, naming the field. */
  static fromXML(xml: string, options: ParseObjectOptions = {}): DomainSnapshotDef {
    return DomainSnapshotDef.fromElement(parseRoot(xml, 'domainsnapshot'), options);
  }

  /** Reads an element already parsed. */
  static fromElement(el: XmlElement, options: ParseObjectOptions = {}): DomainSnapshotDef {
    let data = domainSnapshotMapper.read(el, '/domainsnapshot');
    if (options.preserveUnknown === false) data = withoutUnknown(data);
    const def = assignParsed(new DomainSnapshotDef(), data);
    checkSnapshot(def, el);
    return def;
  }

  /** The parent snapshot's name, if any. */
  get parentName(): string | undefined {
    return this.parent?.name;
  }

  /** The embedded `<domain>` as a model (`undefined` when absent or only a `<uuid>`, as in old snapshots). */
  domainDef(options: ParseDomainOptions = {}): DomainDef | undefined {
    return embedded(this.domain, 'domain', options);
  }

  /** The embedded `<inactiveDomain>` (the next-boot definition of a running guest) as a model. */
  inactiveDomainDef(options: ParseDomainOptions = {}): DomainDef | undefined {
    return embedded(this.inactiveDomain, 'inactiveDomain', options);
  }

  /**
   * The model as an XML tree, for embedding. `hideSecrets`: the embedded
   * domains without their secrets, as libvirt formats a snapshot without
   * `VIR_DOMAIN_SNAPSHOT_XML_SECURE` (see `FormatDomainOptions.hideSecrets`).
   */
  toElement(options: { hideSecrets?: boolean } = {}): XmlElement {
    const el = domainSnapshotMapper.write(this);
    if (!options.hideSecrets) return el;
    const out = cloneNode(el);
    for (const c of out.children)
      if (c.type === 'element' && (c.name === 'domain' || c.name === 'inactiveDomain')) leaveOutSecrets(c);
    return out;
  }

  /** Formats the definition in libvirt's element order (`hideSecrets`: see {@link toElement}). */
  toXML(options: { hideSecrets?: boolean } = {}): string {
    return serializeXml(this.toElement(options));
  }
}

/** The UTF-8 length of `s`, without an encoder (this module runs in browsers too). */
function utf8Bytes(s: string): number {
  let n = 0;
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    n += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
  }
  return n;
}

/**
 * Why a driver that keeps one metadata file per snapshot, named after it,
 * cannot take `name`, or undefined. libvirt's QEMU driver refuses a `/` and
 * a leading `.`; we also refuse what no file name can hold (NUL, over 251
 * bytes) before anything is written. The model itself accepts any name,
 * as libvirt's parser and its test driver do.
 */
export function snapshotNameProblem(name: string): string | undefined {
  if (name === '') return 'a snapshot name cannot be empty';
  if (name.includes('/')) return `invalid snapshot name '${clip(name)}': name can't contain '/'`;
  if (name.startsWith('.')) return `invalid snapshot name '${clip(name)}': name can't start with '.'`;
  if (name.includes('\0')) return 'a snapshot name cannot contain NUL';
  if (utf8Bytes(name) > SNAPSHOT_NAME_MAX_BYTES)
    return `snapshot name of ${utf8Bytes(name)} bytes is longer than ${SNAPSHOT_NAME_MAX_BYTES}`;
  return undefined;
}

function clip(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}…` : s;
}

function checkSnapshot(def: DomainSnapshotDef, el: XmlElement): void {
  const at = (name: string): XmlElement =>
    el.children.find((c): c is XmlElement => c.type === 'element' && c.name === name) ?? el;
  const mem = def.memory;
  if (mem) {
    // a file alone says external (libvirt's default rule)
    if (mem.snapshot === undefined && mem.file !== undefined) mem.snapshot = 'external';
    if (mem.file !== undefined && mem.snapshot !== 'external')
      throw objectError(
        'XML_ERROR',
        '/domainsnapshot/memory/@file',
        `memory filename '${clip(mem.file)}' requires external snapshot`,
        at('memory'),
      );
    if (mem.file === undefined && mem.snapshot === 'external')
      throw objectError(
        'XML_ERROR',
        '/domainsnapshot/memory/@file',
        'external memory snapshots require a filename',
        at('memory'),
      );
    if (mem.file !== undefined && !mem.file.startsWith('/'))
      throw objectError(
        'XML_ERROR',
        '/domainsnapshot/memory/@file',
        `memory snapshot file path (${clip(mem.file)}) must be absolute`,
        at('memory'),
      );
  }
  const seen = new Set<string>();
  for (const [i, d] of (def.disks?.disk ?? []).entries()) {
    const field = `/domainsnapshot/disks/disk[${i + 1}]`;
    if (seen.has(d.name))
      throw objectError('XML_ERROR', `${field}/@name`, `disk '${clip(d.name)}' specified twice`, at('disks'));
    seen.add(d.name);
    const hasSource = d.source !== undefined || d.driver !== undefined;
    if (hasSource && d.snapshot !== undefined && d.snapshot !== 'external')
      throw objectError(
        'XML_ERROR',
        `${field}/source`,
        `file '${clip(d.source?.file ?? d.name)}' for disk '${clip(d.name)}' requires use of external snapshot mode`,
        at('disks'),
      );
    // a new image named without a mode is an external snapshot (libvirt's default)
    if (hasSource && d.snapshot === undefined) d.snapshot = 'external';
  }
}

function embedded(
  el: XmlElement | undefined,
  name: 'domain' | 'inactiveDomain',
  options: ParseDomainOptions,
): DomainDef | undefined {
  if (!el) return undefined;
  const hasType = el.attrs.some((a) => a.name === 'type');
  if (!hasType) return undefined;
  try {
    return DomainDef.fromElement({ ...el, name: 'domain' }, options);
  } catch (err) {
    if (err instanceof VirError && err.field !== undefined && !err.field.startsWith('/domainsnapshot'))
      throw new VirError(err.code, 'conf', `/domainsnapshot/${name}: ${err.message}`, {
        field: `/domainsnapshot/${name}${err.field.replace(/^\/domain/, '')}`,
        cause: err,
      });
    throw err;
  }
}

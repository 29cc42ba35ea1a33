/**
 * Parse-time rules of `<disk>` that libvirt applies to every driver: the
 * default source type, no snapshots of a vhost-user disk, a closed tray not written, an iSCSI target without a
 * LUN meaning LUN 0, and each protocol's default port on TCP hosts.
 *
 * @module
 */
import type { XmlElement, XmlNode } from '../../../xml/tree.js';
import { unknownContent } from '../../binding.js';
import type { DiskDef } from './disk.js';

/** libvirt's default TCP port of each network disk protocol; absent: none (rbd, nfs). */
const DEFAULT_PORTS: Record<string, string> = {
  http: '80',
  https: '443',
  ftp: '21',
  ftps: '990',
  tftp: '69',
  sheepdog: '7000',
  nbd: '10809',
  ssh: '22',
  iscsi: '3260',
  gluster: '24007',
  vxhs: '9999',
};

/**
 * The disks in libvirt's order: each disk, in document order, goes before the
 * first later-named disk on its bus, else right after the last disk on its
 * bus, else at the end.
 */
export function orderDisks(disks: DiskDef[], nameIndex: (dev: string) => number | undefined): DiskDef[] {
  // A duplicated target is refused by the checks, which name it by its place in the document.
  if (new Set(disks.map((d) => d.target.dev)).size !== disks.length) return disks;
  const out: DiskDef[] = [];
  const index = new Map(disks.map((d) => [d, nameIndex(d.target.dev) ?? -1]));
  const idx = (d: DiskDef) => index.get(d) ?? -1;
  // the highest index placed so far on each bus, so the in-order case costs one lookup, not a scan
  const highest = new Map<DiskDef['target']['bus'], number>();
  for (const disk of disks) {
    let at = -1;
    const mine = idx(disk);
    const top = highest.get(disk.target.bus);
    highest.set(disk.target.bus, Math.max(top ?? mine, mine));
    // Documents are nearly always in order already: the common case is one look at the end.
    const last = out[out.length - 1];
    if (last === undefined || (last.target.bus === disk.target.bus && (top ?? -1) <= mine)) {
      out.push(disk);
      continue;
    }
    for (let i = out.length - 1; i >= 0; i--) {
      const o = out[i] as DiskDef;
      if (o.target.bus !== disk.target.bus) continue;
      if (idx(o) > mine) at = i;
      else if (at === -1) at = i + 1;
    }
    if (at === -1) out.push(disk);
    else out.splice(at, 0, disk);
  }
  return out;
}

/** libvirt's bus for a disk that names none: from the device, else the target name's prefix. */
function defaultBus(d: DiskDef): NonNullable<DiskDef['target']['bus']> {
  if (d.device === 'floppy') return 'fdc';
  const dev = d.target.dev;
  if (dev.startsWith('sd')) return 'scsi';
  if (dev.startsWith('vd')) return 'virtio';
  if (dev.startsWith('xvd')) return 'xen';
  if (dev.startsWith('ubd')) return 'uml';
  return 'ide';
}

/** libvirt's order of a `<backingStore>`'s children: the format, the source, the next layer. */
const BACKING_ORDER = ['format', 'source', 'backingStore'];

/**
 * A `<backingStore>` as libvirt writes it back: its children in libvirt's
 * order (others after them), and no white space of the input kept, so an
 * empty `<source ...>\n</source>` is written as `<source .../>`. The
 * element is kept as XML (each layer is read by the QEMU driver from it).
 */
function canonicalBacking(el: XmlElement): XmlElement {
  const strip = (e: XmlElement): XmlElement => ({
    ...e,
    children: e.children
      .filter((c) => !(c.type === 'text' && c.value.trim() === ''))
      .map((c): XmlNode => (c.type === 'element' ? strip(c) : c)),
  });
  const out = strip(el);
  const rank = (c: XmlNode) => {
    const i = c.type === 'element' ? BACKING_ORDER.indexOf(c.name) : -1;
    return i < 0 ? BACKING_ORDER.length : i;
  };
  out.children = out.children
    .map((c, i) => ({ c, i }))
    .sort((a, b) => rank(a.c) - rank(b.c) || a.i - b.i)
    .map(({ c }) => (c.type === 'element' && c.name === 'backingStore' ? canonicalBacking(c) : c));
  return out;
}

/** libvirt's order of the credential children at the end of a `<source>`. */
const SOURCE_TAIL = ['auth', 'encryption', 'reservations'];

/**
 * Puts a source's `<auth>`, `<encryption>` and `<reservations>` (kept as
 * XML the model does not declare) in libvirt's order, each in one of the
 * places they took, so the other children stay where they were.
 */
function orderSourceTail(source: object): void {
  const nodes = unknownContent(source)?.nodes;
  if (!nodes) return;
  const tailRank = (n: XmlNode) => (n.type === 'element' ? SOURCE_TAIL.indexOf(n.name) : -1);
  const slots = nodes.flatMap((n, i) => (tailRank(n.node) >= 0 ? [i] : []));
  const sorted = slots.map((i) => nodes[i]!).sort((a, b) => tailRank(a.node) - tailRank(b.node));
  for (const [k, i] of slots.entries()) nodes[i] = { after: nodes[i]!.after, node: sorted[k]!.node };
}

export function postParseDisk(d: DiskDef): void {
  if (d.backingStore) d.backingStore = canonicalBacking(d.backingStore);
  // Without a <source> there is no storage of any kind: libvirt calls it a file (an empty drive).
  if (d.source === undefined && d.type !== undefined && d.type !== 'file') d.type = 'file';
  if (d.source) orderSourceTail(d.source);
  d.target.bus ??= defaultBus(d);
  // An optical drive is always read-only.
  if (d.device === 'cdrom') d.readonly ??= {};
  d.type ??= 'file';
  // A vhost-user disk lives in another process: libvirt cannot snapshot it, so it says so.
  if (d.type === 'vhostuser') d.snapshot ??= 'no';
  // A closed tray is the default state and libvirt writes only an open one.
  if (d.target.tray === 'closed') delete d.target.tray;
  const s = d.source;
  if (d.type !== 'network' || s === undefined) return;
  if (s.protocol === 'iscsi' && s.name !== undefined && !s.name.includes('/')) s.name = `${s.name}/0`;
  const port = DEFAULT_PORTS[s.protocol ?? ''];
  if (port === undefined) return;
  for (const h of s.hosts ?? [])
    if ((h.transport ?? 'tcp') === 'tcp' && (h.port === undefined || h.port === '0')) h.port = port;
}

/**
 * The `block` stats group as libvirt's QEMU driver fills it: one record
 * per disk, and with `backing` (`VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING`)
 * one more per image below it, each disk's chain top first. Every record
 * has the disk's target as `name`, its image's `path` (local images) and
 * `backingIndex` (the image's `libvirt-N-*` node number, which libvirt's
 * live XML shows as `index`). The frontend's counters (`rd.*`, `wr.*`,
 * `fl.*`) belong to the top record only; each image has its own
 * `allocation` (the highest offset written), `capacity` and `physical`.
 *
 * The figures come from `query-block` (the image chain as
 * `backing-image`) and `query-blockstats` (the node tree, `backing` below
 * each format node), so backing records cost no extra query.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { DomainStatsValue } from '../../../domain-stats.js';
import { childElements, firstChild, getAttr } from '../../../xml/index.js';
import type { XmlElement } from '../../../xml/tree.js';
import { diskAlias } from '../command-line/disk-device.js';
import { imageSizes } from './stats-sources.js';

type Params = Record<string, DomainStatsValue>;

/** An image of `query-block` (and its `backing-image`, recursively). */
interface ImageInfo {
  filename?: string;
  'virtual-size'?: number;
  'actual-size'?: number;
  'backing-image'?: ImageInfo;
}

export interface BlockReply {
  qdev?: string;
  device?: string;
  inserted?: { file?: string; 'node-name'?: string; image?: ImageInfo };
}

/** A node of `query-blockstats`: its counters, and the node of its backing image. */
export interface BlockStatsReply {
  qdev?: string;
  device?: string;
  'node-name'?: string;
  stats?: Record<string, number>;
  backing?: BlockStatsReply;
}

export type Disk = NonNullable<NonNullable<DomainDef['devices']>['disks']>[number];

export function diskPath(d: Disk): string | undefined {
  return d.source?.file ?? d.source?.dev;
}

/** Whether a `query-block(stats)` entry is the frontend of the disk with alias `alias` (an empty drive has no image). */
function isFrontend(qdev: string | undefined, alias: string): boolean {
  return qdev === alias || qdev === `/machine/peripheral/${alias}/virtio-backend`;
}

/**
 * The QEMU block device behind a disk: the `query-block` entry whose image
 * is the disk's source (or, for a drive without media, whose device is the
 * disk's), and its `query-blockstats` entry.
 */
export function blockOf(
  d: Disk,
  blocks: unknown,
  stats: unknown,
  def?: DomainDef,
): { block?: BlockReply; stats?: Record<string, number>; node?: BlockStatsReply } {
  const path = diskPath(d);
  const all = Array.isArray(blocks) ? (blocks as BlockReply[]) : [];
  const alias = def && !path ? diskAlias(def, d) : undefined;
  // a volume disk names its pool and volume, not the file QEMU opened: its device says which it is
  const volume = d.type === 'volume';
  const block = path
    ? all.find((b) => b.inserted?.file === path)
    : alias
      ? all.find((b) => (volume ? b.inserted !== undefined : !b.inserted) && isFrontend(b.qdev, alias))
      : undefined;
  const key = block?.qdev || block?.device;
  const node =
    Array.isArray(stats) && key
      ? (stats as BlockStatsReply[]).find((x) => (x.qdev || x.device) === key)
      : undefined;
  return {
    ...(block ? { block } : {}),
    ...(node?.stats ? { stats: node.stats } : {}),
    ...(node ? { node } : {}),
  };
}

/** `libvirt-N-format` / `libvirt-N-storage`: N; a filter on top (copy-on-read, throttle) or QEMU's own name: none. */
function nodeIndex(name: string | undefined): number | undefined {
  const m = /^libvirt-(\d+)-(?:format|storage)$/.exec(name ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The `<backingStore>` sources of a disk, top first (those the definition names). */
function backingPaths(d: Disk): (string | undefined)[] {
  const out: (string | undefined)[] = [];
  let el: XmlElement | undefined = d.backingStore;
  while (el && firstChild(el, 'source')) {
    const src = firstChild(el, 'source');
    out.push(src ? (getAttr(src, 'file') ?? getAttr(src, 'dev')) : undefined);
    el = childElements(el, 'backingStore')[0];
  }
  return out;
}

const FRONTEND: readonly [string, string][] = [
  ['rd.reqs', 'rd_operations'],
  ['rd.bytes', 'rd_bytes'],
  ['rd.times', 'rd_total_time_ns'],
  ['wr.reqs', 'wr_operations'],
  ['wr.bytes', 'wr_bytes'],
  ['wr.times', 'wr_total_time_ns'],
  ['fl.reqs', 'flush_operations'],
  ['fl.times', 'flush_total_time_ns'],
];

/** Fills `block.*`; with `backing`, a record per backing image too. */
export function blockGroup(
  p: Params,
  def: DomainDef | undefined,
  blocks: unknown,
  stats: unknown,
  backing = false,
): void {
  p['block.count'] = 0; // first, as libvirt lists it; counted below
  let n = 0;
  for (const d of def?.devices?.disks ?? []) {
    const { block, stats: s, node } = blockOf(d, blocks, stats, def);
    // libvirt reports a volume disk by the path its pool resolved it to
    const path = diskPath(d) ?? (d.type === 'volume' ? block?.inserted?.file : undefined);
    // the top image
    let b = `block.${n}.`;
    p[`${b}name`] = d.target.dev;
    if (path) p[`${b}path`] = path;
    const index = nodeIndex(block?.inserted?.['node-name']);
    if (index !== undefined) p[`${b}backingIndex`] = index;
    if (s) for (const [ours, theirs] of FRONTEND) if (typeof s[theirs] === 'number') p[b + ours] = s[theirs];
    // an empty drive has the frontend's counters only: no image to have written to
    if (block?.inserted && typeof s?.wr_highest_offset === 'number')
      p[`${b}allocation`] = s.wr_highest_offset;
    let image = block?.inserted?.image;
    const sizes = path && !image ? imageSizes(path, d.driver?.type) : undefined;
    const capacity = image?.['virtual-size'] ?? sizes?.capacity;
    const physical = image?.['actual-size'] ?? sizes?.physical;
    if (capacity !== undefined) p[`${b}capacity`] = capacity;
    if (physical !== undefined) p[`${b}physical`] = physical;
    n++;
    if (!backing) continue;
    // the images below it, as QEMU has them open
    const named = backingPaths(d);
    let below = node?.backing;
    image = image?.['backing-image'];
    for (let depth = 0; image; depth++, image = image['backing-image']) {
      b = `block.${n}.`;
      p[`${b}name`] = d.target.dev;
      const file = named[depth] ?? image.filename;
      if (file?.startsWith('/')) p[`${b}path`] = file;
      const i = nodeIndex(below?.['node-name']);
      if (i !== undefined) p[`${b}backingIndex`] = i;
      const w = below?.stats?.wr_highest_offset;
      if (typeof w === 'number') p[`${b}allocation`] = w;
      if (image['virtual-size'] !== undefined) p[`${b}capacity`] = image['virtual-size'];
      if (image['actual-size'] !== undefined) p[`${b}physical`] = image['actual-size'];
      below = below?.backing;
      n++;
    }
  }
  p['block.count'] = n;
}

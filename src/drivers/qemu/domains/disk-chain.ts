/**
 * A disk's backing chain found at start, as libvirt's QEMU driver finds it:
 * where the definition does not end a disk's chain (no empty
 * `<backingStore/>` at its bottom), the image headers below its last known
 * layer are read and each backing image becomes a `<backingStore>` of the
 * live definition, down to an image without one (which gets the empty
 * terminator). The command line then opens each layer as its own
 * `-blockdev` nodes, so QEMU's node names, the block statistics'
 * `backingIndex` and the live XML's `index` are the same number.
 *
 * Numbering follows libvirt: the layers the definition names are numbered
 * first (disks last to first, `disks.ts`), then the SCSI host devices'
 * backends; the layers found here come after all of them, again disks last
 * to first and each chain top down. Each carries its number as the
 * `index` of its `<backingStore>`, which the command line reads.
 *
 * libvirt's refusals: a backing image whose format the header does not
 * name (`OPERATION_FAILED`; guessing would let a guest's data choose how
 * the host reads a file), a chain looping back on itself, a chain deeper
 * than 200 layers (`OPERATION_UNSUPPORTED`). A backing file that is not a
 * local path (a protocol URL, a `json:` description) is left to QEMU, as
 * before, without numbers.
 *
 * A `<disk type='volume'>` has its chain read from the volume's file or
 * block device (its pool resolves it, as libvirt translates the disk
 * first); a network disk (`type='network'`, or a volume that is an iSCSI
 * LUN) is not read: libvirt has no header reader for NBD, iSCSI, RBD and
 * the like, so it neither adds layers nor ends the chain there, and QEMU
 * opens what the header names.
 *
 * A hot-plugged disk and a new medium get their chains read the same way
 * (`readDiskChain`, then `placeDiskChain` once the monitor says which
 * numbers are free), numbered as libvirt's hot-plug numbers them: libvirt
 * gives the found layers numbers as it finds them, then numbers the whole
 * chain afresh from the next one, so the found layers' first numbers are
 * skipped, and the top comes after them.
 *
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { element, getAttr, type XmlElement } from '../../../xml/tree.js';
import { attrOf, childEl, diskLayers, hasMedia, layerCount } from '../command-line/disk-layers.js';
import { diskNodeCount, diskNodeCountOf } from '../command-line/disks.js';
import type { ResolvedVolume, VolumeRequest } from '../command-line/index.js';
import { BACKING_FORMATS, headerBacking } from '../storage/image-backing.js';
import type { DiskNodeRange } from './disk-nodes.js';

/** libvirt's limit: its XML parser refuses deeper nesting, and it formats the chain into XML. */
const MAX_DEPTH = 200;

/** The bottom of a disk's chain as the definition has it: its path, format, depth and the element below which to add. */
interface ChainEnd {
  readonly path: string;
  readonly format: string;
  readonly depth: number;
  /** The `<backingStore>` holding the bottom layer; undefined when the bottom is the disk's own source. */
  readonly holder: XmlElement | undefined;
  /** The disk's own image (a volume's resolved path), which a broken chain's error names. */
  readonly top: string;
}

/** What a guest's pools say its volume disks are (`storage/volume-resolver.ts`). */
export type VolumeLookup = (req: VolumeRequest) => ResolvedVolume;

/** The disk's own image: a file's or block device's path, a volume's as its pool resolves it. */
function topPath(d: DiskDef, field: string, volumes: VolumeLookup | undefined): string | undefined {
  const type = d.type ?? 'file';
  if (type === 'file' || type === 'block') return d.source?.file ?? d.source?.dev;
  const s = d.source;
  if (type !== 'volume' || s?.pool === undefined || s.volume === undefined || !volumes) return undefined;
  const r = volumes({
    pool: s.pool,
    volume: s.volume,
    field: `${field}/source`,
    ...(s.mode !== undefined ? { mode: s.mode } : {}),
  });
  // an iSCSI LUN reached directly is a network disk; a directory is QEMU's FAT view of it
  return r.type === 'file' || r.type === 'block' ? r.path : undefined;
}

function endOf(d: DiskDef, field: string, volumes: VolumeLookup | undefined): ChainEnd | undefined {
  const path = topPath(d, field, volumes);
  if (path === undefined || path === '') return undefined;
  let end: ChainEnd = { path, format: d.driver?.type ?? 'raw', depth: 1, holder: undefined, top: path };
  let below = d.backingStore;
  while (below) {
    const src = childEl(below, 'source');
    if (!src) return undefined; // the empty <backingStore/>: the chain is known to end here
    const type = attrOf(below, 'type') ?? 'file';
    const p = attrOf(src, type === 'block' ? 'dev' : 'file');
    // a layer we cannot read the header of (network, ...): the rest stays QEMU's to open
    if ((type !== 'file' && type !== 'block') || p === undefined) return undefined;
    end = {
      path: p,
      format: attrOf(childEl(below, 'format'), 'type') ?? 'raw',
      depth: end.depth + 1,
      holder: below,
      top: path,
    };
    below = childEl(below, 'backingStore');
  }
  return end;
}

/** A found layer: a `<backingStore>` with its index, format and source, then what is below it. */
function layerElement(
  l: { path: string; format: string },
  index: number,
  below: XmlElement | undefined,
): XmlElement {
  const block = statSync(l.path).isBlockDevice();
  return element(
    'backingStore',
    [
      { name: 'type', value: block ? 'block' : 'file' },
      { name: 'index', value: String(index) },
    ],
    [
      element('format', [{ name: 'type', value: l.format }]),
      element('source', [{ name: block ? 'dev' : 'file', value: l.path }]),
      ...(below ? [below] : []),
    ],
  );
}

/** libvirt reports a chain with a missing image as the system error of the access. */
function brokenChain(path: string, top: string): VirError {
  return new VirError(
    'SYSTEM_ERROR',
    'qemu',
    `Cannot access backing file '${path}' of storage file '${top}': No such file or directory`,
  );
}

async function readBacking(path: string, format: string, signal?: AbortSignal) {
  try {
    return await headerBacking(path, format, signal);
  } catch (err) {
    if (err instanceof VirError) throw err;
    throw new VirError(
      'OPERATION_FAILED',
      'qemu',
      `cannot read the header of image '${path}': ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** What the headers below a disk's chain hold: the layers found, and whether the bottom one has no backing file. */
interface Found {
  readonly layers: { path: string; format: string }[];
  readonly ends: boolean;
}

/** Reads the chain below `end` (nothing is written yet: a refusal of any disk leaves every disk as it was). */
async function extend(d: DiskDef, end: ChainEnd, signal?: AbortSignal): Promise<Found | undefined> {
  const top = end.top;
  const found: { path: string; format: string }[] = [];
  const seen = new Set<string>([end.path]);
  let { path, format, depth } = end;
  // a missing top image is QEMU's to report (or the startup policy's, which ran before)
  if (!existsSync(path)) return undefined;
  while (BACKING_FORMATS.has(format)) {
    const b = await readBacking(path, format, signal);
    if (!b) break;
    // not a local file (a protocol, json:): QEMU opens the rest from the header, as it would have
    if (!b.path.startsWith('/')) return { layers: found, ends: false };
    if (b.format === undefined)
      throw new VirError(
        'OPERATION_FAILED',
        'qemu',
        `format of backing image '${b.path}' of image '${path}' was not specified in the image metadata`,
      );
    if (seen.has(b.path))
      throw new VirError(
        'OPERATION_INVALID',
        'qemu',
        `backing store for ${path} (${b.path}) is self-referential`,
      );
    if (++depth > MAX_DEPTH)
      throw new VirError(
        'OPERATION_UNSUPPORTED',
        'qemu',
        `backing chains more than ${MAX_DEPTH} layers deep are not supported for disk '${d.target.dev}'`,
      );
    if (!existsSync(b.path)) throw brokenChain(b.path, top);
    seen.add(b.path);
    found.push({ path: b.path, format: b.format });
    path = b.path;
    format = b.format;
  }
  return { layers: found, ends: true };
}

/** Puts the found layers below the chain's end, numbered from `next`; `ends`: the bottom has no backing file. */
function attach(d: DiskDef, end: ChainEnd, { layers: found, ends }: Found, next: number): number[] {
  let below: XmlElement | undefined = ends ? element('backingStore') : undefined;
  for (let i = found.length - 1; i >= 0; i--) below = layerElement(found[i]!, next + i, below);
  if (below) {
    if (end.holder) end.holder.children = [...end.holder.children, below];
    else d.backingStore = below;
  }
  return found.map((_, i) => next + i);
}

/** How many `libvirt-N-*` numbers the start gives before the found layers: the disks' nodes, then the SCSI host devices'. */
function numbersBefore(def: DomainDef): number {
  const scsi = (def.devices?.hostdevs ?? []).filter((h) => h.type === 'scsi').length;
  return diskNodeCount(def) + scsi;
}

/** Whether a disk's chain is read at all: an SD card is a -drive QEMU opens whole; vhost-user has no image here. */
function readable(d: DiskDef): boolean {
  return d.target.bus !== 'sd' && d.type !== 'vhostuser' && hasMedia(d);
}

/** A disk's chain read from its headers, not yet written into it. */
export interface DiskChainPlan {
  readonly end: ChainEnd;
  readonly found: Found;
}

/**
 * Reads the chain below what `d` names (a disk about to be plugged, a new
 * medium); undefined when there is nothing to read. Refuses as a start
 * does; nothing is written into `d`.
 */
export async function readDiskChain(
  d: DiskDef,
  field: string,
  volumes: VolumeLookup | undefined,
  signal?: AbortSignal,
): Promise<DiskChainPlan | undefined> {
  if (!readable(d)) return undefined;
  const end = endOf(d, field, volumes);
  const found = end ? await extend(d, end, signal) : undefined;
  return end && found ? { end, found } : undefined;
}

/** How many numbers a plan's found layers take. */
export function foundCount(plan: DiskChainPlan | undefined): number {
  return plan?.found.layers.length ?? 0;
}

/**
 * Writes a plugged disk's plan in, its chain numbered from `first` as
 * libvirt's hot-plug numbers it: the layers the definition names from
 * `first` (the disk's own range), the found ones after them. Returns the
 * disk's range and the found layers' ones.
 */
export function placeDiskChain(d: DiskDef, plan: DiskChainPlan | undefined, first: number): DiskNodeRange[] {
  const own: DiskNodeRange = { first, count: diskNodeCountOf(d), target: d.target.dev };
  if (!plan) return [own];
  const found = attach(d, plan.end, plan.found, first + layerCount(d));
  return [own, ...found.map((n) => ({ first: n, count: 1, target: d.target.dev }))];
}

/**
 * Completes the backing chain of each disk of `live` (a definition about
 * to start) from its image headers; returns the node ranges of the layers
 * added (one number each), for the events that name a node.
 */
export async function completeDiskChains(
  live: DomainDef,
  volumes?: VolumeLookup,
  signal?: AbortSignal,
): Promise<DiskNodeRange[]> {
  const disks = live.devices?.disks ?? [];
  let next = numbersBefore(live) + 1;
  const plans: [DiskDef, DiskChainPlan][] = [];
  for (const [i, d] of [...disks.entries()].reverse()) {
    const plan = await readDiskChain(d, `/domain/devices/disk[${i + 1}]`, volumes, signal);
    if (plan) plans.push([d, plan]);
  }
  const ranges: DiskNodeRange[] = [];
  for (const [d, { end, found }] of plans) {
    for (const n of attach(d, end, found, next)) ranges.push({ first: n, count: 1, target: d.target.dev });
    next += found.layers.length;
  }
  return ranges;
}

/** The `index` of a `<backingStore>` the start numbered, when it has one. */
export function backingIndex(el: XmlElement): number | undefined {
  const v = getAttr(el, 'index');
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

/**
 * Writes the numbers the start gave into the live definition, where
 * libvirt's live XML has them: the `index` of each disk's `<source>` and
 * of each `<backingStore>` the definition named (the found ones have
 * theirs). Done after the command line is built, which numbers an
 * unnumbered layer by its place and would take these for found ones.
 */
export function numberDiskChains(live: DomainDef, ranges: readonly DiskNodeRange[]): void {
  for (const d of live.devices?.disks ?? []) {
    // the disk's own range: the first one of its target (found layers' ranges come after)
    const r = ranges.find((x) => x.target === d.target.dev);
    if (r) numberDiskChain(d, r.first);
  }
}

/** Writes the numbers of one disk's layers, its own image numbered `first`, where the live XML has them. */
export function numberDiskChain(d: DiskDef, first: number): void {
  if (!readable(d) || !d.source) return;
  let layer = diskLayers(d, '');
  let n = first;
  d.source.index = n;
  n += layer?.dataStore ? 2 : 1;
  layer = layer?.backing;
  for (let bs = d.backingStore; bs && layer; bs = childEl(bs, 'backingStore'), layer = layer.backing) {
    if (layer.index !== undefined) continue;
    bs.attrs = [...bs.attrs.filter((a) => a.name !== 'index'), { name: 'index', value: String(n) }];
    n += layer.dataStore ? 2 : 1;
  }
}

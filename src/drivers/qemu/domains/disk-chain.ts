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
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { element, getAttr, type XmlElement } from '../../../xml/tree.js';
import { attrOf, childEl, diskLayers, hasMedia } from '../command-line/disk-layers.js';
import { diskNodeCount } from '../command-line/disks.js';
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
}

function endOf(d: DiskDef): ChainEnd | undefined {
  if ((d.type ?? 'file') !== 'file' && d.type !== 'block') return undefined;
  const path = d.source?.file ?? d.source?.dev;
  if (path === undefined || path === '') return undefined;
  let end: ChainEnd = { path, format: d.driver?.type ?? 'raw', depth: 1, holder: undefined };
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
  const top = d.source?.file ?? d.source?.dev ?? '';
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

/**
 * Completes the backing chain of each disk of `live` (a definition about
 * to start) from its image headers; returns the node ranges of the layers
 * added (one number each), for the events that name a node.
 */
export async function completeDiskChains(live: DomainDef, signal?: AbortSignal): Promise<DiskNodeRange[]> {
  const disks = live.devices?.disks ?? [];
  let next = numbersBefore(live) + 1;
  const plans: [DiskDef, ChainEnd, Found][] = [];
  for (const d of [...disks].reverse()) {
    // an SD card is a -drive QEMU opens whole; vhost-user has no image here
    if (d.target.bus === 'sd' || d.type === 'vhostuser' || !hasMedia(d)) continue;
    const end = endOf(d);
    const found = end ? await extend(d, end, signal) : undefined;
    if (end && found) plans.push([d, end, found]);
  }
  const ranges: DiskNodeRange[] = [];
  for (const [d, end, found] of plans) {
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
    if (d.target.bus === 'sd' || d.type === 'vhostuser' || !hasMedia(d) || !d.source) continue;
    // the disk's own range: the first one of its target (found layers' ranges come after)
    const r = ranges.find((x) => x.target === d.target.dev);
    if (!r) continue;
    let layer = diskLayers(d, '');
    let n = r.first;
    d.source.index = n;
    n += layer?.dataStore ? 2 : 1;
    layer = layer?.backing;
    for (let bs = d.backingStore; bs && layer; bs = childEl(bs, 'backingStore'), layer = layer.backing) {
      if (layer.index !== undefined) continue;
      bs.attrs = [...bs.attrs.filter((a) => a.name !== 'index'), { name: 'index', value: String(n) }];
      n += layer.dataStore ? 2 : 1;
    }
  }
}

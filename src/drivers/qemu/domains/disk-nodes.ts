/**
 * Which disk of the running guest a QEMU block node belongs to, for the
 * events that name a node or a job rather than a disk (BLOCK_IO_ERROR,
 * BLOCK_JOB_*, BLOCK_WRITE_THRESHOLD): libvirt reports the disk's alias,
 * source path and target instead. The start's nodes are numbered as the
 * command line numbers them (`diskNodeNumbers`); a disk plugged later, or
 * new media, takes the numbers the hot-plug chose, recorded here as it
 * plugs them (a later range wins over an earlier one for the same number).
 *
 * @module
 */
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { diskAlias } from '../command-line/disk-device.js';
import { diskNodeCountOf, diskNodeNumbers } from '../command-line/disks.js';

/** The `libvirt-N-*` numbers `first` .. `first + count - 1` are the nodes of the disk with target `target`. */
export interface DiskNodeRange {
  readonly first: number;
  readonly count: number;
  readonly target: string;
}

/** What the events say of a disk. */
export interface EventDisk {
  /** The disk's target (`vda`). */
  readonly target: string;
  /** Its source: the path of a file, block device or directory, a network source's name; empty when none. */
  readonly path: string;
  /** Its alias (`virtio-disk0`), the QEMU id of its device. */
  readonly alias: string;
}

/** The node numbers of each disk at start, from the definition the guest was started with. */
export function startNodeRanges(live: DomainDef): DiskNodeRange[] {
  return [...diskNodeNumbers(live)].map(([d, first]) => ({
    first,
    count: diskNodeCountOf(d),
    target: d.target.dev,
  }));
}

/** A guest's ranges (its entry's), made from `live` (the definition before any hot-plug) when there are none yet. */
export function nodeRanges(e: { diskNodes?: DiskNodeRange[] | undefined }, live: DomainDef): DiskNodeRange[] {
  e.diskNodes ??= startNodeRanges(live);
  return e.diskNodes;
}

/** The source of a disk as libvirt's `virDomainDiskGetSource` gives it. */
export function diskSourcePath(d: DiskDef): string {
  const s = d.source as { file?: string; dev?: string; dir?: string; name?: string } | undefined;
  return s?.file ?? s?.dev ?? s?.dir ?? s?.name ?? '';
}

/**
 * The disk `name` stands for: a block node (`libvirt-N-format`, `libvirt-N-storage`, a throttle
 * filter's number, `libvirt-CoR-vda`), a device id (its alias, or `drive-` and the alias as a
 * block job's name), or a target; undefined when none of the live disks is it.
 */
export function diskOfNode(
  live: DomainDef,
  ranges: readonly DiskNodeRange[],
  name: string,
): EventDisk | undefined {
  const disks = live.devices?.disks ?? [];
  const byTarget = (t: string | undefined) => disks.find((d) => d.target.dev === t);
  let disk: DiskDef | undefined;
  const n = /^libvirt-(\d+)-/.exec(name);
  if (n) {
    const at = Number(n[1]);
    const r = ranges.findLast((x) => at >= x.first && at < x.first + x.count);
    disk = byTarget(r?.target);
  } else {
    const cor = /^libvirt-CoR-(.+)$/.exec(name);
    if (cor) disk = byTarget(cor[1]);
    else {
      const id = name.startsWith('drive-') ? name.slice('drive-'.length) : name;
      disk = disks.find((d) => diskAlias(live, d) === id) ?? byTarget(name);
    }
  }
  return disk
    ? { target: disk.target.dev, path: diskSourcePath(disk), alias: diskAlias(live, disk) }
    : undefined;
}

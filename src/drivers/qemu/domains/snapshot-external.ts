/**
 * External (disk-only) snapshots: each disk taken gets a new qcow2 overlay
 * whose backing image is the disk's image of now, which from then on holds
 * the snapshot's state; the domain's disks write to the overlays.
 *
 * The overlays are made by `qemu-img create -b … -F … -u` (the size from the
 * base; `-u` because a running QEMU holds the base's lock). A running guest
 * then opens them (`blockdev-add`) and switches to them in one `transaction`
 * of `blockdev-snapshot`s (`lifecycle/runner-snapshot.ts`). The definitions
 * (live, and persistent where its disk is the same image) name the overlay,
 * with the old image as its `<backingStore>`, as libvirt writes them.
 *
 * Deleting one is `snapshot-delete-external.ts`, reverting to one
 * `snapshot-revert-external.ts`.
 *
 * @module
 */

import { existsSync, rmSync } from 'node:fs';
import { diskSourceMapper } from '../../../conf/domain/devices/disk.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import type { DomainSnapshotDef } from '../../../conf/snapshot.js';
import { VirError } from '../../../errors.js';
import { element, type XmlElement } from '../../../xml/tree.js';
import { findQemuImg, imageInfo, qemuImg } from '../storage/qemu-img.js';
import { cloneDef, type Entry, isActive } from './domain-entry.js';
import { commitConfig, commitLive } from './hotplug-job.js';
import type { DomainListAccess } from './migration.js';
import type { ExternalTarget } from './snapshot-disks.js';

type DiskDef = NonNullable<NonNullable<DomainDef['devices']>['disks']>[number];

function binary(): string {
  const bin = findQemuImg();
  if (!bin) throw new VirError('NO_SUPPORT', 'qemu', 'qemu-img is needed for external snapshots');
  return bin;
}

/** Refuses an overlay path that exists already (an existing file is reused only with REUSE_EXT). */
export function refuseExistingOverlays(targets: readonly ExternalTarget[]): void {
  for (const t of targets)
    if (existsSync(t.overlay))
      throw new VirError(
        'OPERATION_INVALID',
        'qemu',
        `external snapshot file for disk ${t.target} already exists: ${t.overlay}`,
        { field: '/domainsnapshot/disks' },
      );
}

/** `REUSE_EXT`: each overlay must be there already (the caller made it), or nothing is taken. */
export function refuseMissingOverlays(targets: readonly ExternalTarget[]): void {
  for (const t of targets)
    if (!existsSync(t.overlay))
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `missing existing file for disk ${t.target}: ${t.overlay} (REUSE_EXT reuses the caller's overlay)`,
        { field: '/domainsnapshot/disks' },
      );
}

/** Makes the overlays; a failure part way removes the ones made. */
export async function createOverlays(
  targets: readonly ExternalTarget[],
  signal?: AbortSignal,
): Promise<void> {
  const run = { binary: binary(), signal };
  const made: string[] = [];
  try {
    for (const t of targets) {
      const info = await imageInfo(run, t.base);
      await qemuImg(run, [
        'create',
        '-q',
        '-f',
        'qcow2',
        '-F',
        t.baseFormat,
        '-b',
        t.base,
        '-u',
        t.overlay,
        String(info.virtualSize),
      ]);
      made.push(t.overlay);
    }
  } catch (err) {
    removeOverlays(made);
    throw err;
  }
}

/** Removes overlay files (a snapshot that failed after making them). */
export function removeOverlays(paths: readonly string[]): void {
  for (const p of paths) rmSync(p, { force: true });
}

/**
 * `<backingStore>` holding what disk `d` is on now: its type, format, source
 * and own chain; the image's number (live XML) goes from its `<source>` to
 * the `<backingStore>`, where libvirt writes a backing layer's.
 */
function backingOf(d: DiskDef): XmlElement {
  const kids: XmlElement[] = [element('format', [{ name: 'type', value: d.driver?.type ?? 'raw' }])];
  const index = d.source?.index;
  if (d.source) {
    const { index: _, ...source } = d.source;
    kids.push(diskSourceMapper.write(source));
  }
  // what the disk named below its image (the live one: all of its chain, found at start)
  if (d.backingStore) kids.push(d.backingStore);
  const attrs: { name: string; value: string }[] = [{ name: 'type', value: d.type ?? 'file' }];
  if (index !== undefined) attrs.push({ name: 'index', value: String(index) });
  return element('backingStore', attrs, kids);
}

/**
 * `def` with each target's disk on its overlay, the old image below it;
 * `numbers` (by disk alias) are the overlays' block node numbers in a
 * running guest, written as their `<source index>`.
 */
export function withOverlays(
  def: DomainDef,
  targets: readonly ExternalTarget[],
  numbers?: ReadonlyMap<string, number>,
): DomainDef {
  const next = cloneDef(def);
  for (const t of targets) {
    const d = next.devices?.disks?.find((x) => x.target.dev === t.target);
    // the persistent definition may have another image by now: it keeps it
    if (!d || (d.source?.file ?? d.source?.dev) !== t.base) continue;
    const backing = backingOf(d);
    d.type = 'file';
    const n = numbers?.get(t.alias);
    d.source = { file: t.overlay, ...(n !== undefined ? { index: n } : {}) };
    d.driver = { ...(d.driver ?? {}), type: 'qcow2' };
    d.backingStore = backing;
  }
  return next;
}

/**
 * Once a running guest writes to the overlays (or a shut-off one is to
 * boot on them): its live and persistent definitions name them.
 */
export function adoptOverlays(
  side: DomainListAccess,
  e: Entry,
  targets: readonly ExternalTarget[],
  numbers?: ReadonlyMap<string, number>,
): void {
  // the status file gets the run's facts with the live XML, as a hot-plug's commit writes them
  if (isActive(e) && e.live) commitLive(e, withOverlays(e.live, targets, numbers));
  if (e.config) commitConfig(side, e, withOverlays(e.config, targets));
}

/** The snapshot's overlays: target → overlay path, from its `<disks>`. */
export function overlaysOf(snap: DomainSnapshotDef): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of snap.disks?.disk ?? [])
    if (d.snapshot === 'external' && d.source?.file !== undefined) out.set(d.name, d.source.file);
  return out;
}

/** Whether the snapshot put any disk on an overlay. */
export function isExternal(snap: DomainSnapshotDef): boolean {
  return overlaysOf(snap).size > 0;
}

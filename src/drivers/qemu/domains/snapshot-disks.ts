/**
 * Which disks a snapshot takes and how, with libvirt's QEMU rules, and the
 * `qemu-img snapshot` runs of a shut-off guest.
 *
 * Every disk of the domain gets a place in the snapshot (libvirt "aligns"
 * them): the `<disks>` entry naming it (by target or source path), else the
 * disk's own `snapshot=` attribute, else `no` for a disk without a medium
 * or read-only (libvirt's post-parse default), else the snapshot's default
 * (`internal` unless the memory or a disk is external). An internal
 * snapshot needs qcow2 images on files or block devices; mixing internal
 * and external, external targets (not implemented yet: refused by name),
 * and a snapshot that takes nothing are refused before anything happens.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import type { DomainSnapshotDef, SnapshotDiskLocation } from '../../../conf/snapshot.js';
import { VirError } from '../../../errors.js';
import { diskAlias } from '../command-line/disk-device.js';
import { findQemuImg, qemuImg } from '../storage/qemu-img.js';

type DiskDef = NonNullable<NonNullable<DomainDef['devices']>['disks']>[number];

/** One disk of the domain, where its snapshot goes, and the image it is on. */
export interface SnapshotDiskPlan {
  /** The target name (`vda`), as the snapshot's `<disk name=…>` is written. */
  readonly target: string;
  /** The device id QEMU knows the disk by. */
  readonly alias: string;
  readonly location: SnapshotDiskLocation;
  /** The image's path (file or block device); absent for a disk without a medium. */
  readonly path: string | undefined;
  /** The image format (`<driver type=…>`; raw when absent, as QEMU opens it). */
  readonly format: string;
}

/** The memory location and the disks of a snapshot of `dom` (`active`: the guest runs). */
export interface SnapshotPlan {
  readonly memory: 'no' | 'internal';
  readonly disks: readonly SnapshotDiskPlan[];
}

function sourcePath(d: DiskDef): string | undefined {
  return d.source?.file ?? d.source?.dev;
}

/** Plans a new snapshot: every check that needs no I/O, with the field at fault. */
export function planSnapshot(snap: DomainSnapshotDef, dom: DomainDef, active: boolean): SnapshotPlan {
  const disks = dom.devices?.disks ?? [];
  const asked = new Map<number, SnapshotDiskLocation | undefined>();
  for (const [i, sd] of (snap.disks?.disk ?? []).entries()) {
    const field = `/domainsnapshot/disks/disk[${i + 1}]/@name`;
    const at = disks.findIndex(
      (d) => d.target.dev === sd.name || (sd.name.startsWith('/') && sourcePath(d) === sd.name),
    );
    if (at < 0) throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `no disk named '${sd.name}'`, { field });
    if (asked.has(at))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `disk '${disks[at]!.target.dev}' specified twice`, {
        field,
      });
    asked.set(at, sd.snapshot);
  }
  const anyExternal =
    snap.memory?.snapshot === 'external' ||
    [...asked.values()].includes('external') ||
    disks.some((d, i) => !asked.has(i) && d.snapshot === 'external');
  const fallback: SnapshotDiskLocation = anyExternal ? 'external' : 'internal';
  const plans = disks.map((d, i): SnapshotDiskPlan => {
    const own = d.snapshot as SnapshotDiskLocation | undefined;
    const path = sourcePath(d);
    let location = asked.get(i) ?? own;
    if (location === undefined) location = path === undefined || d.readonly !== undefined ? 'no' : fallback;
    return {
      target: d.target.dev,
      alias: diskAlias(dom, d),
      location,
      path,
      format: d.driver?.type ?? 'raw',
    };
  });
  if (anyExternal)
    throw new VirError(
      'NO_SUPPORT',
      'qemu',
      'external snapshots (memory to a file, disks to overlays) are not supported yet by the qemu driver',
      {
        field:
          snap.memory?.snapshot === 'external' ? '/domainsnapshot/memory/@snapshot' : '/domainsnapshot/disks',
      },
    );
  // external memory was refused above
  const memory = (snap.memory?.snapshot ?? (active ? 'internal' : 'no')) as 'no' | 'internal';
  if (!active && memory !== 'no')
    throw new VirError(
      'XML_ERROR',
      'qemu',
      'memory state cannot be saved with offline or disk-only snapshot',
      {
        field: '/domainsnapshot/memory/@snapshot',
      },
    );
  if (active && memory === 'no')
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'internal snapshot of a running VM must include the memory state',
      { field: '/domainsnapshot/memory/@snapshot' },
    );
  const taken = plans.filter((p) => p.location === 'internal');
  if (taken.length === 0 && memory === 'no')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'nothing selected for snapshot', {
      field: '/domainsnapshot/disks',
    });
  for (const [i, p] of plans.entries()) {
    if (p.location !== 'internal') continue;
    const d = disks[i]!;
    const field = `/domain/devices/disk[${i + 1}]`;
    if (d.type !== undefined && d.type !== 'file' && d.type !== 'block')
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `internal snapshot for disk ${p.target} unsupported for storage type ${d.type}`,
        { field: `${field}/@type` },
      );
    if (p.format !== 'qcow2')
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `internal snapshot for disk ${p.target} unsupported for storage type ${p.format}`,
        { field: `${field}/driver/@type` },
      );
    if (p.path === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `disk ${p.target} has no medium to snapshot`, {
        field: `${field}/source`,
      });
  }
  // QEMU's snapshot-save writes the memory into one disk's image: there must be one
  if (memory === 'internal' && taken.length === 0)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'an internal memory snapshot needs a qcow2 disk to hold it',
      {
        field: '/domainsnapshot/disks',
      },
    );
  return { memory, disks: plans };
}

/** The plan of a stored snapshot against the disks the domain has now (revert and delete). */
export function storedPlan(snap: DomainSnapshotDef, dom: DomainDef): SnapshotDiskPlan[] {
  const internal = new Set(
    (snap.disks?.disk ?? []).filter((d) => d.snapshot === 'internal').map((d) => d.name),
  );
  return (dom.devices?.disks ?? []).map((d) => ({
    target: d.target.dev,
    alias: diskAlias(dom, d),
    location: internal.has(d.target.dev) ? 'internal' : 'no',
    path: sourcePath(d),
    format: d.driver?.type ?? 'raw',
  }));
}

/** The snapshot's `<disks>` as libvirt writes them: every disk with its location. */
export function disksElementData(
  plans: readonly SnapshotDiskPlan[],
): NonNullable<DomainSnapshotDef['disks']> {
  return { disk: plans.map((p) => ({ name: p.target, snapshot: p.location })) };
}

function qemuImgBinary(): string {
  const bin = findQemuImg();
  if (!bin) throw new VirError('NO_SUPPORT', 'qemu', 'qemu-img is needed for snapshots of a shut-off domain');
  return bin;
}

/**
 * `qemu-img snapshot <op> <name>` on each internal disk of a shut-off
 * guest (`-c` create, `-a` apply, `-d` delete), as libvirt runs it. A
 * create that fails part way deletes what it made.
 */
export async function qemuImgSnapshots(
  op: '-c' | '-a' | '-d',
  name: string,
  plans: readonly SnapshotDiskPlan[],
  signal?: AbortSignal,
): Promise<void> {
  const run = { binary: qemuImgBinary(), signal };
  const done: SnapshotDiskPlan[] = [];
  for (const p of plans) {
    if (p.location !== 'internal' || p.path === undefined) continue;
    try {
      await qemuImg(run, ['snapshot', op, name, p.path]);
    } catch (err) {
      if (op === '-c')
        for (const d of done)
          await qemuImg({ binary: run.binary }, ['snapshot', '-d', name, d.path!]).catch(() => {});
      const why = err instanceof Error ? err.message : String(err);
      throw new VirError('OPERATION_FAILED', 'qemu', `snapshot of disk ${p.target}: ${why}`, { cause: err });
    }
    done.push(p);
  }
}

/** The internal snapshot tags an image holds (`qemu-img snapshot -l`, read without the lock). */
export async function imageSnapshotTags(path: string): Promise<string[]> {
  const out = await qemuImg({ binary: qemuImgBinary() }, ['info', '-U', '--output=json', path]);
  const j = JSON.parse(out) as { snapshots?: Array<{ name?: string }> };
  return (j.snapshots ?? []).map((s) => s.name ?? '');
}

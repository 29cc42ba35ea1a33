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

/** A disk an external snapshot puts a new overlay on. */
export interface ExternalTarget {
  /** Index of the disk in the domain's `<devices>`. */
  readonly index: number;
  readonly target: string;
  readonly alias: string;
  /** The image the overlay goes on (the disk's source now). */
  readonly base: string;
  readonly baseFormat: string;
  /** The new image; qcow2. */
  readonly overlay: string;
}

/** The memory location and the disks of a snapshot of `dom` (`active`: the guest runs). */
export interface SnapshotPlan {
  readonly memory: 'no' | 'internal' | 'external';
  /** With `memory: 'external'`: the absolute path the memory goes to (`snapshot-memory.ts`). */
  readonly memoryFile?: string;
  readonly disks: readonly SnapshotDiskPlan[];
  /** The overlays of an external (disk-only) snapshot; empty for an internal one. */
  readonly external: readonly ExternalTarget[];
}

function sourcePath(d: DiskDef): string | undefined {
  return d.source?.file ?? d.source?.dev;
}

/**
 * Plans a new snapshot named `name`: every check that needs no I/O but
 * whether an overlay exists, with the field at fault.
 */
export function planSnapshot(
  snap: DomainSnapshotDef,
  name: string,
  dom: DomainDef,
  active: boolean,
  diskOnly = false,
): SnapshotPlan {
  const disks = dom.devices?.disks ?? [];
  // DISK_ONLY: no memory, every disk taken by default onto an overlay; a shut-off guest has no memory to take
  if ((diskOnly || !active) && snap.memory?.snapshot !== undefined && snap.memory.snapshot !== 'no')
    throw new VirError(
      'XML_ERROR',
      'qemu',
      'memory state cannot be saved with offline or disk-only snapshot',
      {
        field: '/domainsnapshot/memory/@snapshot',
      },
    );
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
    diskOnly ||
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
  if (anyExternal) return planExternal(snap, name, dom, plans);
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
  return { memory, disks: plans, external: [] };
}

/**
 * An external snapshot: each disk `external` gets a qcow2 overlay, and the
 * memory (if asked) goes to its file; nothing may be taken internally.
 */
function planExternal(
  snap: DomainSnapshotDef,
  name: string,
  dom: DomainDef,
  plans: SnapshotDiskPlan[],
): SnapshotPlan {
  if (snap.memory?.snapshot === 'internal')
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'an internal memory snapshot needs internal disk snapshots',
      {
        field: '/domainsnapshot/memory/@snapshot',
      },
    );
  if (plans.some((p) => p.location === 'internal'))
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'mixing internal and external targets for a snapshot is not yet supported',
      { field: '/domainsnapshot/disks' },
    );
  const disks = dom.devices?.disks ?? [];
  const asked = snap.disks?.disk ?? [];
  const external: ExternalTarget[] = [];
  const seen = new Map<string, string>();
  for (const [i, p] of plans.entries()) {
    if (p.location !== 'external') continue;
    const d = disks[i]!;
    const field = `/domain/devices/disk[${i + 1}]`;
    const sd = asked.find((a) => a.name === p.target || a.name === p.path);
    const sdField = sd ? `/domainsnapshot/disks/disk[${asked.indexOf(sd) + 1}]` : '/domainsnapshot/disks';
    if ((d.type ?? 'file') !== 'file' || p.path === undefined)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `external snapshot of disk ${p.target} needs a file source (it has type '${d.type ?? 'file'}')`,
        { field: `${field}/@type` },
      );
    if (sd?.type !== undefined && sd.type !== 'file')
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `an overlay of type '${sd.type}' is not supported`, {
        field: `${sdField}/@type`,
      });
    const format = sd?.driver?.type ?? 'qcow2';
    if (format !== 'qcow2')
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `an overlay in format '${format}' is not supported (qcow2 only)`,
        {
          field: `${sdField}/driver/@type`,
        },
      );
    // libvirt's default name: the base's path without its suffix, then the snapshot's name
    const overlay = sd?.source?.file ?? `${p.path.replace(/\.[^./]*$/, '')}.${name}`;
    if (!overlay.startsWith('/'))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `overlay path '${overlay}' must be absolute`, {
        field: `${sdField}/source/@file`,
      });
    const other = seen.get(overlay);
    if (other !== undefined)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `disks ${other} and ${p.target} would share the overlay '${overlay}'`,
        { field: `${sdField}/source/@file` },
      );
    seen.set(overlay, p.target);
    external.push({
      index: i,
      target: p.target,
      alias: p.alias,
      base: p.path,
      baseFormat: p.format,
      overlay,
    });
  }
  const mem = snap.memory;
  if (mem?.snapshot === 'external' && mem.file !== undefined)
    return { memory: 'external', memoryFile: mem.file, disks: plans, external };
  return { memory: 'no', disks: plans, external };
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

/** The snapshot's `<disks>` as libvirt writes them: every disk with its location, an overlay with its image. */
export function disksElementData(plan: SnapshotPlan): NonNullable<DomainSnapshotDef['disks']> {
  return {
    disk: plan.disks.map((p) => {
      const ext = plan.external.find((x) => x.target === p.target);
      if (!ext) return { name: p.target, snapshot: p.location };
      return {
        name: p.target,
        snapshot: p.location,
        type: 'file' as const,
        driver: { type: 'qcow2' },
        source: { file: ext.overlay },
      };
    }),
  };
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

/**
 * External memory snapshots of a running or paused guest, with libvirt's
 * QEMU rules (`<memory snapshot='external' file='/abs/path'/>`): the
 * guest's state goes into the file as a save image (the format `save` and
 * `restore` use, `lifecycle/save-image.ts`) by a migration whose other end
 * is the file, then the disks go onto their overlays
 * (`snapshot-external.ts`), all while the guest is paused, unless the
 * snapshot is `live`: then the guest runs while its memory is copied and
 * QEMU pauses it at the stream's end. It runs again afterwards if it ran
 * before, unless `halt` stops it. QEMU keeps running throughout: unlike a
 * save, nothing ends.
 *
 * Refused before anything is written: a guest that cannot migrate (the
 * same devices a save refuses), a memory file that exists (libvirt 9.0
 * truncates it; here it is reused only with `reuseExt`, which says the
 * caller's files are to be taken as they are). What the model and the
 * plan refuse (a relative path, a shut-off guest, internal disks mixed
 * in) never gets here. A failure removes the memory file it made and the
 * overlays it made, and leaves the guest running as it was.
 *
 * The revert is `snapshot-revert-memory.ts`; a delete leaves the file, as
 * libvirt's does.
 *
 * @module
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { VirError } from '../../../errors.js';
import {
  completeHeader,
  listenForSave,
  pauseForSnapshot,
  resumeAfterSnapshot,
  type SaveSink,
  writePartialHeader,
} from '../lifecycle/index.js';
import type { Entry } from './domain-entry.js';
import { migratableLive } from './migratable-live.js';
import type { DomainListAccess } from './migration.js';
import { refuseUnmigratable } from './migration-checks.js';
import type { SnapshotPlan } from './snapshot-disks.js';
import { adoptOverlays, createOverlays, removeOverlays } from './snapshot-external.js';

const FIELD = '/domainsnapshot/memory/@file';

/** Refuses a memory file that is there already, unless the caller's files are reused (`reuseExt`). */
export function refuseExistingMemoryFile(plan: SnapshotPlan, reuse: boolean): void {
  const file = plan.memoryFile;
  if (file === undefined || reuse || !existsSync(file)) return;
  throw new VirError(
    'OPERATION_INVALID',
    'qemu',
    `external memory snapshot file '${file}' already exists (reuseExt writes over it)`,
    { field: FIELD },
  );
}

/** What the memory snapshot takes beyond the plan. */
export interface MemorySnapshotOptions {
  /** The overlays are the caller's (`reuseExt`): not made, not removed. */
  readonly reuse: boolean;
  /** The guest runs while its memory is copied (`live`). */
  readonly live: boolean;
  /** The guest is stopped afterwards (`halt`): it is not resumed. */
  readonly halt: boolean;
  readonly signal?: AbortSignal;
}

/**
 * Takes the memory into `plan.memoryFile` and the disks onto their
 * overlays; the live and persistent definitions name the overlays after.
 */
export async function takeMemorySnapshot(
  side: DomainListAccess,
  e: Entry,
  plan: SnapshotPlan,
  opts: MemorySnapshotOptions,
): Promise<void> {
  const runner = e.runner;
  const file = plan.memoryFile;
  if (!runner || !e.live || file === undefined)
    throw new VirError('OPERATION_INVALID', 'qemu', `domain '${e.name}' is not running`);
  // the header holds the definition the stream belongs to, ports as the next start assigns them
  const def = migratableLive(e)!;
  try {
    refuseUnmigratable(def);
  } catch (err) {
    const v = err as VirError;
    throw new VirError(v.code, 'qemu', v.message.replace('cannot migrate', 'cannot snapshot the memory of'), {
      ...(v.field !== undefined ? { field: v.field } : {}),
    });
  }
  const targets = plan.external;
  if (!opts.reuse) await createOverlays(targets, opts.signal);
  const m = runner.migration;
  const made = !existsSync(file);
  const wasRunning = runner.getState().state === 'running';
  let sink: SaveSink | undefined;
  let paused = false;
  let numbers: Map<string, number> | undefined;
  try {
    let offset: number;
    try {
      offset = writePartialHeader(file, def.toXML(), wasRunning);
    } catch (err) {
      throw new VirError(
        'SYSTEM_ERROR',
        'qemu',
        `cannot write memory snapshot file '${file}': ${(err as Error).message}`,
        { field: FIELD, cause: err },
      );
    }
    sink = await listenForSave(join(m.core.paths.runDir, 'snapshot.sock'), file, offset);
    if (!opts.live) paused = await pauseForSnapshot(m);
    await m.migrateOut({
      uri: sink.uri,
      pausedAs: { reason: 'snapshot', detail: 'paused' },
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    // a live stream ends with QEMU's own pause: the guest resumes below as it would have
    paused = wasRunning;
    await sink.done;
    completeHeader(file);
    if (targets.length > 0) numbers = await runner.snapshot.external(targets, opts.signal);
  } catch (err) {
    sink?.close();
    if (made) rmSync(file, { force: true });
    if (!opts.reuse) removeOverlays(targets.map((t) => t.overlay));
    if (paused) await resumeAfterSnapshot(m).catch(() => {});
    throw err;
  }
  sink.close();
  adoptOverlays(side, e, targets, numbers);
  if (paused && !opts.halt) await resumeAfterSnapshot(m);
}

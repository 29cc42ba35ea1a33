/**
 * Revert to an external snapshot that holds the guest's memory (state
 * running or paused, `<memory snapshot='external' file=…>`), with the
 * semantics of libvirt's QEMU driver from 9.9 on, the first to revert to
 * external snapshots at all:
 *
 * - a guest that runs is stopped (`stopped/from snapshot`);
 * - new overlays are planned on the snapshot's images, as for a revert to
 *   a disk-only one (`snapshot-revert-external.ts`), and made;
 * - QEMU boots the snapshot's definition (its disks on the snapshot's own
 *   images) waiting for an incoming stream, and is fed the memory file (a
 *   save image, read as `restore` reads one): `started/from snapshot`;
 * - while the guest is still paused, its disks switch to the new overlays
 *   (`blockdev-snapshot`), so the snapshot's images are never written;
 * - the persistent definition becomes the snapshot's on the overlays
 *   (`defined/from snapshot`), the state left is discarded and the
 *   snapshot becomes the current one;
 * - the guest runs (`resumed/from snapshot`) or stays paused (`suspended/from
 *   snapshot`) as the snapshot was, or as `running` / `paused` say.
 *
 * `resetNvram` makes a UEFI guest's NVRAM again from its template before
 * any revert boots QEMU ({@link bootForRevert}).
 *
 * @module
 */

import { DomainDef } from '../../../conf/domain/index.js';
import type { DomainSnapshotDef } from '../../../conf/snapshot.js';
import type { CallOptions, SnapshotRevertOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import {
  awaitSnapshotLoaded,
  endRevertStart,
  readSaveHeader,
  resetNvram,
  sendImage,
} from '../lifecycle/index.js';
import type { Incoming } from './boot-guest.js';
import { cloneDef, type Entry, isActive } from './domain-entry.js';
import { commitConfig, commitLive } from './hotplug-job.js';
import type { DomainListAccess } from './migration.js';
import { createOverlays, removeOverlays, withOverlays } from './snapshot-external.js';
import { finishExternalRevert, planExternalRevert } from './snapshot-revert-external.js';
import type { SnapshotStore } from './snapshot-store.js';

const FIELD = '/domainsnapshot/memory/@file';

/**
 * Boots `def` for a revert (`from snapshot`), its NVRAM made afresh first
 * with `resetNvram` (a guest without one is left as it is, as libvirt).
 */
export function bootForRevert(
  side: DomainListAccess,
  e: Entry,
  def: DomainDef,
  opts: CallOptions & SnapshotRevertOptions,
  incoming?: Incoming,
): Promise<string | undefined> {
  if (opts.resetNvram) resetNvram(def);
  return side.runners.boot(
    e,
    def,
    { ...(opts.signal ? { signal: opts.signal } : {}), fromSnapshot: true },
    incoming,
  );
}

/** The memory file of snapshot `s`, checked to be a whole save image of this domain. */
function memoryImage(e: Entry, s: DomainSnapshotDef) {
  const file = s.memory?.file;
  if (file === undefined)
    throw new VirError('INVALID_ARG', 'qemu', `snapshot '${s.name}' names no memory file`, { field: FIELD });
  const header = readSaveHeader(file, FIELD);
  let uuid: string | undefined;
  try {
    uuid = DomainDef.fromXML(header.xml).uuid;
  } catch (err) {
    throw new VirError('INVALID_ARG', 'qemu', `memory file '${file}' holds no valid definition`, {
      field: FIELD,
      cause: err,
    });
  }
  if (uuid !== e.uuid)
    throw new VirError('INVALID_ARG', 'qemu', `memory file '${file}' is of another domain`, { field: FIELD });
  return { file, header };
}

/** The revert described above; `dom` and `inactive` are the snapshot's definitions, named as the domain. */
export async function revertToMemory(
  side: DomainListAccess,
  e: Entry,
  store: SnapshotStore,
  s: DomainSnapshotDef,
  defs: { dom: DomainDef; inactive: DomainDef | undefined },
  opts: CallOptions & SnapshotRevertOptions,
): Promise<void> {
  // everything that can be refused is, before the running guest is stopped
  const { file, header } = memoryImage(e, s);
  const plan = planExternalRevert(defs.dom, Math.floor(Date.now() / 1000));
  if (isActive(e)) await e.runner!.snapshot.end();
  await createOverlays(plan.targets, opts.signal);
  const overlays = plan.targets.map((t) => t.overlay);
  let uri: string | undefined;
  let numbers: Map<string, number> | undefined;
  try {
    uri = await bootForRevert(side, e, defs.dom, opts, { capabilities: {}, restore: true });
  } catch (err) {
    removeOverlays(overlays);
    throw err;
  }
  const runner = e.runner;
  if (!uri || !runner) throw new VirError('INTERNAL_ERROR', 'qemu', 'the reverted guest has no runner');
  try {
    await sendImage(uri.slice('unix:'.length), file, header.dataOffset);
    await awaitSnapshotLoaded(runner.migration);
    if (plan.targets.length > 0) numbers = await runner.snapshot.external(plan.targets, opts.signal);
  } catch (err) {
    await runner.migration.abandonIncoming().catch(() => {});
    removeOverlays(overlays);
    throw err instanceof VirError
      ? err
      : new VirError('OPERATION_FAILED', 'qemu', `revert of '${e.name}' failed: ${(err as Error).message}`, {
          cause: err,
        });
  }
  if (e.live) commitLive(e, withOverlays(e.live, plan.targets, numbers));
  const persistent = e.config !== undefined;
  if (persistent) commitConfig(side, e, withOverlays(cloneDef(defs.inactive ?? defs.dom), plan.targets));
  finishExternalRevert(store, s, plan);
  const run = opts.running === true || (!opts.paused && s.state === 'running');
  await endRevertStart(runner.migration, run);
  // libvirt sends the definition's event last, once the metadata is written
  if (persistent) side.table.emit(e, 'defined', 'from snapshot');
}

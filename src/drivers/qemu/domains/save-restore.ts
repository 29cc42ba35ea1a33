/**
 * Save, restore and managed save (libvirt's `virDomainSave`,
 * `virDomainRestore`, `virDomainManagedSave`): the guest's state goes
 * into a save image (format in `lifecycle/save-image.ts`) by a migration
 * whose other end is the file (`lifecycle/runner-save.ts`), and QEMU
 * stops; a restore boots the saved live definition with `-incoming defer`
 * and feeds the image back in.
 *
 * A managed save image lives at `<stateRoot>/qemu/save/<name>.save`;
 * the next start restores from it and removes it, as libvirt's does (a
 * start whose restore fails keeps it; an image that is partial or not an
 * image is removed and the guest boots afresh). A domain with one cannot
 * be undefined or renamed. `saveDomain` writes where the caller says and
 * `restoreDomain` leaves the file in place.
 *
 * A save that fails removes its file and leaves the guest as it was.
 *
 * @module
 */
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { DomainDef } from '../../../conf/domain/index.js';
import type { CallOptions, DomainRef, StartCallOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import {
  appendDomainLog,
  completeHeader,
  endSaved,
  finishRestore,
  isPartialImage,
  listenForSave,
  pauseForSave,
  readSaveHeader,
  resumeAfterSave,
  type SaveImageHeader,
  sendImage,
  writePartialHeader,
} from '../lifecycle/index.js';
import { type QmpMigrationStats, saveJobParams } from '../lifecycle/job-stats.js';
import { type Entry, isActive, refOf } from './domain-entry.js';
import type { GuestRunners } from './guest-runners.js';
import { carriedLive, cookieCpu, cpuCookie } from './migratable-live.js';
import type { DomainListAccess } from './migration.js';
import { incomingEntry, refuseUnmigratable } from './migration-checks.js';

/** Where the managed save image of domain `name` is kept. */
export function managedSavePath(stateRoot: string, name: string): string {
  return join(stateRoot, 'qemu', 'save', `${name}.save`);
}

function managedPath(side: DomainListAccess, e: Entry): string {
  return managedSavePath(side.runners.options.stateRoot, e.name);
}

/** `virDomainSave` (to `path`) or `virDomainManagedSave` (no path): the guest's state to a file, QEMU stopped. */
export async function saveDomain(
  side: DomainListAccess,
  dom: DomainRef,
  path: string | undefined,
  opts: CallOptions,
): Promise<void> {
  const e = await side.owned(dom, opts, path === undefined ? 'do managed save of' : 'save');
  if (path === undefined && !e.config)
    throw new VirError('OPERATION_INVALID', 'qemu', 'cannot do managed save for transient domain');
  if (path !== undefined && !path.startsWith('/'))
    throw new VirError('INVALID_ARG', 'qemu', `save path must be absolute, got '${path}'`, { field: 'path' });
  await side.jobs.run(
    e.uuid,
    'save',
    () =>
      saveEntry(e, path ?? managedPath(side, e), path === undefined, (stats) =>
        // libvirt's job-completed of a save: after the image is whole, before the guest stops
        side.table.forward({
          type: 'job-completed',
          domain: refOf(e),
          timestamp: Date.now(),
          params: saveJobParams(stats),
        }),
      ),
    opts.signal,
  );
}

async function saveEntry(
  e: Entry,
  path: string,
  managed: boolean,
  completed: (stats: QmpMigrationStats) => void,
): Promise<void> {
  const runner = e.runner;
  if (!runner || !e.live || !isActive(e))
    throw new VirError('OPERATION_INVALID', 'qemu', `domain '${e.name}' is not running`);
  const state = runner.getState().state;
  if (state !== 'running' && state !== 'paused')
    throw new VirError('OPERATION_INVALID', 'qemu', `domain '${e.name}' is ${state} and cannot be saved`);
  // the image's XML has the asked-for CPU, its cookie the one the guest runs with (libvirt's save)
  const { def: live, updatedCpu } = carriedLive(e)!;
  try {
    refuseUnmigratable(live);
  } catch (err) {
    const v = err as VirError;
    throw new VirError(v.code, 'qemu', v.message.replace('cannot migrate', 'cannot save'), {
      ...(v.field !== undefined ? { field: v.field } : {}),
    });
  }
  if (managed) mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let offset: number;
  try {
    offset = writePartialHeader(
      path,
      live.toXML(),
      state === 'running',
      updatedCpu ? cpuCookie(updatedCpu) : undefined,
    );
  } catch (err) {
    throw new VirError(
      'SYSTEM_ERROR',
      'qemu',
      `cannot write save image '${path}': ${(err as Error).message}`,
      {
        field: 'path',
        cause: err,
      },
    );
  }
  const m = runner.migration;
  let paused = false;
  const sink = await listenForSave(join(m.core.paths.runDir, 'save.sock'), path, offset).catch((err) => {
    rmSync(path, { force: true });
    throw err;
  });
  try {
    paused = await pauseForSave(m);
    const { stats } = await m.migrateOut({ uri: sink.uri });
    await sink.done;
    completeHeader(path);
    completed(stats);
  } catch (err) {
    sink.close();
    rmSync(path, { force: true });
    if (paused) await resumeAfterSave(m).catch(() => {});
    appendDomainLog(m.core.paths.logFile, `save to ${path} failed: ${(err as Error).message}`);
    throw err;
  }
  sink.close();
  await endSaved(m);
}

/** Whether a managed save image waits for the next start. */
export async function hasManagedSave(
  side: DomainListAccess,
  dom: DomainRef,
  opts: CallOptions,
): Promise<boolean> {
  const e = await side.owned(dom, opts, 'look at the managed save of');
  return existsSync(managedPath(side, e));
}

/** Removes the managed save image (none is no error, as libvirt's). */
export async function managedSaveRemove(
  side: DomainListAccess,
  dom: DomainRef,
  opts: CallOptions,
): Promise<void> {
  const e = await side.owned(dom, opts, 'remove the managed save of');
  await side.jobs.run(e.uuid, 'managed save remove', async () =>
    rmSync(managedPath(side, e), { force: true }),
  );
}

/** Refuses `what` (undefine, rename) on a domain whose managed save image waits, as libvirt does. */
export function refuseManagedSave(stateRoot: string, e: Entry, what: string): void {
  if (existsSync(managedSavePath(stateRoot, e.name)))
    throw new VirError(
      'OPERATION_INVALID',
      'qemu',
      `cannot ${what} domain '${e.name}' with a managed save image`,
    );
}

/** `start()`: restores from the managed save image when there is one (then removes it), else boots. */
export async function startOrRestore(runners: GuestRunners, e: Entry, opts: StartCallOptions): Promise<void> {
  if (!e.config) throw new VirError('OPERATION_INVALID', 'qemu', `domain '${e.name}' has no definition`);
  const path = managedSavePath(runners.options.stateRoot, e.name);
  let header: SaveImageHeader | undefined;
  if (existsSync(path)) {
    try {
      header = readSaveHeader(path, 'managed save');
    } catch (err) {
      // libvirt's rule: an image that cannot be restored is dropped and the guest boots.
      if (!isPartialImage(err) && !(err instanceof VirError && err.code === 'INVALID_ARG')) throw err;
      rmSync(path, { force: true });
    }
  }
  if (!header) {
    await runners.boot(e, e.config, opts);
    return;
  }
  await restoreEntry(runners, e, savedDef(header, path), header, path, opts, opts.paused === true);
  rmSync(path, { force: true });
}

/** `virDomainRestore`: a domain (transient unless a persistent one has its name and UUID) from a save image. */
export async function restoreDomain(
  side: DomainListAccess,
  path: string,
  opts: StartCallOptions,
): Promise<DomainRef> {
  await side.enter(opts);
  if (!path.startsWith('/'))
    throw new VirError('INVALID_ARG', 'qemu', `save path must be absolute, got '${path}'`, { field: 'path' });
  const header = readSaveHeader(path);
  const def = savedDef(header, path);
  const e = await side.jobs.run(
    side.listKey,
    'restore',
    async () => {
      try {
        return incomingEntry(side.table, def.name, def.uuid) ?? side.table.insert(def, false);
      } catch (err) {
        throw new VirError('OPERATION_INVALID', 'qemu', (err as Error).message.replace('migrate', 'restore'));
      }
    },
    opts.signal,
  );
  try {
    await side.jobs.run(
      e.uuid,
      'restore',
      () => restoreEntry(side.runners, e, def, header, path, opts, false),
      opts.signal,
    );
  } catch (err) {
    if (!e.config && !isActive(e) && e.runner?.pid === undefined) side.table.drop(e);
    throw err;
  }
  return refOf(e);
}

function savedDef(header: SaveImageHeader, path: string): DomainDef & { uuid: string } {
  try {
    const def = DomainDef.fromXML(header.xml);
    if (def.uuid) return def as DomainDef & { uuid: string };
    throw new Error('no uuid');
  } catch (err) {
    throw new VirError('INVALID_ARG', 'qemu', `save image '${path}' holds no valid definition`, {
      field: 'path',
      cause: err,
    });
  }
}

async function restoreEntry(
  runners: GuestRunners,
  e: Entry,
  def: DomainDef,
  header: SaveImageHeader,
  path: string,
  opts: StartCallOptions,
  // libvirt tells a start's paused flag (`suspended/paused`) from a restore's, which only
  // marks the image as not running (`suspended/restored`).
  startPaused: boolean,
): Promise<void> {
  if (def.uuid !== e.uuid || def.name !== e.name)
    throw new VirError(
      'OPERATION_INVALID',
      'qemu',
      `save image '${path}' is of another domain ('${def.name}')`,
    );
  if (isActive(e) || e.runner?.pid !== undefined)
    throw new VirError('OPERATION_INVALID', 'qemu', `domain '${e.name}' is already active`);
  const updatedCpu = cookieCpu(header.cookie, 'path');
  const uri = await runners.boot(e, def, opts, {
    capabilities: {},
    restore: true,
    ...(updatedCpu ? { updatedCpu } : {}),
  });
  const runner = e.runner;
  if (!uri || !runner) throw new VirError('INTERNAL_ERROR', 'qemu', 'the restored guest has no runner');
  try {
    await sendImage(uri.slice('unix:'.length), path, header.dataOffset);
    await finishRestore(runner.migration, header.wasRunning && !opts.paused, startPaused);
  } catch (err) {
    await runner.migration.abandonIncoming().catch(() => {});
    throw err instanceof VirError
      ? err
      : new VirError('OPERATION_FAILED', 'qemu', `restore of '${e.name}' failed: ${(err as Error).message}`, {
          cause: err,
        });
  }
}

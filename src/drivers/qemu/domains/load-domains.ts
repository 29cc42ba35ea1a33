/**
 * What a QEMU driver finds when it opens: the persistent definitions in its
 * config root, and the guests an earlier process (or connection) left
 * running, re-attached through their status files. A definition that cannot
 * be read is left on disk, as libvirt skips it; a status file whose guest
 * died while nobody watched is cleaned up by the re-attach.
 *
 * A guest that another live process manages (its owner file, see
 * `owner-lock.ts`) is not re-attached: its monitor belongs to that process.
 * It is listed as running, with the state its status file records, and
 * looked at again on each call: once its owner is gone it is taken over.
 *
 * @module
 */
import { DomainDef } from '../../../conf/domain/index.js';
import { QemuDomainRunner, type RunnerOptions, runnerPaths } from '../lifecycle/index.js';
import { isProcessAlive, readProcStat } from '../lifecycle/proc-info.js';
import { type DomainStatus, readStatus } from '../lifecycle/status-file.js';
import { cloneDef, type Entry } from './domain-entry.js';
import type { DomainTable } from './domain-table.js';
import { reserveLivePorts, restoreLivePorts } from './graphics-ports.js';
import { refreshMemoryDevices } from './memory-device-info.js';
import { acquireOwner, liveOwner, ownerPath, releaseOwner, thisProcess } from './owner-lock.js';
import { restoreRunFacts } from './run-facts.js';

export type AdoptRunner = (e: Entry, runner: QemuDomainRunner) => void;

/** Fills `table`; `adopt` takes each re-attached runner. Returns the highest domain id in use. */
export async function loadDomains(
  table: DomainTable,
  options: RunnerOptions,
  adopt: AdoptRunner,
): Promise<number> {
  for (const name of table.store.list()) {
    try {
      const def = DomainDef.fromXML(table.store.read(name));
      if (def.name !== name || !def.uuid || table.byUuid.has(def.uuid)) continue;
      table.insert(def, true);
    } catch {
      // A definition we cannot read is left on disk untouched, as libvirt skips it.
    }
  }
  // Side by side: a guest whose monitor does not answer costs one greeting timeout, not one per guest.
  const ids = await Promise.all(
    QemuDomainRunner.listStatus(options).map((name) => attachGuest(table, name, options, adopt)),
  );
  return Math.max(0, ...ids);
}

/**
 * Looks again at a guest another process managed: gone (its owner stopped
 * it, or it died) leaves the domain inactive; an owner that is gone leaves
 * the guest to us, and it is re-attached.
 */
export async function refreshForeign(
  table: DomainTable,
  e: Entry,
  options: RunnerOptions,
  adopt: AdoptRunner,
): Promise<void> {
  if (!e.foreign) return;
  const status = liveStatus(runnerPaths(options, e).statusFile);
  const owner = liveOwner(ownerPath(options.stateRoot, e.name));
  if (status && owner) {
    e.foreign = { owner, status };
    return;
  }
  e.foreign = undefined;
  if (status) await attachGuest(table, e.name, options, adopt);
  if (!isActiveHere(e) && !e.config) table.drop(e);
}

/**
 * Notices a guest another process started after this one opened (the
 * table knew it inactive): its owner file names a live process that is not
 * this one, and its status file a live QEMU. It then becomes foreign.
 */
export function noticeForeign(e: Entry, options: RunnerOptions): void {
  if (e.foreign || e.runner?.pid !== undefined) return;
  const owner = liveOwner(ownerPath(options.stateRoot, e.name));
  const me = thisProcess();
  if (!owner || (owner.pid === me.pid && owner.start === me.start)) return;
  const status = liveStatus(runnerPaths(options, e).statusFile);
  if (status && status.guest.uuid === e.uuid) e.foreign = { owner, status };
}

function isActiveHere(e: Entry): boolean {
  return e.foreign !== undefined || e.runner?.isActive === true;
}

/** Re-attaches (or records as foreign) the guest of one status file; returns its id, or 0. */
async function attachGuest(
  table: DomainTable,
  name: string,
  options: RunnerOptions,
  adopt: AdoptRunner,
): Promise<number> {
  const lock = ownerPath(options.stateRoot, name);
  const other = acquireOwner(lock);
  if (other) {
    const status = liveStatus(runnerPaths(options, { name, uuid: '' }).statusFile);
    if (!status) return 0;
    const e = entryFor(table, status.guest.name, status.guest.uuid);
    if (!e) return 0;
    e.foreign = { owner: other, status };
    return status.id;
  }
  let runner: QemuDomainRunner;
  try {
    runner = await QemuDomainRunner.reattach(name, options);
  } catch {
    // Unreadable status, or a monitor that does not answer: not ours to manage.
    releaseOwner(lock);
    return 0;
  }
  const guest = runner.guest;
  const alive = runner.isActive;
  const e = alive ? entryFor(table, guest.name, guest.uuid) : table.byUuid.get(guest.uuid);
  if (!e || e.name !== guest.name) {
    if (alive) await runner.detach();
    releaseOwner(lock);
    return 0;
  }
  adopt(e, runner);
  if (!alive) {
    releaseOwner(lock);
    return 0;
  }
  try {
    e.live = DomainDef.fromXML(guest.domainXml);
    if (e.live) {
      delete e.live.id;
      restoreLivePorts(e.live, guest.domainXml);
    }
    // what the last process learnt of this run: node numbers of hot-plugged disks, the RTC's start
    restoreRunFacts(e, guest.driverData);
  } catch {
    e.live = e.config && cloneDef(e.config);
  }
  // Its display ports are still in use: no other guest may be given them.
  if (e.live) e.ports = reserveLivePorts(e.live);
  // a virtio-mem size change QEMU reported while no process listened
  await refreshMemoryDevices(e);
  return runner.ref.id;
}

/** The table's entry of a running guest; a transient one is added. Undefined on an identity clash. */
function entryFor(table: DomainTable, name: string, uuid: string): Entry | undefined {
  const found = table.byUuid.get(uuid);
  if (found) return found.name === name ? found : undefined;
  if (table.byName(name)) return undefined;
  const e: Entry = {
    name,
    uuid,
    config: undefined,
    live: undefined,
    runner: undefined,
    unsubscribe: undefined,
  };
  table.byUuid.set(uuid, e);
  return e;
}

/** The status file of a guest whose QEMU still runs (same pid, same start time). */
function liveStatus(path: string): DomainStatus | undefined {
  try {
    const status = readStatus(path);
    if (!isProcessAlive(status.pid) || readProcStat(status.pid)?.startTicks !== status.pidStart)
      return undefined;
    return status;
  } catch {
    return undefined;
  }
}

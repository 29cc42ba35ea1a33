/**
 * Live migration between two domain lists of this driver (two state roots,
 * which stand for two hosts), in the steps of libvirt's
 * `virDomainMigrate3`: the checks (devices, CPU, identity) before anything
 * moves; the destination QEMU started from the source's live definition
 * with `-incoming defer` and `migrate-incoming` on a unix socket in its run
 * directory; the source's `migrate`, watched to the end; the destination
 * resumed, the source ended `stopped/migrated`; the persistent definition
 * defined on the destination and/or removed from the source as asked.
 *
 * A migration that does not complete (cancelled, the destination gone or
 * refusing) leaves the source running and nothing on the destination: its
 * QEMU is killed and an entry made for the guest is dropped.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import type { FleetHostInput } from '../../../cpu/index.js';
import type { CallOptions, DomainRef, MigrateOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import type { DomainJobs } from '../../job-lock.js';
import type { MigrationCapabilities } from '../lifecycle/index.js';
import { JOB_OPERATION, migrationJobParams, type QmpMigrationStats } from '../lifecycle/job-stats.js';
import { commitConfig } from './commit-defs.js';
import type { ConfigStore } from './config-store.js';
import { cloneDef, type Entry, isActive, refOf } from './domain-entry.js';
import type { DomainTable } from './domain-table.js';
import type { GuestRunners } from './guest-runners.js';
import { carriedLive, migratableLive } from './migratable-live.js';
import { checkMigrationCpu, incomingEntry, refuseUnmigratable } from './migration-checks.js';

/**
 * What a domain list lends a call that works on its guests from outside
 * it (a migration's two sides, hotplug, stats, tuning, save, rename,
 * snapshots): see `QemuDomains.listAccess`.
 */
export interface DomainListAccess {
  readonly table: DomainTable;
  readonly runners: GuestRunners;
  readonly store: ConfigStore;
  readonly jobs: DomainJobs;
  /** The job key of changes to the list itself. */
  readonly listKey: string;
  /** The entry of a domain this process manages (`what` refused on another's). */
  owned(dom: DomainRef, opts: CallOptions, what: string): Promise<Entry>;
  /** Waits for the list to be loaded; `INVALID_CONN` once closed. */
  enter(opts: CallOptions): Promise<void>;
  /**
   * The define-time pass over XML (defaults, addresses, checks), as `defineDomain` runs it;
   * `live`: over a running guest's definition (a hot-plug's), whose runtime state is kept.
   */
  prepare(xml: string, signal: AbortSignal | undefined, live?: boolean): Promise<DomainDef>;
}

/** The two hosts for the CPU check: each side's capabilities and domain capabilities for the guest. */
export type MigrationHosts = (live: DomainDef) => Promise<{ source: FleetHostInput; dest: FleetHostInput }>;

export async function migrateDomain(
  src: DomainListAccess,
  dst: DomainListAccess,
  dom: DomainRef,
  opts: MigrateOptions,
  hosts: MigrationHosts,
): Promise<DomainRef> {
  if (src === dst)
    throw new VirError('OPERATION_INVALID', 'qemu', 'the destination is the source: nothing to migrate');
  // between two state roots of one process there is no daemon to reach nor a URI to choose
  for (const field of ['peer2peer', 'destUri', 'migrateUri'] as const) {
    if (opts[field] !== undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `migration option ${field} needs the remote driver`, {
        field,
      });
  }
  const e = await src.owned(dom, opts, 'migrate');
  await dst.enter(opts);
  return src.jobs.run(e.uuid, 'migrate', () => migrateEntry(src, dst, e, opts, hosts), opts.signal);
}

async function migrateEntry(
  src: DomainListAccess,
  dst: DomainListAccess,
  e: Entry,
  opts: MigrateOptions,
  hosts: MigrationHosts,
): Promise<DomainRef> {
  const runner = e.runner;
  if (!runner || !e.live || !isActive(e))
    throw new VirError('OPERATION_INVALID', 'qemu', `domain '${e.name}' is not running`);
  const state = runner.getState().state;
  if (state !== 'running' && state !== 'paused')
    throw new VirError('OPERATION_INVALID', 'qemu', `domain '${e.name}' is ${state} and cannot be migrated`);
  // the asked-for CPU in the definition, the one the guest runs with apart (libvirt's cookie)
  const { def: live, updatedCpu } = carriedLive(e)!;
  refuseUnmigratable(live);
  const { source, dest } = await hosts(live);
  // the destination must take the CPU the guest runs with
  checkMigrationCpu(migratableLive(e)!, source, dest);
  const capabilities: MigrationCapabilities = {
    ...(opts.xbzrle ? { xbzrle: true } : {}),
    ...(opts.autoConverge ? { autoConverge: true } : {}),
    ...(opts.postcopy ? { postcopy: true } : {}),
  };

  // Prepare: the destination's entry and its QEMU waiting for the state.
  const de = await dst.jobs.run(
    dst.listKey,
    'migration prepare',
    async () => incomingEntry(dst.table, e.name, e.uuid) ?? dst.table.insert(live, false),
    opts.signal,
  );
  const forget = () => {
    if (!de.config && !isActive(de) && de.runner?.pid === undefined) dst.table.drop(de);
  };
  let uri: string | undefined;
  try {
    uri = await dst.jobs.run(
      de.uuid,
      'migration prepare',
      () =>
        dst.runners.boot(de, live, opts.signal ? { signal: opts.signal } : {}, {
          capabilities,
          ...(updatedCpu ? { updatedCpu } : {}),
        }),
      opts.signal,
    );
  } catch (err) {
    forget();
    throw err;
  }
  const destRunner = de.runner;
  if (!uri || !destRunner) throw new VirError('INTERNAL_ERROR', 'qemu', 'the destination has no runner');
  const killDest = async () => {
    await destRunner.migration.abandonIncoming().catch(() => {});
    forget();
  };

  // Perform: a non-live migration pauses the guest for the whole copy, as libvirt's.
  const pausedHere = !opts.live && state === 'running';
  let stats: QmpMigrationStats;
  try {
    if (pausedHere) await runner.migration.pauseForCopy();
    ({ stats } = await runner.migration.migrateOut({
      uri,
      capabilities,
      ...(opts.bandwidth !== undefined ? { bandwidth: opts.bandwidth } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
    }));
  } catch (err) {
    await killDest();
    if (pausedHere) await runner.migration.resumeSource().catch(() => {});
    throw err;
  }

  // Finish on the destination: defined there first, as libvirt's, then run (unless paused by its user).
  const before = de.config;
  try {
    if (opts.persistDest) {
      commitConfig(dst, de, cloneDef(e.config ?? live));
      dst.table.emit(de, 'defined', before ? 'updated' : 'added');
    }
    if (state === 'running') await destRunner.migration.finishIncoming();
  } catch (err) {
    // A definition this migration made goes with it; one the destination had stays as it was.
    if (opts.persistDest && !before && de.config) {
      dst.store.remove(de.name);
      de.config = undefined;
      dst.table.emit(de, 'undefined', 'removed');
    } else if (before) {
      commitConfig(dst, de, before);
    }
    await killDest();
    await runner.migration.resumeSource().catch(() => {});
    throw err;
  }

  // libvirt's job-completed with the job's statistics, on each side, before the source stops
  const job = (ref: DomainRef, op: number) => ({
    type: 'job-completed' as const,
    domain: ref,
    timestamp: Date.now(),
    params: migrationJobParams(stats, op),
  });
  if (state === 'running') dst.table.forward(job(refOf(de), JOB_OPERATION.migrationIn));
  src.table.forward(job(refOf(e), JOB_OPERATION.migrationOut));
  // Confirm on the source: the guest runs elsewhere now.
  await runner.migration.endMigrated();
  if (opts.undefineSource && e.config) {
    src.store.remove(e.name);
    e.config = undefined;
    src.table.drop(e);
    src.table.emit(e, 'undefined', 'removed');
  }
  return refOf(de);
}

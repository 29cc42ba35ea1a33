/**
 * `virDomainRevertToSnapshot` of the QEMU driver, with libvirt's default
 * flags (the guest ends in the snapshot's own state): to a running or
 * paused snapshot the guest is booted when shut off (`started/from
 * snapshot`), or booted again when its running definition differs from the
 * snapshot's, and its state loaded by `snapshot-load`; to a shut-off
 * snapshot a running guest is stopped (`stopped/from snapshot`) and
 * `qemu-img snapshot -a` applied. The persistent definition becomes the
 * snapshot's (`defined/from snapshot`). A snapshot whose definition is of
 * another domain is refused. An external snapshot gets new overlays on
 * its images (`snapshot-revert-external.ts`): a shut-off one's guest is
 * booted on them with `running` / `paused`, one with memory state is
 * restored from its memory file onto them (`snapshot-revert-memory.ts`).
 * `resetNvram` makes a UEFI guest's NVRAM again before QEMU boots.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import type { DomainSnapshotDef } from '../../../conf/snapshot.js';
import type { CallOptions, DomainRef, SnapshotRevertOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { nvramFile } from '../lifecycle/index.js';
import { commitConfig } from './commit-defs.js';
import { cloneDef, type Entry, isActive, refOf, refuseForeign } from './domain-entry.js';
import { migratableLive } from './migratable-live.js';
import type { DomainListAccess } from './migration.js';
import { refuseManagedSave } from './save-restore.js';
import { qemuImgSnapshots, storedPlan } from './snapshot-disks.js';
import { createOverlays, isExternal } from './snapshot-external.js';
import { finishExternalRevert, planExternalRevert } from './snapshot-revert-external.js';
import { bootForRevert, revertToMemory } from './snapshot-revert-memory.js';
import { qmpDevices, storeOf } from './snapshots.js';

/** The snapshot's definitions, checked to be this domain's (a file copied from another domain's folder is refused). */
function snapshotDefs(e: Entry, s: DomainSnapshotDef): { dom: DomainDef; inactive: DomainDef | undefined } {
  let dom: DomainDef | undefined;
  let inactive: DomainDef | undefined;
  try {
    dom = s.domainDef();
    inactive = s.inactiveDomainDef();
  } catch (err) {
    throw new VirError('INVALID_ARG', 'qemu', `snapshot '${s.name}' holds no valid definition`, {
      field: '/domainsnapshot/domain',
      cause: err,
    });
  }
  if (!dom)
    throw new VirError('INVALID_ARG', 'qemu', `snapshot '${s.name}' holds no definition to revert to`, {
      field: '/domainsnapshot/domain',
    });
  for (const [d, field] of [
    [dom, 'domain'],
    [inactive, 'inactiveDomain'],
  ] as const)
    if (d && d.uuid !== e.uuid)
      throw new VirError('INVALID_ARG', 'qemu', `definition for snapshot ${s.name} must use uuid ${e.uuid}`, {
        field: `/domainsnapshot/${field}/uuid`,
      });
  // the snapshot's definition keeps the domain's current name (a rename since is not undone)
  if (dom.name !== e.name) dom.name = e.name;
  if (inactive && inactive.name !== e.name) inactive.name = e.name;
  return { dom, inactive };
}

/**
 * `virDomainRevertToSnapshot`: the snapshot's definition and state, or with
 * `running` / `paused` that end state (a shut-off snapshot's guest booted
 * on its reverted disks: `started/from snapshot`).
 */
export async function revertToSnapshot(
  side: DomainListAccess,
  dom: DomainRef,
  name: string,
  opts: CallOptions & SnapshotRevertOptions,
): Promise<DomainRef> {
  const e = await side.owned(dom, opts, 'revert');
  return side.jobs.run(e.uuid, 'snapshot revert', () => revert(side, e, name, opts), opts.signal);
}

async function revert(
  side: DomainListAccess,
  e: Entry,
  name: string,
  opts: CallOptions & SnapshotRevertOptions,
): Promise<DomainRef> {
  refuseForeign(e, 'revert');
  const store = storeOf(side, e);
  const s = store.get(name);
  const { dom, inactive } = snapshotDefs(e, s);
  const withMemory = s.state === 'running' || s.state === 'paused';
  if (!withMemory && s.state !== 'shutoff')
    throw new VirError('NO_SUPPORT', 'qemu', `revert to a snapshot in state '${s.state}' is not supported`, {
      field: '/domainsnapshot/state',
    });
  const askRun = opts.running === true || opts.paused === true;
  if (!withMemory && !e.config && !askRun)
    throw new VirError(
      'OPERATION_INVALID',
      'qemu',
      `transient domain '${e.name}' needs to request run or pause to revert to inactive snapshot '${name}'`,
    );
  refuseManagedSave(side.runners.options.stateRoot, e, 'revert');
  if (withMemory && s.memory?.snapshot === 'external') {
    await revertToMemory(side, e, store, s, { dom, inactive }, opts);
    return refOf(e);
  }
  if (isExternal(s)) return revertExternal(side, e, s, inactive ?? dom, opts);
  const plans = storedPlan(s, dom);
  if (withMemory) {
    const live = isActive(e) ? migratableLive(e) : undefined;
    // a reset NVRAM is read by a new QEMU only
    const same =
      live !== undefined &&
      !(opts.resetNvram && nvramFile(dom) !== undefined) &&
      live.toXML({ inactive: true, check: false }) === dom.toXML({ inactive: true, check: false });
    if (isActive(e) && !same) await e.runner!.snapshot.end();
    if (!isActive(e)) await bootForRevert(side, e, dom, opts);
    const devices = await qmpDevices(e, plans);
    const run = opts.running === true || (!opts.paused && s.state === 'running');
    await e.runner!.snapshot.load(name, devices[0]!, devices, run, opts.signal);
  } else {
    if (isActive(e)) await e.runner!.snapshot.end();
    await qemuImgSnapshots('-a', name, plans, opts.signal);
    // RUNNING / PAUSED from a shut-off snapshot: the guest boots on the reverted disks
    if (askRun) await startReverted(side, e, inactive ?? dom, opts);
  }
  if (e.config) {
    commitConfig(side, e, cloneDef(inactive ?? dom));
    side.table.emit(e, 'defined', 'from snapshot');
  }
  store.setCurrent(name);
  return refOf(e);
}

/** `running` / `paused` after a revert to a shut-off snapshot: the guest boots on its reverted disks. */
async function startReverted(
  side: DomainListAccess,
  e: Entry,
  def: DomainDef,
  opts: CallOptions & SnapshotRevertOptions,
): Promise<void> {
  await bootForRevert(side, e, def, opts);
  if (opts.running) await e.runner!.resume(opts.signal ? { signal: opts.signal } : {});
}

/**
 * Revert to an external snapshot without memory (`snapshot-revert-external.ts`):
 * a running guest is stopped (`stopped/from snapshot`), new overlays are
 * made on the snapshot's images and the definition points at them; with
 * `running` / `paused` the guest then boots on them, as libvirt 9.9 on.
 */
async function revertExternal(
  side: DomainListAccess,
  e: Entry,
  s: DomainSnapshotDef,
  dom: DomainDef,
  opts: CallOptions & SnapshotRevertOptions,
): Promise<DomainRef> {
  const plan = planExternalRevert(dom, Math.floor(Date.now() / 1000));
  if (isActive(e)) await e.runner!.snapshot.end();
  await createOverlays(plan.targets, opts.signal);
  const next = cloneDef(plan.def);
  // a transient domain (which asked to run) keeps no definition on disk
  const persistent = e.config !== undefined;
  if (persistent) commitConfig(side, e, next);
  finishExternalRevert(storeOf(side, e), s, plan);
  if (opts.running || opts.paused) await startReverted(side, e, next, opts);
  // libvirt sends the definition's event last, after a start the flags asked for
  if (persistent) side.table.emit(e, 'defined', 'from snapshot');
  return refOf(e);
}

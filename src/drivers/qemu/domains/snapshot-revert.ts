/**
 * `virDomainRevertToSnapshot` of the QEMU driver, with libvirt's default
 * flags (the guest ends in the snapshot's own state): to a running or
 * paused snapshot the guest is booted when shut off (`started/from
 * snapshot`), or booted again when its running definition differs from the
 * snapshot's, and its state loaded by `snapshot-load`; to a shut-off
 * snapshot a running guest is stopped (`stopped/from snapshot`) and
 * `qemu-img snapshot -a` applied. The persistent definition becomes the
 * snapshot's (`defined/from snapshot`). A snapshot whose definition is of
 * another domain is refused. An external snapshot (shut-off or disk-only
 * state) gets new overlays on its images (`snapshot-revert-external.ts`);
 * one with memory state is `NO_SUPPORT`.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import type { DomainSnapshotDef } from '../../../conf/snapshot.js';
import type { CallOptions, DomainRef, SnapshotRevertOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { cloneDef, type Entry, isActive, refOf, refuseForeign } from './domain-entry.js';
import type { DomainListAccess } from './migration.js';
import { refuseManagedSave } from './save-restore.js';
import { qemuImgSnapshots, storedPlan } from './snapshot-disks.js';
import { createOverlays, isExternal } from './snapshot-external.js';
import { checkRevertFlags } from './snapshot-flags.js';
import { finishExternalRevert, planExternalRevert } from './snapshot-revert-external.js';
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
  checkRevertFlags(opts);
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
  if (!withMemory && askRun && isExternal(s))
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'running or pausing the guest after a revert to an external snapshot is not supported yet',
      { field: opts.running ? 'flags.running' : 'flags.paused' },
    );
  refuseManagedSave(side.runners.options.stateRoot, e, 'revert');
  if (isExternal(s)) return revertExternal(side, e, s, inactive ?? dom, withMemory, opts);
  const plans = storedPlan(s, dom);
  if (withMemory) {
    const live = isActive(e) ? e.live : undefined;
    const same =
      live !== undefined &&
      live.toXML({ inactive: true, check: false }) === dom.toXML({ inactive: true, check: false });
    if (isActive(e) && !same) await e.runner!.snapshot.end();
    if (!isActive(e))
      await side.runners.boot(e, dom, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        fromSnapshot: true,
      });
    const devices = await qmpDevices(e, plans);
    const run = opts.running === true || (!opts.paused && s.state === 'running');
    await e.runner!.snapshot.load(name, devices[0]!, devices, run, opts.signal);
  } else {
    if (isActive(e)) await e.runner!.snapshot.end();
    await qemuImgSnapshots('-a', name, plans, opts.signal);
    // RUNNING / PAUSED from a shut-off snapshot: the guest boots on the reverted disks
    if (askRun) {
      await side.runners.boot(e, inactive ?? dom, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        fromSnapshot: true,
      });
      if (opts.running) await e.runner!.resume(opts.signal ? { signal: opts.signal } : {});
    }
  }
  if (e.config) {
    const next = cloneDef(inactive ?? dom);
    side.store.write(e.name, next.toXML({ inactive: true }));
    e.config = next;
    side.table.emit(e, 'defined', 'from snapshot');
  }
  store.setCurrent(name);
  return refOf(e);
}

/**
 * Revert to an external snapshot (`snapshot-revert-external.ts`): a
 * running guest is stopped (`stopped/from snapshot`), new overlays are
 * made on the snapshot's images and the definition points at them.
 */
async function revertExternal(
  side: DomainListAccess,
  e: Entry,
  s: DomainSnapshotDef,
  dom: DomainDef,
  withMemory: boolean,
  opts: CallOptions,
): Promise<DomainRef> {
  // a running external snapshot holds its memory in a file, which this driver does not write yet
  if (withMemory)
    throw new VirError(
      'NO_SUPPORT',
      'qemu',
      `revert to external snapshot '${s.name}' with memory state is not supported`,
      { field: '/domainsnapshot/memory' },
    );
  const plan = planExternalRevert(dom, Math.floor(Date.now() / 1000));
  if (isActive(e)) await e.runner!.snapshot.end();
  await createOverlays(plan.targets, opts.signal);
  const next = cloneDef(plan.def);
  side.store.write(e.name, next.toXML({ inactive: true }));
  e.config = next;
  side.table.emit(e, 'defined', 'from snapshot');
  finishExternalRevert(storeOf(side, e), s, plan);
  return refOf(e);
}

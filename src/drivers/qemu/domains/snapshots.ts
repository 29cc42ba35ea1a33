/**
 * Domain snapshots of the QEMU driver (libvirt's `virDomainSnapshot*`
 * calls): take, list, show and delete; revert is `snapshot-revert.ts`.
 *
 * - Internal (the default): the disks' states go into their qcow2 images,
 *   the memory of a running guest into one of them: QEMU's `snapshot-save`
 *   job (`lifecycle/runner-snapshot.ts`), or `qemu-img snapshot -c` on each
 *   disk of a shut-off guest.
 * - External: each disk onto a new qcow2 overlay (`snapshot-external.ts`),
 *   and a running guest's memory into a file if asked (`snapshot-memory.ts`).
 * - The tree: the snapshot's parent is the domain's current snapshot, and
 *   it becomes the current one. A delete (`snapshot-delete`, `qemu-img
 *   snapshot -d`, or for an external one `qemu-img commit`) moves the
 *   children up to its parent, or deletes them too (`children`); a deleted
 *   current snapshot passes that role to its parent, as in libvirt.
 *
 * Metadata is kept as libvirt keeps it (`snapshot-store.ts`); `redefine`
 * writes it back (`snapshot-redefine.ts`).
 *
 * @module
 */
import { DomainSnapshotDef, type SnapshotState, snapshotNameProblem } from '../../../conf/snapshot.js';
import type {
  CallOptions,
  DomainRef,
  DomainStateName,
  SnapshotCreateOptions,
  SnapshotDeleteOptions,
  SnapshotInfo,
  SnapshotXmlOptions,
} from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { parseXml } from '../../../xml/index.js';
import { assertValid } from '../../../xml/validate.js';
import { type Entry, isActive, refuseForeign } from './domain-entry.js';
import { migratableLive } from './migratable-live.js';
import type { DomainListAccess } from './migration.js';
import { refuseManagedSave } from './save-restore.js';
import { snapshotCookie } from './snapshot-cookie.js';
import { deleteExternalSnapshot } from './snapshot-delete-external.js';
import {
  disksElementData,
  type ExternalTarget,
  planSnapshot,
  qemuImgSnapshots,
  type SnapshotDiskPlan,
  storedPlan,
} from './snapshot-disks.js';
import {
  adoptOverlays,
  createOverlays,
  isExternal,
  refuseExistingOverlays,
  refuseMissingOverlays,
  removeOverlays,
} from './snapshot-external.js';
import { checkCreateFlags, quiesced } from './snapshot-flags.js';
import {
  type MemorySnapshotOptions,
  refuseExistingMemoryFile,
  takeMemorySnapshot,
} from './snapshot-memory.js';
import { redefineSnapshot } from './snapshot-redefine.js';
import { SnapshotStore } from './snapshot-store.js';

/** The snapshot files of domain `e`. */
export function storeOf(side: DomainListAccess, e: Entry): SnapshotStore {
  return new SnapshotStore(side.runners.options.stateRoot, e.name);
}

/** The snapshot document the caller gave, with the model's and the driver's name checks. */
function parseRequest(xml: string): DomainSnapshotDef {
  let def: DomainSnapshotDef;
  try {
    const root = parseXml(xml);
    if (root.name !== 'domainsnapshot')
      throw new VirError(
        'XML_ERROR',
        'qemu',
        `expecting root element of 'domainsnapshot', not '${root.name}'`,
        {
          field: '/',
        },
      );
    def = DomainSnapshotDef.fromElement(root);
  } catch (err) {
    if (err instanceof VirError) throw err;
    throw new VirError('XML_ERROR', 'qemu', `cannot parse the snapshot: ${(err as Error).message}`);
  }
  if (def.name !== undefined) {
    const problem = snapshotNameProblem(def.name);
    // libvirt's QEMU driver keeps a file per snapshot, named after it
    if (problem) throw new VirError('XML_DETAIL', 'qemu', problem, { field: '/domainsnapshot/name' });
  }
  // what only the driver writes on a new snapshot: a redefine (`snapshot-redefine.ts`) takes it
  for (const field of ['state', 'creationTime', 'parent', 'active', 'revertDisks'] as const)
    if (def[field] !== undefined)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `<${field}> is written by the driver; give it only with redefine`,
        { field: `/domainsnapshot/${field}` },
      );
  if (def.inactiveDomain !== undefined || def.domain !== undefined || def.cookie !== undefined)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'a new snapshot takes the domain as it is; give a definition only with redefine',
      {
        field:
          def.domain !== undefined
            ? '/domainsnapshot/domain'
            : def.cookie !== undefined
              ? '/domainsnapshot/cookie'
              : '/domainsnapshot/inactiveDomain',
      },
    );
  return def;
}

/** `virDomainSnapshotCreateXML`: takes a snapshot as the flags say (`snapshot-flags.ts`); returns its name. */
export async function createSnapshot(
  side: DomainListAccess,
  dom: DomainRef,
  xml: string,
  opts: CallOptions & SnapshotCreateOptions,
): Promise<string> {
  if (opts.validate) await assertValid(xml, 'domainsnapshot');
  if (opts.redefine) return redefineSnapshot(side, dom, xml, opts);
  const req = parseRequest(xml);
  const e = await side.owned(dom, opts, 'create a snapshot of');
  return side.jobs.run(e.uuid, 'snapshot create', () => takeSnapshot(side, e, req, opts), opts.signal);
}

async function takeSnapshot(
  side: DomainListAccess,
  e: Entry,
  req: DomainSnapshotDef,
  opts: CallOptions & SnapshotCreateOptions,
): Promise<string> {
  refuseForeign(e, 'snapshot');
  checkCreateFlags(e, opts, req.memory?.snapshot === 'external');
  const active = isActive(e);
  const state: SnapshotState = active ? (e.runner?.getState().state ?? 'shutoff') : 'shutoff';
  if (active && state !== 'running' && state !== 'paused')
    throw new VirError(
      'OPERATION_INVALID',
      'qemu',
      `domain '${e.name}' is ${state}: no snapshot can be taken`,
    );
  // a running guest's as another run starts from it (made-up socket paths and ports taken back)
  const dom = active ? migratableLive(e) : e.config;
  if (!dom) throw new VirError('OPERATION_INVALID', 'qemu', `domain '${e.name}' has no definition`);
  // a managed save image holds the memory the next start resumes: a snapshot would not match it
  if (!active) refuseManagedSave(side.runners.options.stateRoot, e, 'snapshot');
  const store = storeOf(side, e);
  const creationTime = Math.floor(Date.now() / 1000);
  const name = req.name ?? String(creationTime);
  if (store.has(name)) throw new VirError('OPERATION_FAILED', 'qemu', `domain moment ${name} already exists`);
  const plan = planSnapshot(req, name, dom, active, opts.diskOnly === true);
  const external = plan.external.length > 0;
  const withMemory = plan.memory === 'external';
  const reuse = opts.reuseExt === true;
  // REUSE_EXT: the overlays are the caller's (made with qemu-img): they must exist and are not made again
  if (external) (reuse ? refuseMissingOverlays : refuseExistingOverlays)(plan.external);
  if (withMemory) refuseExistingMemoryFile(plan, reuse);
  const parent = store.current();
  const snap = new DomainSnapshotDef();
  snap.name = name;
  if (req.description !== undefined) snap.description = req.description;
  // a running guest's disk-only snapshot holds no memory: libvirt calls its state disk-snapshot
  snap.state = external && active && !withMemory ? 'disk-snapshot' : state;
  if (parent !== undefined) snap.parent = { name: parent };
  snap.creationTime = creationTime;
  snap.memory =
    plan.memoryFile !== undefined
      ? { snapshot: 'external', file: plan.memoryFile }
      : { snapshot: plan.memory };
  snap.disks = disksElementData(plan);
  snap.domain = dom.toElement({ inactive: true, check: false });
  // a running guest whose next boot differs: the revert brings that definition back too
  if (
    active &&
    e.config &&
    e.config.toXML({ inactive: true, check: false }) !== dom.toXML({ inactive: true, check: false })
  )
    snap.inactiveDomain = { ...e.config.toElement({ inactive: true, check: false }), name: 'inactiveDomain' };
  snap.active = 1;
  // libvirt's save cookie, on the snapshots that hold a running guest's memory
  if (active && e.live && (withMemory || !external))
    snap.cookie = snapshotCookie(e.live, e.origCpu !== undefined);
  const take = () => takeExternal(side, e, plan.external, reuse, opts.signal);
  if (withMemory) await takeMemorySnapshot(side, e, plan, memoryOpts(opts));
  else if (external) await (opts.quiesce ? quiesced(e, take, opts.signal) : take());
  else if (active) await liveSave(e, name, plan.disks, opts.signal);
  else await qemuImgSnapshots('-c', name, plan.disks, opts.signal);
  // HALT: the guest stops once its state is taken (shutoff/from snapshot)
  if (opts.halt && isActive(e)) await e.runner!.snapshot.end();
  // NO_METADATA: the images hold the snapshot; nothing lists it
  if (opts.noMetadata) return name;
  try {
    store.write(snap);
    // the overlays a revert made are the new snapshot's bases now, as libvirt drops them from the parent
    const prev = parent !== undefined ? store.get(parent) : undefined;
    if (prev?.revertDisks !== undefined) {
      delete prev.revertDisks;
      store.write(prev);
    }
    store.setCurrent(name);
  } catch (err) {
    // the images hold a snapshot nothing lists: take it back out
    store.remove(name);
    // an external snapshot's overlays are the disks now (and its memory file what they match): they stay
    if (external || withMemory) throw err;
    if (active) await liveDelete(e, name, plan.disks).catch(() => {});
    else await qemuImgSnapshots('-d', name, plan.disks).catch(() => {});
    throw err;
  }
  return name;
}

function memoryOpts(opts: CallOptions & SnapshotCreateOptions): MemorySnapshotOptions {
  return {
    reuse: opts.reuseExt === true,
    live: opts.live === true,
    halt: opts.halt === true,
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
}

/** Overlays made, the running guest switched to them, the definitions naming them. */
async function takeExternal(
  side: DomainListAccess,
  e: Entry,
  targets: readonly ExternalTarget[],
  reuse: boolean,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (!reuse) await createOverlays(targets, signal);
  let numbers: Map<string, number> | undefined;
  if (isActive(e) && e.live) {
    try {
      numbers = await e.runner!.snapshot.external(targets, signal);
    } catch (err) {
      // the caller's own files (REUSE_EXT) stay
      if (!reuse) removeOverlays(targets.map((t) => t.overlay));
      throw err;
    }
  }
  adoptOverlays(side, e, targets, numbers);
}

/** The QMP block nodes of the disks a snapshot takes internally. */
export async function qmpDevices(e: Entry, plans: readonly SnapshotDiskPlan[]): Promise<string[]> {
  const nodes = await e.runner!.snapshot.diskNodes();
  return plans
    .filter((p) => p.location === 'internal')
    .map((p) => {
      const node = nodes.get(p.alias);
      if (!node)
        throw new VirError(
          'OPERATION_FAILED',
          'qemu',
          `QEMU shows no block node for disk ${p.target} (${p.alias})`,
        );
      return node;
    });
}

async function liveSave(e: Entry, name: string, plans: readonly SnapshotDiskPlan[], signal?: AbortSignal) {
  const devices = await qmpDevices(e, plans);
  // the memory goes into the first disk taken, as libvirt picks it
  await e.runner!.snapshot.save(name, devices[0]!, devices, signal);
}

async function liveDelete(e: Entry, name: string, plans: readonly SnapshotDiskPlan[], signal?: AbortSignal) {
  const devices = await qmpDevices(e, plans);
  if (devices.length > 0) await e.runner!.snapshot.remove(name, devices, signal);
}

/** The libvirt state name a listed snapshot reports. */
function listedState(s: DomainSnapshotDef): DomainStateName {
  const st = s.state ?? 'nostate';
  return st === 'disk-snapshot' ? 'shutoff' : st;
}

/** `virDomainListAllSnapshots`: oldest first, with which one is current. */
export async function listSnapshots(
  side: DomainListAccess,
  dom: DomainRef,
  opts: CallOptions,
): Promise<SnapshotInfo[]> {
  const e = await side.owned(dom, opts, 'list the snapshots of');
  return storeOf(side, e)
    .list()
    .map((s) => ({
      name: s.name!,
      state: listedState(s),
      creationTime: s.creationTime ?? 0,
      current: s.active === 1,
      ...(s.description !== undefined ? { description: s.description } : {}),
      ...(s.parentName !== undefined ? { parent: s.parentName } : {}),
    }));
}

/** `virDomainSnapshotGetXMLDesc`: the document as libvirt gives it (no `<active>`, which is its file's). */
export async function snapshotXml(
  side: DomainListAccess,
  dom: DomainRef,
  name: string,
  opts: SnapshotXmlOptions,
): Promise<string> {
  const e = await side.owned(dom, opts, 'read a snapshot of');
  const s = storeOf(side, e).get(name);
  delete s.active;
  return s.toXML({ hideSecrets: !opts.secure });
}

/** `virDomainSnapshotDelete`: the snapshot (and with `children` all below it), from the images and the metadata. */
export async function deleteSnapshot(
  side: DomainListAccess,
  dom: DomainRef,
  name: string,
  opts: CallOptions & SnapshotDeleteOptions,
): Promise<void> {
  const e = await side.owned(dom, opts, 'delete a snapshot of');
  await side.jobs.run(e.uuid, 'snapshot delete', () => remove(side, e, name, opts), opts.signal);
}

async function remove(
  side: DomainListAccess,
  e: Entry,
  name: string,
  opts: CallOptions & SnapshotDeleteOptions,
) {
  refuseForeign(e, 'delete a snapshot of');
  const store = storeOf(side, e);
  const all = store.list();
  const snap = store.get(name);
  const doomed = opts.children || opts.childrenOnly ? below(all, name) : [snap];
  if (opts.childrenOnly) doomed.shift();
  // libvirt merges one external snapshot at a time; a subtree of them it refuses
  const kids = opts.children ? doomed.slice(1) : opts.childrenOnly ? doomed : [];
  if (!opts.metadataOnly && (kids.some(isExternal) || (opts.children && isExternal(snap))))
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      kids.some(isExternal)
        ? 'deletion of external children disk snapshots not supported'
        : 'deletion of external disk snapshots with children not supported',
      { field: '/domainsnapshot/disks' },
    );
  const current = store.current();
  // the deepest first: a parent's image state stays valid while its children go
  for (const s of [...doomed].reverse()) {
    // metadataOnly: the images keep what they hold; only the metadata goes
    if (!opts.metadataOnly) await discardImages(side, e, store, s, opts.signal);
    store.remove(s.name!);
  }
  const gone = new Set(doomed.map((s) => s.name!));
  // read again: an external delete rewrote the definitions the others keep
  for (const s of store.list()) {
    if (gone.has(s.name!) || s.parentName === undefined || !gone.has(s.parentName)) continue;
    // children of a deleted snapshot move up to its parent
    if (snap.parent) s.parent = { name: snap.parent.name! };
    else delete s.parent;
    store.write(s);
  }
  // a snapshot left without children: the overlays a revert put the disks on are its own now
  for (const p of store.list()) {
    if (!p.revertDisks || (p.name !== snap.parentName && p.name !== name)) continue;
    if (store.list().some((s) => s.parentName === p.name)) continue;
    p.disks = p.revertDisks;
    delete p.revertDisks;
    store.write(p);
  }
  // the current snapshot gone: the nearest one kept takes that role, as libvirt
  if (current !== undefined && gone.has(current))
    store.setCurrent(opts.childrenOnly ? name : snap.parentName);
}

/** What snapshot `s` holds in the images: merged or removed (external), deleted from each image (internal). */
async function discardImages(
  side: DomainListAccess,
  e: Entry,
  store: SnapshotStore,
  s: DomainSnapshotDef,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (isExternal(s)) return deleteExternalSnapshot(side, e, store, s, signal);
  const domNow = isActive(e) ? e.live : e.config;
  if (!domNow) throw new VirError('OPERATION_INVALID', 'qemu', `domain '${e.name}' has no definition`);
  const plans = storedPlan(s, domNow);
  if (isActive(e)) await liveDelete(e, s.name!, plans, signal);
  else await qemuImgSnapshots('-d', s.name!, plans, signal);
}

/** `name` and every snapshot below it, parents first. */
function below(all: readonly DomainSnapshotDef[], name: string): DomainSnapshotDef[] {
  const out = all.filter((s) => s.name === name);
  for (let i = 0; i < out.length; i++)
    for (const s of all) if (s.parentName === out[i]!.name && !out.includes(s)) out.push(s);
  return out;
}

/** libvirt's undefine rule: an inactive domain with snapshots needs `snapshots` (their metadata goes too). */
export function undefineSnapshots(stateRoot: string, e: Entry, drop: boolean): void {
  const store = new SnapshotStore(stateRoot, e.name);
  const n = store.list().length;
  if (n === 0 || isActive(e)) return;
  if (!drop)
    throw new VirError('OPERATION_INVALID', 'qemu', `cannot delete inactive domain with ${n} snapshots`);
  store.removeAll();
}

/** libvirt's rename rule: a domain with snapshots keeps its name. */
export function refuseRenameWithSnapshots(stateRoot: string, e: Entry): void {
  if (new SnapshotStore(stateRoot, e.name).list().length > 0)
    throw new VirError('OPERATION_INVALID', 'qemu', 'cannot rename domain with snapshots');
}

/**
 * The snapshot calls of the test driver: take, list, show, revert to and
 * delete a snapshot, with libvirt's test-driver transitions and events.
 *
 * @module
 */
import type { DomainRef, SnapshotCreateOptions, SnapshotInfo, SnapshotRevertOptions } from '../../driver.js';
import { VirError } from '../../errors.js';
import {
  redefineSnapshot,
  refuseUnsupportedCreateFlags,
  refuseUnsupportedRevertFlags,
} from './snapshot-redefine.js';
import { descendants, formatSnapshotXml, parseSnapshotXml, type TestSnapshot } from './snapshots.js';
import { definitionElement, edited } from './test-definition.js';
import { ref, type TestDomain, type TestHost } from './test-host.js';

/**
 * Takes a snapshot of the domain as it is now (or with `redefine` puts a
 * snapshot's document back); returns its name. `halt` stops a running
 * guest afterwards (`stopped/from snapshot`); `quiesce`, `atomic` and
 * `live` change nothing here, as in libvirt's test driver.
 */
export function createSnapshot(
  host: TestHost,
  d: TestDomain,
  xml: string,
  flags: SnapshotCreateOptions = {},
): string {
  refuseUnsupportedCreateFlags(flags);
  if (flags.halt && !d.persistent)
    throw new VirError('OPERATION_INVALID', 'test', 'cannot halt after transient domain snapshot');
  if (flags.redefine) return redefineSnapshot(d, xml, flags.current === true);
  const req = parseSnapshotXml(xml);
  const creationTime = Math.floor(Date.now() / 1000);
  // libvirt names an unnamed snapshot after its creation time
  const name = req.name ?? String(creationTime);
  const snaps = d.snapshots ?? new Map<string, TestSnapshot>();
  d.snapshots = snaps;
  if (snaps.has(name)) throw new VirError('OPERATION_FAILED', 'test', `domain moment ${name} already exists`);
  const live = d.live;
  snaps.set(name, {
    name,
    description: req.description,
    state: live ? d.state : 'shutoff',
    parent: d.currentSnapshot,
    creationTime,
    // the running definition carries the memory and vCPU values of this moment
    def: live ? live.def : d.config,
  });
  d.currentSnapshot = name;
  if (flags.halt && d.id >= 0) host.emit(d, 'stopped', 'from snapshot', host.halt(d, 'from snapshot'));
  return name;
}

export function listSnapshots(d: TestDomain): SnapshotInfo[] {
  return [...(d.snapshots?.values() ?? [])].map((s) => ({
    name: s.name,
    state: s.state,
    creationTime: s.creationTime,
    current: s.name === d.currentSnapshot,
    ...(s.description !== undefined ? { description: s.description } : {}),
    ...(s.parent !== undefined ? { parent: s.parent } : {}),
  }));
}

export function snapshotXml(d: TestDomain, name: string, secure = false): string {
  const snap = snapshot(d, name);
  return formatSnapshotXml(snap, definitionElement(snap.def, { id: -1, inactive: true, secure }));
}

/**
 * Goes back to a snapshot as libvirt's test driver does: a running guest
 * is stopped first (`stopped/from snapshot`), a snapshot of a running or
 * paused guest boots again with a new id (`started/from snapshot`, then
 * `suspended/from snapshot` when paused), and the definition becomes the
 * snapshot's. `running` / `paused` ask for that end state instead of the
 * snapshot's, also from a shut-off snapshot (which a transient domain
 * needs). libvirt 9.0's test driver sends the events of that boot but
 * leaves the domain shut off; here it boots, as the flags document.
 */
export function revertToSnapshot(
  host: TestHost,
  d: TestDomain,
  name: string,
  flags: SnapshotRevertOptions = {},
): DomainRef {
  refuseUnsupportedRevertFlags(flags);
  const snap = snapshot(d, name);
  const askRun = flags.running === true || flags.paused === true;
  const toInactive = (snap.state === 'shutoff' || snap.state === 'nostate') && !askRun;
  if (toInactive && !d.persistent) {
    throw new VirError(
      'OPERATION_INVALID',
      'test',
      `transient domain '${d.name}' cannot revert to inactive snapshot '${snap.name}'`,
    );
  }
  if (d.persistent) d.config = snap.def;
  d.currentSnapshot = snap.name;
  // The snapshot's definition brings back the name it had then (a rename is undone).
  // libvirt does so even when another domain took that name meanwhile, leaving two
  // domains with one name; we keep the current name in that case.
  if (snap.def.name !== d.name && !host.byName.has(snap.def.name)) {
    host.rename(d, snap.def.name);
  } else if (snap.def.name !== d.name && d.persistent) {
    d.config = edited(snap.def, { name: d.name });
  }
  const wasActive = d.id >= 0;
  const hadNextBootDef = d.nextBootDef;
  const oldLive = d.live;
  if (wasActive) host.emit(d, 'stopped', 'from snapshot', host.halt(d, 'from snapshot'));
  if (toInactive) return ref(d);
  // Whether a transient domain has a next-boot definition after a revert flips, as in
  // libvirt's test driver: stopping one without it leaves the domain looking active, so
  // the snapshot's definition is installed as the next-boot one; with it, it is consumed.
  d.nextBootDef = d.persistent || (wasActive && !hadNextBootDef);
  host.start(d, d.name === snap.def.name ? snap.def : edited(snap.def, { name: d.name }));
  if (!d.persistent && oldLive && !hadNextBootDef) {
    // libvirt's quirk, kept for fidelity: a transient domain that never had a next-boot
    // definition boots on with its old running one; the snapshot's becomes the next-boot one.
    d.live = { def: oldLive.def, bootedAt: d.live?.bootedAt ?? process.hrtime.bigint() };
    d.config = snap.def;
  }
  d.managedSave = false;
  host.setState(d, 'running', 'from snapshot');
  host.emit(d, 'started', 'from snapshot');
  if (!flags.running && (snap.state === 'paused' || flags.paused)) {
    host.setState(d, 'paused', 'from snapshot');
    host.emit(d, 'suspended', 'from snapshot');
  }
  return ref(d);
}

export function deleteSnapshot(d: TestDomain, name: string, children: boolean | 'only'): void {
  const snap = snapshot(d, name);
  const snaps = d.snapshots ?? new Map<string, TestSnapshot>();
  const doomed = children ? descendants(snaps, name) : new Set([name]);
  if (children === 'only') {
    doomed.delete(name);
    // the current snapshot among the children passes that role to the one kept, as libvirt's test driver does
    if (d.currentSnapshot !== undefined && doomed.has(d.currentSnapshot)) d.currentSnapshot = name;
  }
  for (const s of snaps.values()) {
    // children of a deleted snapshot move up to its parent
    if (s.parent === name && !doomed.has(s.name)) s.parent = snap.parent;
  }
  for (const n of doomed) snaps.delete(n);
  if (d.currentSnapshot !== undefined && doomed.has(d.currentSnapshot)) d.currentSnapshot = undefined;
}

function snapshot(d: TestDomain, name: string): TestSnapshot {
  const snap = d.snapshots?.get(name);
  if (!snap) {
    throw new VirError('NO_DOMAIN_SNAPSHOT', 'test', `no domain snapshot with matching name '${name}'`);
  }
  return snap;
}

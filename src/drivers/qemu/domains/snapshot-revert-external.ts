/**
 * Revert to an external snapshot, with libvirt's (9.9 on) semantics: the
 * snapshot's own images (the disks' sources in its `<domain>`) are never
 * written; each disk gets a new qcow2 overlay on top of them, named as a
 * new snapshot's would be (the image's path without its suffix, then the
 * time of the revert in seconds), and the domain's definition points at
 * the overlays. The state being left (the current snapshot's overlays, or
 * the overlays a former revert made, `<revertDisks>`) is discarded: those
 * files are removed. The new overlays become the snapshot's `<disks>`, or
 * its `<revertDisks>` when it has children (whose bases its `<disks>` are).
 *
 * Everything that can be checked is checked before anything is done: the
 * disks' types, the overlays' names (none may exist).
 *
 * @module
 */
import { existsSync, rmSync } from 'node:fs';
import type { DomainDef } from '../../../conf/domain/index.js';
import { DomainSnapshotDef } from '../../../conf/snapshot.js';
import type { XmlNode } from '../../../xml/tree.js';
import { disksElementData, type ExternalTarget, planSnapshot } from './snapshot-disks.js';
import { refuseExistingOverlays, withOverlays } from './snapshot-external.js';
import type { SnapshotStore } from './snapshot-store.js';

/** What a revert to an external snapshot makes and discards, planned before anything is done. */
export interface ExternalRevertPlan {
  readonly targets: readonly ExternalTarget[];
  /** The definition the domain gets: the snapshot's, its disks on the new overlays. */
  readonly def: DomainDef;
  /** The snapshot's new `<disks>` (or `<revertDisks>`). */
  readonly disks: NonNullable<DomainSnapshotDef['disks']>;
}

/** Plans the overlays on `dom` (the snapshot's definition, the domain's name on it). */
export function planExternalRevert(dom: DomainDef, now: number): ExternalRevertPlan {
  const req = new DomainSnapshotDef();
  req.memory = { snapshot: 'no' };
  // every disk the default policy takes gets an overlay, as libvirt aligns them on revert
  req.disks = {
    disk: (dom.devices?.disks ?? []).map((d) => {
      const own = d.snapshot;
      const take =
        (own === undefined || own === 'external') &&
        (d.source?.file ?? d.source?.dev) !== undefined &&
        d.readonly === undefined;
      return { name: d.target.dev, snapshot: take ? ('external' as const) : ('no' as const) };
    }),
  };
  const plan = planSnapshot(req, String(now), dom, false);
  refuseExistingOverlays(plan.external);
  return { targets: plan.external, def: withOverlays(dom, plan.external), disks: disksElementData(plan) };
}

/** Every image file the given definitions (snapshots' `<domain>`s, the domain's) name as a disk source or in a chain. */
export function referencedImages(
  all: readonly DomainSnapshotDef[],
  doms: readonly (DomainDef | undefined)[] = [],
): Set<string> {
  const out = new Set<string>();
  const walk = (node: XmlNode | undefined): void => {
    if (node?.type !== 'element') return;
    if (node.name === 'source')
      for (const a of node.attrs) if (a.name === 'file' || a.name === 'dev') out.add(a.value);
    for (const c of node.children) walk(c);
  };
  for (const s of all) {
    walk(s.domain);
    walk(s.inactiveDomain);
  }
  for (const d of doms) if (d) walk(d.toElement({ inactive: true, check: false }));
  return out;
}

/**
 * After the overlays are made and the domain is on them: the state left
 * is discarded (its files removed, unless a snapshot's definition names
 * them) and the metadata written (`s` current, with its new disks).
 */
export function finishExternalRevert(
  store: SnapshotStore,
  s: DomainSnapshotDef,
  plan: ExternalRevertPlan,
): void {
  const all = store.list();
  const curName = store.current();
  const cur = all.find((x) => x.name === curName);
  if (cur) {
    const left = (cur.revertDisks ?? cur.disks)?.disk ?? [];
    const keep = referencedImages(all);
    for (const t of plan.targets) keep.add(t.base);
    for (const d of left) {
      const file = d.snapshot === 'external' ? d.source?.file : undefined;
      if (file !== undefined && !keep.has(file) && existsSync(file)) rmSync(file, { force: true });
    }
    if (cur.revertDisks !== undefined && cur.name !== s.name) {
      delete cur.revertDisks;
      store.write(cur);
    }
  }
  const hasChildren = all.some((x) => x.parentName === s.name);
  if (hasChildren) s.revertDisks = { disk: plan.disks.disk ?? [] };
  else {
    s.disks = plan.disks;
    delete s.revertDisks;
  }
  store.write(s);
  store.setCurrent(s.name);
}

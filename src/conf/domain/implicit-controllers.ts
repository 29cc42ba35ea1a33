/**
 * Merging implicit controllers into a definition's controller list in
 * libvirt's order, in linear time.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import type { ControllerDef, ControllerType } from './devices/index.js';
import type { DomainDefData } from './domain-spec.js';
import { isScsiHostdev } from './normalize-hostdevs.js';

/** Controllers a definition implies rather than lists (see {@link isImpliedController}). */
const implied = new WeakSet<ControllerDef>();

/**
 * Whether this controller was added because devices imply it. libvirt adds
 * those after its hypervisor driver added the machine's own controllers,
 * so a driver's defaults put them back after its own.
 */
export function isImpliedController(c: ControllerDef): boolean {
  return implied.has(c);
}

/** Far beyond any real guest; see addImplicitControllers. */
export const MAX_IMPLIED_CONTROLLER = 1023;

/**
 * Inserts each controller of `add` that `list` lacks (same type and index)
 * where libvirt's controller insertion puts it, in place: after the last
 * controller of its type with a lower index, before the next of its type
 * after that one, before the first of its type when all are higher, else
 * at the end. (libvirt's rule that a USB master goes before its companions
 * never applies here: a companion of the same index already counts.) Several are merged in one pass, so the cost stays linear in the
 * list plus the additions (up to a few thousand implied controllers).
 */
export function insertControllers(list: ControllerDef[], add: ControllerDef[]): void {
  const key = (c: ControllerDef) => `${c.type}\u0000${c.index ?? 0}`;
  const have = new Set(list.map(key));
  const fresh: ControllerDef[] = [];
  for (const c of add) {
    if (have.has(key(c))) continue;
    have.add(key(c));
    fresh.push(c);
  }
  if (fresh.length === 0) return;
  // Positions of each type in the list, in order.
  const positions = new Map<ControllerType, number[]>();
  for (const [i, c] of list.entries()) {
    const p = positions.get(c.type);
    if (p) p.push(i);
    else positions.set(c.type, [i]);
  }
  // The gap each new controller goes into: it is inserted before list[gap].
  const gaps = new Map<number, ControllerDef[]>();
  for (const c of fresh) {
    const gap = insertionGap(list, positions.get(c.type) ?? [], c);
    const g = gaps.get(gap);
    if (g) g.push(c);
    else gaps.set(gap, [c]);
  }
  const out: ControllerDef[] = [];
  const flush = (gap: number) => {
    const g = gaps.get(gap);
    if (!g) return;
    // Inserting one by one leaves those of one type in index order, types in the order they came.
    const byType = new Map<ControllerType, ControllerDef[]>();
    for (const c of g) {
      const group = byType.get(c.type);
      if (group) group.push(c);
      else byType.set(c.type, [c]);
    }
    for (const group of byType.values()) out.push(...group.sort((a, b) => (a.index ?? 0) - (b.index ?? 0)));
  };
  for (const [i, c] of list.entries()) {
    flush(i);
    out.push(c);
  }
  flush(list.length);
  list.splice(0, list.length, ...out);
}

/** Where libvirt inserts `c` among the controllers of its type at `same` (positions in `list`). */
function insertionGap(list: ControllerDef[], same: number[], c: ControllerDef): number {
  const idx = c.index ?? 0;
  const before = (cur: ControllerDef) => (cur.index ?? 0) > idx;
  let at = -1;
  for (let k = same.length - 1; k >= 0; k--) {
    const pos = same[k]!;
    if (before(list[pos]!)) at = pos;
    else {
      if (at < 0) at = pos + 1;
      break;
    }
  }
  return at < 0 ? list.length : at;
}

/**
 * Adds the controllers the devices imply (libvirt's generic implicit
 * controllers: drive controllers up to the highest a disk names,
 * virtio-serial for virtio consoles and channels, CCID for smartcards,
 * which also get their slots here). Idempotent: a controller already
 * there is kept where it is, so a driver may call it again after adding
 * its own defaults, which is the order libvirt uses (driver post-parse
 * first, then the generic step).
 */
export function addImplicitControllers(def: DomainDefData): void {
  const dev = def.devices!;
  const need: ControllerDef[] = [];
  for (const bus of ['fdc', 'scsi', 'ide', 'sata'] as const) {
    let max = -1;
    for (const d of dev.disks ?? [])
      if (d.target.bus === bus && d.address?.type === 'drive') max = Math.max(max, d.address.controller ?? 0);
    // every index up to the highest is implied, so the highest must be bounded: it comes from the document
    if (max > MAX_IMPLIED_CONTROLLER)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'conf',
        `a ${bus} disk on drive controller ${max} would imply ${max + 1} ${bus} controllers (at most ${MAX_IMPLIED_CONTROLLER + 1})`,
        { field: '/domain/devices/disk/address/@controller' },
      );
    for (let i = 0; i <= max; i++) need.push({ type: bus, index: i });
  }
  // SCSI host devices imply every SCSI controller up to the highest they sit
  // on; new ones get the model of the controller holding the host device on
  // the highest index seen (libvirt keeps the SCSI hostdevs on one model)
  let hostdevMax = -1;
  let hostdevModel: ControllerDef['model'];
  for (const h of dev.hostdevs ?? []) {
    if (!isScsiHostdev(h) || h.address?.type !== 'drive') continue;
    const controller = h.address.controller ?? 0;
    if (controller <= hostdevMax) continue;
    hostdevMax = controller;
    const holder = dev.controllers?.find((c) => c.type === 'scsi' && (c.index ?? 0) === controller);
    if (holder?.model !== undefined) hostdevModel = holder.model;
  }
  if (hostdevMax > MAX_IMPLIED_CONTROLLER)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'conf',
      `a SCSI host device on drive controller ${hostdevMax} would imply ${hostdevMax + 1} SCSI controllers (at most ${MAX_IMPLIED_CONTROLLER + 1})`,
      { field: '/domain/devices/hostdev/address/@controller' },
    );
  for (let i = 0; i <= hostdevMax; i++)
    need.push({ type: 'scsi', index: i, ...(hostdevModel !== undefined ? { model: hostdevModel } : {}) });
  for (const list of [dev.channels, dev.consoles])
    for (const c of list ?? [])
      if (c.target?.type === 'virtio')
        need.push({
          type: 'virtio-serial',
          index: c.address?.type === 'virtio-serial' ? (c.address.controller ?? 0) : 0,
        });
  const slots = new Map<number, Set<number>>();
  for (const s of dev.smartcards ?? []) {
    if (s.address?.type !== 'ccid') continue;
    const controller = s.address.controller ?? 0;
    const used = slots.get(controller) ?? new Set<number>();
    used.add(s.address.slot ?? 0);
    slots.set(controller, used);
  }
  for (const s of dev.smartcards ?? []) {
    if (!s.address) {
      const used = slots.get(0) ?? new Set<number>();
      let slot = 0;
      while (used.has(slot)) slot++;
      used.add(slot);
      slots.set(0, used);
      s.address = { type: 'ccid', controller: 0, slot };
    }
    if (s.address.type === 'ccid') need.push({ type: 'ccid', index: s.address.controller ?? 0 });
  }
  if (need.length === 0) return;
  dev.controllers ??= [];
  insertControllers(dev.controllers, need);
}

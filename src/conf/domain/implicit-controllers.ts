/**
 * Merging implicit controllers into a definition's controller list in
 * libvirt's order, in linear time.
 *
 * @module
 */
import type { ControllerDef, ControllerType } from './devices/index.js';

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
 * Adds the controllers in `need` that `list` lacks, each next to controllers
 * of the same type ordered by index, else at the end. One merge instead of
 * a scan and a splice per controller, so the cost stays linear.
 */
export function insertControllers(
  list: ControllerDef[],
  need: Array<[ControllerType, number]>,
): ControllerDef[] {
  const key = (type: string, index: number) => `${type}\u0000${index}`;
  const have = new Set(list.map((c) => key(c.type, c.index ?? 0)));
  const missing = new Map<ControllerType, number[]>();
  for (const [type, index] of need) {
    const k = key(type, index);
    if (have.has(k)) continue;
    have.add(k);
    const group = missing.get(type);
    if (group) group.push(index);
    else missing.set(type, [index]);
  }
  if (missing.size === 0) return list;
  for (const group of missing.values()) group.sort((a, b) => a - b);
  const last = new Map<string, number>();
  for (const [i, c] of list.entries()) last.set(c.type, i);
  const out: ControllerDef[] = [];
  const taken = new Map<ControllerType, number>(); // how many of each group are placed
  const place = (type: ControllerType, below: number) => {
    const group = missing.get(type);
    if (!group) return;
    let k = taken.get(type) ?? 0;
    for (; k < group.length && group[k]! < below; k++) {
      const c: ControllerDef = { type, index: group[k]! };
      implied.add(c);
      out.push(c);
    }
    taken.set(type, k);
  };
  list.forEach((cur, i) => {
    place(cur.type, cur.index ?? 0);
    out.push(cur);
    if (last.get(cur.type) === i) place(cur.type, Number.POSITIVE_INFINITY);
  });
  for (const type of missing.keys()) if (!last.has(type)) place(type, Number.POSITIVE_INFINITY);
  return out;
}

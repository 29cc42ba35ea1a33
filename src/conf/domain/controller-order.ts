/**
 * Parse-time rules of `<controller>` elements that libvirt applies to every
 * definition, whatever the hypervisor: the default place of an ICH9 UHCI
 * companion on its EHCI master, and the order controllers are kept in.
 *
 * @module
 */
import type { ControllerDef } from './devices/index.js';

/** First port of each ICH9 UHCI companion on its master's six ports. */
const COMPANION_START_PORT: Readonly<Record<string, number>> = {
  'ich9-uhci1': 0,
  'ich9-uhci2': 2,
  'ich9-uhci3': 4,
};

/** Gives each ICH9 UHCI companion without a `<master>` its usual start port. */
export function defaultCompanionMasters(list: ControllerDef[]): void {
  for (const c of list) {
    if (c.type !== 'usb' || c.master) continue;
    const port = COMPANION_START_PORT[c.model ?? ''];
    if (port !== undefined) c.master = { startport: port };
  }
}

/**
 * The controller list in the order libvirt builds it while parsing: each
 * controller, taken in document order, goes before the first controller of
 * its type with a higher index, or before a companion of the same index when
 * it is that index's master, else right after the last controller of its
 * type, else at the end. One without an index goes after the last of its
 * type. Quadratic in the worst case, which stays small for real controller
 * counts; the implied controllers (possibly thousands) are merged elsewhere.
 */
export function orderParsedControllers(list: readonly ControllerDef[]): ControllerDef[] {
  const out: ControllerDef[] = [];
  for (const c of list) {
    let at = -1;
    for (let i = out.length - 1; i >= 0; i--) {
      const cur = out[i]!;
      if (cur.type !== c.type) continue;
      if (c.index === undefined) {
        at = i + 1;
        break;
      }
      const curIndex = cur.index ?? -1;
      if (curIndex > c.index) at = i;
      else if (!c.master && cur.master && curIndex === c.index) at = i;
      else if (at === -1) at = i + 1;
    }
    if (at === -1) out.push(c);
    else out.splice(at, 0, c);
  }
  return out;
}

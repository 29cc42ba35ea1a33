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

const USB2_MODELS = new Set(['ich9-ehci1', 'ich9-uhci1', 'ich9-uhci2', 'ich9-uhci3']);
const isUsb2 = (c: ControllerDef) => c.type === 'usb' && USB2_MODELS.has(c.model ?? '');

/**
 * Gives each controller without an index one, in list order: the lowest
 * index its type does not use yet, except that an ICH9 USB2 controller right
 * after another USB2 controller (among the USB ones) joins that one's set,
 * unless the set already has a controller of its model. Returns the list,
 * put back in parse order when a USB2 controller was given an index (the
 * master-before-companions rule could not apply while it had none).
 */
export function assignControllerIndexes(list: ControllerDef[]): ControllerDef[] {
  let reorder = false;
  const unused = (type: ControllerDef['type']) => {
    let i = 0;
    while (list.some((c) => c.type === type && c.index === i)) i++;
    return i;
  };
  for (const [at, c] of list.entries()) {
    if (c.index !== undefined) continue;
    let joined: number | undefined;
    if (at > 0 && isUsb2(c)) {
      reorder = true;
      const prev = list.slice(0, at).findLast((o) => o.type === 'usb');
      if (prev && isUsb2(prev) && prev.index !== undefined) {
        const clash = list.some((o) => o.type === 'usb' && o.index === prev.index && o.model === c.model);
        if (!clash) joined = prev.index;
      }
    }
    c.index = joined ?? unused(c.type);
  }
  return reorder ? orderParsedControllers(list) : list;
}

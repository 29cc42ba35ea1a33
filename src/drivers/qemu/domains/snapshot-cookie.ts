/**
 * The `<cookie>` a snapshot of a running guest's memory carries, as
 * libvirt's QEMU driver writes it (its save cookie): the guest CPU as it
 * ran, when QEMU's read-back at start changed it from the definition
 * (the entry's `origCpu` is set, as libvirt's `origCPU`), and `<slirpHelper/>` unless an
 * interface uses QEMU's built-in user networking.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import { element, type XmlElement } from '../../../xml/tree.js';

/** The cookie of `live`, the running definition. */
export function snapshotCookie(live: DomainDef, cpuUpdated: boolean): XmlElement {
  const children: XmlElement[] = [];
  if (cpuUpdated) {
    const cpu = live
      .toElement({ check: false })
      .children.find((c) => c.type === 'element' && c.name === 'cpu');
    if (cpu?.type === 'element') children.push(cpu);
  }
  // QEMU's own slirp (a user interface on the default backend) rules the slirp helper out
  const builtinSlirp = (live.devices?.interfaces ?? []).some(
    (i) => i.type === 'user' && (i.backend?.type ?? 'default') === 'default',
  );
  if (!builtinSlirp) children.push(element('slirpHelper'));
  return element('cookie', [], children);
}

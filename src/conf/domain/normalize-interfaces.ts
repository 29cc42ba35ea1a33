/**
 * libvirt's parse-time rules for `<interface>`: a generated MAC where none
 * (or the all-zero one) is given, and the virtio-only parts of `<driver>`
 * and `<backend>` forgotten on a NIC that is not virtio, as libvirt's
 * parser never reads them there.
 *
 * @module
 */

import { unknownContent } from '../binding.js';
import { normalizeBandwidth } from '../network/netdev.js';
import type { InterfaceDef, InterfaceDriverDef } from './devices/index.js';
import { isVirtioNicModel } from './devices/index.js';
import { type NormalizeOptions, randomMac } from './normalize-options.js';

export function normalizeInterface(
  n: InterfaceDef,
  options: NormalizeOptions,
  field = '/domain/devices/interface',
): void {
  // libvirt: a floor only on an interface of a virtual network (whose port takes it); none given is none
  if (n.bandwidth) n.bandwidth = normalizeBandwidth(n.bandwidth, `${field}/bandwidth`, n.type === 'network');
  if (n.bandwidth && !n.bandwidth.inbound && !n.bandwidth.outbound) delete n.bandwidth;
  if (!n.mac || n.mac.address === '00:00:00:00:00:00') {
    const mac = (options.generateMac ?? randomMac)();
    if (n.mac) n.mac.address = mac;
    else n.mac = { address: mac };
  }
  // libvirt keeps a MAC as bytes: whatever the case given, it is written in lower case
  n.mac.address = n.mac.address.toLowerCase();
  const virtio = n.type !== 'hostdev' && isVirtioNicModel(n.model?.type);
  // a passed-through NIC's <driver> names the host driver (vfio): none of this applies
  if (n.driver && n.type !== 'hostdev') {
    if (!virtio) {
      // libvirt formats <driver> only for virtio NICs: what it reads is gone on output
      for (const k of Object.keys(n.driver) as Array<keyof InterfaceDriverDef>) delete n.driver[k];
    } else if (n.driver.queues === 1) {
      // one queue pair is what every NIC has; libvirt stores it as "not set"
      delete n.driver.queues;
    }
    const d = n.driver;
    if (d?.host && isEmpty(d.host) && !hasUnknown(d.host)) delete d.host;
    if (d?.guest && isEmpty(d.guest) && !hasUnknown(d.guest)) delete d.guest;
    // an element with nothing left to say is not written by libvirt
    if (d && isEmpty(d) && !hasUnknown(d)) delete n.driver;
  }
  if (n.backend?.vhost !== undefined && !virtio) delete n.backend.vhost;
  // coalescing zero frames is no coalescing: libvirt keeps nothing of it
  const c = n.coalesce;
  if (c && !c.rx?.frames?.max && !hasUnknown(c) && !hasUnknown(c.rx) && !hasUnknown(c.rx?.frames))
    delete n.coalesce;
}

/** Unknown XML inside a value the rules would drop: kept, so nothing the user wrote is lost. */
function hasUnknown(o: object | undefined): boolean {
  return (unknownContent(o ?? {})?.nodes ?? []).some((x) => x.node.type === 'element');
}

function isEmpty(o: object): boolean {
  return Object.values(o).every((v) => v === undefined);
}

/**
 * `<interface>`: a guest NIC, with its MAC, host-side source (virtual
 * network, bridge, user networking, macvtap `direct`, `ethernet` tap),
 * model, driver, packet filter and boot order.
 *
 * @module
 */
import {
  attr,
  child,
  children,
  childText,
  elementMapper,
  enumOf,
  type Infer,
  onOff,
  refine,
  req,
  str,
  uint32,
  yesNo,
} from '../../binding.js';
import { bandwidthMapper } from '../../network/netdev.js';
import { acpiIndexMapper, addressField } from '../address.js';
import { bootOrderMapper } from './disk.js';
import { virtioDriverOptions } from './virtio-options.js';

/**
 * The `type` values of `<interface>`: how the guest's NIC reaches a network (`network`, `bridge`,
 * `user`, ...).
 */
export const INTERFACE_TYPES = [
  'network',
  'bridge',
  'user',
  'direct',
  'ethernet',
  'hostdev',
  'vhostuser',
  'server',
  'client',
  'mcast',
  'udp',
  'internal',
  'vdpa',
  'null',
  'vds',
] as const;
/** One of `INTERFACE_TYPES`. */
export type InterfaceType = (typeof INTERFACE_TYPES)[number];

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** A unicast MAC address in `xx:xx:xx:xx:xx:xx` form. */
export const macCodec = refine(
  { parse: (s: string) => s.trim(), format: (s: string) => s.toLowerCase() },
  (s) => {
    if (!MAC_RE.test(s)) return `'${s}' is not a MAC address`;
    if (Number.parseInt(s.slice(0, 2), 16) & 1) return `'${s}' is a multicast MAC address`;
    return undefined;
  },
);

export const macMapper = elementMapper('mac', {
  address: req(attr('address', macCodec)),
  type: attr('type', enumOf(['generated', 'static'])),
  check: attr('check', yesNo),
});

export const interfaceSourceMapper = elementMapper('source', {
  network: attr('network', str),
  portgroup: attr('portgroup', str),
  portid: attr('portid', str),
  bridge: attr('bridge', str),
  dev: attr('dev', str),
  type: attr('type', str),
  path: attr('path', str),
  // after type and path: libvirt writes a vhost-user socket's mode last
  mode: attr('mode', str),
  address: attr('address', str),
  port: attr('port', str),
  /** The local end of a `udp` tunnel. */
  local: child(elementMapper('local', { address: attr('address', str), port: attr('port', str) })),
});

/** Offloads of the host side (`<driver><host .../>`), in libvirt's attribute order. */
const hostOffloadsMapper = elementMapper('host', {
  csum: attr('csum', onOff),
  gso: attr('gso', onOff),
  tso4: attr('tso4', onOff),
  tso6: attr('tso6', onOff),
  ecn: attr('ecn', onOff),
  ufo: attr('ufo', onOff),
  mrgRxbuf: attr('mrg_rxbuf', onOff),
});

/** Offloads the guest is offered (`<driver><guest .../>`). */
const guestOffloadsMapper = elementMapper('guest', {
  csum: attr('csum', onOff),
  tso4: attr('tso4', onOff),
  tso6: attr('tso6', onOff),
  ecn: attr('ecn', onOff),
  ufo: attr('ufo', onOff),
});

/** `<driver>` of a NIC: backend (`qemu` or in-kernel `vhost`), queues and virtio options. */
export const interfaceDriverMapper = elementMapper('driver', {
  // qemu/vhost for an emulated NIC; vfio/kvm/xen name the host driver of a passed-through one
  name: attr('name', enumOf(['qemu', 'vhost', 'vfio', 'kvm', 'xen'])),
  txmode: attr('txmode', enumOf(['iothread', 'timer'])),
  ioeventfd: attr('ioeventfd', onOff),
  eventIdx: attr('event_idx', onOff),
  queues: attr('queues', uint32),
  rxQueueSize: attr('rx_queue_size', uint32),
  txQueueSize: attr('tx_queue_size', uint32),
  rss: attr('rss', onOff),
  rssHashReport: attr('rss_hash_report', onOff),
  ...virtioDriverOptions,
  host: child(hostOffloadsMapper),
  guest: child(guestOffloadsMapper),
});
export type InterfaceDriverDef = Infer<typeof interfaceDriverMapper.spec>;

const interfaceIpMapper = elementMapper('ip', {
  address: req(attr('address', str)),
  family: attr('family', enumOf(['ipv4', 'ipv6'])),
  prefix: attr('prefix', uint32),
  peer: attr('peer', str),
});

const portForwardMapper = elementMapper('portForward', {
  proto: req(attr('proto', enumOf(['tcp', 'udp']))),
  address: attr('address', str),
  dev: attr('dev', str),
  ranges: children(
    elementMapper('range', {
      start: req(attr('start', uint32)),
      end: attr('end', uint32),
      to: attr('to', uint32),
      exclude: attr('exclude', yesNo),
    }),
  ),
});

const filterrefMapper = elementMapper('filterref', { filter: req(attr('filter', str)) });

export const interfaceMapper = elementMapper('interface', {
  type: req(attr('type', enumOf(INTERFACE_TYPES))),
  trustGuestRxFilters: attr('trustGuestRxFilters', yesNo),
  mac: child(macMapper),
  source: child(interfaceSourceMapper),
  /** Traffic shaping of the host end (`tc` on its tap), in kilobytes per second and kilobytes. */
  bandwidth: child(bandwidthMapper),
  /** Guest-side addresses (passt hands them out; other types set them on the host end). */
  ips: children(interfaceIpMapper),
  /** Host ports passt forwards into the guest. */
  portForwards: children(portForwardMapper),
  script: child(elementMapper('script', { path: req(attr('path', str)) })),
  downscript: child(elementMapper('downscript', { path: req(attr('path', str)) })),
  backendDomain: child(elementMapper('backenddomain', { name: req(attr('name', str)) })),
  target: child(elementMapper('target', { dev: req(attr('dev', str)), managed: attr('managed', yesNo) })),
  model: child(elementMapper('model', { type: req(attr('type', str)) })),
  driver: child(interfaceDriverMapper),
  backend: child(
    elementMapper('backend', {
      type: attr('type', enumOf(['default', 'passt'])),
      tap: attr('tap', str),
      vhost: attr('vhost', str),
      logFile: attr('logFile', str),
    }),
  ),
  filterref: child(filterrefMapper),
  tune: child(elementMapper('tune', { sndbuf: childText('sndbuf', uint32) })),
  teaming: child(
    elementMapper('teaming', {
      type: req(attr('type', enumOf(['persistent', 'transient']))),
      persistent: attr('persistent', str),
    }),
  ),
  link: child(elementMapper('link', { state: req(attr('state', enumOf(['up', 'down']))) })),
  mtu: child(elementMapper('mtu', { size: req(attr('size', uint32)) })),
  /** Interrupt coalescing of the host-side tap (`<coalesce><rx><frames max/>`). */
  coalesce: child(
    elementMapper('coalesce', {
      rx: child(
        elementMapper('rx', { frames: child(elementMapper('frames', { max: attr('max', uint32) })) }),
      ),
    }),
  ),
  boot: child(bootOrderMapper),
  alias: child(elementMapper('alias', { name: req(attr('name', str)) })),
  rom: child(
    elementMapper('rom', {
      bar: attr('bar', onOff),
      file: attr('file', str),
      enabled: attr('enabled', yesNo),
    }),
  ),
  acpi: child(acpiIndexMapper),
  address: addressField(),
});
export type InterfaceDef = Infer<typeof interfaceMapper.spec>;

/** NIC models that are virtio devices (libvirt matches model names case-insensitively). */
export function isVirtioNicModel(model: string | undefined): boolean {
  const m = model?.toLowerCase();
  return m === 'virtio' || m === 'virtio-transitional' || m === 'virtio-non-transitional';
}

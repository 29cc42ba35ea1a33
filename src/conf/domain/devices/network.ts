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
  elementMapper,
  enumOf,
  type Infer,
  refine,
  req,
  str,
  uint32,
  yesNo,
} from '../../binding.js';
import { addressField } from '../address.js';
import { bootOrderMapper } from './disk.js';

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
  mode: attr('mode', str),
  type: attr('type', str),
  path: attr('path', str),
  address: attr('address', str),
  port: attr('port', str),
});

const filterrefMapper = elementMapper('filterref', { filter: req(attr('filter', str)) });

export const interfaceMapper = elementMapper('interface', {
  type: req(attr('type', enumOf(INTERFACE_TYPES))),
  trustGuestRxFilters: attr('trustGuestRxFilters', yesNo),
  mac: child(macMapper),
  source: child(interfaceSourceMapper),
  backendDomain: child(elementMapper('backenddomain', { name: req(attr('name', str)) })),
  target: child(elementMapper('target', { dev: req(attr('dev', str)), managed: attr('managed', yesNo) })),
  model: child(elementMapper('model', { type: req(attr('type', str)) })),
  filterref: child(filterrefMapper),
  link: child(elementMapper('link', { state: req(attr('state', enumOf(['up', 'down']))) })),
  mtu: child(elementMapper('mtu', { size: req(attr('size', uint32)) })),
  boot: child(bootOrderMapper),
  address: addressField(),
});
export type InterfaceDef = Infer<typeof interfaceMapper.spec>;

/**
 * `<forward>` of a network: how its traffic leaves the host (NAT,
 * routing, an open network, or one of the modes that hand guests a host
 * interface: bridge, private, VEPA, passthrough, hostdev) and the pool of
 * devices those modes use.
 *
 * @module
 */
import {
  attr,
  child,
  children,
  elementMapper,
  enumOf,
  hexUint,
  type Infer,
  int,
  req,
  str,
  yesNo,
} from '../binding.js';
import { ignoredAttrs, objectError } from '../object-xml.js';
import { ipCodec, parseIp } from './addr.js';

/** The `mode` values of a network's `<forward>` (`nat`, `route`, `bridge`, ...). */
export const FORWARD_MODES = [
  'none',
  'nat',
  'route',
  'open',
  'bridge',
  'private',
  'vepa',
  'passthrough',
  'hostdev',
] as const;
/** One of `FORWARD_MODES`. */
export type ForwardMode = (typeof FORWARD_MODES)[number];

/** `managed` is read as libvirt reads it: "yes" in any case means yes, anything else no. */
const managedCodec = {
  parse: (raw: string) => raw.toLowerCase() === 'yes',
  format: (v: boolean) => (v ? 'yes' : 'no'),
};

const driverMapper = elementMapper('driver', {
  name: attr('name', enumOf(['kvm', 'vfio', 'xen'])),
  model: attr('model', str),
});

const port16 = int({ min: 0, max: 65535, hex: false });

const natAddressMapper = elementMapper('address', {
  start: req(attr('start', ipCodec)),
  end: attr('end', ipCodec),
});
const natPortMapper = elementMapper('port', {
  start: req(attr('start', port16)),
  end: attr('end', port16),
});
const natMapper = elementMapper('nat', {
  ipv6: attr('ipv6', yesNo),
  address: child(natAddressMapper),
  port: child(natPortMapper),
});
export type ForwardNat = Infer<typeof natMapper.spec>;

const pfMapper = elementMapper('pf', { dev: attr('dev', str) });

const interfaceMapper = elementMapper('interface', {
  dev: attr('dev', str),
  /** How many guests use the device: live state, read and dropped. */
  connections: ignoredAttrs('connections'),
});

export const forwardAddressMapper = elementMapper('address', {
  type: attr('type', str),
  domain: attr('domain', hexUint(4, 0xffff)),
  bus: attr('bus', hexUint(2, 0xff)),
  slot: attr('slot', hexUint(2, 0x1f)),
  function: attr('function', hexUint(1, 7)),
});
export type ForwardPciAddress = Infer<typeof forwardAddressMapper.spec>;

export const forwardMapper = elementMapper('forward', {
  dev: attr('dev', str),
  mode: attr('mode', enumOf(FORWARD_MODES)),
  managed: attr('managed', managedCodec),
  driver: child(driverMapper),
  nat: child(natMapper),
  pfs: children(pfMapper),
  interfaces: children(interfaceMapper),
  addresses: children(forwardAddressMapper),
});
export type NetworkForward = Infer<typeof forwardMapper.spec>;

function pciKey(a: ForwardPciAddress): string {
  return `${a.domain ?? 0}:${a.bus ?? 0}:${a.slot ?? 0}.${a.function ?? 0}`;
}

/**
 * libvirt's reading of `<forward>`: no mode means NAT; `dev` is the first
 * interface of the pool (and must match an explicit first `<interface>`);
 * interfaces, PCI addresses and a physical function exclude each other in
 * that order of precedence; devices are listed once; `<nat>` only in NAT
 * mode. Returns undefined for mode `none` (no forwarding at all).
 */
export function normalizeForward(f: NetworkForward, field: string): NetworkForward | undefined {
  const mode: ForwardMode = f.mode ?? 'nat';
  if (f.nat) {
    if (mode !== 'nat')
      throw objectError(
        'XML_ERROR',
        `${field}/nat`,
        "the <nat> element can only be used when <forward> 'mode' is 'nat'",
      );
    const a = f.nat.address;
    if (a) {
      const s = parseIp(a.start)!;
      const e = a.end === undefined ? undefined : parseIp(a.end);
      if (s.family !== 4 || (e && e.family !== 4))
        throw objectError('XML_ERROR', `${field}/nat/address`, 'only IPv4 addresses can be used for NAT');
    }
    const p = f.nat.port;
    if (p && p.end !== undefined && p.start > p.end)
      throw objectError('XML_ERROR', `${field}/nat/port`, 'the NAT port range is reversed');
  }
  if (f.dev !== undefined && (f.addresses || f.pfs))
    throw objectError(
      'XML_ERROR',
      `${field}/@dev`,
      "the 'dev' attribute cannot be used with <address> or <pf> sub-elements",
    );

  const out: NetworkForward = { mode };
  if (mode === 'hostdev') out.managed = f.managed === true;
  if (f.driver && (f.driver.name !== undefined || f.driver.model !== undefined)) out.driver = f.driver;
  if (f.nat && (f.nat.ipv6 !== undefined || f.nat.address || f.nat.port)) out.nat = f.nat;

  const ifs: string[] = f.dev === undefined ? [] : [f.dev];
  for (const [i, it] of (f.interfaces ?? []).entries()) {
    const at = `${field}/interface[${i + 1}]`;
    if (it.dev === undefined) throw objectError('XML_ERROR', `${at}/@dev`, 'missing required dev attribute');
    if (i === 0 && f.dev !== undefined) {
      if (it.dev !== f.dev)
        throw objectError(
          'XML_ERROR',
          at,
          `<forward dev='${f.dev}'> must match first <interface dev='${it.dev}'/>`,
        );
      continue;
    }
    if (ifs.includes(it.dev))
      throw objectError('XML_ERROR', at, `interface '${it.dev}' can only be listed once`);
    ifs.push(it.dev);
  }
  if (ifs.length > 0) {
    out.dev = ifs[0]!;
    out.interfaces = ifs.map((dev) => ({ dev }));
  } else if (f.addresses) {
    const seen = new Set<string>();
    for (const [i, a] of f.addresses.entries()) {
      const at = `${field}/address[${i + 1}]`;
      if (a.type === undefined) throw objectError('XML_ERROR', `${at}/@type`, 'missing address type');
      if (a.type !== 'pci') {
        const known = a.type === 'netdev' || a.type === 'none';
        throw objectError(
          known ? 'XML_ERROR' : 'CONFIG_UNSUPPORTED',
          `${at}/@type`,
          `unsupported address type '${a.type}'`,
        );
      }
      const key = pciKey(a);
      if (seen.has(key)) throw objectError('XML_ERROR', at, `PCI device ${key} can only be listed once`);
      seen.add(key);
    }
    out.addresses = f.addresses.map((a) => ({
      type: 'pci',
      domain: a.domain ?? 0,
      bus: a.bus ?? 0,
      slot: a.slot ?? 0,
      function: a.function ?? 0,
    }));
  } else if (f.pfs) {
    if (f.pfs.length > 1)
      throw objectError('XML_ERROR', `${field}/pf`, 'only one <pf> element is allowed in <forward>');
    if (f.pfs[0]!.dev === undefined)
      throw objectError('XML_ERROR', `${field}/pf/@dev`, 'missing required dev attribute');
    out.pfs = f.pfs;
  }
  return mode === 'none' ? undefined : out;
}

/** Modes whose network has its own bridge (and so STP settings). */
export function modeHasBridge(mode: ForwardMode): boolean {
  return mode === 'none' || mode === 'nat' || mode === 'route' || mode === 'open';
}

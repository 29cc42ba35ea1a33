/**
 * `<ip>` of a network: the host side address, DHCP (ranges, static hosts,
 * leases, BOOTP) and a TFTP root, with libvirt's family rules.
 *
 * @module
 */
import {
  attr,
  child,
  childAttr,
  children,
  elementMapper,
  enumOf,
  type Field,
  type Infer,
  int,
  req,
  str,
  uint64,
  yesNo,
} from '../binding.js';
import { keepEndTag, objectError } from '../object-xml.js';
import { ipCodec, isMulticastMac, macAddressCodec, netmaskPrefix, parseIp } from './addr.js';

/** The `unit` values of a DHCP `<lease expiry>`. */
export const LEASE_UNITS = ['seconds', 'minutes', 'hours'] as const;

const leaseMapper = elementMapper('lease', {
  expiry: attr('expiry', uint64),
  unit: attr('unit', enumOf(LEASE_UNITS)),
});
export type DhcpLease = Infer<typeof leaseMapper.spec>;

const rangeMapper = elementMapper('range', {
  start: req(attr('start', ipCodec)),
  end: req(attr('end', ipCodec)),
  lease: child(leaseMapper),
});
export type DhcpRange = Infer<typeof rangeMapper.spec>;

const dhcpHostMapper = elementMapper('host', {
  // libvirt keeps a static host's MAC as written (it checks it, it does not reformat it).
  mac: attr('mac', str),
  id: attr('id', str),
  name: attr('name', str),
  ip: attr('ip', ipCodec),
  lease: child(leaseMapper),
});
export type DhcpHost = Infer<typeof dhcpHostMapper.spec>;

const bootpMapper = elementMapper('bootp', {
  file: req(attr('file', str)),
  server: attr('server', ipCodec),
});

const dhcpMapper = elementMapper('dhcp', {
  ranges: children(rangeMapper),
  hosts: children(dhcpHostMapper),
  bootp: child(bootpMapper),
});
export type NetworkDhcp = Infer<typeof dhcpMapper.spec>;

const ipMapper = elementMapper('ip', {
  family: attr('family', str),
  address: attr('address', ipCodec),
  netmask: attr('netmask', ipCodec),
  prefix: attr('prefix', int({ min: 0, max: 0xffffffff, hex: false })),
  localPtr: attr('localPtr', yesNo),
  tftpRoot: childAttr('tftp', 'root', str),
  dhcp: child(dhcpMapper),
});
export type NetworkIp = Infer<typeof ipMapper.spec>;

/** libvirt writes `<ip>` with an end tag even when it has no children. */
export const ipsField: Field<NetworkIp[]> = {
  ...children(ipMapper),
  writeChildren(value, out) {
    for (const ip of value) out.push(keepEndTag(ipMapper.write(ip), 1));
  },
};

/** The prefix an address uses: given, from its netmask, or the classful/IPv6 default. */
export function ipPrefix(ip: NetworkIp): number | undefined {
  if (ip.prefix !== undefined && ip.prefix > 0) return ip.prefix;
  if (ip.netmask !== undefined) return netmaskPrefix(ip.netmask);
  const a = ip.address === undefined ? undefined : parseIp(ip.address);
  if (!a) return undefined;
  if (a.family === 6) return 64;
  const first = a.bytes[0]!;
  return first < 128 ? 8 : first < 192 ? 16 : first < 224 ? 24 : undefined;
}

function toBigInt(bytes: number[]): bigint {
  return bytes.reduce((acc, b) => (acc << 8n) | BigInt(b), 0n);
}

function normalizeLease(l: DhcpLease | undefined, field: string): DhcpLease | undefined {
  if (!l || l.expiry === undefined) return undefined;
  const unit = l.unit ?? 'minutes';
  if (l.expiry > 0n && ((unit === 'seconds' && l.expiry < 120n) || (unit === 'minutes' && l.expiry < 2n)))
    throw objectError('CONFIG_UNSUPPORTED', field, 'the minimum lease time should be greater than 2 minutes');
  // An expiry of 0 means an infinite lease and is written without a unit.
  return l.expiry === 0n ? { expiry: 0n } : { expiry: l.expiry, unit };
}

/** Checks one `<ip>` as libvirt does; `field` is its path. */
export function normalizeIp(ip: NetworkIp, field: string): NetworkIp {
  if (ip.address === undefined)
    throw objectError('XML_ERROR', `${field}/@address`, 'missing required address attribute');
  const fam = parseIp(ip.address)!.family;
  if (ip.family === undefined || ip.family === 'ipv4') {
    if (fam !== 4)
      throw objectError(
        'CONFIG_UNSUPPORTED',
        field,
        `${ip.family ?? 'no'} family specified for non-IPv4 address '${ip.address}'`,
      );
    if (ip.netmask !== undefined) {
      if (parseIp(ip.netmask)!.family !== 4)
        throw objectError('CONFIG_UNSUPPORTED', `${field}/@netmask`, 'netmask and address must both be IPv4');
      if (ip.prefix !== undefined && ip.prefix > 0)
        throw objectError(
          'CONFIG_UNSUPPORTED',
          field,
          'an IP address cannot have both a prefix and a netmask',
        );
    } else if (ip.prefix !== undefined && ip.prefix > 32)
      throw objectError('CONFIG_UNSUPPORTED', `${field}/@prefix`, `invalid IPv4 prefix '${ip.prefix}'`);
  } else if (ip.family === 'ipv6') {
    if (fam !== 6)
      throw objectError(
        'CONFIG_UNSUPPORTED',
        field,
        `family 'ipv6' specified for non-IPv6 address '${ip.address}'`,
      );
    if (ip.netmask !== undefined)
      throw objectError('CONFIG_UNSUPPORTED', `${field}/@netmask`, 'netmask not allowed for IPv6');
    if (ip.prefix !== undefined && ip.prefix > 128)
      throw objectError('CONFIG_UNSUPPORTED', `${field}/@prefix`, `invalid IPv6 prefix '${ip.prefix}'`);
  } else throw objectError('XML_ERROR', `${field}/@family`, `unrecognized family '${ip.family}'`);
  if (ip.prefix === 0) delete ip.prefix;

  if (ip.tftpRoot !== undefined && fam !== 4)
    throw objectError('CONFIG_UNSUPPORTED', `${field}/tftp`, 'unsupported <tftp> element in an IPv6 element');

  const dhcp = ip.dhcp;
  if (dhcp) {
    const prefix = ipPrefix(ip);
    const net = toBigInt(parseIp(ip.address)!.bytes);
    const width = fam === 4 ? 32 : 128;
    const inNet = (a: bigint) =>
      prefix === undefined || a >> BigInt(width - prefix) === net >> BigInt(width - prefix);
    for (const [i, r] of (dhcp.ranges ?? []).entries()) {
      const at = `${field}/dhcp/range[${i + 1}]`;
      const s = parseIp(r.start)!;
      const e = parseIp(r.end)!;
      if (s.family !== fam || e.family !== fam)
        throw objectError(
          'XML_ERROR',
          at,
          `range ${r.start} - ${r.end} is not of the family of ${ip.address}`,
        );
      const sv = toBigInt(s.bytes);
      const ev = toBigInt(e.bytes);
      if (sv > ev) throw objectError('XML_ERROR', at, `range ${r.start} - ${r.end} is reversed`);
      if (!inNet(sv) || !inNet(ev))
        throw objectError(
          'XML_ERROR',
          at,
          `range ${r.start} - ${r.end} is not within network ${ip.address}/${prefix}`,
        );
      const lease = normalizeLease(r.lease, `${at}/lease`);
      if (lease) r.lease = lease;
      else delete r.lease;
    }
    for (const [i, h] of (dhcp.hosts ?? []).entries()) {
      const at = `${field}/dhcp/host[${i + 1}]`;
      if (h.mac !== undefined) {
        if (fam === 6)
          throw objectError('XML_ERROR', `${at}/@mac`, 'a MAC address is not allowed in an IPv6 static host');
        let mac: string;
        try {
          mac = macAddressCodec.parse(h.mac);
        } catch {
          throw objectError('XML_ERROR', `${at}/@mac`, `cannot parse MAC address '${h.mac}'`);
        }
        if (isMulticastMac(mac))
          throw objectError(
            'XML_ERROR',
            `${at}/@mac`,
            `expected unicast mac address, found multicast '${h.mac}'`,
          );
      }
      if (h.id !== undefined && !/^[0-9a-fA-F:]*$/.test(h.id))
        throw objectError('XML_ERROR', `${at}/@id`, `invalid character in id '${h.id}'`);
      if (h.name !== undefined && !/^[A-Za-z0-9]/.test(h.name))
        throw objectError('XML_ERROR', `${at}/@name`, `cannot use host name '${h.name}'`);
      if (
        fam === 6 ? h.id === undefined && h.name === undefined : h.mac === undefined && h.name === undefined
      )
        throw objectError(
          'XML_ERROR',
          at,
          fam === 6
            ? 'an IPv6 static host needs an id or a name'
            : 'an IPv4 static host needs a mac or a name',
        );
      if (h.ip === undefined)
        throw objectError('XML_ERROR', `${at}/@ip`, 'missing IP address in static host definition');
      const lease = normalizeLease(h.lease, `${at}/lease`);
      if (lease) h.lease = lease;
      else delete h.lease;
    }
    // libvirt writes <dhcp> (and with it <bootp>) only when it has ranges or hosts.
    if (!dhcp.ranges && !dhcp.hosts) delete ip.dhcp;
  }
  return ip;
}

// --- routes ------------------------------------------------------------------

const routeMapper = elementMapper('route', {
  family: attr('family', str),
  address: attr('address', ipCodec),
  netmask: attr('netmask', ipCodec),
  prefix: attr('prefix', int({ min: 0, max: 128, hex: false })),
  gateway: attr('gateway', ipCodec),
  metric: attr('metric', int({ min: 0, max: 0xffffffff, hex: false })),
});
/** The `<route>` children of `<network>`, in document order: static routes the network adds. */
export const routesField = children(routeMapper);
export type NetworkRoute = Infer<typeof routeMapper.spec>;

/** Route rules: address and gateway of the route's family; a network address; gateway on one of the network's subnets. */
export function checkRoute(r: NetworkRoute, field: string, ips: NetworkIp[]): void {
  if (r.address === undefined)
    throw objectError('XML_ERROR', `${field}/@address`, 'missing required address attribute');
  if (r.gateway === undefined)
    throw objectError('XML_ERROR', `${field}/@gateway`, 'missing required gateway attribute');
  const a = parseIp(r.address)!;
  const g = parseIp(r.gateway)!;
  const want = r.family === 'ipv6' ? 6 : r.family === undefined || r.family === 'ipv4' ? 4 : undefined;
  if (want === undefined)
    throw objectError('XML_ERROR', `${field}/@family`, `unrecognized family '${r.family}'`);
  if (a.family !== want || g.family !== want)
    throw objectError('XML_ERROR', field, `address and gateway must be IPv${want}`);
  if (r.netmask !== undefined && want === 6)
    throw objectError('XML_ERROR', `${field}/@netmask`, 'netmask is invalid for IPv6');
  if (r.netmask !== undefined && r.prefix !== undefined)
    throw objectError('XML_ERROR', field, 'a route cannot have both a prefix and a netmask');
  if (want === 4 && r.prefix !== undefined && r.prefix > 32)
    throw objectError('XML_ERROR', `${field}/@prefix`, `invalid prefix ${r.prefix}, must be 0 - 32`);
  const width = want === 4 ? 32 : 128;
  const prefix =
    r.netmask !== undefined ? (netmaskPrefix(r.netmask) ?? 0) : (r.prefix ?? (want === 4 ? 32 : 128));
  const addr = toBigInt(a.bytes);
  const host = (1n << BigInt(width - prefix)) - 1n;
  if ((addr & host) !== 0n)
    throw objectError('XML_ERROR', `${field}/@address`, `'${r.address}' is not a network address`);
  const gw = toBigInt(g.bytes);
  const reachable = ips.some((ip) => {
    const ia = ip.address === undefined ? undefined : parseIp(ip.address);
    const p = ipPrefix(ip);
    if (!ia || ia.family !== want || p === undefined) return false;
    return toBigInt(ia.bytes) >> BigInt(width - p) === gw >> BigInt(width - p);
  });
  if (!reachable)
    throw objectError(
      'CONFIG_UNSUPPORTED',
      `${field}/@gateway`,
      `unreachable static route gateway '${r.gateway}'`,
    );
}

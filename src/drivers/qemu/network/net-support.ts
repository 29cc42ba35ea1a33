/**
 * What a network start carries out, and the refusal of the rest: a field
 * this driver does not act on is `CONFIG_UNSUPPORTED` naming it, never
 * started without. Carried out: `bridge` forward mode on an existing host
 * bridge; `nat`, `route` and isolated networks with a bridge of their own
 * (name, STP, delay, MAC, MTU), one IPv4 address with its DHCP ranges and
 * static hosts, the domain name, DNS on or off with host records, and
 * `<dnsmasq:options>`.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { NetworkDef } from '../../../conf/network/network-def.js';
import { VirError } from '../../../errors.js';

function refuse(what: string, field: string): never {
  throw new VirError('CONFIG_UNSUPPORTED', 'network', `${what} is not supported by virtkit's networks yet`, {
    field,
  });
}

/** Refuses the first field of `def` a start would not carry out. */
export function refuseUnsupported(def: NetworkDef): void {
  const mode = def.forwardMode;
  if (!['bridge', 'nat', 'route', 'none'].includes(mode))
    refuse(`forward mode '${mode}'`, '/network/forward/@mode');
  const unknown = unknownContent(def);
  for (const { node } of unknown?.nodes ?? [])
    if (node.type === 'element') refuse(`the <${node.name}> element`, `/network/${node.name}`);
  if (unknown?.attrs[0])
    refuse(`the ${unknown.attrs[0].name} attribute`, `/network/@${unknown.attrs[0].name}`);
  const f = def.forward;
  if (f?.dev !== undefined) refuse('a forward device', '/network/forward/@dev');
  if (f?.interfaces?.length) refuse('forward interfaces', '/network/forward/interface');
  if (f?.nat) refuse('NAT address and port ranges', '/network/forward/nat');
  if (def.vlan) refuse('VLAN tagging', '/network/vlan');
  if (def.bandwidth) refuse('traffic shaping', '/network/bandwidth');
  if (def.virtualPort) refuse('a virtual port', '/network/virtualport');
  if (def.portGroups?.length) refuse('port groups', '/network/portgroup');
  if (def.isolatedPort !== undefined) refuse('isolated ports', '/network/port/@isolated');
  if (def.trustGuestRxFilters !== undefined) refuse('trustGuestRxFilters', '/network/@trustGuestRxFilters');
  if (def.bridge?.zone !== undefined) refuse('a firewalld zone', '/network/bridge/@zone');
  if (def.bridge?.macTableManager === 'libvirt')
    refuse("macTableManager='libvirt'", '/network/bridge/@macTableManager');
  if (mode === 'bridge') {
    if (def.bridge?.name === undefined)
      throw new VirError('XML_ERROR', 'network', "forward mode='bridge' needs <bridge name='...'/>", {
        field: '/network/bridge/@name',
      });
    for (const k of ['ips', 'routes', 'dns', 'domain', 'mac', 'mtu', 'dnsmasqOptions'] as const) {
      const v = def[k];
      if (v !== undefined && !(Array.isArray(v) && v.length === 0))
        refuse(`'${k}' on a network of an existing host bridge`, `/network/${k === 'ips' ? 'ip' : k}`);
    }
    return;
  }
  if (def.routes?.length) refuse('static routes', '/network/route');
  if (def.ipv6) refuse("ipv6='yes'", '/network/@ipv6');
  if (def.domain?.register) refuse('registering the domain', '/network/domain/@register');
  const dns = def.dns;
  if (dns?.forwarders?.length) refuse('DNS forwarders', '/network/dns/forwarder');
  if (dns?.txts?.length) refuse('DNS TXT records', '/network/dns/txt');
  if (dns?.srvs?.length) refuse('DNS SRV records', '/network/dns/srv');
  if (dns?.forwardPlainNames !== undefined) refuse('forwardPlainNames', '/network/dns/@forwardPlainNames');
  const ips = def.ips ?? [];
  // IPv6 first: the usual second address is an IPv6 one, and that is what to name
  for (const [i, ip] of ips.entries())
    if (ip.family === 'ipv6' || ip.address?.includes(':'))
      refuse(
        'IPv6 addresses (bridge address, DHCPv6 and router advertisements)',
        `/network/ip[${i + 1}]/@address`,
      );
  if (ips.length > 1) refuse('more than one address', '/network/ip[2]');
  for (const [i, ip] of ips.entries()) {
    const at = `/network/ip[${i + 1}]`;
    if (ip.localPtr !== undefined) refuse('localPtr', `${at}/@localPtr`);
    if (ip.tftpRoot !== undefined) refuse('a TFTP root', `${at}/tftp`);
    if (ip.dhcp?.bootp) refuse('BOOTP', `${at}/dhcp/bootp`);
    for (const [j, h] of (ip.dhcp?.hosts ?? []).entries())
      if (h.id !== undefined) refuse('DHCP hosts by client id', `${at}/dhcp/host[${j + 1}]/@id`);
  }
}

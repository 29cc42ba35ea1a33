/**
 * What a qemu-driver network start refuses before touching the host: each
 * element or attribute of libvirt's network XML (formatnetwork.html) that
 * the driver does not carry out is CONFIG_UNSUPPORTED naming it, never
 * started without. IPv6 is named as such even beside an IPv4 address (the
 * usual dual-stack definition), not as "more than one address".
 */
import { describe, expect, it } from 'vitest';
import { NetworkDef } from '../../../src/conf/network/network-def.js';
import { refuseUnsupported } from '../../../src/drivers/qemu/network/net-support.js';
import { VirError } from '../../../src/errors.js';

const V4 =
  "<ip address='10.213.60.1' prefix='24'><dhcp><range start='10.213.60.10' end='10.213.60.20'/></dhcp></ip>";
const net = (body: string, forward = "<forward mode='nat'/>") =>
  NetworkDef.fromXML(`<network><name>n</name>${forward}<bridge name='vk-combo2'/>${body}</network>`);

function refusal(def: NetworkDef): VirError | undefined {
  try {
    refuseUnsupported(def);
  } catch (err) {
    if (err instanceof VirError) return err;
    throw err;
  }
  return undefined;
}

describe('network start refusals', () => {
  it('carries out a NAT network with one IPv4 address, DHCP, static hosts, a domain and DNS hosts', () => {
    expect(
      refusal(
        net(`<domain name='example.test' localOnly='yes'/><dns><host ip='10.213.60.7'><hostname>web</hostname></host></dns>
        <ip address='10.213.60.1' prefix='24'><dhcp><range start='10.213.60.10' end='10.213.60.20'/>
        <host mac='52:54:00:c0:b2:01' ip='10.213.60.5' name='fixed'/></dhcp></ip>`),
      ),
    ).toBeUndefined();
  });

  it.each([
    ['IPv6 alone', "<ip family='ipv6' address='fd00:213:60::1' prefix='64'/>", '/network/ip[1]/@address'],
    [
      'IPv6 beside IPv4, with DHCPv6',
      `${V4}<ip family='ipv6' address='fd00:213:60::1' prefix='64'><dhcp><range start='fd00:213:60::10' end='fd00:213:60::20'/></dhcp></ip>`,
      '/network/ip[2]/@address',
    ],
    ['two IPv4 addresses', `${V4}<ip address='10.213.61.1' prefix='24'/>`, '/network/ip[2]'],
    ["ipv6='yes' (guest-to-guest IPv6)", '', '/network/@ipv6'],
    [
      'a static route',
      `${V4}<route address='10.213.62.0' prefix='24' gateway='10.213.60.2'/>`,
      '/network/route',
    ],
    ['DNS forwarders', `<dns><forwarder addr='192.0.2.53'/></dns>${V4}`, '/network/dns/forwarder'],
    ['a DNS TXT record', `<dns><txt name='t' value='v'/></dns>${V4}`, '/network/dns/txt'],
    [
      'a DNS SRV record',
      `<dns><srv service='ldap' protocol='tcp' target='h' port='389'/></dns>${V4}`,
      '/network/dns/srv',
    ],
    [
      'a TFTP root',
      "<ip address='10.213.60.1' prefix='24'><tftp root='/srv/tftp'/></ip>",
      '/network/ip[1]/tftp',
    ],
    [
      'BOOTP',
      "<ip address='10.213.60.1' prefix='24'><dhcp><range start='10.213.60.10' end='10.213.60.20'/><bootp file='pxelinux.0'/></dhcp></ip>",
      '/network/ip[1]/dhcp/bootp',
    ],
    ['a VLAN tag', `<vlan><tag id='42'/></vlan>${V4}`, '/network/vlan'],
    ['bandwidth', `<bandwidth><inbound average='1000'/></bandwidth>${V4}`, '/network/bandwidth'],
    ['a port group', `<portgroup name='g'/>${V4}`, '/network/portgroup'],
  ])('refuses %s', (_what, body, field) => {
    const xml =
      field === '/network/@ipv6' ? net(V4).toXML().replace('<network>', "<network ipv6='yes'>") : undefined;
    const err = refusal(xml ? NetworkDef.fromXML(xml) : net(body));
    expect(err).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field });
  });

  it('refuses NAT address ranges and the forward modes without a bridge of their own', () => {
    expect(
      refusal(
        net(V4, "<forward mode='nat'><nat><address start='192.0.2.10' end='192.0.2.20'/></nat></forward>"),
      ),
    ).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: '/network/forward/nat' });
    for (const forward of [
      "<forward mode='open'/>",
      ...['private', 'vepa', 'passthrough'].map(
        (m) => `<forward mode='${m}'><interface dev='eth9'/></forward>`,
      ),
    ])
      expect(refusal(NetworkDef.fromXML(`<network><name>n</name>${forward}</network>`))).toMatchObject({
        code: 'CONFIG_UNSUPPORTED',
        field: '/network/forward/@mode',
      });
  });
});

import { describe, expect, it } from 'vitest';
import { formatIp, parseIp } from '../../../src/conf/network/addr.js';
import { NetworkDef } from '../../../src/conf/network/network-def.js';
import { VirError } from '../../../src/errors.js';
import { validate } from '../../../src/xml/validate.js';

function refused(fn: () => unknown): VirError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VirError);
    return err as VirError;
  }
  throw new Error('expected a VirError');
}

const UUID = '81ff0d90-c91e-6742-64da-4a736edb9a9b';
const net = (body: string, attrs = '') =>
  `<network${attrs}><name>n</name><uuid>${UUID}</uuid>${body}</network>`;

describe('IP addresses', () => {
  it.each([
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['::', '::'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['fe80::1:0:0:0', 'fe80::1:0:0:0'],
    ['fe80:0:0:1:0:0:0:0', 'fe80:0:0:1::'],
    ['1:0:0:0:2:0:0:0', '1::2:0:0:0'],
    ['::1.2.3.4', '::1.2.3.4'],
    ['1:2:3:4:5:6:0:8', '1:2:3:4:5:6:0:8'],
  ])('writes %s as glibc inet_ntop does: %s', (input, want) => {
    expect(formatIp(parseIp(input)!)).toBe(want);
  });

  it('refuses host names and malformed addresses', () => {
    for (const s of ['example.com', '1.2.3', '256.1.1.1', '1::2::3', '1:2:3:4:5:6:7:8:9'])
      expect(parseIp(s)).toBeUndefined();
  });
});

describe('NetworkDef', () => {
  it('fills libvirt defaults for a NAT network: interface pool from dev, STP on, lower-case MAC', async () => {
    const out = NetworkDef.fromXML(
      net(`<forward dev='eth0'/><bridge name='virbr0'/><mac address='52:54:00:AB:CD:EF'/>
        <ip address='192.168.100.1' netmask='255.255.255.0'><dhcp><range start='192.168.100.2' end='192.168.100.9'/></dhcp></ip>`),
    ).toXML();
    expect(out).toBe(`<network>
  <name>n</name>
  <uuid>${UUID}</uuid>
  <forward dev='eth0' mode='nat'>
    <interface dev='eth0'/>
  </forward>
  <bridge name='virbr0' stp='on' delay='0'/>
  <mac address='52:54:00:ab:cd:ef'/>
  <ip address='192.168.100.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.100.2' end='192.168.100.9'/>
    </dhcp>
  </ip>
</network>
`);
    expect((await validate(out, 'network')).valid).toBe(true);
  });

  it('writes an isolated network with its bridge defaults and an <ip> with an end tag', () => {
    const out = NetworkDef.fromXML(net(`<ip address='10.0.0.1' prefix='24'/>`)).toXML();
    expect(out).toContain("<bridge stp='on' delay='0'/>");
    expect(out).toContain("<ip address='10.0.0.1' prefix='24'>\n  </ip>");
  });

  it('drops the defaults libvirt does not write (ipv6=no, <dns/> with nothing, an infinite lease unit)', () => {
    const def = NetworkDef.fromXML(
      net(
        `<dns/><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.3'><lease expiry='0' unit='hours'/></range></dhcp></ip>`,
        " ipv6='no'",
      ),
    );
    expect(def.ipv6).toBeUndefined();
    expect(def.dns).toBeUndefined();
    expect(def.ips?.[0]?.dhcp?.ranges?.[0]?.lease).toEqual({ expiry: 0n });
  });

  it('reads dnsmasq options by namespace URI, whatever the prefix, and writes them with dnsmasq:', async () => {
    const xml = net(
      `<d:options><d:option value='foo=bar'/></d:options>`,
      " xmlns:d='http://libvirt.org/schemas/network/dnsmasq/1.0'",
    );
    const def = NetworkDef.fromXML(xml, { preserveUnknown: false });
    expect(def.dnsmasqOptions).toEqual(['foo=bar']);
    const out = def.toXML();
    expect(out).toMatch(/^<network xmlns:dnsmasq='http:\/\/libvirt.org\/schemas\/network\/dnsmasq\/1.0'>/);
    expect(out).toContain("<dnsmasq:options>\n    <dnsmasq:option value='foo=bar'/>\n  </dnsmasq:options>");
    expect((await validate(out, 'network')).valid).toBe(true);
  });

  it('keeps only the PF of a live hostdev network when formatted inactive', () => {
    const def = NetworkDef.fromXML(net(`<forward mode='hostdev'><pf dev='eth2'/></forward>`));
    def.forward!.interfaces = [{ dev: 'eth2v0' }];
    expect(def.toXML()).toContain("<interface dev='eth2v0'/>");
    expect(def.toXML({ inactive: true })).not.toContain('<interface');
    expect(def.toXML({ inactive: true })).toContain("managed='no'");
  });

  it.each([
    ['no name', `<network><uuid>${UUID}</uuid></network>`, 'NO_NAME'],
    ['a name with a slash', '<network><name>a/b</name></network>', 'XML_ERROR'],
    ['NAT without an address', net(`<forward mode='nat'/>`), 'XML_ERROR'],
    [
      'an open network with a forward dev',
      net(`<forward mode='open' dev='eth0'/><ip address='10.0.0.1' prefix='24'/>`),
      'XML_ERROR',
    ],
    [
      'a PCI function listed twice',
      net(
        `<forward mode='hostdev'><address type='pci' domain='0' bus='1' slot='0' function='1'/><address type='pci' domain='0' bus='1' slot='0' function='1'/></forward>`,
      ),
      'XML_ERROR',
    ],
    [
      'a bridge name in passthrough mode',
      net(`<forward mode='passthrough'><interface dev='eth0'/></forward><bridge name='br0'/>`),
      'XML_ERROR',
    ],
    [
      'STP settings in bridge mode',
      net(`<forward mode='bridge'/><bridge name='br0' stp='off'/>`),
      'XML_ERROR',
    ],
    [
      'an MTU in bridge mode',
      net(`<forward mode='bridge'/><bridge name='br0'/><mtu size='9000'/>`),
      'XML_ERROR',
    ],
    ['a multicast bridge MAC', net(`<mac address='01:00:5e:00:00:01'/>`), 'XML_ERROR'],
    [
      'a netmask on IPv6',
      net(`<ip family='ipv6' address='fd00::1' netmask='255.255.255.0'/>`),
      'CONFIG_UNSUPPORTED',
    ],
    ['an IPv6 address without its family', net(`<ip address='fd00::1' prefix='64'/>`), 'CONFIG_UNSUPPORTED'],
    [
      'a DHCP range outside the network',
      net(`<ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.1.2' end='10.0.1.9'/></dhcp></ip>`),
      'XML_ERROR',
    ],
    [
      'a lease under two minutes',
      net(
        `<ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.9'><lease expiry='60' unit='seconds'/></range></dhcp></ip>`,
      ),
      'CONFIG_UNSUPPORTED',
    ],
    ['a VLAN tag over 4095', net(`<vlan><tag id='4096'/></vlan>`), 'XML_DETAIL'],
    ["trunk='no' with two tags", net(`<vlan trunk='no'><tag id='1'/><tag id='2'/></vlan>`), 'XML_ERROR'],
    [
      'an SRV port without a target',
      net(`<dns><srv service='name' protocol='tcp' port='1'/></dns>`),
      'XML_ERROR',
    ],
    [
      'a network virtualport without a type',
      net(`<virtualport><parameters profileid='p'/></virtualport>`),
      'XML_ERROR',
    ],
    [
      'a route whose gateway is on no subnet',
      net(
        `<ip address='10.0.0.1' prefix='24'/><route address='192.168.5.0' prefix='24' gateway='10.9.9.9'/>`,
      ),
      'CONFIG_UNSUPPORTED',
    ],
  ])('refuses %s', (_what, xml, code) => {
    expect(refused(() => NetworkDef.fromXML(xml)).code).toBe(code);
  });

  it('names the line of the element at fault', () => {
    const err = refused(() =>
      NetworkDef.fromXML(
        `<network>\n<name>n</name>\n<forward mode='nat'/>\n<mac address='01:00:00:00:00:00'/>\n</network>`,
      ),
    );
    expect(err.field).toBe('/network/mac/@address');
    expect(err.line).toBe(4);
  });
});

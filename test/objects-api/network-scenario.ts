/**
 * One network and node device scenario written twice, against virtkit and
 * (in Python) against libvirt, starting from `test:///default`'s `default`
 * network and host devices.
 */
import type { Connection } from '../../src/connection.js';

const net = (name: string, extra = '') =>
  `<network><name>${name}</name>${extra}<ip address='10.0.0.1' netmask='255.255.255.0'/></network>`;

export function networkSteps(conn: Connection): Array<readonly [string, () => Promise<unknown>]> {
  const nets = conn.networks;
  const n = () => nets.lookup('default');
  const names = async (xs: Promise<Array<{ name: string }>>) => (await xs).map((x) => x.name).sort();
  const nd = conn.nodeDevices;
  return [
    ['list', () => names(nets.list())],
    ['uuid', async () => (await n()).uuid],
    ['active', async () => (await n()).isActive()],
    ['persistent', async () => (await n()).isPersistent()],
    ['bridge', async () => (await n()).getBridgeName()],
    ['start active', async () => (await n()).start()],
    ['undefine active', async () => (await n()).undefine()],
    ['set autostart', async () => (await n()).setAutostart(true)],
    ['autostart', async () => (await n()).getAutostart()],
    ['lookup missing', () => nets.lookup('nope')],
    ['lookup missing uuid', () => nets.lookup({ uuid: 'dd8fe884-6c02-601e-7551-cca97df1c5d0' })],
    ['lookup uuid', async () => (await nets.lookup('dd8fe884-6c02-601e-7551-cca97df1c5df')).name],
    ['leases', async () => (await n()).getDhcpLeases()],
    ['ports', async () => (await n()).listPorts()],
    ['destroy', async () => (await n()).destroy()],
    ['inactive', async () => (await n()).isActive()],
    ['destroy again', async () => (await n()).destroy()],
    ['bridge inactive', async () => (await n()).getBridgeName()],
    ['xml inactive flag', async () => (await n()).getXML({ inactive: true })],
    ['undefine', async () => (await n()).undefine()],
    ['undefine again', async () => (await n()).undefine()],
    ['define', async () => (await nets.define(net('n2', "<bridge name='vb2'/>"))).name],
    ['define dup', () => nets.define(net('n2'))],
    ['create dup', () => nets.create(net('n2'))],
    ['start', async () => (await nets.lookup('n2')).start()],
    ['create transient', async () => (await nets.create('<network><name>n3</name></network>')).name],
    ['transient persistent', async () => (await nets.lookup('n3')).isPersistent()],
    ['transient bridge', async () => (await nets.lookup('n3')).getBridgeName()],
    ['transient undefine', async () => (await nets.lookup('n3')).undefine()],
    ['transient destroy', async () => (await nets.lookup('n3')).destroy()],
    ['transient gone', () => nets.lookup('n3')],
    ['list active', () => names(nets.list({ active: true }))],
    ['list inactive', () => names(nets.list({ active: false }))],
    ['no name', () => nets.define('<network/>')],
    ['devices', () => names(nd.list())],
    ['scsi hosts', () => names(nd.list({ cap: 'scsi_host' }))],
    ['fc hosts', () => names(nd.list({ cap: 'fc_host' }))],
    ['vports', () => names(nd.list({ cap: 'vports' }))],
    ['pci', () => names(nd.list({ cap: 'pci' }))],
    ['system or vports', () => names(nd.list({ cap: ['system', 'vports'] }))],
    ['device missing', () => nd.lookup('nope')],
    ['parent', async () => (await nd.lookup('scsi_host11')).getParent()],
    ['root parent', async () => (await nd.lookup('computer')).getParent()],
    ['caps', async () => (await nd.lookup('scsi_host1')).listCaps()],
    ['device xml', async () => (await nd.lookup('computer')).getXML()],
    ['vhba xml', async () => (await nd.lookup('scsi_host11')).getXML()],
  ];
}

export const NETWORK_PY = `
def net(name, extra=''):
    return "<network><name>%s</name>%s<ip address='10.0.0.1' netmask='255.255.255.0'/></network>" % (name, extra)
n = lambda: conn.networkLookupByName('default')
none = lambda f: (lambda: (f(), None)[1])
names = lambda xs: sorted(x.name() for x in xs)
L = libvirt
steps = [
    ('list', lambda: names(conn.listAllNetworks())),
    ('uuid', lambda: n().UUIDString()),
    ('active', lambda: n().isActive() == 1),
    ('persistent', lambda: n().isPersistent() == 1),
    ('bridge', lambda: n().bridgeName()),
    ('start active', none(lambda: n().create())),
    ('undefine active', none(lambda: n().undefine())),
    ('set autostart', none(lambda: n().setAutostart(1))),
    ('autostart', lambda: n().autostart() == 1),
    ('lookup missing', lambda: conn.networkLookupByName('nope')),
    ('lookup missing uuid', lambda: conn.networkLookupByUUIDString('dd8fe884-6c02-601e-7551-cca97df1c5d0')),
    ('lookup uuid', lambda: conn.networkLookupByUUIDString('dd8fe884-6c02-601e-7551-cca97df1c5df').name()),
    ('leases', lambda: n().DHCPLeases()),
    ('ports', lambda: n().listAllPorts()),
    ('destroy', none(lambda: n().destroy())),
    ('inactive', lambda: n().isActive() == 1),
    ('destroy again', none(lambda: n().destroy())),
    ('bridge inactive', lambda: n().bridgeName()),
    ('xml inactive flag', lambda: n().XMLDesc(L.VIR_NETWORK_XML_INACTIVE)),
    ('undefine', none(lambda: n().undefine())),
    ('undefine again', none(lambda: n().undefine())),
    ('define', lambda: conn.networkDefineXML(net('n2', "<bridge name='vb2'/>")).name()),
    ('define dup', lambda: conn.networkDefineXML(net('n2'))),
    ('create dup', lambda: conn.networkCreateXML(net('n2'))),
    ('start', none(lambda: conn.networkLookupByName('n2').create())),
    ('create transient', lambda: conn.networkCreateXML('<network><name>n3</name></network>').name()),
    ('transient persistent', lambda: conn.networkLookupByName('n3').isPersistent() == 1),
    ('transient bridge', lambda: conn.networkLookupByName('n3').bridgeName()),
    ('transient undefine', none(lambda: conn.networkLookupByName('n3').undefine())),
    ('transient destroy', none(lambda: conn.networkLookupByName('n3').destroy())),
    ('transient gone', lambda: conn.networkLookupByName('n3')),
    ('list active', lambda: names(conn.listAllNetworks(L.VIR_CONNECT_LIST_NETWORKS_ACTIVE))),
    ('list inactive', lambda: names(conn.listAllNetworks(L.VIR_CONNECT_LIST_NETWORKS_INACTIVE))),
    ('no name', lambda: conn.networkDefineXML('<network/>')),
    ('devices', lambda: names(conn.listAllDevices())),
    ('scsi hosts', lambda: names(conn.listAllDevices(L.VIR_CONNECT_LIST_NODE_DEVICES_CAP_SCSI_HOST))),
    ('fc hosts', lambda: names(conn.listAllDevices(L.VIR_CONNECT_LIST_NODE_DEVICES_CAP_FC_HOST))),
    ('vports', lambda: names(conn.listAllDevices(L.VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPORTS))),
    ('pci', lambda: names(conn.listAllDevices(L.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV))),
    ('system or vports', lambda: names(conn.listAllDevices(L.VIR_CONNECT_LIST_NODE_DEVICES_CAP_SYSTEM | L.VIR_CONNECT_LIST_NODE_DEVICES_CAP_VPORTS))),
    ('device missing', lambda: conn.nodeDeviceLookupByName('nope')),
    ('parent', lambda: conn.nodeDeviceLookupByName('scsi_host11').parent()),
    ('root parent', lambda: conn.nodeDeviceLookupByName('computer').parent()),
    ('caps', lambda: conn.nodeDeviceLookupByName('scsi_host1').listCaps()),
    ('device xml', lambda: conn.nodeDeviceLookupByName('computer').XMLDesc()),
    ('vhba xml', lambda: conn.nodeDeviceLookupByName('scsi_host11').XMLDesc()),
]
`;

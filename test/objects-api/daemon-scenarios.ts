/**
 * Scenarios for a real libvirt daemon's secondary drivers (a `dir` pool
 * with qcow2 and raw volumes made by qemu-img, secrets, node devices, the
 * session network driver), written for virtkit and in Python like the
 * test-driver ones.
 */
import type { Connection } from '../../src/connection.js';

const MIB = 1024 * 1024;

export function dirPoolSteps(
  conn: Connection,
  dir: string,
): Array<readonly [string, () => Promise<unknown>]> {
  const sp = conn.storagePools;
  const p = () => sp.lookup('vk');
  const vol = (name: string, fmt: string) =>
    `<volume><name>${name}</name><capacity unit='M'>10</capacity><target><format type='${fmt}'/></target></volume>`;
  const vinfo = async (name: string) => {
    const i = await (await (await p()).lookupVolume(name)).getInfo();
    return [i.type, i.capacity];
  };
  return [
    [
      'define',
      async () =>
        (await sp.define(`<pool type='dir'><name>vk</name><target><path>${dir}</path></target></pool>`)).name,
    ],
    ['start unbuilt', async () => (await p()).start()],
    ['build', async () => (await p()).build()],
    ['start', async () => (await p()).start()],
    ['start again', async () => (await p()).start()],
    ['qcow2', async () => (await (await p()).createVolume(vol('a.qcow2', 'qcow2'))).key],
    ['raw', async () => (await (await p()).createVolume(vol('b.img', 'raw'))).name],
    ['dup', async () => (await p()).createVolume(vol('b.img', 'raw'))],
    ['slash', async () => (await p()).createVolume(vol('x/y', 'raw'))],
    ['info', () => vinfo('a.qcow2')],
    ['resize', async () => (await (await p()).lookupVolume('a.qcow2')).resize(20 * MIB)],
    ['resized', () => vinfo('a.qcow2')],
    ['shrink refused', async () => (await (await p()).lookupVolume('a.qcow2')).resize(MIB)],
    ['wipe', async () => (await (await p()).lookupVolume('b.img')).wipe()],
    [
      'clone',
      async () => {
        const pl = await p();
        return (await pl.createVolume(vol('c.img', 'raw'), { from: await pl.lookupVolume('b.img') })).name;
      },
    ],
    ['refresh', async () => (await p()).refresh()],
    ['names', async () => (await (await p()).listVolumes()).map((v) => v.name).sort()],
    ['by path', async () => (await sp.lookupVolume({ path: `${dir}/c.img` })).name],
    ['pool of vol', async () => (await (await sp.lookupVolume({ path: `${dir}/c.img` })).getPool()).name],
    ['delete', async () => (await (await p()).lookupVolume('c.img')).delete()],
    ['delete again', async () => (await p()).lookupVolume('c.img')],
    ['undefine active', async () => (await p()).undefine()],
    ['cleanup a', async () => (await (await p()).lookupVolume('a.qcow2')).delete()],
    ['cleanup b', async () => (await (await p()).lookupVolume('b.img')).delete()],
    ['destroy', async () => (await p()).destroy()],
    ['state', async () => (await (await p()).getInfo()).state],
    ['undefine', async () => (await p()).undefine()],
    ['gone', () => p()],
  ];
}

export const DIR_POOL_PY = `
import sys
MIB = 1024 * 1024
dir = sys.argv[2]
p = lambda: conn.storagePoolLookupByName('vk')
vol = lambda n, f: "<volume><name>%s</name><capacity unit='M'>10</capacity><target><format type='%s'/></target></volume>" % (n, f)
TYPES = ['file', 'block', 'dir', 'network', 'netdir', 'ploop']
def vinfo(n):
    i = p().storageVolLookupByName(n).info()
    return [TYPES[i[0]], i[1]]
none = lambda f: (lambda: (f(), None)[1])
def clone():
    pl = p()
    return pl.createXMLFrom(vol('c.img', 'raw'), pl.storageVolLookupByName('b.img'), 0).name()
steps = [
    ('define', lambda: conn.storagePoolDefineXML("<pool type='dir'><name>vk</name><target><path>%s</path></target></pool>" % dir).name()),
    ('start unbuilt', none(lambda: p().create())),
    ('build', none(lambda: p().build())),
    ('start', none(lambda: p().create())),
    ('start again', none(lambda: p().create())),
    ('qcow2', lambda: p().createXML(vol('a.qcow2', 'qcow2')).key()),
    ('raw', lambda: p().createXML(vol('b.img', 'raw')).name()),
    ('dup', lambda: p().createXML(vol('b.img', 'raw'))),
    ('slash', lambda: p().createXML(vol('x/y', 'raw'))),
    ('info', lambda: vinfo('a.qcow2')),
    ('resize', none(lambda: p().storageVolLookupByName('a.qcow2').resize(20 * MIB))),
    ('resized', lambda: vinfo('a.qcow2')),
    ('shrink refused', none(lambda: p().storageVolLookupByName('a.qcow2').resize(MIB))),
    ('wipe', none(lambda: p().storageVolLookupByName('b.img').wipe())),
    ('clone', clone),
    ('refresh', none(lambda: p().refresh())),
    ('names', lambda: sorted(v.name() for v in p().listAllVolumes())),
    ('by path', lambda: conn.storageVolLookupByPath(dir + '/c.img').name()),
    ('pool of vol', lambda: conn.storageVolLookupByPath(dir + '/c.img').storagePoolLookupByVolume().name()),
    ('delete', none(lambda: p().storageVolLookupByName('c.img').delete())),
    ('delete again', lambda: p().storageVolLookupByName('c.img')),
    ('undefine active', none(lambda: p().undefine())),
    ('cleanup a', none(lambda: p().storageVolLookupByName('a.qcow2').delete())),
    ('cleanup b', none(lambda: p().storageVolLookupByName('b.img').delete())),
    ('destroy', none(lambda: p().destroy())),
    ('state', lambda: ['inactive', 'building', 'running', 'degraded', 'inaccessible'][p().info()[0]]),
    ('undefine', none(lambda: p().undefine())),
    ('gone', lambda: p()),
]
`;

const UUID = 'c7a5fdbd-edaf-9455-926a-d65c16db1809';
const SECRET = `<secret ephemeral='no' private='no'><uuid>${UUID}</uuid><usage type='volume'><volume>/img/a.qcow2</volume></usage></secret>`;

export function secretSteps(conn: Connection): Array<readonly [string, () => Promise<unknown>]> {
  const ss = conn.secrets;
  const s = () => ss.lookup(UUID);
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return [
    ['define', async () => (await ss.define(SECRET)).usageId],
    ['by usage', async () => (await ss.lookup({ usageType: 'volume', usageId: '/img/a.qcow2' })).uuid],
    ['usage type', async () => (await s()).usageType],
    ['no value', async () => (await s()).getValue()],
    ['set', async () => (await s()).setValue(new TextEncoder().encode('pass phrase'))],
    ['get', async () => text(await (await s()).getValue())],
    ['list', async () => (await ss.list()).map((x) => x.uuid)],
    ['list private', async () => (await ss.list({ private: true })).map((x) => x.uuid)],
    ['same usage other uuid', () => ss.define(SECRET.replace('c7a5', 'd7a5'))],
    ['missing', () => ss.lookup('d7a5fdbd-edaf-9455-926a-d65c16db1809')],
    ['missing usage', () => ss.lookup({ usageType: 'ceph', usageId: 'nope' })],
    ['undefine', async () => (await s()).undefine()],
    ['gone', () => s()],
  ];
}

export const SECRET_PY = `
UUID = '${UUID}'
SECRET = """${SECRET}"""
s = lambda: conn.secretLookupByUUIDString(UUID)
none = lambda f: (lambda: (f(), None)[1])
USAGES = ['none', 'volume', 'ceph', 'iscsi', 'tls', 'vtpm']
steps = [
    ('define', lambda: conn.secretDefineXML(SECRET).usageID()),
    ('by usage', lambda: conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_VOLUME, '/img/a.qcow2').UUIDString()),
    ('usage type', lambda: USAGES[s().usageType()]),
    ('no value', lambda: s().value()),
    ('set', none(lambda: s().setValue(b'pass phrase'))),
    ('get', lambda: s().value().decode()),
    ('list', lambda: [x.UUIDString() for x in conn.listAllSecrets()]),
    ('list private', lambda: [x.UUIDString() for x in conn.listAllSecrets(libvirt.VIR_CONNECT_LIST_SECRETS_PRIVATE)]),
    ('same usage other uuid', lambda: conn.secretDefineXML(SECRET.replace('c7a5', 'd7a5'))),
    ('missing', lambda: conn.secretLookupByUUIDString('d7a5fdbd-edaf-9455-926a-d65c16db1809')),
    ('missing usage', lambda: conn.secretLookupByUsage(libvirt.VIR_SECRET_USAGE_TYPE_CEPH, 'nope')),
    ('undefine', none(lambda: s().undefine())),
    ('gone', lambda: s()),
]
`;

export function nodeDeviceSteps(conn: Connection): Array<readonly [string, () => Promise<unknown>]> {
  const nd = conn.nodeDevices;
  const names = async (xs: Promise<Array<{ name: string }>>) => (await xs).map((x) => x.name).sort();
  const first = async () => (await nd.list()).map((d) => d.name).sort()[0]!;
  return [
    ['all', () => names(nd.list())],
    ['pci', () => names(nd.list({ cap: 'pci' }))],
    ['net or usb', () => names(nd.list({ cap: ['net', 'usb_device'] }))],
    ['first xml', async () => (await nd.lookup(await first())).getXML()],
    ['first caps', async () => (await nd.lookup(await first())).listCaps()],
    ['first parent', async () => (await nd.lookup(await first())).getParent()],
    ['missing', () => nd.lookup('no_such_device')],
  ];
}

export const NODE_DEVICE_PY = `
L = libvirt
names = lambda xs: sorted(x.name() for x in xs)
first = lambda: conn.nodeDeviceLookupByName(names(conn.listAllDevices())[0])
steps = [
    ('all', lambda: names(conn.listAllDevices())),
    ('pci', lambda: names(conn.listAllDevices(L.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV))),
    ('net or usb', lambda: names(conn.listAllDevices(L.VIR_CONNECT_LIST_NODE_DEVICES_CAP_NET | L.VIR_CONNECT_LIST_NODE_DEVICES_CAP_USB_DEV))),
    ('first xml', lambda: first().XMLDesc()),
    ('first caps', lambda: first().listCaps()),
    ('first parent', lambda: first().parent()),
    ('missing', lambda: conn.nodeDeviceLookupByName('no_such_device')),
]
`;

export function sessionNetworkSteps(conn: Connection): Array<readonly [string, () => Promise<unknown>]> {
  const nets = conn.networks;
  const n = () => nets.lookup('vknet');
  return [
    [
      'define',
      async () => (await nets.define("<network><name>vknet</name><bridge name='vkbr9'/></network>")).name,
    ],
    ['active', async () => (await n()).isActive()],
    ['persistent', async () => (await n()).isPersistent()],
    ['bridge', async () => (await n()).getBridgeName()],
    ['destroy inactive', async () => (await n()).destroy()],
    ['autostart', async () => (await n()).setAutostart(true)],
    ['autostart on', async () => (await n()).getAutostart()],
    ['inactive xml', async () => (await (await n()).getDefinition({ inactive: true })).bridge?.name],
    ['leases', async () => (await n()).getDhcpLeases()],
    ['ports', async () => (await n()).listPorts()],
    ['undefine', async () => (await n()).undefine()],
    ['gone', () => n()],
  ];
}

const PORT_UUID = '5d744f21-ba4a-4d6e-bdb2-30a35ff3207d';
const PORT = `<networkport><uuid>${PORT_UUID}</uuid><owner><name>vm</name><uuid>d54df46f-1ab5-4a22-8618-4560ef5fac2c</uuid></owner><mac address='52:54:00:7b:35:93'/></networkport>`;
const BRIDGED = "<network><name>vkbr</name><forward mode='bridge'/><bridge name='vkbr0'/></network>";

/** Ports of a network that forwards to a host bridge: starting it makes nothing, so it runs unprivileged. */
export function portSteps(conn: Connection): Array<readonly [string, () => Promise<unknown>]> {
  const nets = conn.networks;
  const n = () => nets.lookup('vkbr');
  return [
    ['define', async () => (await nets.define(BRIDGED)).name],
    ['port on inactive', async () => (await n()).createPort(PORT)],
    ['start', async () => (await n()).start()],
    ['create port', async () => (await (await n()).createPort(PORT)).uuid],
    ['port again', async () => (await n()).createPort(PORT)],
    ['list', async () => (await (await n()).listPorts()).map((p) => p.uuid)],
    ['xml', async () => (await (await n()).lookupPort(PORT_UUID)).getXML()],
    ['plug', async () => (await (await (await n()).lookupPort(PORT_UUID)).getDefinition()).plug?.bridge],
    ['delete', async () => (await (await n()).lookupPort(PORT_UUID)).delete()],
    ['gone', async () => (await n()).lookupPort(PORT_UUID)],
    ['destroy', async () => (await n()).destroy()],
    ['undefine', async () => (await n()).undefine()],
  ];
}

export const PORT_PY = `
PORT_UUID = '${PORT_UUID}'
PORT = """${PORT}"""
n = lambda: conn.networkLookupByName('vkbr')
none = lambda f: (lambda: (f(), None)[1])
import xml.etree.ElementTree as ET
steps = [
    ('define', lambda: conn.networkDefineXML("""${BRIDGED}""").name()),
    ('port on inactive', lambda: n().portCreateXML(PORT)),
    ('start', none(lambda: n().create())),
    ('create port', lambda: n().portCreateXML(PORT).UUIDString()),
    ('port again', lambda: n().portCreateXML(PORT)),
    ('list', lambda: [p.UUIDString() for p in n().listAllPorts()]),
    ('xml', lambda: n().portLookupByUUIDString(PORT_UUID).XMLDesc()),
    ('plug', lambda: ET.fromstring(n().portLookupByUUIDString(PORT_UUID).XMLDesc()).find('plug').get('bridge')),
    ('delete', none(lambda: n().portLookupByUUIDString(PORT_UUID).delete())),
    ('gone', lambda: n().portLookupByUUIDString(PORT_UUID)),
    ('destroy', none(lambda: n().destroy())),
    ('undefine', none(lambda: n().undefine())),
]
`;

export const SESSION_NETWORK_PY = `
n = lambda: conn.networkLookupByName('vknet')
none = lambda f: (lambda: (f(), None)[1])
import xml.etree.ElementTree as ET
steps = [
    ('define', lambda: conn.networkDefineXML("<network><name>vknet</name><bridge name='vkbr9'/></network>").name()),
    ('active', lambda: n().isActive() == 1),
    ('persistent', lambda: n().isPersistent() == 1),
    ('bridge', lambda: n().bridgeName()),
    ('destroy inactive', none(lambda: n().destroy())),
    ('autostart', none(lambda: n().setAutostart(1))),
    ('autostart on', lambda: n().autostart() == 1),
    ('inactive xml', lambda: ET.fromstring(n().XMLDesc(libvirt.VIR_NETWORK_XML_INACTIVE)).find('bridge').get('name')),
    ('leases', lambda: n().DHCPLeases()),
    ('ports', lambda: n().listAllPorts()),
    ('undefine', none(lambda: n().undefine())),
    ('gone', lambda: n()),
]
`;

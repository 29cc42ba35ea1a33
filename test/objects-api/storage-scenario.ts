/**
 * One storage scenario written twice: against a virtkit `Connection` and,
 * in Python, against libvirt; `py-steps.ts` compares them step by step.
 * It walks libvirt's test driver state machine for pools and volumes
 * (starting `test:///default`'s `default-pool`), including the refused
 * transitions and their error codes.
 */
import type { Connection } from '../../src/connection.js';

const MIB = 1024 * 1024;
const vol = (name: string, capacity: string, allocation = '0') =>
  `<volume><name>${name}</name><capacity unit='M'>${capacity}</capacity><allocation unit='M'>${allocation}</allocation></volume>`;
const pool = (name: string, path = `/${name}`) =>
  `<pool type='dir'><name>${name}</name><target><path>${path}</path></target></pool>`;
const STATES = ['inactive', 'building', 'running', 'degraded', 'inaccessible'];
const VOLTYPES = ['file', 'block', 'dir', 'network', 'netdir', 'ploop'];

export function storageSteps(conn: Connection): Array<readonly [string, () => Promise<unknown>]> {
  const sp = conn.storagePools;
  const p = () => sp.lookup('default-pool');
  const info = async (name: string) => {
    const i = await (await sp.lookup(name)).getInfo();
    return [STATES.indexOf(i.state), i.capacity, i.allocation, i.available];
  };
  const vinfo = async (name: string) => {
    const i = await (await (await p()).lookupVolume(name)).getInfo();
    return [VOLTYPES.indexOf(i.type), i.capacity, i.allocation];
  };
  const names = async (xs: Promise<Array<{ name: string }>>) => (await xs).map((x) => x.name).sort();
  return [
    ['list', () => names(sp.list())],
    ['info', () => info('default-pool')],
    ['start active', async () => (await p()).start()],
    ['build active', async () => (await p()).build()],
    ['undefine active', async () => (await p()).undefine()],
    ['refresh', async () => (await p()).refresh()],
    ['set autostart', async () => (await p()).setAutostart(true)],
    ['autostart', async () => (await p()).getAutostart()],
    ['persistent', async () => (await p()).isPersistent()],
    ['lookup missing', () => sp.lookup('nope')],
    ['lookup missing uuid', () => sp.lookup('dfe224cb-28fb-8dd0-c4b2-64eb3f0f4567')],
    ['lookup by uuid', async () => (await sp.lookup('dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566')).name],
    ['vol create', async () => (await (await p()).createVolume(vol('v1', '10'))).key],
    ['vol path', async () => (await (await p()).lookupVolume('v1')).getPath()],
    ['vol info', () => vinfo('v1')],
    ['vol create dup', async () => (await p()).createVolume(vol('v1', '10'))],
    ['vol too big', async () => (await p()).createVolume(vol('big', '204800', '204800'))],
    ['vol allocated', async () => (await (await p()).createVolume(vol('v4', '8', '1'))).name],
    ['pool allocation', () => info('default-pool')],
    ['vol by key', async () => (await sp.lookupVolume({ key: '/default-pool/v1' })).name],
    ['vol by path', async () => (await sp.lookupVolume({ path: '/default-pool/v4' })).name],
    ['vol by path missing', () => sp.lookupVolume({ path: '/x/y' })],
    ['vol by key missing', () => sp.lookupVolume({ key: '/x/y' })],
    ['vol by name missing', async () => (await p()).lookupVolume('zz')],
    ['pool of vol', async () => (await (await (await p()).lookupVolume('v1')).getPool()).name],
    ['vol resize', async () => (await (await p()).lookupVolume('v1')).resize(20 * MIB)],
    ['vol wipe', async () => (await (await p()).lookupVolume('v1')).wipe()],
    [
      'vol clone',
      async () => {
        const pl = await p();
        return (await pl.createVolume(vol('v2', '10'), { from: await pl.lookupVolume('v1') })).key;
      },
    ],
    ['vol names', async () => names((await p()).listVolumes())],
    ['destroy', async () => (await p()).destroy()],
    ['destroy again', async () => (await p()).destroy()],
    ['active', async () => (await p()).isActive()],
    ['info inactive', () => info('default-pool')],
    ['list vols inactive', async () => (await p()).listVolumes()],
    ['vol lookup inactive', async () => (await p()).lookupVolume('v1')],
    ['refresh inactive', async () => (await p()).refresh()],
    ['build inactive', async () => (await p()).build()],
    // libvirt's test driver takes no build flags (INVALID_ARG); through remote, the flag travels as 4
    ['build no-overwrite', async () => (await p()).build({ noOverwrite: true })],
    ['start', async () => (await p()).start()],
    ['vols kept', async () => names((await p()).listVolumes())],
    ['vol delete', async () => (await (await p()).lookupVolume('v4')).delete()],
    ['allocation back', () => info('default-pool')],
    ['destroy 2', async () => (await p()).destroy()],
    ['undefine', async () => (await p()).undefine()],
    ['undefine again', async () => (await p()).undefine()],
    ['define', async () => (await sp.define(pool('p2'))).name],
    ['define info', () => info('p2')],
    ['define dup name', () => sp.define(pool('p2'))],
    ['create dup name', () => sp.create(pool('p2'))],
    ['define same target', () => sp.define(pool('p5', '/p2'))],
    ['create transient', async () => (await sp.create(pool('p3'))).name],
    ['transient persistent', async () => (await sp.lookup('p3')).isPersistent()],
    ['transient autostart', async () => (await sp.lookup('p3')).setAutostart(true)],
    ['transient destroy', async () => (await sp.lookup('p3')).destroy()],
    ['transient gone', () => sp.lookup('p3')],
    ['list all', () => names(sp.list())],
    ['list active', () => names(sp.list({ active: true }))],
    ['list inactive persistent', () => names(sp.list({ active: false, persistent: true }))],
    ['bad xml', () => sp.define('<pool/>')],
    ['bad type', () => sp.define("<pool type='xx'><name>a</name></pool>")],
    ['xml inactive flag', async () => (await sp.lookup('p2')).getXML({ inactive: true })],
  ];
}

export const STORAGE_PY = `
MIB = 1024 * 1024
def vol(name, cap, alloc='0'):
    return "<volume><name>%s</name><capacity unit='M'>%s</capacity><allocation unit='M'>%s</allocation></volume>" % (name, cap, alloc)
def pool(name, path=None):
    return "<pool type='dir'><name>%s</name><target><path>%s</path></target></pool>" % (name, path or '/' + name)
p = lambda: conn.storagePoolLookupByName('default-pool')
info = lambda name: list(conn.storagePoolLookupByName(name).info())
vinfo = lambda name: list(p().storageVolLookupByName(name).info())
def clone():
    pl = p()
    return pl.createXMLFrom(vol('v2', '10'), pl.storageVolLookupByName('v1'), 0).key()
none = lambda f: (lambda: (f(), None)[1])
steps = [
    ('list', lambda: sorted(x.name() for x in conn.listAllStoragePools())),
    ('info', lambda: info('default-pool')),
    ('start active', none(lambda: p().create())),
    ('build active', none(lambda: p().build())),
    ('undefine active', none(lambda: p().undefine())),
    ('refresh', none(lambda: p().refresh())),
    ('set autostart', none(lambda: p().setAutostart(1))),
    ('autostart', lambda: p().autostart() == 1),
    ('persistent', lambda: p().isPersistent() == 1),
    ('lookup missing', lambda: conn.storagePoolLookupByName('nope')),
    ('lookup missing uuid', lambda: conn.storagePoolLookupByUUIDString('dfe224cb-28fb-8dd0-c4b2-64eb3f0f4567')),
    ('lookup by uuid', lambda: conn.storagePoolLookupByUUIDString('dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566').name()),
    ('vol create', lambda: p().createXML(vol('v1', '10')).key()),
    ('vol path', lambda: p().storageVolLookupByName('v1').path()),
    ('vol info', lambda: vinfo('v1')),
    ('vol create dup', lambda: p().createXML(vol('v1', '10'))),
    ('vol too big', lambda: p().createXML(vol('big', '204800', '204800'))),
    ('vol allocated', lambda: p().createXML(vol('v4', '8', '1')).name()),
    ('pool allocation', lambda: info('default-pool')),
    ('vol by key', lambda: conn.storageVolLookupByKey('/default-pool/v1').name()),
    ('vol by path', lambda: conn.storageVolLookupByPath('/default-pool/v4').name()),
    ('vol by path missing', lambda: conn.storageVolLookupByPath('/x/y')),
    ('vol by key missing', lambda: conn.storageVolLookupByKey('/x/y')),
    ('vol by name missing', lambda: p().storageVolLookupByName('zz')),
    ('pool of vol', lambda: p().storageVolLookupByName('v1').storagePoolLookupByVolume().name()),
    ('vol resize', none(lambda: p().storageVolLookupByName('v1').resize(20 * MIB))),
    ('vol wipe', none(lambda: p().storageVolLookupByName('v1').wipe())),
    ('vol clone', clone),
    ('vol names', lambda: sorted(x.name() for x in p().listAllVolumes())),
    ('destroy', none(lambda: p().destroy())),
    ('destroy again', none(lambda: p().destroy())),
    ('active', lambda: p().isActive() == 1),
    ('info inactive', lambda: info('default-pool')),
    ('list vols inactive', lambda: p().listAllVolumes()),
    ('vol lookup inactive', lambda: p().storageVolLookupByName('v1')),
    ('refresh inactive', none(lambda: p().refresh())),
    ('build inactive', none(lambda: p().build())),
    ('build no-overwrite', none(lambda: p().build(4))),
    ('start', none(lambda: p().create())),
    ('vols kept', lambda: sorted(x.name() for x in p().listAllVolumes())),
    ('vol delete', none(lambda: p().storageVolLookupByName('v4').delete())),
    ('allocation back', lambda: info('default-pool')),
    ('destroy 2', none(lambda: p().destroy())),
    ('undefine', none(lambda: p().undefine())),
    ('undefine again', none(lambda: p().undefine())),
    ('define', lambda: conn.storagePoolDefineXML(pool('p2')).name()),
    ('define info', lambda: info('p2')),
    ('define dup name', lambda: conn.storagePoolDefineXML(pool('p2'))),
    ('create dup name', lambda: conn.storagePoolCreateXML(pool('p2'))),
    ('define same target', lambda: conn.storagePoolDefineXML(pool('p5', '/p2'))),
    ('create transient', lambda: conn.storagePoolCreateXML(pool('p3')).name()),
    ('transient persistent', lambda: conn.storagePoolLookupByName('p3').isPersistent() == 1),
    ('transient autostart', none(lambda: conn.storagePoolLookupByName('p3').setAutostart(1))),
    ('transient destroy', none(lambda: conn.storagePoolLookupByName('p3').destroy())),
    ('transient gone', lambda: conn.storagePoolLookupByName('p3')),
    ('list all', lambda: sorted(x.name() for x in conn.listAllStoragePools())),
    ('list active', lambda: sorted(x.name() for x in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE))),
    ('list inactive persistent', lambda: sorted(x.name() for x in conn.listAllStoragePools(libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_INACTIVE | libvirt.VIR_CONNECT_LIST_STORAGE_POOLS_PERSISTENT))),
    ('bad xml', lambda: conn.storagePoolDefineXML('<pool/>')),
    ('bad type', lambda: conn.storagePoolDefineXML("<pool type='xx'><name>a</name></pool>")),
    ('xml inactive flag', lambda: conn.storagePoolLookupByName('p2').XMLDesc(libvirt.VIR_STORAGE_XML_INACTIVE)),
]
`;

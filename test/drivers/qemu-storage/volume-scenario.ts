/**
 * A volume scenario for a `dir` pool, written for virtkit and in Python
 * for libvirt's storage driver: qcow2 over a backing file (sized or sized
 * by it), compat levels and features, copies across formats, resizes with
 * delta and shrink, and the sizes libvirt refuses. Each created volume is
 * held to the fields of its XML both can be compared on.
 */
import type { Connection } from '../../../src/connection.js';
import { parseXml, type XmlElement } from '../../../src/xml/index.js';

const MIB = 1024 * 1024;
const volXml = (name: string, fmt: string, capacity: string | undefined, extra = '') =>
  `<volume><name>${name}</name>${capacity === undefined ? '' : `<capacity unit='M'>${capacity}</capacity>`}<target><format type='${fmt}'/>${extra}</target></volume>`;
const backed = (name: string, dir: string, capacity?: string) =>
  volXml(name, 'qcow2', capacity).replace(
    '</volume>',
    `<backingStore><path>${dir}/base.img</path><format type='raw'/></backingStore></volume>`,
  );
const sized = (name: string, bytes: string) =>
  volXml(name, 'raw', undefined).replace('<target>', `<capacity>${bytes}</capacity><target>`);

/** A volume's XML as the fields both sides are held to: type, capacity, format, chain, qcow2 details. */
export function volFields(xml: string): unknown[] {
  const root = parseXml(xml);
  const el = (e: XmlElement | undefined, name: string) =>
    e?.children.find((c): c is XmlElement => c.type === 'element' && c.name === name);
  const text = (e: XmlElement | undefined) =>
    e ? e.children.map((c) => (c.type === 'text' ? c.value : '')).join('') : null;
  const attr = (e: XmlElement | undefined, a: string) => e?.attrs.find((x) => x.name === a)?.value ?? null;
  const target = el(root, 'target');
  const bs = el(root, 'backingStore');
  const features = el(target, 'features');
  return [
    attr(root, 'type'),
    Number(text(el(root, 'capacity'))),
    attr(el(target, 'format'), 'type'),
    text(el(bs, 'path')),
    attr(el(bs, 'format'), 'type'),
    text(el(target, 'compat')),
    features ? features.children.flatMap((c) => (c.type === 'element' ? [c.name] : [])) : null,
  ];
}

export function volumeSteps(conn: Connection, dir: string): Array<readonly [string, () => Promise<unknown>]> {
  const sp = conn.storagePools;
  const p = () => sp.lookup('vv');
  const make = async (xml: string) => volFields(await (await (await p()).createVolume(xml)).getXML());
  const fields = async (name: string) => volFields(await (await (await p()).lookupVolume(name)).getXML());
  const copy = async (name: string, fmt: string, from: string) => {
    const pl = await p();
    const v = await pl.createVolume(volXml(name, fmt, '1'), { from: await pl.lookupVolume(from) });
    return volFields(await v.getXML());
  };
  const lazy = '<compat>1.1</compat><features><lazy_refcounts/></features>';
  return [
    [
      'create pool',
      async () =>
        (await sp.create(`<pool type='dir'><name>vv</name><target><path>${dir}</path></target></pool>`)).name,
    ],
    ['base', () => make(volXml('base.img', 'raw', '8'))],
    ['overlay', () => make(backed('over.qcow2', dir, '16'))],
    ['overlay sized by its backing file', () => make(backed('thin.qcow2', dir))],
    ['lazy refcounts', () => make(volXml('lazy.qcow2', 'qcow2', '4', lazy))],
    ['compat 0.10', () => make(volXml('old.qcow2', 'qcow2', '4', '<compat>0.10</compat>'))],
    ['raw with backing', () => make(backed('bad.img', dir, '4').replace("type='qcow2'", "type='raw'"))],
    ['capacity -1', () => make(volXml('neg.img', 'raw', '-1'))],
    ['capacity 2^64', () => make(sized('huge.img', '18446744073709551616'))],
    ['capacity 2^63', () => make(sized('big.img', '9223372036854775808'))],
    ['no capacity', () => make(volXml('nocap.img', 'raw', undefined))],
    ['copy of an overlay, raw', () => copy('copy.img', 'raw', 'over.qcow2')],
    ['copy to qcow2', () => copy('copy.qcow2', 'qcow2', 'base.img')],
    [
      'grow by delta',
      async () => (await (await p()).lookupVolume('over.qcow2')).resize(4 * MIB, { delta: true }),
    ],
    [
      'allocate qcow2',
      async () => (await (await p()).lookupVolume('over.qcow2')).resize(32 * MIB, { allocate: true }),
    ],
    ['grown', () => fields('over.qcow2')],
    ['shrink raw', async () => (await (await p()).lookupVolume('copy.img')).resize(MIB, { shrink: true })],
    [
      'shrink qcow2',
      async () => (await (await p()).lookupVolume('copy.qcow2')).resize(4 * MIB, { shrink: true }),
    ],
    ['shrunk', () => fields('copy.qcow2')],
    ['names', async () => (await (await p()).listVolumes()).map((v) => v.name).sort()],
    ['destroy', async () => (await p()).destroy()],
    ['gone', () => p()],
  ];
}

export const VOLUME_PY = `
import sys
import xml.etree.ElementTree as ET
MIB = 1024 * 1024
dir = sys.argv[2]
p = lambda: conn.storagePoolLookupByName('vv')
def volXml(name, fmt, cap, extra=''):
    c = '' if cap is None else "<capacity unit='M'>%s</capacity>" % cap
    return "<volume><name>%s</name>%s<target><format type='%s'/>%s</target></volume>" % (name, c, fmt, extra)
def backed(name, cap=None):
    return volXml(name, 'qcow2', cap).replace('</volume>', "<backingStore><path>%s/base.img</path><format type='raw'/></backingStore></volume>" % dir)
sized = lambda name, b: volXml(name, 'raw', None).replace('<target>', '<capacity>%s</capacity><target>' % b)
def fields(xml):
    r = ET.fromstring(xml)
    t = r.find('target')
    bs = r.find('backingStore')
    f = t.find('features')
    g = lambda e, a: None if e is None else e.get(a)
    tx = lambda e: None if e is None else (e.text or '')
    return [r.get('type'), int(r.findtext('capacity')), g(t.find('format'), 'type'),
            None if bs is None else tx(bs.find('path')), None if bs is None else g(bs.find('format'), 'type'),
            tx(t.find('compat')), None if f is None else [c.tag for c in f]]
make = lambda xml: fields(p().createXML(xml, 0).XMLDesc(0))
none = lambda f: (lambda: (f(), None)[1])
def copy(name, fmt, src):
    pl = p()
    return fields(pl.createXMLFrom(volXml(name, fmt, '1'), pl.storageVolLookupByName(src), 0).XMLDesc(0))
lazy = '<compat>1.1</compat><features><lazy_refcounts/></features>'
steps = [
    ('create pool', lambda: conn.storagePoolCreateXML("<pool type='dir'><name>vv</name><target><path>%s</path></target></pool>" % dir, 0).name()),
    ('base', lambda: make(volXml('base.img', 'raw', '8'))),
    ('overlay', lambda: make(backed('over.qcow2', '16'))),
    ('overlay sized by its backing file', lambda: make(backed('thin.qcow2'))),
    ('lazy refcounts', lambda: make(volXml('lazy.qcow2', 'qcow2', '4', lazy))),
    ('compat 0.10', lambda: make(volXml('old.qcow2', 'qcow2', '4', '<compat>0.10</compat>'))),
    ('raw with backing', lambda: make(backed('bad.img', '4').replace("type='qcow2'", "type='raw'"))),
    ('capacity -1', lambda: make(volXml('neg.img', 'raw', '-1'))),
    ('capacity 2^64', lambda: make(sized('huge.img', '18446744073709551616'))),
    ('capacity 2^63', lambda: make(sized('big.img', '9223372036854775808'))),
    ('no capacity', lambda: make(volXml('nocap.img', 'raw', None))),
    ('copy of an overlay, raw', lambda: copy('copy.img', 'raw', 'over.qcow2')),
    ('copy to qcow2', lambda: copy('copy.qcow2', 'qcow2', 'base.img')),
    ('grow by delta', none(lambda: p().storageVolLookupByName('over.qcow2').resize(4 * MIB, 2))),
    ('allocate qcow2', none(lambda: p().storageVolLookupByName('over.qcow2').resize(32 * MIB, 1))),
    ('grown', lambda: fields(p().storageVolLookupByName('over.qcow2').XMLDesc(0))),
    ('shrink raw', none(lambda: p().storageVolLookupByName('copy.img').resize(MIB, 4))),
    ('shrink qcow2', none(lambda: p().storageVolLookupByName('copy.qcow2').resize(4 * MIB, 4))),
    ('shrunk', lambda: fields(p().storageVolLookupByName('copy.qcow2').XMLDesc(0))),
    ('names', lambda: sorted(v.name() for v in p().listAllVolumes())),
    ('destroy', none(lambda: p().destroy())),
    ('gone', lambda: p()),
]
`;

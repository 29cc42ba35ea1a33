import { describe, expect, it } from 'vitest';
import { StoragePoolDef } from '../../../src/conf/storage/pool-def.js';
import { StorageVolDef } from '../../../src/conf/storage/vol-def.js';
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

const UUID = '70a7eb15-6c34-ee9c-bf57-69e8e5ff3fb2';

describe('StoragePoolDef', () => {
  it('formats a dir pool the way libvirt does: sizes in bytes, empty <source> with an end tag, clean path', async () => {
    const xml = `<pool type='dir'><name>images</name><uuid>${UUID}</uuid>
      <target><path>//var///lib/images/</path><permissions><mode>0755</mode><owner>-1</owner><group>107</group></permissions></target></pool>`;
    const out = StoragePoolDef.fromXML(xml).toXML();
    expect(out).toBe(`<pool type='dir'>
  <name>images</name>
  <uuid>${UUID}</uuid>
  <capacity unit='bytes'>0</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>0</available>
  <source>
  </source>
  <target>
    <path>//var/lib/images</path>
    <permissions>
      <mode>0755</mode>
      <group>107</group>
    </permissions>
  </target>
</pool>
`);
    expect((await validate(out, 'storagepool')).valid).toBe(true);
  });

  it('fills the LVM defaults: name from the source, format lvm2, target /dev/<vg>', () => {
    const def = StoragePoolDef.fromXML(
      `<pool type='logical'><source><name>vg0</name><device path='/dev/sdb'/></source><target><path>/x</path></target></pool>`,
    );
    expect(def.name).toBe('vg0');
    expect(def.source?.format).toBe('lvm2');
    expect(def.target?.path).toBe('/dev/vg0');
    expect(def.uuid).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('drops the source parts a pool type does not use and keeps no target for network pools', () => {
    const def = StoragePoolDef.fromXML(
      `<pool type='rbd'><name>ceph</name><source><name>rbd</name><host name='mon1' port='6789'/><dir path='/x'/></source><target><path>/y</path></target></pool>`,
    );
    expect(def.source?.dir).toBeUndefined();
    expect(def.target).toBeUndefined();
    expect(def.toXML()).not.toContain('<target>');
  });

  it('reads an old-style SCSI adapter as scsi_host', () => {
    const def = StoragePoolDef.fromXML(
      `<pool type='scsi'><name>hba</name><source><adapter name='host0'/></source><target><path>/dev/disk/by-path</path></target></pool>`,
    );
    expect(def.source?.adapter).toEqual({ type: 'scsi_host', name: 'host0' });
  });

  it('keeps XML it does not know unless asked not to', () => {
    const xml = `<pool type='dir' xmlns:my='urn:x'><name>p</name><uuid>${UUID}</uuid><my:note>hi</my:note><target><path>/p</path></target></pool>`;
    expect(StoragePoolDef.fromXML(xml).toXML()).toContain('<my:note>hi</my:note>');
    expect(StoragePoolDef.fromXML(xml, { preserveUnknown: false }).toXML()).not.toContain('my:note');
  });

  it.each([
    ['an unknown pool type', `<pool type='tape'><name>x</name></pool>`, 'XML_DETAIL'],
    [
      'a name with a slash',
      `<pool type='dir'><name>a/b</name><target><path>/p</path></target></pool>`,
      'XML_ERROR',
    ],
    ['a dir pool without a target path', `<pool type='dir'><name>a</name></pool>`, 'XML_ERROR'],
    [
      'a netfs pool without a host',
      `<pool type='netfs'><name>a</name><source><dir path='/e'/></source><target><path>/m</path></target></pool>`,
      'XML_ERROR',
    ],
    [
      'an unknown fs format',
      `<pool type='fs'><name>a</name><source><device path='/dev/x'/><format type='ntfs9'/></source><target><path>/m</path></target></pool>`,
      'CONFIG_UNSUPPORTED',
    ],
    [
      'an rbd pool without a source name',
      `<pool type='rbd'><name>a</name><source><host name='h'/></source></pool>`,
      'XML_ERROR',
    ],
    [
      'cow on a logical pool',
      `<pool type='logical'><name>a</name><features><cow state='yes'/></features><source><device path='/dev/x'/></source></pool>`,
      'NO_SUPPORT',
    ],
    [
      'a mode beyond 0777',
      `<pool type='dir'><name>a</name><target><path>/p</path><permissions><mode>1777</mode></permissions></target></pool>`,
      'XML_DETAIL',
    ],
    [
      'an iscsi-direct pool without an initiator',
      `<pool type='iscsi-direct'><name>a</name><source><host name='h'/><device path='iqn.x'/></source></pool>`,
      'CONFIG_UNSUPPORTED',
    ],
    [
      'an fc_host adapter with a bad WWN',
      `<pool type='scsi'><name>a</name><source><adapter type='fc_host' wwnn='123' wwpn='10000000c9831b4b'/></source><target><path>/p</path></target></pool>`,
      'XML_ERROR',
    ],
  ])('refuses %s', (_what, xml, code) => {
    expect(refused(() => StoragePoolDef.fromXML(xml)).code).toBe(code);
  });

  it('names the line at fault', () => {
    const err = refused(() => StoragePoolDef.fromXML(`<pool type='dir'>\n  <name>a/b</name>\n</pool>`));
    expect(err.line).toBe(2);
    expect(err.field).toBe('/pool/name');
  });
});

describe('StorageVolDef', () => {
  const vol = (body: string, type = '') => `<volume${type}><name>disk.img</name>${body}</volume>`;

  it('normalises sizes to bytes with the unit given (bytes by default) and allocation to capacity', () => {
    const def = StorageVolDef.fromXML(
      vol(`<capacity unit='G'>5</capacity><target><path>/p/disk.img</path></target>`),
    );
    expect(def.capacity).toBe(5n * 1024n ** 3n);
    expect(def.allocation).toBe(def.capacity);
    expect(def.type).toBe('file');
    expect(def.target?.format).toBe('raw');
    expect(StorageVolDef.fromXML(vol(`<capacity unit='KB'>2</capacity>`)).capacity).toBe(2000n);
    expect(StorageVolDef.fromXML(vol('<capacity>7</capacity>')).capacity).toBe(7n);
  });

  it('writes sizes in bytes, drops extents, timestamps and unset ids, and adds compat for qcow2 features', async () => {
    const out = StorageVolDef.fromXML(
      vol(`<source><device path='/dev/sda'><extent start='0' end='1'/></device></source>
        <capacity unit='MiB'>1</capacity>
        <target><path>/p/disk.img</path><format type='qcow2'/>
          <permissions><mode>0</mode><owner>4294967295</owner><group>-1</group></permissions>
          <timestamps><atime>1.5</atime></timestamps>
          <features><lazy_refcounts/></features></target>`),
    ).toXML();
    expect(out).toBe(`<volume type='file'>
  <name>disk.img</name>
  <capacity unit='bytes'>1048576</capacity>
  <allocation unit='bytes'>1048576</allocation>
  <target>
    <path>/p/disk.img</path>
    <format type='qcow2'/>
    <permissions>
      <mode>00</mode>
    </permissions>
    <compat>1.1</compat>
    <features>
      <lazy_refcounts/>
    </features>
  </target>
</volume>
`);
    expect((await validate(out, 'storagevol')).valid).toBe(true);
  });

  it('takes its format rules from the pool: none for LVM volumes, partition types for disk pools', () => {
    expect(
      StorageVolDef.fromXML(vol('<capacity>1</capacity>'), { pool: 'logical' }).target?.format,
    ).toBeUndefined();
    expect(StorageVolDef.fromXML(vol('<capacity>1</capacity>'), { pool: 'disk' }).target?.format).toBe(
      'none',
    );
    expect(
      refused(() =>
        StorageVolDef.fromXML(vol(`<capacity>1</capacity><target><format type='qcow2'/></target>`), {
          pool: 'disk',
        }),
      ).code,
    ).toBe('CONFIG_UNSUPPORTED');
  });

  it('lets capacity be left out only with a backing store and the optional-capacity flag', () => {
    const backed = vol('<backingStore><path>/b.img</path></backingStore>');
    expect(refused(() => StorageVolDef.fromXML(backed)).code).toBe('XML_ERROR');
    expect(StorageVolDef.fromXML(backed, { optionalCapacity: true }).capacity).toBe(0n);
    expect(refused(() => StorageVolDef.fromXML(vol(''), { optionalCapacity: true })).code).toBe('XML_ERROR');
    expect(StorageVolDef.fromXML(vol(''), { noCapacity: true }).toXML()).toContain(
      "<capacity unit='bytes'>0</capacity>",
    );
  });

  it.each([
    ['capacity -1', vol('<capacity>-1</capacity>')],
    ['capacity 2^64', vol('<capacity>18446744073709551616</capacity>')],
    ['a size that overflows with its unit', vol(`<capacity unit='EiB'>16</capacity>`)],
    ['an unknown unit', vol(`<capacity unit='parsec'>1</capacity>`)],
    ['a name with a slash', '<volume><name>a/b</name><capacity>1</capacity></volume>'],
    ['no name', '<volume><capacity>1</capacity></volume>'],
    ['a bad compat level', vol('<capacity>1</capacity><target><compat>1.1.1</compat></target>')],
  ])('refuses %s with XML_ERROR', (_what, xml) => {
    expect(refused(() => StorageVolDef.fromXML(xml)).code).toBe('XML_ERROR');
  });

  it.each([
    ['an unknown volume type', vol('<capacity>1</capacity>', " type='tape'")],
    ['an unknown feature', vol('<capacity>1</capacity><target><features><turbo/></features></target>')],
    ['an unknown image format', vol(`<capacity>1</capacity><target><format type='zip'/></target>`)],
  ])('refuses %s with CONFIG_UNSUPPORTED', (_what, xml) => {
    expect(refused(() => StorageVolDef.fromXML(xml)).code).toBe('CONFIG_UNSUPPORTED');
  });

  it('keeps LUKS cipher details and drops them for other encryption formats', () => {
    const enc = (format: string) =>
      vol(`<capacity>1</capacity><target><encryption format='${format}'>
        <secret type='passphrase' uuid='${UUID}'/><cipher name='aes' size='256'/></encryption></target>`);
    expect(StorageVolDef.fromXML(enc('luks')).target?.encryption?.cipher).toEqual({ name: 'aes', size: 256 });
    expect(StorageVolDef.fromXML(enc('qcow')).target?.encryption?.cipher).toBeUndefined();
  });
});

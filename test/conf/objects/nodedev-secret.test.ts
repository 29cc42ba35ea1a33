import { describe, expect, it } from 'vitest';
import { NodeDeviceDef } from '../../../src/conf/nodedev/nodedev-def.js';
import { SecretDef } from '../../../src/conf/secret.js';
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

describe('NodeDeviceDef', () => {
  const pci = `<device>
  <name>pci_0000_03_00_0</name>
  <path>/sys/devices/pci0000:00/0000:03:00.0</path>
  <parent>computer</parent>
  <driver><name>igb</name></driver>
  <capability type='pci'>
    <numa node='-1'/>
    <vendor id='8086'>Intel Corporation</vendor>
    <product id='0x10c9'/>
    <function>0</function>
    <slot>0</slot>
    <bus>3</bus>
    <domain>0</domain>
    <class>20000</class>
    <capability type='virt_functions' maxCount='0'/>
    <capability type='endpoint'/>
    <capability type='phys_function'><address domain='0x0000' bus='0x02' slot='0x00' function='0x1'/></capability>
    <iommuGroup number='7'/>
  </capability>
</device>`;

  it("writes a PCI device in libvirt's order and forms, without what a driver reports", async () => {
    const out = NodeDeviceDef.fromXML(pci).toXML();
    expect(out).toBe(`<device>
  <name>pci_0000_03_00_0</name>
  <path>/sys/devices/pci0000:00/0000:03:00.0</path>
  <parent>computer</parent>
  <capability type='pci'>
    <class>0x020000</class>
    <domain>0</domain>
    <bus>3</bus>
    <slot>0</slot>
    <function>0</function>
    <product id='0x10c9'/>
    <vendor id='0x8086'>Intel Corporation</vendor>
    <capability type='phys_function'>
      <address domain='0x0000' bus='0x02' slot='0x00' function='0x1'/>
    </capability>
    <capability type='virt_functions'/>
  </capability>
</device>
`);
    expect((await validate(out, 'nodedev')).valid).toBe(true);
  });

  it('drops the sysfs path and device nodes when formatted inactive', () => {
    const xml = `<device><name>d</name><path>/sys/x</path><devnode type='link'>/dev/l</devnode><devnode type='dev'>/dev/d</devnode>
      <capability type='drm'><type>render</type></capability></device>`;
    const def = NodeDeviceDef.fromXML(xml);
    expect(def.devnodes).toEqual([
      { type: 'dev', path: '/dev/d' },
      { type: 'link', path: '/dev/l' },
    ]);
    expect(def.toXML({ inactive: true })).not.toMatch(/<path>|<devnode/);
  });

  it('gives a mediated device IOMMU group 0 when it names none, and writes each capability with an end tag', () => {
    const out = NodeDeviceDef.fromXML(
      `<device><name>mdev</name><capability type='mdev'><type id='nvidia-11'/><uuid>3627463D-B7F0-4FEA-B468-F1DA537D301B</uuid></capability>
       <capability type='ap_matrix'/></device>`,
    ).toXML();
    expect(out).toContain("<iommuGroup number='0'/>");
    expect(out).toContain('<uuid>3627463d-b7f0-4fea-b468-f1da537d301b</uuid>');
    expect(out).toContain("<capability type='ap_matrix'>\n  </capability>");
  });

  it.each([
    ['no name', `<device><capability type='drm'><type>render</type></capability></device>`, 'NO_NAME'],
    ['no capability', '<device><name>d</name></device>', 'INTERNAL_ERROR'],
    [
      'an unknown capability type',
      `<device><name>d</name><capability type='toaster'/></device>`,
      'CONFIG_UNSUPPORTED',
    ],
    [
      'a report-only capability type',
      `<device><name>d</name><capability type='vpd'/></device>`,
      'INTERNAL_ERROR',
    ],
    [
      'an unknown DRM type',
      `<device><name>d</name><capability type='drm'><type>gpu</type></capability></device>`,
      'XML_DETAIL',
    ],
    [
      'an mdev without a type',
      `<device><name>d</name><capability type='mdev'/></device>`,
      'CONFIG_UNSUPPORTED',
    ],
    [
      'storage without a size',
      `<device><name>d</name><capability type='storage'><block>/dev/sda</block></capability></device>`,
      'INTERNAL_ERROR',
    ],
    [
      'an AP domain over 255',
      `<device><name>d</name><capability type='ap_queue'><ap-adapter>0x01</ap-adapter><ap-domain>0x100</ap-domain></capability></device>`,
      'XML_DETAIL',
    ],
    [
      'a parent wwnn without its wwpn',
      `<device><name>d</name><parent wwnn='20000000c9831b4b'>p</parent><capability type='drm'><type>render</type></capability></device>`,
      'XML_ERROR',
    ],
  ])('refuses %s', (_what, xml, code) => {
    expect(refused(() => NodeDeviceDef.fromXML(xml)).code).toBe(code);
  });
});

describe('SecretDef', () => {
  it('writes ephemeral and private explicitly and keeps only the element its usage type needs', async () => {
    const out = SecretDef.fromXML(
      `<secret><uuid>f52a81b2424e490c823d6bd4235bc572</uuid><usage type='iscsi'><target>iqn.x</target><name>ignored</name></usage></secret>`,
    ).toXML();
    expect(out).toBe(`<secret ephemeral='no' private='no'>
  <uuid>f52a81b2-424e-490c-823d-6bd4235bc572</uuid>
  <usage type='iscsi'>
    <target>iqn.x</target>
  </usage>
</secret>
`);
    expect((await validate(out, 'secret')).valid).toBe(true);
  });

  it('generates a UUID when none is given', () => {
    expect(SecretDef.fromXML('<secret/>').uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-/);
  });

  it.each([
    ['a usage without its element', `<secret><usage type='ceph'/></secret>`, 'XML_ERROR'],
    ['a usage without a type', '<secret><usage><name>x</name></usage></secret>', 'XML_ERROR'],
    ['an unknown usage type', `<secret><usage type='gpg'/></secret>`, 'XML_DETAIL'],
    ['a bad UUID', '<secret><uuid>not-a-uuid</uuid></secret>', 'XML_DETAIL'],
    ['ephemeral that is not yes or no', `<secret ephemeral='maybe'/>`, 'XML_DETAIL'],
    ['another root element', '<network/>', 'XML_ERROR'],
  ])('refuses %s', (_what, xml, code) => {
    expect(refused(() => SecretDef.fromXML(xml)).code).toBe(code);
  });
});

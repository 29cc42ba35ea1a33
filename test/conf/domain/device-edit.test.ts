/**
 * The device fragments of libvirt's device calls (`conf/domain/device-edit.ts`):
 * one device element or a typed DeviceDef, and which device of a definition a
 * detach or update names, after libvirt's rules (virDomainDiskByTarget,
 * virDomainNetFindIdx: by MAC, then PCI address; errors VIR_ERR_DEVICE_MISSING
 * and "multiple devices matching MAC address").
 */
import { describe, expect, it } from 'vitest';
import { deviceXml, findDevice, parseDeviceElement } from '../../../src/conf/domain/device-edit.js';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { VirError } from '../../../src/errors.js';

const def =
  DomainDef.fromXML(`<domain type='kvm'><name>d</name><memory>65536</memory><os><type>hvm</type></os>
  <devices>
    <disk type='file' device='disk'><source file='/a.img'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><source file='/b.img'/><target dev='vdb' bus='virtio'/></disk>
    <interface type='user'><mac address='52:54:00:00:00:01'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/></interface>
    <interface type='user'><mac address='52:54:00:00:00:01'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/></interface>
    <interface type='user'><mac address='52:54:00:00:00:02'/><alias name='ua-nic'/></interface>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
  </devices></domain>`);

function error(f: () => unknown): VirError {
  try {
    f();
  } catch (err) {
    if (err instanceof VirError) return err;
    throw err;
  }
  throw new Error('expected a VirError');
}

describe('device fragments', () => {
  it('a typed DeviceDef becomes the element its model writes', () => {
    const disk = def.devices?.disks?.[1];
    if (!disk) throw new Error('no disk');
    const xml = deviceXml({ kind: 'disk', def: disk });
    expect(xml).toContain("<target dev='vdb' bus='virtio'/>");
    expect(findDevice(def, xml).index).toBe(1);
  });

  it('refuses what is not one device element', () => {
    expect(error(() => parseDeviceElement('<foo/>'))).toMatchObject({ code: 'XML_ERROR', field: '/foo' });
    expect(error(() => parseDeviceElement('<disk'))).toMatchObject({ code: 'XML_ERROR' });
    expect(error(() => parseDeviceElement(''))).toMatchObject({ code: 'INVALID_ARG', field: 'xml' });
  });

  it('a disk is found by its target; a missing one is DEVICE_MISSING', () => {
    expect(findDevice(def, "<disk type='file' device='disk'><target dev='vdb'/></disk>").index).toBe(1);
    expect(error(() => findDevice(def, "<disk type='file'><target dev='vdq'/></disk>"))).toMatchObject({
      code: 'DEVICE_MISSING',
      field: '/disk/target/@dev',
    });
  });

  it('an interface by MAC, two with one MAC by PCI address, else "multiple devices"; or by alias', () => {
    const byAddr = `<interface type='user'><mac address='52:54:00:00:00:01'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/></interface>`;
    expect(findDevice(def, byAddr).index).toBe(1);
    expect(
      error(() => findDevice(def, "<interface type='user'><mac address='52:54:00:00:00:01'/></interface>")),
    ).toMatchObject({ code: 'OPERATION_FAILED', field: '/interface/mac/@address' });
    expect(
      findDevice(def, "<interface type='user'><mac address='52:54:00:00:00:02'/></interface>").index,
    ).toBe(2);
    expect(findDevice(def, "<interface type='user'><alias name='ua-nic'/></interface>").index).toBe(2);
    expect(
      error(() => findDevice(def, "<interface type='user'><mac address='52:54:00:00:00:09'/></interface>")),
    ).toMatchObject({ code: 'DEVICE_MISSING' });
  });

  it('other kinds by their XML apart from address and alias', () => {
    expect(
      findDevice(def, "<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>").kind,
    ).toBe('rng');
    expect(
      error(() => findDevice(def, "<rng model='virtio'><backend model='random'>/dev/random</backend></rng>")),
    ).toMatchObject({ code: 'DEVICE_MISSING' });
  });
});

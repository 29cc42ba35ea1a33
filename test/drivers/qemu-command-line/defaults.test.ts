import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

function define(xml: string): DomainDef {
  return applyQemuDefaults(DomainDef.fromXML(xml), fixtureCaps());
}

// Expected shapes below are those of libvirt 11.3's qemuxmlconf outputs (e.g.
// usb-controller-implicit-q35, cpu-check-none, net-virtio in ../shared).
describe('QEMU define-time defaults', () => {
  it('stores a machine alias as the versioned machine it stands for', () => {
    expect(define(tinyDomainXml({ machine: 'pc' })).os?.type.machine).toBe('pc-i440fx-10.0');
    expect(define(tinyDomainXml({ machine: 'q35' })).os?.type.machine).toBe('pc-q35-10.0');
  });

  it('refuses a machine type the binary does not have', () => {
    expect(() => define(tinyDomainXml({ machine: 'pc-i440fx-1.0' }))).toThrow(VirError);
    try {
      define(tinyDomainXml({ machine: 'nope' }));
    } catch (e) {
      expect((e as VirError).code).toBe('CONFIG_UNSUPPORTED');
      expect((e as VirError).field).toBe('/domain/os/type/@machine');
    }
  });

  it('refuses a KVM domain when the caps have no KVM', () => {
    expect(() => define(tinyDomainXml({ type: 'kvm' }))).toThrow(/accelerator kvm/);
  });

  it('gives a CPU-less x86 guest the machine default CPU, exact and unchecked', () => {
    const cpu = define(tinyDomainXml()).cpu;
    expect(cpu?.mode).toBe('custom');
    expect(cpu?.match).toBe('exact');
    expect(cpu?.check).toBe('none');
    expect(cpu?.model).toEqual({ fallback: 'forbid', name: 'qemu64' });
  });

  it('i440fx: PIIX3 USB at 00:01.2, pci-root, PS/2 input, audio none, balloon on the first free slot', () => {
    const def = define(tinyDomainXml());
    const d = def.devices!;
    const usb = d.controllers?.find((c) => c.type === 'usb');
    expect(usb?.model).toBe('piix3-uhci');
    expect(usb?.address).toEqual({ type: 'pci', domain: 0, bus: 0, slot: 1, function: 2 });
    expect(d.controllers?.some((c) => c.type === 'pci' && c.model === 'pci-root')).toBe(true);
    expect(d.inputs).toEqual([
      { type: 'mouse', bus: 'ps2' },
      { type: 'keyboard', bus: 'ps2' },
    ]);
    expect(d.audios).toEqual([{ id: 1, type: 'none' }]);
    expect(d.memballoon?.address).toEqual({ type: 'pci', domain: 0, bus: 0, slot: 2, function: 0 });
  });

  it('q35: xhci behind its own root port, one spare root port, SATA at 00:1f.2, iTCO watchdog', () => {
    const def = define(tinyDomainXml({ machine: 'q35', devices: "<memballoon model='none'/>" }));
    const c = def.devices!.controllers!;
    const ports = c.filter((x) => x.model === 'pcie-root-port');
    expect(ports.map((p) => p.index)).toEqual([1, 2]);
    expect(ports[0]?.address).toEqual({
      type: 'pci',
      domain: 0,
      bus: 0,
      slot: 1,
      function: 0,
      multifunction: true,
    });
    expect(ports[1]?.address).toEqual({ type: 'pci', domain: 0, bus: 0, slot: 1, function: 1 });
    expect(ports.map((p) => p.target?.attrs.map((a) => `${a.name}=${a.value}`).join(' '))).toEqual([
      'chassis=1 port=0x8',
      'chassis=2 port=0x9',
    ]);
    expect(c.find((x) => x.type === 'usb')?.address).toEqual({
      type: 'pci',
      domain: 0,
      bus: 1,
      slot: 0,
      function: 0,
    });
    expect(c.find((x) => x.type === 'sata')?.address).toEqual({
      type: 'pci',
      domain: 0,
      bus: 0,
      slot: 0x1f,
      function: 2,
    });
    expect(def.devices?.watchdogs).toEqual([{ model: 'itco', action: 'reset' }]);
  });

  it('fills a disk driver name and raw format, and keeps explicit PCI addresses', () => {
    const def = define(
      tinyDomainXml({
        devices: `<disk type='file' device='disk'><source file='/x.img'/><target dev='vda' bus='virtio'/>
          <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/></disk>`,
      }),
    );
    const disk = def.devices!.disks![0]!;
    expect(disk.driver).toEqual({ name: 'qemu', type: 'raw' });
    expect(disk.address).toEqual({ type: 'pci', domain: 0, bus: 0, slot: 7, function: 0 });
  });

  it('numbers virtio-serial ports per controller from 1', () => {
    const def = define(
      tinyDomainXml({
        devices: `<channel type='pty'><target type='virtio' name='a'/></channel>
          <channel type='pty'><target type='virtio' name='b'/></channel>`,
      }),
    );
    expect(def.devices!.channels!.map((c) => c.address)).toEqual([
      { type: 'virtio-serial', controller: 0, bus: 0, port: 1 },
      { type: 'virtio-serial', controller: 0, bus: 0, port: 2 },
    ]);
  });
});

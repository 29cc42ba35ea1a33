import { describe, expect, it } from 'vitest';
import { machineFacts, machineVersion, versionAtLeast } from '../../src/machine/index.js';

describe('machine-type knowledge', () => {
  it.each([
    ['pc-q35-9.2', 'q35'],
    ['q35', 'q35'],
    ['pc-i440fx-8.1', 'i440fx'],
    ['pc', 'i440fx'],
    // libvirt's qemuDomainMachineIsI440FX: pc-0.x, pc-1.x and RHEL's own names too
    ['pc-1.2', 'i440fx'],
    ['rhel6.6.0', 'i440fx'],
    ['pc-i440fx-rhel7.6.0', 'i440fx'],
    ['pc-q35-rhel8.2.0', 'q35'],
    ['isapc', 'isapc'],
    ['microvm', 'microvm'],
    ['virt-9.0', 'virt'],
    ['virt', 'virt'],
    ['pseries-9.1', 'pseries'],
    ['s390-ccw-virtio-9.0', 's390-ccw'],
    ['x-remote', 'unknown'],
  ] as const)('%s is a %s machine', (name, family) => {
    expect(machineFacts(name).family).toBe(family);
  });

  it('q35 has a PCIe root, integrated AHCI and SMM; i440fx a legacy PCI root and integrated IDE', () => {
    expect(machineFacts('pc-q35-8.2')).toMatchObject({
      pciRoot: 'pcie-root',
      integratedDiskController: 'ahci',
      supportsSmm: true,
      usesPcieRootPorts: true,
      hasIsaBus: true,
    });
    expect(machineFacts('pc-i440fx-8.2')).toMatchObject({
      pciRoot: 'pci-root',
      integratedDiskController: 'ide',
      supportsSmm: false,
      usesPcieRootPorts: false,
      integratedFloppyController: true,
    });
    expect(machineFacts('isapc')).toMatchObject({ pciRoot: 'none', integratedDiskController: 'ide' });
  });

  it('q35 has a built-in floppy controller only before 2.4', () => {
    expect(machineFacts('pc-q35-2.3').integratedFloppyController).toBe(true);
    expect(machineFacts('pc-q35-1.7').integratedFloppyController).toBe(true);
    expect(machineFacts('pc-q35-2.4').integratedFloppyController).toBe(false);
    expect(machineFacts('pc-q35-2.12').integratedFloppyController).toBe(false);
    expect(machineFacts('pc-q35-4.0').integratedFloppyController).toBe(false);
    expect(machineFacts('pc-q35-4.0.1').integratedFloppyController).toBe(false);
    expect(machineFacts('pc-q35-10.0').integratedFloppyController).toBe(false);
    // an unversioned alias means the newest machine
    expect(machineFacts('q35').integratedFloppyController).toBe(false);
  });

  it('disk buses: IDE only where an IDE controller is built in', () => {
    expect(machineFacts('pc-i440fx-9.0').diskBuses).toContain('ide');
    expect(machineFacts('pc-q35-9.0').diskBuses).not.toContain('ide');
    expect(machineFacts('pc-q35-9.0').diskBuses).toContain('sata');
    expect(machineFacts('s390-ccw-virtio').pciRoot).toBe('none');
    expect(machineFacts('pseries').pciRoot).toBe('pci-root');
    expect(machineFacts('virt-8.0').pciRoot).toBe('pcie-root');
  });

  it('reads machine versions', () => {
    expect(machineVersion('pc-q35-10.0')).toEqual([10, 0]);
    expect(machineVersion('pc-q35-4.0.1')).toEqual([4, 0]);
    expect(machineVersion('pc')).toBeUndefined();
    expect(versionAtLeast([4, 0], 4, 0)).toBe(true);
    expect(versionAtLeast([3, 1], 4, 0)).toBe(false);
    expect(versionAtLeast([10, 0], 4, 2)).toBe(true);
    expect(versionAtLeast(undefined, 99, 0)).toBe(true);
  });
});

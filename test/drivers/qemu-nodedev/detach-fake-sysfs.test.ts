/**
 * PCI passthrough on a copy of a sysfs tree (made here, in a temporary
 * directory) so that nothing of this host is detached: each reason a device
 * is in use is refused before anything is written, a device without an
 * IOMMU group or a host without vfio-pci fails, and a clean device is bound
 * to vfio-pci the way the kernel expects it (driver_override, unbind,
 * drivers_probe), then given back and reset.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QemuNodeDevices } from '../../../src/drivers/qemu/nodedev/index.js';
import type { VirError } from '../../../src/errors.js';

let sys = '';
let proc = '';

function file(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
function link(path: string, target: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
}

/** A PCI function bound to e1000e, at `0000:BB:00.0`. */
function pci(bus: string): string {
  const addr = `0000:${bus}:00.0`;
  const dir = join(sys, 'devices/pci0000:00', addr);
  file(join(dir, 'class'), '0x020000\n');
  file(join(dir, 'vendor'), '0x8086\n');
  file(join(dir, 'device'), '0x10d3\n');
  file(join(dir, 'numa_node'), '-1\n');
  file(join(dir, 'driver_override'), '(null)\n');
  link(join(dir, 'driver'), join(sys, 'bus/pci/drivers/e1000e'));
  link(join(sys, 'bus/pci/devices', addr), dir);
  return dir;
}

function block(dev: string, name: string, majmin: string): string {
  const dir = join(dev, 'block', name);
  file(join(dir, 'dev'), `${majmin}\n`);
  mkdirSync(join(dir, 'holders'), { recursive: true });
  return dir;
}

beforeAll(() => {
  const base = mkdtempSync(join(tmpdir(), 'vk-remnode-sysfs-'));
  sys = join(base, 'sys');
  proc = join(base, 'proc');
  file(join(sys, 'bus/pci/drivers/e1000e/unbind'), '');
  file(join(sys, 'bus/pci/drivers_probe'), '');
  // A: an interface that is down but has an address
  const a = pci('01');
  const nic = join(a, 'net/vkfake0');
  file(join(nic, 'address'), '52:54:00:aa:bb:01\n');
  file(join(nic, 'operstate'), 'down\n');
  file(join(nic, 'flags'), '0x1002\n');
  link(join(sys, 'class/net/vkfake0'), nic);
  // B: a mounted disk; C: a partition used as swap; D: a disk under device-mapper
  block(pci('02'), 'vkd0', '250:0');
  const c = block(pci('03'), 'vkd1', '250:1');
  file(join(c, 'vkd1p1/dev'), '250:2\n');
  const d = block(pci('04'), 'vkd2', '250:3');
  file(join(d, 'holders/dm-0'), '');
  // E: clean, no IOMMU group; F: clean, in group 7; G: the boot disk
  pci('05');
  const f = pci('06');
  link(join(f, 'iommu_group'), join(sys, 'kernel/iommu_groups/7'));
  link(join(sys, 'kernel/iommu_groups/7/devices/0000:06:00.0'), f);
  file(join(f, 'reset'), '');
  block(pci('07'), 'vkd3', '250:16');
  link(join(sys, 'dev/block/250:16'), join(sys, 'devices/pci0000:00/0000:07:00.0/block/vkd3'));
  file(
    join(proc, 'mountinfo'),
    '20 1 250:16 / / rw - ext4 /dev/vkd3 rw\n36 20 250:0 / /mnt/vk rw - ext4 /dev/vkd0 rw\n',
  );
  file(join(proc, 'swaps'), 'Filename Type Size Used Priority\n/dev/vkd1p1 partition 1024 0 -2\n');
});

afterAll(() => {
  if (sys) rmSync(dirname(sys), { recursive: true, force: true });
});

const devices = () =>
  new QemuNodeDevices({
    privileged: true,
    sysRoot: sys,
    mountinfo: join(proc, 'mountinfo'),
    swaps: join(proc, 'swaps'),
    pciIds: [],
    addresses: () => ({ vkfake0: [{ address: '192.0.2.7' }] }),
  });

async function errorOf(p: Promise<unknown>): Promise<VirError> {
  return (await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  )) as VirError;
}

const written = () => ({
  override: readFileSync(join(sys, 'devices/pci0000:00/0000:06:00.0/driver_override'), 'utf8'),
  unbind: readFileSync(join(sys, 'bus/pci/drivers/e1000e/unbind'), 'utf8'),
  probe: readFileSync(join(sys, 'bus/pci/drivers_probe'), 'utf8'),
});

describe('PCI passthrough on a sysfs copy', () => {
  it('lists the copy as libvirt would name it, the interface under its PCI device', async () => {
    const nd = devices();
    const names = (await nd.listNodeDevices({})).map((d) => d.name);
    expect(names).toContain('pci_0000_06_00_0');
    expect(names).toContain('net_vkfake0_52_54_00_aa_bb_01');
    expect(await nd.nodeDeviceGetParent({ name: 'net_vkfake0_52_54_00_aa_bb_01' })).toBe('pci_0000_01_00_0');
    const xml = await nd.nodeDeviceGetXml({ name: 'pci_0000_06_00_0' });
    expect(xml).toContain(
      "<iommuGroup number='7'>\n      <address domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>",
    );
    expect(xml).toContain("<product id='0x10d3'/>");
  });

  it('refuses each device the host uses, writing nothing', async () => {
    const nd = devices();
    const before = written();
    const cases: [string, string][] = [
      ['pci_0000_01_00_0', "network interface 'vkfake0' has addresses"],
      ['pci_0000_02_00_0', "block device 'vkd0' is mounted at '/mnt/vk'"],
      ['pci_0000_03_00_0', "block device 'vkd1p1' is swap"],
      ['pci_0000_04_00_0', "block device 'vkd2' is held by 'dm-0'"],
      ['pci_0000_07_00_0', 'boot disk'],
    ];
    for (const [name, why] of cases) {
      const err = await errorOf(nd.nodeDeviceDetach({ name }));
      expect(err.code, name).toBe('OPERATION_INVALID');
      expect(err.message, name).toContain(why);
    }
    expect(written()).toEqual(before);
  });

  it('fails without an IOMMU group, without vfio-pci, and for a driver name other than vfio-pci', async () => {
    const nd = devices();
    const noGroup = await errorOf(nd.nodeDeviceDetach({ name: 'pci_0000_05_00_0' }));
    expect(noGroup.code).toBe('OPERATION_FAILED');
    expect(noGroup.message).toContain('IOMMU');
    const noVfio = await errorOf(nd.nodeDeviceDetach({ name: 'pci_0000_06_00_0' }));
    expect(noVfio.code).toBe('OPERATION_FAILED');
    expect(noVfio.message).toContain('vfio-pci');
    expect(
      await errorOf(nd.nodeDeviceDetach({ name: 'pci_0000_06_00_0' }, { driverName: 'xen' })),
    ).toMatchObject({
      code: 'INVALID_ARG',
      field: 'driverName',
    });
    expect((await errorOf(nd.nodeDeviceReset({ name: 'pci_0000_06_00_0' }))).code).toBe('OPERATION_INVALID');
    expect((await errorOf(nd.nodeDeviceReAttach({ name: 'pci_0000_06_00_0' }))).code).toBe(
      'OPERATION_INVALID',
    );
  });

  it('binds a clean device to vfio-pci, gives it back, and resets it while detached', async () => {
    file(join(sys, 'bus/pci/drivers/vfio-pci/unbind'), '');
    const nd = devices();
    await nd.nodeDeviceDetach({ name: 'pci_0000_06_00_0' });
    expect(written()).toEqual({ override: 'vfio-pci', unbind: '0000:06:00.0', probe: '0000:06:00.0' });
    // what the kernel does on drivers_probe with the override set
    const dev = join(sys, 'devices/pci0000:00/0000:06:00.0');
    rmSync(join(dev, 'driver'));
    symlinkSync(join(sys, 'bus/pci/drivers/vfio-pci'), join(dev, 'driver'));
    // detaching again is nothing to do
    await nd.nodeDeviceDetach({ name: 'pci_0000_06_00_0' });
    await nd.nodeDeviceReset({ name: 'pci_0000_06_00_0' });
    expect(readFileSync(join(dev, 'reset'), 'utf8')).toBe('1');
    await nd.nodeDeviceReAttach({ name: 'pci_0000_06_00_0' });
    expect(readFileSync(join(dev, 'driver_override'), 'utf8')).toBe('\n');
    expect(readFileSync(join(sys, 'bus/pci/drivers/vfio-pci/unbind'), 'utf8')).toBe('0000:06:00.0');
  });
});

/**
 * Making and removing a mediated device on the fixture tree, with the test
 * playing the kernel: `create` in the type's directory receives the UUID
 * (Documentation/driver-api/vfio-mediated-device), then the device appears
 * under its parent and on the mdev bus; `remove` receives `1`. Every
 * refusal happens before anything is written.
 */
import { mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import { QemuNodeDevices } from '../../../src/drivers/qemu/nodedev/index.js';
import type { VirError } from '../../../src/errors.js';
import { type Fixture, MDEV_UUID, makeFixture } from './sysfs-fixture.js';

let f: Fixture;
let devs: QemuNodeDevices;
const GPU = () => join(f.sys, 'devices/pci0000:00/0000:00:02.0');
const createFile = (type: string) => join(GPU(), 'mdev_supported_types', type, 'create');
const NEW = '4b20d080-1b54-4048-85b3-a6a62d165c01';

const xml = (parent: string, type: string, uuid?: string) =>
  `<device><parent>${parent}</parent><capability type='mdev'><type id='${type}'/>${
    uuid ? `<uuid>${uuid}</uuid>` : ''
  }</capability></device>`;

async function errorOf(p: Promise<unknown>): Promise<VirError> {
  return (await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  )) as VirError;
}

/** Waits until `path` holds something, then returns it. */
async function written(path: string): Promise<string> {
  for (let i = 0; i < 100; i++) {
    const t = readFileSync(path, 'utf8');
    if (t !== '') return t;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nothing written to ${path}`);
}

beforeAll(() => {
  f = makeFixture();
  devs = new QemuNodeDevices({ privileged: true, sysRoot: f.sys, pciIds: [f.pciIds] });
});
afterAll(() => f?.remove());

describe('mdev create and destroy', () => {
  it("writes the UUID to the type's create file and answers with the device the kernel made", async () => {
    const made = devs.createNodeDevice(xml('pci_0000_00_02_0', 'i915-GVTg_V5_4', NEW));
    expect(await written(createFile('i915-GVTg_V5_4'))).toBe(NEW);
    // the kernel's part: the device under its parent, on the bus, of that type, in the parent's group
    const dir = join(GPU(), NEW);
    mkdirSync(dir);
    symlinkSync(join(GPU(), 'mdev_supported_types/i915-GVTg_V5_4'), join(dir, 'mdev_type'));
    symlinkSync(join(f.sys, 'kernel/iommu_groups/0'), join(dir, 'iommu_group'));
    writeFileSync(join(dir, 'remove'), '');
    symlinkSync(dir, join(f.sys, 'bus/mdev/devices', NEW));
    const ref = await made;
    expect(ref.name).toBe(`mdev_${NEW.replaceAll('-', '_')}_0000_00_02_0`);
    expect(await devs.nodeDeviceGetXml(ref)).toContain(
      `<type id='i915-GVTg_V5_4'/>\n    <uuid>${NEW}</uuid>`,
    );

    const gone = devs.nodeDeviceDestroy(ref);
    await gone;
    expect(readFileSync(join(dir, 'remove'), 'utf8')).toBe('1');
    unlinkSync(join(f.sys, 'bus/mdev/devices', NEW));
    rmSync(dir, { recursive: true });
    expect((await errorOf(devs.lookupNodeDevice(ref.name))).code).toBe('NO_NODE_DEVICE');
  });

  it('refuses, writing nothing: no types on the parent, an unknown type, a UUID in use, not an mdev', async () => {
    writeFileSync(createFile('i915-GVTg_V5_4'), '');
    const noTypes = await errorOf(devs.createNodeDevice(xml('pci_0000_00_05_0', 'i915-GVTg_V5_4')));
    expect(noTypes).toMatchObject({ code: 'NO_SUPPORT', field: '/device/parent' });
    expect(noTypes.message).toContain("'pci_0000_00_05_0'");
    const unknown = await errorOf(devs.createNodeDevice(xml('pci_0000_00_02_0', 'nvidia-63')));
    expect(unknown).toMatchObject({ code: 'INVALID_ARG', field: '/device/capability/type/@id' });
    expect(unknown.message).toContain("'i915-GVTg_V5_4', 'i915-GVTg_V5_8'");
    const inUse = await errorOf(devs.createNodeDevice(xml('pci_0000_00_02_0', 'i915-GVTg_V5_8', MDEV_UUID)));
    expect(inUse).toMatchObject({ code: 'OPERATION_INVALID', field: '/device/capability/uuid' });
    const noParent = await errorOf(
      devs.createNodeDevice("<device><capability type='mdev'><type id='x'/></capability></device>"),
    );
    expect(noParent).toMatchObject({ code: 'INVALID_ARG', field: '/device/parent' });
    const vhba = await errorOf(
      devs.createNodeDevice(
        "<device><parent>scsi_host12</parent><capability type='scsi_host'><host>13</host></capability></device>",
      ),
    );
    expect(vhba).toMatchObject({ code: 'NO_SUPPORT', field: '/device/capability' });
    for (const t of ['i915-GVTg_V5_4', 'i915-GVTg_V5_8'])
      expect(readFileSync(createFile(t), 'utf8')).toBe('');
    const notMdev = await errorOf(devs.nodeDeviceDestroy({ name: 'pci_0000_00_05_0' }));
    expect(notMdev).toMatchObject({ code: 'NO_SUPPORT', field: 'name' });
  });

  it('is OPERATION_DENIED from qemu:///session', async () => {
    const session = new QemuNodeDevices({ privileged: false, sysRoot: f.sys });
    expect((await errorOf(session.createNodeDevice(xml('pci_0000_00_02_0', 'i915-GVTg_V5_4')))).code).toBe(
      'OPERATION_DENIED',
    );
    const mdev = `mdev_${MDEV_UUID.replaceAll('-', '_')}_0000_00_02_0`;
    expect((await errorOf(session.nodeDeviceDestroy({ name: mdev }))).code).toBe('OPERATION_DENIED');
    expect(readFileSync(join(GPU(), MDEV_UUID, 'remove'), 'utf8')).toBe('');
  });
});

describe('through the facade', () => {
  it('is NO_SUPPORT on the test driver, OPERATION_DENIED on qemu:///session, read-only refused', async () => {
    const t = await connect('test:///default');
    try {
      expect((await errorOf(t.nodeDevices.create(xml('computer', 'x')))).code).toBe('NO_SUPPORT');
      expect((await errorOf((await t.nodeDevices.lookup('computer')).destroy())).code).toBe('NO_SUPPORT');
    } finally {
      await t.close();
    }
    const s = await connect('qemu:///session', { driverOptions: { cacheDir: null } });
    try {
      expect((await errorOf(s.nodeDevices.create(xml('computer', 'x')))).code).toBe('OPERATION_DENIED');
    } finally {
      await s.close();
    }
    const ro = await connect('test:///default', { readonly: true });
    try {
      expect((await errorOf(ro.nodeDevices.create(xml('computer', 'x')))).code).toBe('OPERATION_DENIED');
    } finally {
      await ro.close();
    }
  });
});

/**
 * USB, SCSI, mdev and DMI devices from a copy of the sysfs files the kernel
 * exposes (sysfs-fixture.ts says which ABI each file follows), read by the
 * QEMU driver's node device backend: libvirt's names (`usb_<sysname>`,
 * `scsi_host<N>`, `mdev_<uuid>_<parent>`), its XML for each capability,
 * the parent chain up to `computer`, `listCaps` with the nested
 * capabilities libvirt counts, and the `cap` filter with its OR semantics.
 * The FC HBA's XML is checked against libvirt's own test data
 * (nodedevschemadata/hba_vport_ops.xml) where the workspace has it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NodeDeviceDef } from '../../../src/conf/nodedev/nodedev-def.js';
import type { NodeDeviceCapName } from '../../../src/driver-objects.js';
import { QemuNodeDevices } from '../../../src/drivers/qemu/nodedev/index.js';
import { validate } from '../../../src/xml/validate.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';
import { type Fixture, MDEV_UUID, makeFixture } from './sysfs-fixture.js';

let f: Fixture;
let devs: QemuNodeDevices;

beforeAll(() => {
  f = makeFixture();
  devs = new QemuNodeDevices({
    privileged: false,
    sysRoot: f.sys,
    udevData: f.udev,
    usbIds: [f.usbIds],
    pciIds: [f.pciIds],
  });
});
afterAll(() => f?.remove());

const xml = async (name: string) => (await devs.nodeDeviceGetXml({ name })).replaceAll(f.sys, '/sys');
const names = async (...caps: NodeDeviceCapName[]) =>
  (await devs.listNodeDevices({ caps })).map((d) => d.name).sort();

describe('the device tree', () => {
  it('names every device as libvirt does, each with its nearest listed sysfs ancestor as parent', async () => {
    const all = await devs.listNodeDevices({});
    const parents: Record<string, string | undefined> = {};
    for (const d of all) parents[d.name] = await devs.nodeDeviceGetParent(d);
    expect(parents).toEqual({
      computer: undefined,
      pci_0000_00_02_0: 'computer',
      pci_0000_00_03_2: 'computer',
      pci_0000_00_05_0: 'computer',
      pci_0000_00_14_0: 'computer',
      pci_0000_00_1f_2: 'computer',
      pci_0000_06_00_1: 'pci_0000_00_03_2',
      usb_usb1: 'pci_0000_00_14_0',
      usb_1_0_1_0: 'usb_usb1',
      usb_1_2: 'usb_usb1',
      usb_1_2_1_2: 'usb_1_2',
      usb_1_3: 'usb_usb1',
      usb_1_4: 'usb_usb1',
      // ata1 is no device of the list: the host's parent is the AHCI controller
      scsi_host0: 'pci_0000_00_1f_2',
      scsi_target0_0_0: 'scsi_host0',
      scsi_0_0_0_0: 'scsi_target0_0_0',
      scsi_0_0_0_1: 'scsi_target0_0_0',
      scsi_generic_sg0: 'scsi_0_0_0_0',
      block_sda_QEMU_HARDDISK_QM00001: 'scsi_0_0_0_0',
      scsi_host12: 'pci_0000_06_00_1',
      scsi_target12_0_0: 'scsi_host12',
      [`mdev_${MDEV_UUID.replaceAll('-', '_')}_0000_00_02_0`]: 'pci_0000_00_02_0',
    });
    // every chain ends at computer, with no cycle
    for (const start of Object.keys(parents)) {
      const seen = new Set<string>();
      let n: string | undefined = start;
      while (n && n !== 'computer') {
        expect(seen.has(n), `cycle at ${n}`).toBe(false);
        seen.add(n);
        n = parents[n];
      }
      expect(n).toBe('computer');
    }
  });

  it('gives each def its parent in the XML, and the model reads and validates every document', async () => {
    for (const { name } of await devs.listNodeDevices({})) {
      const text = await devs.nodeDeviceGetXml({ name });
      const def = NodeDeviceDef.fromXML(text);
      // libvirt's parser (and so the model) reads no <driver> and no block counts: the rest comes back
      const unread = text
        .replace(/\n {2}<driver>\n {4}<name>[^<]*<\/name>\n {2}<\/driver>/, '')
        .replace(/\n {4}<(logical_block_size|num_blocks)>\d+<\/\1>/g, '');
      expect(def.toXML(), name).toBe(unread);
      expect(def.parent?.name).toBe(await devs.nodeDeviceGetParent({ name }));
      const v = await validate(text, 'nodedev');
      expect(v.errors, name).toEqual([]);
    }
  });
});

describe('USB', () => {
  it('a root hub: BUSNUM/DEVNUM, ids from idVendor/idProduct, names from usb.ids without udev', async () => {
    expect(await xml('usb_usb1')).toBe(
      `<device>
  <name>usb_usb1</name>
  <path>/sys/devices/pci0000:00/0000:00:14.0/usb1</path>
  <devnode type='dev'>/dev/bus/usb/001/001</devnode>
  <parent>pci_0000_00_14_0</parent>
  <driver>
    <name>usb</name>
  </driver>
  <capability type='usb_device'>
    <bus>1</bus>
    <device>1</device>
    <product id='0x0002'>2.0 root hub</product>
    <vendor id='0x1d6b'>Linux Foundation</vendor>
  </capability>
</device>
`,
    );
  });

  it("falls back to the device's own strings, and prefers udev's database where it has the device", async () => {
    expect(await xml('usb_1_3')).toContain(
      "<product id='0x0001'>Widget</product>\n    <vendor id='0xf1f0'>Acme</vendor>",
    );
    expect(await xml('usb_1_4')).toContain(
      "<product id='0x5581'>Ultra (hwdb)</product>\n    <vendor id='0x0781'>SanDisk Corp.</vendor>",
    );
  });

  it('an interface: number, class, subclass, protocol (hex in sysfs) in decimal, its driver', async () => {
    expect(await xml('usb_1_2_1_2')).toBe(
      `<device>
  <name>usb_1_2_1_2</name>
  <path>/sys/devices/pci0000:00/0000:00:14.0/usb1/1-2/1-2:1.2</path>
  <parent>usb_1_2</parent>
  <driver>
    <name>usbhid</name>
  </driver>
  <capability type='usb'>
    <number>2</number>
    <class>3</class>
    <subclass>0</subclass>
    <protocol>0</protocol>
  </capability>
</device>
`,
    );
  });
});

describe('SCSI', () => {
  it.skipIf(!HAS_SHARED)(
    `an FC HBA with NPIV equals libvirt's test data (WWNs without 0x, vport counts)${SHARED_NOTE}`,
    async () => {
      const theirs = readFileSync(join(SHARED_DIR, 'objects/nodedevxml2xmlout/hba_vport_ops.xml'), 'utf8');
      // libvirt's file has no <driver> (an HBA's scsi_host has none in sysfs either)
      expect(await xml('scsi_host12')).toBe(theirs);
    },
  );

  it('a host, a target (behind an FC remote port), a disk LUN, an unnamed peripheral type, sg', async () => {
    expect(await xml('scsi_host0')).toContain(
      "<capability type='scsi_host'>\n    <host>0</host>\n    <unique_id>1</unique_id>\n  </capability>",
    );
    expect(await xml('scsi_target0_0_0')).toContain(
      "<capability type='scsi_target'>\n    <target>target0:0:0</target>\n  </capability>",
    );
    expect(await xml('scsi_target12_0_0')).toContain(
      "<capability type='fc_remote_port'>\n      <rport>rport-12:0-0</rport>\n      <wwpn>50060b0000c26210</wwpn>",
    );
    expect(await xml('scsi_0_0_0_0')).toBe(
      `<device>
  <name>scsi_0_0_0_0</name>
  <path>/sys/devices/pci0000:00/0000:00:1f.2/ata1/host0/target0:0:0/0:0:0:0</path>
  <parent>scsi_target0_0_0</parent>
  <driver>
    <name>sd</name>
  </driver>
  <capability type='scsi'>
    <host>0</host>
    <bus>0</bus>
    <target>0</target>
    <lun>0</lun>
    <type>disk</type>
  </capability>
</device>
`,
    );
    // SPC type 2 (printer) has no name in libvirt: no <type>
    expect(await xml('scsi_0_0_0_1')).toContain('<lun>1</lun>\n  </capability>');
    expect(await xml('scsi_generic_sg0')).toContain(
      "<devnode type='dev'>/dev/sg0</devnode>\n  <parent>scsi_0_0_0_0</parent>\n  <capability type='scsi_generic'>\n    <char>/dev/sg0</char>",
    );
  });

  it("a SCSI disk with udev's ID_BUS and ID_SERIAL: bus, model and vendor trimmed, serial", async () => {
    expect(await xml('block_sda_QEMU_HARDDISK_QM00001')).toContain(
      `<capability type='storage'>
    <block>/dev/sda</block>
    <bus>ata</bus>
    <drive_type>disk</drive_type>
    <model>QEMU HARDDISK</model>
    <vendor>ATA</vendor>
    <serial>QEMU_HARDDISK_QM00001</serial>
    <size>1073741824</size>
    <logical_block_size>512</logical_block_size>
    <num_blocks>2097152</num_blocks>
  </capability>`,
    );
  });
});

describe('mediated devices', () => {
  const mdevName = `mdev_${MDEV_UUID.replaceAll('-', '_')}_0000_00_02_0`;

  it('a parent lists its types inside its pci capability, before the IOMMU group', async () => {
    expect(await xml('pci_0000_00_02_0')).toContain(
      `    <capability type='mdev_types'>
      <type id='i915-GVTg_V5_4'>
        <name>GVTg_V5_4</name>
        <deviceAPI>vfio-pci</deviceAPI>
        <availableInstances>1</availableInstances>
      </type>
      <type id='i915-GVTg_V5_8'>
        <name>GVTg_V5_8</name>
        <deviceAPI>vfio-pci</deviceAPI>
        <availableInstances>2</availableInstances>
      </type>
    </capability>
    <iommuGroup number='0'>`,
    );
    expect(await xml('pci_0000_00_05_0')).not.toContain('mdev_types');
  });

  it("an mdev: type from its mdev_type link, uuid, IOMMU group, named with its parent's address", async () => {
    expect(await xml(mdevName)).toBe(
      `<device>
  <name>${mdevName}</name>
  <path>/sys/devices/pci0000:00/0000:00:02.0/${MDEV_UUID}</path>
  <parent>pci_0000_00_02_0</parent>
  <driver>
    <name>vfio_mdev</name>
  </driver>
  <capability type='mdev'>
    <type id='i915-GVTg_V5_8'/>
    <uuid>${MDEV_UUID}</uuid>
    <iommuGroup number='0'/>
  </capability>
</device>
`,
    );
  });
});

describe('computer', () => {
  it('the DMI product, hardware and firmware, the UUID in lower case', async () => {
    expect(await xml('computer')).toBe(
      `<device>
  <name>computer</name>
  <capability type='system'>
    <product>Standard PC (Q35 + ICH9, 2009)</product>
    <hardware>
      <vendor>QEMU</vendor>
      <version>pc-q35-7.2</version>
      <uuid>4c4c4544-0043-3510-8057-b4c04f4a5a31</uuid>
    </hardware>
    <firmware>
      <vendor>SeaBIOS</vendor>
      <version>1.16.2-debian-1.16.2-1</version>
      <release_date>04/01/2014</release_date>
    </firmware>
  </capability>
</device>
`,
    );
  });
});

describe('capabilities and the cap filter', () => {
  it('listCaps adds the nested capabilities libvirt counts', async () => {
    expect(await devs.nodeDeviceListCaps({ name: 'pci_0000_00_02_0' })).toEqual(['pci', 'mdev_types']);
    expect(await devs.nodeDeviceListCaps({ name: 'scsi_host12' })).toEqual([
      'scsi_host',
      'fc_host',
      'vports',
    ]);
    expect(await devs.nodeDeviceListCaps({ name: 'scsi_host0' })).toEqual(['scsi_host']);
  });

  it('filters by each capability, nested ones included, several caps as any of them', async () => {
    expect(await names('usb_device')).toEqual(['usb_1_2', 'usb_1_3', 'usb_1_4', 'usb_usb1']);
    expect(await names('usb')).toEqual(['usb_1_0_1_0', 'usb_1_2_1_2']);
    expect(await names('scsi_host')).toEqual(['scsi_host0', 'scsi_host12']);
    expect(await names('scsi_target')).toEqual(['scsi_target0_0_0', 'scsi_target12_0_0']);
    expect(await names('scsi')).toEqual(['scsi_0_0_0_0', 'scsi_0_0_0_1']);
    expect(await names('fc_host')).toEqual(['scsi_host12']);
    expect(await names('vports')).toEqual(['scsi_host12']);
    expect(await names('mdev_types')).toEqual(['pci_0000_00_02_0']);
    expect(await names('system')).toEqual(['computer']);
    expect(await names('mdev', 'scsi_generic')).toEqual([
      `mdev_${MDEV_UUID.replaceAll('-', '_')}_0000_00_02_0`,
      'scsi_generic_sg0',
    ]);
    expect(await names('storage')).toEqual(['block_sda_QEMU_HARDDISK_QM00001']);
    expect(await names('drm')).toEqual([]);
  });
});

/** Lines a host tool prints, or undefined when it is not installed. */
function toolLines(cmd: string, args: string[]): string[] | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.split('\n').filter((l) => l.trim() !== '');
}

const busEntries = (bus: string) => {
  try {
    return readdirSync(`/sys/bus/${bus}/devices`);
  } catch {
    return undefined;
  }
};

describe("this host's /sys", () => {
  const usb = busEntries('usb');
  const scsi = busEntries('scsi');
  const mdev = busEntries('mdev');
  console.info(
    `this host: /sys/bus/usb ${usb ? `${usb.length} entries` : 'absent'}, /sys/bus/scsi ${
      scsi ? `${scsi.length} entries` : 'absent'
    }, /sys/bus/mdev ${mdev ? `${mdev.length} entries` : 'absent'}`,
  );
  const host = new QemuNodeDevices({ privileged: false });
  const listed = async (cap: NodeDeviceCapName) =>
    (await host.listNodeDevices({ caps: [cap] })).map((d) => d.name).sort();

  it('lists one usb_device or usb node per entry of /sys/bus/usb/devices, as many devices as lsusb', async () => {
    const ours = [...(await listed('usb_device')), ...(await listed('usb'))].sort();
    expect(ours).toEqual((usb ?? []).map((e) => `usb_${e.replace(/[^A-Za-z0-9]/g, '_')}`).sort());
    const lsusb = toolLines('lsusb', []);
    if (lsusb) expect((await listed('usb_device')).length).toBe(lsusb.length);
    else console.info('lsusb is not installed: the count of USB devices is not compared');
  });

  it('lists one SCSI host, target or device per entry of /sys/bus/scsi/devices; lsscsi agrees', async () => {
    const ours = [
      ...(await listed('scsi_host')),
      ...(await listed('scsi_target')),
      ...(await listed('scsi')),
    ];
    expect(ours.length).toBe((scsi ?? []).length);
    const lsscsi = toolLines('lsscsi', []);
    if (lsscsi) expect((await listed('scsi')).length).toBe(lsscsi.length);
    else console.info('lsscsi is not installed: the count of SCSI devices is not compared');
  });

  it('lists one mdev per entry of /sys/bus/mdev/devices that has an IOMMU group', async () => {
    const withGroup = (mdev ?? []).filter((u) => existsSync(`/sys/bus/mdev/devices/${u}/iommu_group`));
    expect((await listed('mdev')).length).toBe(withGroup.length);
  });
});

/**
 * A copy of the parts of a Linux sysfs tree libvirt's udev backend reads,
 * made in a temporary directory: what the kernel exposes for an xHCI
 * controller with a root hub and two devices (Documentation/ABI/stable/
 * sysfs-bus-usb: `idVendor`, `idProduct`, `manufacturer`, `product`,
 * `bInterface*` in hex; `uevent` with `DEVTYPE`, `BUSNUM`, `DEVNUM`,
 * `DEVNAME`), an AHCI port with a disk (`host0`/`target0:0:0`/`0:0:0:0`
 * with `type`, `block/sda`, `scsi_generic/sg0`), a Fibre Channel HBA with
 * NPIV (`/sys/class/fc_host/host12`: `port_name`, `node_name`,
 * `fabric_name` as `0x…`, `vport_create`, `max_npiv_vports`,
 * `npiv_vports_inuse`; Documentation/ABI/testing/sysfs-class-fc_host and
 * scsi_transport_fc) and a remote port, a GPU offering mediated device
 * types with one mdev made (Documentation/driver-api/vfio-mediated-device:
 * `mdev_supported_types/<type>/{name,device_api,available_instances,create}`,
 * the device's `mdev_type` link, `remove`), and DMI (`/sys/class/dmi/id`).
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export interface Fixture {
  readonly base: string;
  readonly sys: string;
  readonly udev: string;
  readonly usbIds: string;
  readonly pciIds: string;
  remove(): void;
}

/** A GPU's mdev, as the fixture has it. */
export const MDEV_UUID = 'd069d019-36ea-4111-8f0a-8c9a70e21366';

export function makeFixture(): Fixture {
  const base = mkdtempSync(join(tmpdir(), 'vk-nodedev2-sysfs-'));
  const sys = join(base, 'sys');
  const udev = join(base, 'udev');
  const file = (path: string, text: string) => {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, text);
  };
  const link = (path: string, target: string) => {
    mkdirSync(dirname(path), { recursive: true });
    symlinkSync(target, path);
  };
  const attrs = (dir: string, a: Record<string, string>) => {
    for (const [k, v] of Object.entries(a)) file(join(dir, k), `${v}\n`);
  };
  const uevent = (dir: string, a: Record<string, string>) =>
    file(
      join(dir, 'uevent'),
      Object.entries(a)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );
  const root = join(sys, 'devices/pci0000:00');
  const pci = (path: string, cls: string, vendor: string, device: string, driver: string) => {
    const dir = join(root, path);
    const addr = path.split('/').pop()!;
    attrs(dir, { class: cls, vendor, device, numa_node: '-1' });
    link(join(dir, 'driver'), join(sys, 'bus/pci/drivers', driver));
    link(join(sys, 'bus/pci/devices', addr), dir);
    return dir;
  };

  // --- USB: xHCI, root hub usb1 (its hub interface), a receiver, an unnamed vendor, one udev knows
  const xhci = pci('0000:00:14.0', '0x0c0330', '0x8086', '0xa36d', 'xhci_hcd');
  const usbDev = (dir: string, bus: number, dev: number, a: Record<string, string>, driver = 'usb') => {
    const busnum = String(bus).padStart(3, '0');
    const devnum = String(dev).padStart(3, '0');
    attrs(dir, { busnum: String(bus), devnum: String(dev), ...a, dev: `189:${(bus - 1) * 128 + dev - 1}` });
    uevent(dir, {
      MAJOR: '189',
      MINOR: String((bus - 1) * 128 + dev - 1),
      DEVNAME: `bus/usb/${busnum}/${devnum}`,
      DEVTYPE: 'usb_device',
      DRIVER: driver,
      PRODUCT: `${a.idVendor}/${a.idProduct}/100`,
      TYPE: '0/0/0',
      BUSNUM: busnum,
      DEVNUM: devnum,
    });
    link(join(sys, 'bus/usb/devices', dir.split('/').pop()!), dir);
  };
  const usbIf = (dir: string, driver: string, n: string, cls: string, sub: string, proto: string) => {
    attrs(dir, {
      bInterfaceNumber: n,
      bInterfaceClass: cls,
      bInterfaceSubClass: sub,
      bInterfaceProtocol: proto,
      bAlternateSetting: ' 0',
    });
    uevent(dir, { DEVTYPE: 'usb_interface', DRIVER: driver, INTERFACE: `${cls}/${sub}/${proto}` });
    link(join(dir, 'driver'), join(sys, 'bus/usb/drivers', driver));
    link(join(sys, 'bus/usb/devices', dir.split('/').pop()!), dir);
  };
  const usb1 = join(xhci, 'usb1');
  usbDev(usb1, 1, 1, {
    idVendor: '1d6b',
    idProduct: '0002',
    manufacturer: 'Linux 6.1.0-57-amd64 xhci-hcd',
    product: 'xHCI Host Controller',
  });
  usbIf(join(usb1, '1-0:1.0'), 'hub', '00', '09', '00', '00');
  usbDev(join(usb1, '1-2'), 1, 2, {
    idVendor: '046d',
    idProduct: 'c52b',
    manufacturer: 'Logitech',
    product: 'USB Receiver',
  });
  usbIf(join(usb1, '1-2/1-2:1.2'), 'usbhid', '02', '03', '00', '00');
  usbDev(join(usb1, '1-3'), 1, 3, {
    idVendor: 'f1f0',
    idProduct: '0001',
    manufacturer: 'Acme',
    product: 'Widget',
  });
  usbDev(join(usb1, '1-4'), 1, 4, { idVendor: '0781', idProduct: '5581', product: 'Ultra' });
  // udevd's view of 1-4: its ids, and names from its hwdb (newer than the usb.ids file here)
  file(
    join(udev, 'c189:3'),
    'E:ID_VENDOR_ID=0781\nE:ID_MODEL_ID=5581\nE:ID_VENDOR_FROM_DATABASE=SanDisk Corp.\nE:ID_MODEL_FROM_DATABASE=Ultra (hwdb)\n',
  );

  // --- SCSI: AHCI port ata1 → host0 → target0:0:0 → 0:0:0:0 with sda and sg0
  const ahci = pci('0000:00:1f.2', '0x010601', '0x8086', '0x2922', 'ahci');
  const host0 = join(ahci, 'ata1/host0');
  uevent(host0, { DEVTYPE: 'scsi_host' });
  attrs(join(host0, 'scsi_host/host0'), { unique_id: '1', proc_name: 'ahci' });
  link(join(sys, 'class/scsi_host/host0'), join(host0, 'scsi_host/host0'));
  const target = join(host0, 'target0:0:0');
  uevent(target, { DEVTYPE: 'scsi_target' });
  const lun = join(target, '0:0:0:0');
  uevent(lun, { DEVTYPE: 'scsi_device', DRIVER: 'sd', MODALIAS: 'scsi:t-0x00' });
  attrs(lun, { type: '0', vendor: 'ATA     ', model: 'QEMU HARDDISK   ', rev: '2.5+' });
  link(join(lun, 'driver'), join(sys, 'bus/scsi/drivers/sd'));
  for (const d of [host0, target, lun]) link(join(sys, 'bus/scsi/devices', d.split('/').pop()!), d);
  const sda = join(lun, 'block/sda');
  attrs(sda, { dev: '8:0', size: '2097152', removable: '0' });
  attrs(join(sda, 'queue'), { logical_block_size: '512' });
  uevent(sda, { MAJOR: '8', MINOR: '0', DEVNAME: 'sda', DEVTYPE: 'disk' });
  link(join(sys, 'class/block/sda'), sda);
  link(join(sda, 'device'), lun);
  file(join(udev, 'b8:0'), 'E:ID_TYPE=disk\nE:ID_BUS=ata\nE:ID_SERIAL=QEMU_HARDDISK_QM00001\n');
  const sg0 = join(lun, 'scsi_generic/sg0');
  attrs(sg0, { dev: '21:0' });
  uevent(sg0, { MAJOR: '21', MINOR: '0', DEVNAME: 'sg0' });
  link(join(sys, 'class/scsi_generic/sg0'), sg0);
  // a LUN of a type libvirt has no name for (a printer, SPC type 2) and one it has (an enclosure)
  const printer = join(target, '0:0:0:1');
  uevent(printer, { DEVTYPE: 'scsi_device' });
  attrs(printer, { type: '2' });
  link(join(sys, 'bus/scsi/devices/0:0:0:1'), printer);

  // --- FC HBA with NPIV: host12 behind 0000:06:00.1, a target behind remote port rport-12:0-0
  pci('0000:00:03.2', '0x060400', '0x8086', '0x6f08', 'pcieport');
  const hba = pci('0000:00:03.2/0000:06:00.1', '0x0c0400', '0x10df', '0xe200', 'lpfc');
  const host12 = join(hba, 'host12');
  uevent(host12, { DEVTYPE: 'scsi_host' });
  attrs(join(host12, 'scsi_host/host12'), { unique_id: '12' });
  link(join(sys, 'class/scsi_host/host12'), join(host12, 'scsi_host/host12'));
  attrs(join(host12, 'fc_host/host12'), {
    port_name: '0x2001f4e9d4eb02c9',
    node_name: '0x2000f4e9d4eb02c9',
    fabric_name: '0x2001547feebe79c1',
    max_npiv_vports: '0',
    npiv_vports_inuse: '0',
    port_state: 'Online',
  });
  file(join(host12, 'fc_host/host12/vport_create'), '');
  link(join(sys, 'class/fc_host/host12'), join(host12, 'fc_host/host12'));
  const rport = join(host12, 'rport-12:0-0');
  attrs(join(rport, 'fc_remote_ports/rport-12:0-0'), { port_name: '0x50060b0000c26210' });
  link(join(sys, 'class/fc_remote_ports/rport-12:0-0'), join(rport, 'fc_remote_ports/rport-12:0-0'));
  const t12 = join(rport, 'target12:0:0');
  uevent(t12, { DEVTYPE: 'scsi_target' });
  link(join(sys, 'bus/scsi/devices/host12'), host12);
  link(join(sys, 'bus/scsi/devices/target12:0:0'), t12);

  // --- mdev: a GPU with two types, one mdev of the second; IOMMU group 0
  const gpu = pci('0000:00:02.0', '0x030000', '0x8086', '0x3e92', 'i915');
  const types = join(gpu, 'mdev_supported_types');
  attrs(join(types, 'i915-GVTg_V5_4'), {
    name: 'GVTg_V5_4',
    device_api: 'vfio-pci',
    available_instances: '1',
  });
  attrs(join(types, 'i915-GVTg_V5_8'), {
    name: 'GVTg_V5_8',
    device_api: 'vfio-pci',
    available_instances: '2',
  });
  for (const t of ['i915-GVTg_V5_4', 'i915-GVTg_V5_8']) {
    file(join(types, t, 'create'), '');
    mkdirSync(join(types, t, 'devices'), { recursive: true });
  }
  link(join(gpu, 'iommu_group'), join(sys, 'kernel/iommu_groups/0'));
  link(join(sys, 'kernel/iommu_groups/0/devices/0000:00:02.0'), gpu);
  const mdev = join(gpu, MDEV_UUID);
  link(join(mdev, 'mdev_type'), join(types, 'i915-GVTg_V5_8'));
  link(join(mdev, 'iommu_group'), join(sys, 'kernel/iommu_groups/0'));
  link(join(mdev, 'driver'), join(sys, 'bus/mdev/drivers/vfio_mdev'));
  uevent(mdev, { DRIVER: 'vfio_mdev', MDEV_TYPE: 'i915-GVTg_V5_8' });
  file(join(mdev, 'remove'), '');
  link(join(sys, 'bus/mdev/devices', MDEV_UUID), mdev);
  // a PCI device without types offers none
  pci('0000:00:05.0', '0x020000', '0x8086', '0x10d3', 'e1000e');

  // --- DMI
  attrs(join(sys, 'devices/virtual/dmi/id'), {
    product_name: 'Standard PC (Q35 + ICH9, 2009)',
    sys_vendor: 'QEMU',
    product_version: 'pc-q35-7.2',
    product_serial: '',
    product_uuid: '4C4C4544-0043-3510-8057-B4C04F4A5A31',
    bios_vendor: 'SeaBIOS',
    bios_version: '1.16.2-debian-1.16.2-1',
    bios_date: '04/01/2014',
  });

  const usbIds = join(base, 'usb.ids');
  file(
    usbIds,
    '# usb.ids excerpt\n046d  Logitech, Inc.\n\tc52b  Unifying Receiver\n0781  SanDisk Corp.\n\t5581  Ultra\n' +
      '1d6b  Linux Foundation\n\t0001  1.1 root hub\n\t0002  2.0 root hub\n\t0003  3.0 root hub\n' +
      'C 00  (Defined at Interface level)\n',
  );
  const pciIds = join(base, 'pci.ids');
  file(pciIds, '8086  Intel Corporation\n\ta36d  Cannon Lake PCH USB 3.1 xHCI Host Controller\n');
  return { base, sys, udev, usbIds, pciIds, remove: () => rmSync(base, { recursive: true, force: true }) };
}

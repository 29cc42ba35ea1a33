/**
 * Controllers: where implicit ones go in the list (libvirt's insertion rule,
 * the QEMU driver's defaults before the controllers devices imply) and USB
 * companion controllers on the command line. Expected values are those of
 * libvirt 11.3's qemuxmlconf data (balloon-device, q35-usb2).
 */
import { describe, expect, it } from 'vitest';
import { insertControllers } from '../../../src/conf/domain/implicit-controllers.js';
import type { ControllerDef } from '../../../src/conf/domain/index.js';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { buildCommandLine } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const paths = { domainDir: '/var/lib/x', monitor: { path: '/var/lib/x/monitor.sock' } };
const names = (list: ControllerDef[] | undefined) =>
  (list ?? []).map((c) => `${c.type}${c.index}${c.master ? '+' : ''}`);

describe('implicit controller order', () => {
  it('puts the driver default USB controller and PCI root before an implied IDE controller', () => {
    const disk = `<disk type='file' device='disk'><source file='/d.img'/><target dev='hda' bus='ide'/></disk>`;
    const def = DomainDef.fromXML(tinyDomainXml({ devices: disk }), { deferImplicitControllers: true });
    expect(def.devices?.controllers ?? []).toEqual([]);
    applyQemuDefaults(def, fixtureCaps());
    expect(names(def.devices?.controllers)).toEqual(['usb0', 'pci0', 'ide0']);
  });

  it('still adds the implied ones when the parse did not defer them', () => {
    const disk = `<disk type='file' device='disk'><source file='/d.img'/><target dev='hdc' bus='ide'/></disk>`;
    const def = applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ devices: disk })), fixtureCaps());
    expect(names(def.devices?.controllers).sort()).toEqual(['ide0', 'pci0', 'usb0']);
  });
});

describe('insertControllers', () => {
  it('follows libvirt: after the last lower index, before the next of the type, else at the end', () => {
    const list: ControllerDef[] = [
      { type: 'ide', index: 0 },
      { type: 'usb', index: 0 },
      { type: 'ide', index: 2 },
    ];
    insertControllers(list, [
      { type: 'ide', index: 1 },
      { type: 'ide', index: 3 },
      { type: 'fdc', index: 0 },
      { type: 'ide', index: 0 }, // already there: kept as it is
    ]);
    expect(names(list)).toEqual(['ide0', 'usb0', 'ide1', 'ide2', 'ide3', 'fdc0']);
  });

  it('counts a USB companion as the controller of its index', () => {
    const list: ControllerDef[] = [{ type: 'usb', index: 0, model: 'ich9-uhci1', master: { startport: 0 } }];
    insertControllers(list, [{ type: 'usb', index: 0, model: 'piix3-uhci' }]);
    expect(names(list)).toEqual(['usb0+']);
  });
});

function usbGuest(index: number, withMaster = true): string {
  const addr = (fn: number, mf = '') =>
    `<address type='pci' domain='0x0000' bus='0x00' slot='0x1d' function='0x${fn}'${mf}/>`;
  const master = withMaster
    ? `<controller type='usb' index='${index}' model='ich9-ehci1'>${addr(7)}</controller>`
    : '';
  return tinyDomainXml({
    machine: 'q35',
    devices: `${master}
    <controller type='usb' index='${index}' model='ich9-uhci1'><master startport='0'/>${addr(0, " multifunction='on'")}</controller>
    <controller type='usb' index='${index}' model='ich9-uhci2'><master startport='2'/>${addr(1)}</controller>
    <controller type='usb' index='${index}' model='ich9-uhci3'><master startport='4'/>${addr(2)}</controller>`,
  });
}

function usbDevices(xml: string): Array<Record<string, unknown>> {
  const def = applyQemuDefaults(DomainDef.fromXML(xml, { deferImplicitControllers: true }), fixtureCaps());
  const { argv } = buildCommandLine(def, fixtureCaps(), paths);
  return argv
    .filter((a) => a.startsWith('{"driver":"ich9-usb'))
    .map((a) => JSON.parse(a) as Record<string, unknown>);
}

describe('USB companion controllers', () => {
  it('name their master bus and take firstport from <master startport>', () => {
    expect(usbDevices(usbGuest(0))).toEqual([
      { driver: 'ich9-usb-ehci1', id: 'usb', bus: 'pcie.0', addr: '0x1d.0x7' },
      {
        driver: 'ich9-usb-uhci1',
        masterbus: 'usb.0',
        firstport: 0,
        bus: 'pcie.0',
        multifunction: true,
        addr: '0x1d',
      },
      { driver: 'ich9-usb-uhci2', masterbus: 'usb.0', firstport: 2, bus: 'pcie.0', addr: '0x1d.0x1' },
      { driver: 'ich9-usb-uhci3', masterbus: 'usb.0', firstport: 4, bus: 'pcie.0', addr: '0x1d.0x2' },
    ]);
  });

  it('use the alias of a master with another index', () => {
    const devs = usbDevices(usbGuest(1));
    expect(devs[0]?.id).toBe('usb1');
    expect(devs.slice(1).map((d) => d.masterbus)).toEqual(['usb1.0', 'usb1.0', 'usb1.0']);
  });

  it('are refused without a master of their index', () => {
    try {
      usbDevices(usbGuest(0, false));
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(VirError);
      expect((e as VirError).code).toBe('CONFIG_UNSUPPORTED');
      expect((e as VirError).field).toContain('master');
    }
  });
});

function argvOf(devices: string): string[] {
  const def = applyQemuDefaults(
    DomainDef.fromXML(tinyDomainXml({ devices }), { deferImplicitControllers: true }),
    fixtureCaps(),
  );
  return buildCommandLine(def, fixtureCaps(), paths).argv;
}

// Shapes from libvirt 11.3's virtio-options-*, controller-virtio-scsi and virtio-transitional data.
describe('virtio options and models', () => {
  it('writes <driver> virtio options right after the driver, in libvirt order', () => {
    const argv = argvOf(`<controller type='scsi' index='0' model='virtio-scsi'>
      <driver queues='8' iommu='on' packed='off' ats='on' page_per_vq='on'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/></controller>`);
    const scsi = argv.find((a) => a.includes('virtio-scsi-pci'));
    expect(scsi).toBe(
      '{"driver":"virtio-scsi-pci","iommu_platform":true,"ats":true,"packed":false,"page-per-vq":true,"id":"scsi0","num_queues":8,"bus":"pci.0","addr":"0x5"}',
    );
  });

  it('puts the balloon options before its address and picks transitional models', () => {
    const argv = argvOf(`<memballoon model='virtio-transitional' autodeflate='on'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x12' function='0x0'/></memballoon>`);
    expect(argv).toContain(
      '{"driver":"virtio-balloon-pci-transitional","id":"balloon0","deflate-on-oom":true,"bus":"pci.0","addr":"0x12"}',
    );
  });

  it('refuses a virtio option that is neither on nor off, naming it', () => {
    try {
      argvOf(`<controller type='virtio-serial' index='0'><driver iommu='yes,x=1'/></controller>`);
      expect.unreachable();
    } catch (e) {
      expect((e as VirError).field).toBe(
        "/domain/devices/controller[@type='virtio-serial'][@index=0]/driver/@iommu",
      );
    }
  });
});

/**
 * SD card disks, SCSI host devices (host adapter, iSCSI, vhost-scsi), TPM
 * passthrough and ACPI indexes on the command line. Expected tokens are
 * libvirt 11.3's for the same XML (its qemuxmlconf cases disk-serial,
 * hostdev-scsi-virtio-scsi, hostdev-scsi-lsi, hostdev-scsi-vhost-scsi-pci,
 * tpm-passthrough, devices-acpi-index, disk-device-removable,
 * disk-snapshot, disk-backing-chains-noindex); the hostile inputs check
 * that nothing reaches QEMU it could misread.
 */
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { buildCommandLine, type CommandLinePaths } from '../../../src/drivers/qemu/command-line/index.js';
import { applyQemuDefaults } from '../../../src/drivers/qemu/defaults/index.js';
import { VirError } from '../../../src/errors.js';
import { fixtureCaps, tinyDomainXml } from './caps-fixture.js';

const SECRET = 'AQCVn5hO6HzFAhAAq0NCv8jtJcIcE+HOBlMQ1A';
const PATHS: CommandLinePaths = {
  domainDir: '/run/vk/dom',
  monitor: { path: '/run/vk/dom/monitor.sock' },
  masterKeyPath: '/run/vk/dom/master-key.aes',
  secrets: {
    masterKey: Uint8Array.from({ length: 32 }, (_, i) => i),
    iv: () => Uint8Array.from({ length: 16 }, (_, i) => i),
    value: () => new TextEncoder().encode(SECRET),
  },
  scsiHostDevice: () => '/dev/sg0',
  vhostScsiFd: () => 3,
  tpmPassthrough: () => ({ device: 1730, cancel: 1731 }),
};

function def(devices: string): DomainDef {
  return applyQemuDefaults(DomainDef.fromXML(tinyDomainXml({ devices })), fixtureCaps());
}

function argv(devices: string, paths: CommandLinePaths = PATHS): string[] {
  return buildCommandLine(def(devices), fixtureCaps(), paths).argv;
}

function values(args: string[], opt: string): string[] {
  return args.flatMap((a, i) => (a === opt && i + 1 < args.length ? [args[i + 1]!] : []));
}

function refusal(fn: () => unknown): VirError {
  try {
    fn();
  } catch (e) {
    if (e instanceof VirError) return e;
    throw e;
  }
  throw new Error('expected a VirError');
}

const VIRTIO_SCSI = "<controller type='scsi' index='0' model='virtio-scsi'/>";
const iscsiHostdev = (name: string, extra = '', host = 'example.org') =>
  `<hostdev mode='subsystem' type='scsi' managed='yes'>
     <source protocol='iscsi' name='${name}'><host name='${host}' port='3260'/>${extra}</source>
     <address type='drive' controller='0' bus='0' target='3' unit='5'/>
   </hostdev>`;

describe('SD card disks', () => {
  it('writes a legacy -drive if=sd, named by its index, and no -device', () => {
    const a = argv(
      "<disk type='file' device='disk'><source file='/some/file'/><target dev='sda' bus='sd'/></disk>",
    );
    expect(values(a, '-drive')).toEqual(['file=/some/file,format=raw,if=sd,index=0']);
    expect(values(a, '-device').some((d) => d.includes('sd'))).toBe(false);
  });

  it('doubles a comma in the path and refuses a newline', () => {
    const disk = (p: string) =>
      `<disk type='file' device='disk'><source file='${p}'/><target dev='sdb' bus='sd'/></disk>`;
    expect(values(argv(disk('/a,b')), '-drive')).toEqual(['file=/a,,b,format=raw,if=sd,index=1']);
    expect(refusal(() => argv(disk('/a&#10;b'))).field).toBe('/domain/devices/disk[1]/source/@file');
  });

  it('refuses what -drive if=sd cannot carry, naming it', () => {
    const e = refusal(() =>
      argv(
        "<disk type='file' device='disk'><source file='/f'/><target dev='sda' bus='sd'/><serial>x</serial></disk>",
      ),
    );
    expect(e.code).toBe('CONFIG_UNSUPPORTED');
    expect(e.field).toBe('/domain/devices/disk[1]/serial');
  });
});

describe('SCSI host devices', () => {
  it('opens a host adapter LUN through its generic device, read-only when asked', () => {
    const a = argv(
      `${VIRTIO_SCSI}<hostdev mode='subsystem' type='scsi' managed='yes'>
         <source><adapter name='scsi_host0'/><address bus='0' target='0' unit='1'/></source><readonly/>
         <address type='drive' controller='0' bus='0' target='4' unit='7'/></hostdev>`,
    );
    expect(values(a, '-blockdev')).toContain(
      '{"driver":"host_device","filename":"/dev/sg0","node-name":"libvirt-1-backend","read-only":true}',
    );
    expect(values(a, '-device')).toContain(
      '{"driver":"scsi-generic","drive":"libvirt-1-backend","id":"hostdev0","bus":"scsi0.0","channel":0,"scsi-id":4,"lun":7}',
    );
  });

  it('logs in to an iSCSI LUN with its password in an encrypted secret object', () => {
    const a = argv(
      VIRTIO_SCSI +
        iscsiHostdev(
          'iqn.1992-01.com.example:storage/2',
          "<auth username='myname'><secret type='iscsi' usage='mycluster_myname'/></auth><initiator><iqn name='iqn.2020-07.com.example:test'/></initiator>",
        ),
    );
    expect(values(a, '-object')).toContain(
      '{"qom-type":"secret","id":"libvirt-1-backend-secret0","data":"9eao5F8qtkGt+seB1HYivWIxbtwUu6MQtg1zpj/oDtUsPr1q8wBYM91uEHCn6j/1","keyid":"masterKey0","iv":"AAECAwQFBgcICQoLDA0ODw==","format":"base64"}',
    );
    expect(values(a, '-blockdev')).toContain(
      '{"driver":"iscsi","portal":"example.org:3260","target":"iqn.1992-01.com.example:storage","lun":2,"transport":"tcp","user":"myname","password-secret":"libvirt-1-backend-secret0","initiator-name":"iqn.2020-07.com.example:test","node-name":"libvirt-1-backend","read-only":false}',
    );
    expect(a.join('\n')).not.toContain(SECRET);
  });

  it('writes an iSCSI target without a LUN as LUN 0, in the XML too', () => {
    const d = def(VIRTIO_SCSI + iscsiHostdev('iqn.1992-01.com.example'));
    expect(d.toXML()).toContain("name='iqn.1992-01.com.example/0'");
  });

  it('keeps commas of a hostile IQN inside the JSON value and refuses a newline', () => {
    const a = argv(VIRTIO_SCSI + iscsiHostdev('iqn.1992-01.com.example:my,storage/1'));
    expect(values(a, '-blockdev')[0]).toContain('"target":"iqn.1992-01.com.example:my,storage"');
    const e = refusal(() => argv(VIRTIO_SCSI + iscsiHostdev('iqn.1992-01.com.example:a&#10;b/1')));
    expect(e.field).toBe('/domain/devices/hostdev[1]/source/@name');
    const h = refusal(() => argv(VIRTIO_SCSI + iscsiHostdev('iqn.x/1', '', 'evil&#10;host')));
    expect(h.field).toBe('/domain/devices/hostdev[1]/source/host[1]/@name');
  });

  it('refuses a host adapter LUN without the host lookup, and host-side settings', () => {
    const adapter = (attrs = '') =>
      `${VIRTIO_SCSI}<hostdev mode='subsystem' type='scsi' ${attrs}>
         <source><adapter name='scsi_host0'/><address bus='0' target='0' unit='0'/></source>
         <address type='drive' controller='0' bus='0' target='0' unit='0'/></hostdev>`;
    const { scsiHostDevice: _, ...noLookup } = PATHS;
    expect(refusal(() => argv(adapter(), noLookup)).field).toBe('/domain/devices/hostdev[1]/source/adapter');
    expect(refusal(() => argv(adapter("sgio='unfiltered'"))).field).toBe('/domain/devices/hostdev[1]/@sgio');
  });

  it('writes a vhost-scsi target with its WWPN and the descriptor the host opened', () => {
    const a = argv(
      "<hostdev mode='subsystem' type='scsi_host' managed='no'><source protocol='vhost' wwpn='naa.5123456789abcde0'/></hostdev>",
    );
    const dev = values(a, '-device').find((d) => d.includes('vhost-scsi'));
    expect(dev).toMatch(
      /^\{"driver":"vhost-scsi-pci","wwpn":"naa.5123456789abcde0","vhostfd":"3","id":"hostdev0"/,
    );
    const bad = refusal(() =>
      argv("<hostdev mode='subsystem' type='scsi_host'><source protocol='vhost' wwpn='naa.1,x'/></hostdev>"),
    );
    expect(bad.field).toBe('/domain/devices/hostdev[1]/source/@wwpn');
  });
});

describe('TPM passthrough', () => {
  const tpm = "<tpm model='tpm-tis'><backend type='passthrough'><device path='/dev/tpm0'/></backend></tpm>";

  it('hands QEMU the host TPM and its cancel file as descriptor sets', () => {
    const a = argv(tpm);
    expect(values(a, '-add-fd')).toEqual([
      'set=0,fd=1730,opaque=tpm0-tpm',
      'set=1,fd=1731,opaque=tpm0-cancel',
    ]);
    expect(values(a, '-tpmdev')).toEqual([
      'passthrough,id=tpm-tpm0,path=/dev/fdset/0,cancel-path=/dev/fdset/1',
    ]);
  });

  it('is refused when the host does not open the TPM', () => {
    const { tpmPassthrough: _, ...none } = PATHS;
    const e = refusal(() => argv(tpm, none));
    expect([e.code, e.field]).toEqual(['CONFIG_UNSUPPORTED', '/domain/devices/tpm[1]/backend/@type']);
  });
});

describe('disk details libvirt writes its own way', () => {
  it('gives a virtio disk its ACPI index and refuses one on a non-PCI disk', () => {
    const a = argv(
      "<disk type='file' device='disk'><source file='/f'/><target dev='vda' bus='virtio'/><acpi index='42'/></disk>",
    );
    expect(values(a, '-device').find((d) => d.includes('virtio-blk'))).toContain('"acpi-index":42');
    const e = refusal(() =>
      argv(
        "<disk type='file' device='disk'><source file='/f'/><target dev='hda' bus='ide'/><acpi index='1'/></disk>",
      ),
    );
    expect(e.field).toBe('/domain/devices/disk[1]/acpi');
  });

  it('writes removable only on a USB disk, yet still passes it to a SCSI disk', () => {
    const xml = `${VIRTIO_SCSI}<disk type='file' device='disk'><source file='/f'/><target dev='sdb' bus='scsi' removable='on'/></disk>`;
    expect(def(xml).toXML()).not.toContain('removable');
    expect(values(argv(xml), '-device').find((d) => d.includes('scsi-hd'))).toContain('"removable":true');
  });

  it("leaves out snapshot='no' on a read-only disk, where it is implied", () => {
    const xml =
      "<disk type='block' device='cdrom' snapshot='no'><source dev='/dev/sr0'/><target dev='hdc'/></disk>";
    expect(def(xml).toXML()).not.toContain('snapshot=');
  });

  it('fills a drive address with zeros and writes backing stores format first, without indexes', () => {
    const xml = `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='/top' index='3'/>
      <backingStore type='file' index='2'><source file='/base'>
      </source><format type='qcow2'/><backingStore/></backingStore>
      <target dev='hda' bus='ide'/><address type='drive' controller='0' bus='0' unit='0'/></disk>`;
    const out = def(xml).toXML({ inactive: true });
    expect(out).toContain("<address type='drive' controller='0' bus='0' target='0' unit='0'/>");
    expect(out).toMatch(
      /<backingStore type='file'>\s*<format type='qcow2'\/>\s*<source file='\/base'\/>\s*<backingStore\/>/,
    );
    expect(out).not.toMatch(/index='[23]'/);
  });
});

describe('NVMe disks', () => {
  const nvme = (ns: string, fn = '0x0') =>
    `<disk type='nvme' device='disk'><driver name='qemu' type='raw'/>
       <source type='pci' managed='yes' namespace='${ns}'>
         <address domain='0x0000' bus='0x01' slot='0x00' function='${fn}'/></source>
       <target dev='vda' bus='virtio'/></disk>`;

  it('opens a namespace of a host NVMe controller by its PCI address', () => {
    expect(values(argv(nvme('2')), '-blockdev')).toEqual([
      '{"driver":"nvme","device":"0000:01:00.0","namespace":2,"node-name":"libvirt-1-storage","read-only":false}',
    ]);
  });

  it('refuses a bad namespace or address, naming it', () => {
    expect(refusal(() => argv(nvme('0'))).field).toBe('/domain/devices/disk[1]/source/@namespace');
    expect(refusal(() => argv(nvme('1', '0x9'))).field).toBe(
      '/domain/devices/disk[1]/source/address/@function',
    );
  });
});

describe('persistent reservations', () => {
  const lun = (res: string, device = 'lun') =>
    `${VIRTIO_SCSI}<disk type='block' device='${device}'><source dev='/dev/sdz'>${res}</source><target dev='sda' bus='scsi'/></disk>`;

  it("connects an unmanaged helper's socket and names it on the block node", () => {
    const a = argv(
      lun(
        "<reservations managed='no'><source type='unix' path='/run/pr,helper.sock' mode='client'/></reservations>",
      ),
    );
    expect(values(a, '-object')).toContain(
      '{"qom-type":"pr-manager-helper","id":"pr-helper-libvirt-1-storage","path":"/run/pr,helper.sock"}',
    );
    expect(values(a, '-blockdev')[0]).toContain('"pr-manager":"pr-helper-libvirt-1-storage"');
  });

  it("uses the guest's managed helper only when the host gives its socket", () => {
    const xml = lun("<reservations managed='yes'/>");
    const a = argv(xml, { ...PATHS, prHelperSocket: '/run/vk/dom/pr-helper0.sock' });
    expect(values(a, '-object')).toContain(
      '{"qom-type":"pr-manager-helper","id":"pr-helper0","path":"/run/vk/dom/pr-helper0.sock"}',
    );
    expect(refusal(() => argv(xml)).code).toBe('CONFIG_UNSUPPORTED');
    const onDisk = lun("<reservations managed='yes'/>", 'disk');
    expect(refusal(() => argv(onDisk, { ...PATHS, prHelperSocket: '/s' })).field).toBe(
      '/domain/devices/disk[1]/source/reservations',
    );
  });
});

describe('qcow2 data files', () => {
  const disk = (ds: string, fmt = 'qcow2') =>
    `<disk type='file' device='disk'><driver name='qemu' type='${fmt}'/><source file='/img.qcow2'>${ds}</source><target dev='vda' bus='virtio'/></disk>`;

  it("writes the data store's raw node first and names it as the qcow2 node's data-file", () => {
    const a = values(
      argv(disk("<dataStore type='file'><format type='raw'/><source file='/data'/></dataStore>")),
      '-blockdev',
    );
    expect(a).toEqual([
      '{"driver":"file","filename":"/data","node-name":"libvirt-2-storage","read-only":false}',
      '{"driver":"file","filename":"/img.qcow2","node-name":"libvirt-1-storage","auto-read-only":true,"discard":"unmap"}',
      '{"node-name":"libvirt-1-format","read-only":false,"driver":"qcow2","data-file":"libvirt-2-storage","file":"libvirt-1-storage"}',
    ]);
  });

  it('refuses a data store on an image that is not qcow2', () => {
    const e = refusal(() =>
      argv(disk("<dataStore type='file'><format type='raw'/><source file='/data'/></dataStore>", 'raw')),
    );
    expect(e.field).toBe('/domain/devices/disk[1]/source/dataStore');
  });
});

describe('ibmvscsi controllers', () => {
  it('puts one on the spapr-vio bus at 0x2000 (the next at 0x3000) and writes spapr-vscsi', () => {
    const xml =
      "<controller type='scsi' index='0' model='ibmvscsi'/><controller type='scsi' index='1' model='ibmvscsi'/>";
    const out = def(xml).toXML();
    expect(out).toContain("<address type='spapr-vio' reg='0x00002000'/>");
    expect(out).toContain("<address type='spapr-vio' reg='0x00003000'/>");
    expect(values(argv(xml), '-device')).toContain('{"driver":"spapr-vscsi","id":"scsi1","reg":12288}');
  });

  it('refuses a SCSI controller model it has no device for', () => {
    const e = refusal(() => argv("<controller type='scsi' index='0' model='buslogic'/>"));
    expect([e.code, e.field?.endsWith('/@model')]).toEqual(['CONFIG_UNSUPPORTED', true]);
  });
});

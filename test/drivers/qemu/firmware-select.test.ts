import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { firmwareBlockdevs } from '../../../src/drivers/qemu/command-line/firmware.js';
import {
  type FirmwareDescriptorFile,
  globMatch,
  orderFirmwareDescriptors,
  parseFirmwareDescriptor,
} from '../../../src/drivers/qemu/defaults/firmware-descriptor.js';
import {
  DEFAULT_LEGACY_FIRMWARE,
  type FirmwareSelectOptions,
  selectFirmware,
} from '../../../src/drivers/qemu/defaults/firmware-select.js';

// libvirt 11.3's test descriptor set (tests/qemufirmwaredata), as facts in our fixture
const files = (
  JSON.parse(
    readFileSync(
      new URL('../../../fixtures/firmware/libvirt-test-descriptors.json', import.meta.url),
      'utf8',
    ),
  ) as { files: FirmwareDescriptorFile[] }
).files;
const options: FirmwareSelectOptions = {
  descriptors: orderFirmwareDescriptors(files.filter((f) => f.dir !== 'user')),
  nvramDir: '/var/lib/libvirt/qemu/nvram',
  legacy: DEFAULT_LEGACY_FIRMWARE,
};

function guest(os: string, features = ''): DomainDef {
  return DomainDef.fromXML(
    `<domain type='kvm'><name>guest</name><memory>1048576</memory>${os}<features><acpi/>${features}</features></domain>`,
    { defaultArch: 'x86_64' },
  );
}
const q35 = "<type arch='x86_64' machine='pc-q35-4.0'>hvm</type>";

describe('firmware descriptors', () => {
  it('orders by file name, lets /etc override /usr/share, and an empty file mask', () => {
    const names = options.descriptors.map((d) => d.name);
    expect(names[0]).toBe('20-bios.json');
    expect(names).not.toContain('92-masked.json');
    // 93-invalid.json has no interface-types: skipped, not fatal
    expect(names).not.toContain('93-invalid.json');
    expect(names.indexOf('59-combined.json')).toBeLessThan(names.indexOf('60-edk2-ovmf-x64-amdsev.json'));
  });
  it('refuses a malformed descriptor naming the file', () => {
    expect(() => parseFirmwareDescriptor('x.json', { 'interface-types': ['uefi'] })).toThrow(/x\.json/);
  });
  it('matches machine globs like GLib', () => {
    expect(globMatch('pc-q35-*', 'pc-q35-4.0')).toBe(true);
    expect(globMatch('pc-q35-*', 'pc-i440fx-4.0')).toBe(false);
    expect(globMatch('virt', 'virt-9.0')).toBe(false);
    expect(globMatch('pc-?35-*', 'pc-q35-')).toBe(true);
  });
});

describe('selectFirmware', () => {
  // expected values: libvirt's qemuxmlconf firmware-auto-efi.x86_64-latest.xml
  it('efi on q35 picks the raw Secure Boot build of an existing guest and enables SMM', () => {
    const def = guest(`<os firmware='efi'>${q35}</os>`);
    selectFirmware(def, options);
    expect(def.os?.loader).toEqual({
      readonly: true,
      secure: true,
      type: 'pflash',
      format: 'raw',
      path: '/usr/share/edk2/ovmf/OVMF_CODE.secboot.fd',
    });
    expect(def.os?.nvram).toEqual({
      template: '/usr/share/edk2/ovmf/OVMF_VARS.secboot.fd',
      templateFormat: 'raw',
      format: 'raw',
      path: '/var/lib/libvirt/qemu/nvram/guest_VARS.fd',
    });
    expect(def.features?.smm?.state).toBe(true);
    expect(def.os?.firmwareInfo?.features).toEqual([
      { enabled: true, name: 'enrolled-keys' },
      { enabled: true, name: 'secure-boot' },
    ]);
  });
  // firmware-auto-efi-smm-off: SMM off rules out every build that needs it
  it('with SMM off picks a build without Secure Boot', () => {
    const def = guest(`<os firmware='efi'>${q35}</os>`, "<smm state='off'/>");
    selectFirmware(def, options);
    expect(def.os?.loader?.path).toBe('/usr/share/edk2/ovmf/OVMF_CODE.fd');
    expect(def.os?.nvram?.template).toBe('/usr/share/edk2/ovmf/OVMF_VARS.fd');
  });
  // firmware-auto-bios
  it('bios maps SeaBIOS as a ROM', () => {
    const def = guest(`<os firmware='bios'>${q35}</os>`);
    selectFirmware(def, options);
    expect(def.os?.loader).toMatchObject({ type: 'rom', path: '/usr/share/seabios/bios-256k.bin' });
    expect(def.os?.nvram).toBeUndefined();
  });
  it('a qcow2 NVRAM of a new guest gets a .qcow2 file', () => {
    const def = guest(`<os firmware='efi'>${q35}<nvram format='qcow2'/></os>`);
    selectFirmware(def, { ...options, abiUpdate: true });
    expect(def.os?.loader?.path).toBe('/usr/share/edk2/ovmf/OVMF_CODE_4M.secboot.qcow2');
    expect(def.os?.nvram?.path).toBe('/var/lib/libvirt/qemu/nvram/guest_VARS.qcow2');
  });
  it('refuses an autoselection nothing satisfies, naming /domain/os/@firmware', () => {
    // every Secure Boot build is q35-only; the masked 92-masked.json would have matched pc-*
    const def = guest(
      "<os firmware='efi'><type arch='x86_64' machine='pc-i440fx-4.0'>hvm</type><firmware><feature enabled='yes' name='secure-boot'/></firmware></os>",
    );
    expect(() => selectFirmware(def, options)).toThrow(
      expect.objectContaining({ code: 'CONFIG_UNSUPPORTED', field: '/domain/os/@firmware' }),
    );
  });
  it('refuses an image format QEMU cannot map', () => {
    const def = guest(`<os>${q35}<loader type='pflash' format='vmdk'>/x.fd</loader></os>`);
    expect(() => selectFirmware(def, options)).toThrow(
      expect.objectContaining({ code: 'CONFIG_UNSUPPORTED', field: '/domain/os/loader/@format' }),
    );
  });
  // firmware-manual-efi-secboot-legacy-paths: the user's template is kept, its format is raw
  it('a loader on the legacy list keeps the template the user gave', () => {
    const def = guest(
      `<os>${q35}<loader readonly='yes' type='pflash'>/usr/share/OVMF/OVMF_CODE.secboot.fd</loader><nvram template='/usr/share/OVMF/OVMF_VARS.secboot.fd'/></os>`,
    );
    selectFirmware(def, options);
    expect(def.os?.nvram).toEqual({
      template: '/usr/share/OVMF/OVMF_VARS.secboot.fd',
      templateFormat: 'raw',
      format: 'raw',
      path: '/var/lib/libvirt/qemu/nvram/guest_VARS.fd',
    });
  });
});

describe('firmwareBlockdevs', () => {
  // libvirt's firmware-auto-efi.x86_64-latest.args: raw NVRAM is mapped as its storage node
  it('maps a raw NVRAM without a format layer', () => {
    const def = guest(`<os firmware='efi'>${q35}</os>`);
    selectFirmware(def, options);
    const fw = firmwareBlockdevs(def);
    expect(fw.machineOpts).toEqual(['pflash0=libvirt-pflash0-format', 'pflash1=libvirt-pflash1-storage']);
    expect(fw.blockdevs[2]?.[1]).toEqual({
      driver: 'file',
      filename: '/var/lib/libvirt/qemu/nvram/guest_VARS.fd',
      'node-name': 'libvirt-pflash1-storage',
      'read-only': false,
    });
    expect(fw.secure).toBe(true);
  });
  it('refuses an NVRAM store it cannot build yet, naming the field', () => {
    const store = (nvram: string) =>
      guest(`<os>${q35}<loader readonly='yes' type='pflash'>/c.fd</loader>${nvram}</os>`);
    // a storage pool volume needs the pool, TLS the client certificate objects of a disk
    expect(() =>
      firmwareBlockdevs(store("<nvram type='volume'><source pool='p' volume='v'/></nvram>")),
    ).toThrow(expect.objectContaining({ code: 'CONFIG_UNSUPPORTED', field: '/domain/os/nvram/@type' }));
    expect(() =>
      firmwareBlockdevs(
        store(
          "<nvram type='network'><source protocol='nbd' name='v' tls='yes'><host name='h'/></source></nvram>",
        ),
      ),
    ).toThrow(expect.objectContaining({ code: 'CONFIG_UNSUPPORTED', field: '/domain/os/nvram/source/@tls' }));
    // a password never goes on the command line in clear: without the master key it is refused
    expect(() =>
      firmwareBlockdevs(
        store(
          "<nvram type='network'><source protocol='iscsi' name='iqn.x:t'><host name='h' port='3260'/><auth username='u'><secret type='iscsi' usage='s'/></auth></source></nvram>",
        ),
      ),
    ).toThrow(expect.objectContaining({ code: 'CONFIG_UNSUPPORTED' }));
  });
});

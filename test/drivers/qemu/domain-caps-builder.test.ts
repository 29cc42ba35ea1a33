import { describe, expect, it } from 'vitest';
import {
  buildDomainCapabilities,
  type FirmwareImage,
} from '../../../src/drivers/qemu/caps/domain-caps-builder.js';
import { parseFirmwareDescriptor } from '../../../src/drivers/qemu/caps/host-facts.js';
import type { CpuModelCatalog } from '../../../src/drivers/qemu/caps/host-model.js';
import { buildQemuCaps, type QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { validate } from '../../../src/xml/validate.js';

/** A small QEMU as a probe would have seen it: KVM and TCG, two machines, three CPU models. */
function sampleCaps(
  overrides: {
    qomTypes?: string[];
    kvm?: boolean;
    probe?: Partial<Parameters<typeof buildQemuCaps>[0]>;
  } = {},
): QemuCaps {
  const machines = [
    { name: 'pc-i440fx-9.1', alias: 'pc', 'is-default': true, 'cpu-max': 255 },
    { name: 'pc-q35-9.1', alias: 'q35', 'cpu-max': 4096 },
    { name: 'none', 'cpu-max': 1 },
  ];
  const defs = (usable: boolean) => [
    { name: 'max', typename: 'max-x86_64-cpu', 'unavailable-features': [] },
    { name: 'qemu64', typename: 'qemu64-x86_64-cpu', 'unavailable-features': [], 'alias-of': 'qemu64-v1' },
    {
      name: 'Broadwell',
      typename: 'Broadwell-x86_64-cpu',
      'unavailable-features': usable ? [] : ['rtm', 'pclmulqdq', 'hle', 'rtm'],
      deprecated: true,
    },
    { name: 'Mystery', typename: 'Mystery-x86_64-cpu' },
  ];
  return buildQemuCaps({
    emulator: '/usr/bin/qemu-system-x86_64',
    version: { qemu: { major: 9, minor: 1, micro: 0 } },
    target: { arch: 'x86_64' },
    kvm: { present: true, enabled: overrides.kvm !== false },
    commands: ['query-vnc', 'blockdev-add'],
    displayTypes: ['default', 'none', 'sdl'],
    netdevTypes: ['user', 'tap', 'socket'],
    qomTypes: overrides.qomTypes ?? [
      'VGA',
      'isa-fdc',
      'ich9-ahci',
      'virtio-blk-pci',
      'vfio-pci',
      'iothread',
      'memory-backend-file',
      'i8042',
    ],
    tpmModels: ['tpm-crb', 'tpm-tis'],
    tpmTypes: ['emulator'],
    ...overrides.probe,
    accel: {
      ...(overrides.kvm !== false ? { kvm: { machines, cpuDefinitions: defs(false) } } : {}),
      tcg: { machines, cpuDefinitions: defs(true) },
    },
  });
}

const SEABIOS: FirmwareImage = {
  path: '/usr/share/seabios/bios-256k.bin',
  interface: 'bios',
  type: 'rom',
  targets: [{ arch: 'x86_64', machines: ['pc-i440fx-*', 'pc-q35-*'] }],
  features: [],
};

const OVMF: FirmwareImage[] = [
  {
    path: '/usr/share/OVMF/OVMF_CODE_4M.secboot.fd',
    interface: 'uefi',
    type: 'pflash',
    targets: [{ arch: 'x86_64', machines: ['pc-q35-*'] }],
    features: ['secure-boot', 'requires-smm'],
  },
  {
    path: '/usr/share/OVMF/OVMF_CODE_4M.fd',
    interface: 'uefi',
    type: 'pflash',
    targets: [{ arch: 'x86_64', machines: ['pc-i440fx-*', 'pc-q35-*'] }],
    features: [],
  },
];

describe('domain capabilities builder', () => {
  it('resolves the default machine and aliases, and takes vcpu max from the machine', () => {
    const caps = sampleCaps();
    const pc = buildDomainCapabilities(caps, { virttype: 'kvm' });
    expect(pc.machine).toBe('pc-i440fx-9.1');
    expect(pc.vcpuMax).toBe(255);
    const q35 = buildDomainCapabilities(caps, { virttype: 'kvm', machine: 'q35' });
    expect(q35.machine).toBe('pc-q35-9.1');
    expect(q35.vcpuMax).toBe(4096);
  });

  it('offers secure-boot loaders only where the machine has SMM, and only firmware for that machine', () => {
    const caps = sampleCaps();
    const q35 = buildDomainCapabilities(
      caps,
      { virttype: 'kvm', machine: 'q35' },
      { firmware: [SEABIOS, ...OVMF] },
    );
    expect(q35.os?.enums?.[0]?.values).toEqual(['bios', 'efi']);
    // the BIOS ROM is not a loader a domain names
    expect(q35.os?.loader?.values).not.toContain(SEABIOS.path);
    expect(q35.os?.loader?.values).toEqual(OVMF.map((f) => f.path));
    expect(q35.os?.loader?.enums?.find((e) => e.name === 'secure')?.values).toEqual(['yes', 'no']);
    const pc = buildDomainCapabilities(caps, { virttype: 'kvm', machine: 'pc' }, { firmware: OVMF });
    expect(pc.os?.loader?.values).toEqual(['/usr/share/OVMF/OVMF_CODE_4M.fd']);
    expect(pc.os?.loader?.enums?.find((e) => e.name === 'secure')?.values).toEqual(['no']);
    expect(pc.os?.enums?.[0]?.values).toEqual(['efi']);
    // without descriptors firmware auto-selection has nothing to offer (libvirt 9 says the same on this host)
    const none = buildDomainCapabilities(caps, { virttype: 'kvm' });
    expect(none.os?.enums?.[0]?.values).toEqual([]);
    expect(none.os?.loader?.values).toEqual([]);
  });

  it('lists devices by what the binary has', () => {
    const caps = sampleCaps();
    const dc = buildDomainCapabilities(caps, { virttype: 'qemu', machine: 'q35' }, { vfio: false });
    expect(dc.deviceEnum('disk', 'bus')).toEqual(['fdc', 'virtio', 'sata']);
    expect(dc.deviceEnum('disk', 'diskDevice')).toEqual(['disk', 'cdrom', 'floppy']);
    expect(dc.deviceEnum('graphics', 'type')).toEqual(['sdl', 'vnc']);
    expect(dc.deviceEnum('video', 'modelType')).toEqual(['vga', 'none']);
    expect(dc.deviceEnum('hostdev', 'pciBackend')).toEqual(['default']);
    expect(dc.deviceEnum('tpm', 'model')).toEqual(['tpm-tis', 'tpm-crb']);
    expect(dc.deviceEnum('tpm', 'backendVersion')).toEqual([]);
    expect(dc.devices?.rng?.supported).toBe(false);
    expect(dc.devices?.redirdev?.supported).toBe(false);
    expect(dc.iothreads).toBe(true);
    const withVfio = buildDomainCapabilities(
      caps,
      { virttype: 'qemu', machine: 'q35' },
      {
        vfio: true,
        tpmEmulatorVersions: ['2.0'],
      },
    );
    expect(withVfio.deviceEnum('hostdev', 'pciBackend')).toEqual(['default', 'vfio']);
    expect(withVfio.deviceEnum('tpm', 'backendVersion')).toEqual(['2.0']);
    const bare = buildDomainCapabilities(sampleCaps({ qomTypes: [] }), { virttype: 'qemu' });
    expect(bare.deviceEnum('disk', 'bus')).toEqual(['ide']);
    expect(bare.iothreads).toBe(false);
  });

  it('CPU modes: passthrough only with KVM; custom models from the CPU database, with usability and blockers', () => {
    const caps = sampleCaps();
    const kvm = buildDomainCapabilities(caps, { virttype: 'kvm' });
    expect(kvm.cpuMode('host-passthrough')?.supported).toBe(true);
    expect(kvm.cpuMode('maximum')?.supported).toBe(true);
    expect(kvm.cpuMode('host-model')?.supported).toBe(false); // QEMU did not expand its host CPU
    const models = kvm.cpuMode('custom')?.models ?? [];
    // `max` and `Mystery` are not models of the database; vendor and canonical name come from it
    expect(models.map((m) => m.name)).toEqual(['Broadwell', 'qemu64']);
    expect(models[0]).toEqual({
      name: 'Broadwell',
      usable: 'no',
      deprecated: true,
      vendor: 'Intel',
      canonical: 'Broadwell-v1',
      blockers: ['hle', 'pclmuldq', 'rtm'],
    });
    expect(models[1]).toEqual({ name: 'qemu64', usable: 'yes', vendor: 'unknown', canonical: 'qemu64-v1' });
    const tcg = buildDomainCapabilities(caps, { virttype: 'qemu' });
    expect(tcg.cpuMode('host-passthrough')?.supported).toBe(false);
    expect(tcg.cpuMode('custom')?.models?.[0]?.usable).toBe('yes');
  });

  it('with another CPU catalogue: its models, vendors, canonical names and feature spellings', () => {
    const catalog: CpuModelCatalog = {
      has: (m) => m !== 'qemu64',
      vendor: (m) => (m === 'Broadwell' ? 'Intel' : undefined),
      canonical: () => undefined,
      featureName: (f) => (f === 'rtm' ? 'rtm-renamed' : f),
    };
    const dc = buildDomainCapabilities(sampleCaps(), { virttype: 'kvm' }, { cpuCatalog: catalog });
    const models = dc.cpuMode('custom')?.models ?? [];
    expect(models.map((m) => [m.name, m.vendor, m.canonical])).toEqual([
      ['Broadwell', 'Intel', undefined],
      ['Mystery', 'unknown', undefined],
      ['max', 'unknown', undefined],
    ]);
    expect(models[0]?.blockers).toEqual(['hle', 'pclmulqdq', 'rtm-renamed']);
  });

  it('Hyper-V: exactly what the KVM probe showed, no section without it', () => {
    const tcgOnly = buildDomainCapabilities(sampleCaps({ kvm: false }), { virttype: 'qemu' });
    expect(tcgOnly.features?.hyperv).toBeUndefined();
    const withKvm = buildDomainCapabilities(
      { ...sampleCaps(), hypervFeatures: ['relaxed', 'spinlocks'] },
      { virttype: 'kvm' },
    );
    expect(withKvm.features?.hyperv?.enums?.[0]?.values).toEqual(['relaxed', 'spinlocks']);
  });

  it('PS/2 can be turned off only where the PC machine type has the i8042 property', () => {
    const without = buildDomainCapabilities(sampleCaps(), { virttype: 'kvm' });
    expect(without.features?.ps2).toEqual({ supported: false });
    const caps = sampleCaps({ probe: { typeProps: { 'generic-pc-machine': ['i8042', 'smm'] } } });
    expect(buildDomainCapabilities(caps, { virttype: 'kvm', machine: 'q35' }).features?.ps2).toEqual({
      supported: true,
    });
  });

  it('SEV and SGX details from QEMU and the host, SEV-SNP as a launch security type', () => {
    const caps = sampleCaps({
      qomTypes: ['sev-guest', 'sev-snp-guest', 'sgx-epc'],
      probe: {
        sev: { cbitpos: 47, 'reduced-phys-bits': 1, 'cpu0-id': 'abc' },
        sgx: {
          flc: true,
          sgx1: true,
          sgx2: false,
          'section-size': 4194304,
          sections: [{ node: 0, size: 4194304 }],
        },
      },
    });
    const dc = buildDomainCapabilities(caps, { virttype: 'kvm' }, { sevAsids: { max: 15, minSev: 5 } });
    // SEV guests use ids 5..15, SEV-ES guests 1..4
    expect(dc.features?.sev).toEqual({
      supported: true,
      cbitpos: 47,
      reducedPhysBits: 1,
      maxGuests: 11,
      maxESGuests: 4,
      cpu0Id: 'abc',
    });
    expect(dc.features?.sgx).toEqual({
      supported: true,
      flc: true,
      sgx1: true,
      sgx2: false,
      sectionSize: { unit: 'KiB', value: 4096 },
      sections: { sections: [{ node: 0, size: 4096, unit: 'KiB' }] },
    });
    expect(dc.features?.launchSecurity?.enums?.[0]?.values).toEqual(['sev', 'sev-snp']);
    const xml = dc.toXML();
    expect(xml).toContain(
      "<sev supported='yes'>\n      <cbitpos>47</cbitpos>\n      <reducedPhysBits>1</reducedPhysBits>\n      <maxGuests>11</maxGuests>\n      <maxESGuests>4</maxESGuests>\n      <cpu0Id>abc</cpu0Id>\n    </sev>",
    );
    expect(xml).toContain("<section node='0' size='4096' unit='KiB'/>");
    // without the host's ids the counts are 0, as libvirt reports them
    const unknown = buildDomainCapabilities(caps, { virttype: 'kvm' });
    expect(unknown.features?.sev).toMatchObject({ maxGuests: 0, maxESGuests: 0 });
  });

  it('produces documents valid against our schema', async () => {
    const xml = buildDomainCapabilities(
      sampleCaps(),
      { virttype: 'kvm', machine: 'q35' },
      { firmware: OVMF },
    ).toXML();
    expect((await validate(xml, 'domaincaps')).errors).toEqual([]);
  });

  it('rejects what the binary cannot do', () => {
    const caps = sampleCaps({ kvm: false });
    expect(() => buildDomainCapabilities(caps, { virttype: 'kvm' })).toThrow(
      expect.objectContaining({ code: 'CONFIG_UNSUPPORTED', field: 'virttype' }),
    );
    expect(() => buildDomainCapabilities(caps, { virttype: 'qemu', machine: 'virt' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARG', field: 'machine' }),
    );
    expect(() => buildDomainCapabilities(caps, { virttype: 'qemu', arch: 'aarch64' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARG', field: 'arch' }),
    );
    // `none` is never a guest machine
    expect(() => buildDomainCapabilities(caps, { virttype: 'qemu', machine: 'none' })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARG' }),
    );
  });
});

describe('firmware descriptors', () => {
  it('reads a pflash UEFI descriptor and ignores what is not one', () => {
    const fw = parseFirmwareDescriptor(
      JSON.stringify({
        description: 'OVMF with SB',
        'interface-types': ['uefi'],
        mapping: {
          device: 'flash',
          executable: { filename: '/usr/share/OVMF/OVMF_CODE.secboot.fd', format: 'raw' },
          'nvram-template': { filename: '/usr/share/OVMF/OVMF_VARS.fd', format: 'raw' },
        },
        targets: [{ architecture: 'x86_64', machines: ['pc-q35-*'] }],
        features: ['acpi-s3', 'requires-smm', 'secure-boot'],
      }),
    );
    expect(fw).toEqual({
      path: '/usr/share/OVMF/OVMF_CODE.secboot.fd',
      interface: 'uefi',
      type: 'pflash',
      targets: [{ arch: 'x86_64', machines: ['pc-q35-*'] }],
      features: ['acpi-s3', 'requires-smm', 'secure-boot'],
    });
    expect(parseFirmwareDescriptor('{not json')).toBeUndefined();
    expect(
      parseFirmwareDescriptor('{"interface-types": ["uefi"], "mapping": {"device": "flash"}}'),
    ).toBeUndefined();
    expect(
      parseFirmwareDescriptor(
        '{"interface-types": ["bios"], "mapping": {"device": "memory", "filename": "/usr/share/seabios/bios.bin"}}',
      )?.type,
    ).toBe('rom');
  });
});

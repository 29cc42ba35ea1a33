import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QEMU_CAPABILITY_FLAGS } from '../../../src/drivers/qemu/probe/capability-flag-names.js';
import { deriveCapabilityFlags } from '../../../src/drivers/qemu/probe/capability-flags.js';
import { kvmUsable, probeQemu } from '../../../src/drivers/qemu/probe/probe.js';
import type { ProbeData } from '../../../src/drivers/qemu/probe/probe-data.js';
import { buildQemuCaps, hasFlag } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { formatQemuCapsXml } from '../../../src/drivers/qemu/probe/qemu-caps-xml.js';
import { probeDataFromTranscript } from '../../../src/drivers/qemu/probe/transcript.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from './helpers.js';

/** A probe answer set built by hand: each entry is one rule of libvirt's flag derivation. */
function probe(extra: Partial<ProbeData> = {}): ProbeData {
  return {
    emulator: '/usr/bin/qemu-system-x86_64',
    version: { qemu: { major: 9, minor: 2, micro: 0 }, package: 'v9.2.0' },
    target: { arch: 'x86_64' },
    kvm: { present: true, enabled: true },
    qmpSchema: [
      { name: 'query-cpu-definitions', 'meta-type': 'command', 'arg-type': '0', 'ret-type': '0' },
      { name: 'query-cpu-model-expansion', 'meta-type': 'command', 'arg-type': '0', 'ret-type': '0' },
      {
        name: 'device_add',
        'meta-type': 'command',
        'arg-type': '0',
        'ret-type': '0',
        features: ['json-cli-hotplug'],
      },
      { name: 'query-display-options', 'meta-type': 'command', 'arg-type': '0', 'ret-type': '1' },
      { name: '0', 'meta-type': 'object', members: [] },
      { name: '1', 'meta-type': 'object', members: [], variants: [{ case: 'sdl', type: '0' }] },
    ],
    qomTypes: ['tcg-accel', 'virtio-blk-pci', 'max-x86_64-cpu', 'sev-guest', 'sgx-epc'],
    typeProps: {
      'virtio-blk-pci': ['scsi', 'queue-size'],
      // asked, but virtio-net-pci is not a type of this binary: its properties do not count
      'virtio-net-pci': ['rss'],
      'max-x86_64-cpu': ['unavailable-features', 'migratable'],
      'none-machine': ['confidential-guest-support'],
      'generic-pc-machine': ['i8042'],
    },
    typePropDefaults: { 'virtio-blk-pci': { scsi: false } },
    tpmModels: ['tpm-tis'],
    tpmTypes: ['emulator'],
    commandLineOptions: { sandbox: [], spice: ['gl'] },
    migrationCapabilities: ['rdma-pin-all'],
    accel: { kvm: { machines: [{ name: 'none' }], cpuDefinitions: [{ name: 'max' }, { name: 'qemu64' }] } },
    ...extra,
  };
}

describe('capability flags from probe answers', () => {
  it('applies each kind of rule, in libvirt’s order', () => {
    expect(deriveCapabilityFlags(probe(), 'x86_64')).toEqual([
      'kvm',
      'sdl', // a union variant in the schema
      'spice', // a command-line option
      'virtio-blk-pci.scsi', // a device property
      'seccomp-sandbox',
      'tpm-tis',
      'migrate-rdma',
      'spice-gl', // one parameter of an option
      'query-cpu-model-expansion',
      'query-cpu-definitions',
      'tpm-emulator',
      'x86-max-cpu', // a QOM type
      'cpu-unavailable-features', // an object property
      'canonical-cpu-features', // implied by the one before
      'tcg',
      'virtio-blk-pci.scsi.default.disabled', // the property's default-value
      'cpu.migratable',
      'cpu-max', // `max` among the CPU models
      'confidential-guest-support', // a property of the `none` machine
      'virtio-blk.queue-size',
      'device.json+hotplug', // a command feature
      'machine-i8042-opt', // a property of `generic-pc`, asked on x86 only
    ]);
  });

  it('KVM needs both present and enabled; SEV and SGX need the host to say so', () => {
    const off = deriveCapabilityFlags(probe({ kvm: { present: true, enabled: false } }), 'x86_64');
    expect(off).not.toContain('kvm');
    // the objects exist but query-sev/sgx-capabilities failed: the flags go
    expect(off).not.toContain('sev-guest');
    expect(off).not.toContain('sgx-epc');
    const on = deriveCapabilityFlags(
      probe({
        sev: { cbitpos: 51, 'reduced-phys-bits': 1, pdh: 'P', 'cert-chain': 'C' },
        sgx: { flc: false, sgx1: true, sgx2: false, 'section-size': 0, sections: [] },
      }),
      'x86_64',
    );
    expect(on).toContain('sev-guest');
    expect(on).toContain('sgx-epc');
    // QEMU < 7.0 answered SGX without sections: libvirt treats that as unsupported
    expect(
      deriveCapabilityFlags(probe({ sgx: { flc: false, sgx1: true, sgx2: false } }), 'x86_64'),
    ).not.toContain('sgx-epc');
  });

  it('generic-pc is asked on x86 only; esp-based SCSI comes from the architecture', () => {
    const arm = deriveCapabilityFlags(probe(), 'aarch64');
    expect(arm).not.toContain('machine-i8042-opt');
    expect(arm).not.toContain('ncr53c90');
    expect(deriveCapabilityFlags(probe(), 'sparc')).toContain('ncr53c90');
  });

  it('every flag name in the tables is one of libvirt’s names, each listed once', () => {
    expect(new Set(QEMU_CAPABILITY_FLAGS).size).toBe(QEMU_CAPABILITY_FLAGS.length);
    expect(QEMU_CAPABILITY_FLAGS.length).toBe(239); // libvirt 11.3's flags that are still set by probing
  });
});

/** A two-session transcript (KVM, then TCG) in libvirt's `.replies` shape, kept tiny. */
const TRANSCRIPT = [
  { execute: 'qmp_capabilities', id: 'libvirt-1' },
  { return: {}, id: 'libvirt-1' },
  { execute: 'query-version', id: 'libvirt-2' },
  { return: { qemu: { major: 9, minor: 2, micro: 0 }, package: 'v9.2.0' }, id: 'libvirt-2' },
  { execute: 'query-target', id: 'libvirt-3' },
  { return: { arch: 'x86_64' }, id: 'libvirt-3' },
  { execute: 'query-kvm', id: 'libvirt-4' },
  { return: { enabled: true, present: true }, id: 'libvirt-4' },
  { execute: 'qom-list-types', id: 'libvirt-5' },
  { return: [{ name: 'tcg-accel' }, { name: 'sev-guest' }], id: 'libvirt-5' },
  { execute: 'query-machines', id: 'libvirt-6' },
  {
    return: [
      { name: 'none', 'cpu-max': 1 },
      { name: 'pc-q35-9.2', alias: 'q35', 'cpu-max': 4096, 'hotpluggable-cpus': true, acpi: true },
      {
        name: 'pc-i440fx-9.2',
        alias: 'pc',
        'is-default': true,
        'cpu-max': 255,
        'default-cpu-type': 'qemu64-x86_64-cpu',
        'default-ram-id': 'pc.ram',
        deprecated: false,
      },
    ],
    id: 'libvirt-6',
  },
  { execute: 'query-cpu-definitions', id: 'libvirt-7' },
  {
    return: [
      { name: 'qemu64', typename: 'qemu64-x86_64-cpu', 'unavailable-features': [] },
      {
        name: 'Opteron_G1',
        typename: 'Opteron_G1-x86_64-cpu',
        'unavailable-features': ['3dnow'],
        deprecated: true,
      },
    ],
    id: 'libvirt-7',
  },
  { execute: 'query-sev-capabilities', id: 'libvirt-8' },
  { return: { cbitpos: 47, 'reduced-phys-bits': 1, pdh: 'PDH', 'cert-chain': 'CC' }, id: 'libvirt-8' },
  {
    execute: 'query-cpu-model-expansion',
    arguments: { type: 'static', model: { name: 'host' } },
    id: 'libvirt-9',
  },
  { return: { model: { name: 'base', props: { sse: true, vmx: false, 'min-level': 13 } } }, id: 'libvirt-9' },
  {
    execute: 'query-cpu-model-expansion',
    arguments: { type: 'static', model: { name: 'host', props: { migratable: false } } },
    id: 'libvirt-10',
  },
  { return: { model: { name: 'base', props: { sse: true, vmx: true, 'min-level': 13 } } }, id: 'libvirt-10' },
  {
    execute: 'query-cpu-model-expansion',
    arguments: {
      type: 'full',
      model: { name: 'host', props: { migratable: false, 'hv-passthrough': true } },
    },
    id: 'libvirt-11',
  },
  {
    return: { model: { name: 'host', props: { 'hv-relaxed': true, 'hv-spinlocks': 0, 'hv-vendor-id': '' } } },
    id: 'libvirt-11',
  },
  { execute: 'qmp_capabilities', id: 'libvirt-1' },
  { return: {}, id: 'libvirt-1' },
  { execute: 'query-machines', id: 'libvirt-2' },
  { return: [{ name: 'pc-i440fx-9.2', alias: 'pc', 'is-default': true, 'cpu-max': 255 }], id: 'libvirt-2' },
]
  .map((o) => JSON.stringify(o, null, 2))
  .join('\n\n');

/** What libvirt's cache writer makes of it, written out by hand from its layout rules. */
const EXPECTED = `<qemuCaps>
  <emulator>/usr/bin/qemu-system-x86_64</emulator>
  <qemuctime>0</qemuctime>
  <selfctime>0</selfctime>
  <selfvers>0</selfvers>
  <flag name='kvm'/>
  <flag name='sev-guest'/>
  <flag name='tcg'/>
  <version>9002000</version>
  <microcodeVersion>43100247</microcodeVersion>
  <package>v9.2.0</package>
  <arch>x86_64</arch>
  <hostCPU type='kvm' model='base' migratability='yes'>
    <property name='sse' type='boolean' value='true' migratable='yes'/>
    <property name='vmx' type='boolean' value='true' migratable='no'/>
    <property name='min-level' type='number' value='13'/>
  </hostCPU>
  <cpu type='kvm' name='qemu64' typename='qemu64-x86_64-cpu' usable='yes'/>
  <cpu type='kvm' name='Opteron_G1' typename='Opteron_G1-x86_64-cpu' usable='no' deprecated='yes'>
    <blocker name='3dnow'/>
  </cpu>
  <machine type='kvm' name='pc-i440fx-9.2' alias='pc' maxCpus='255' default='yes' defaultCPU='qemu64-x86_64-cpu' defaultRAMid='pc.ram'/>
  <machine type='kvm' name='pc-q35-9.2' alias='q35' hotplugCpus='yes' maxCpus='4096' acpi='yes'/>
  <machine type='tcg' name='pc-i440fx-9.2' alias='pc' maxCpus='255' default='yes'/>
  <sev>
    <cbitpos>47</cbitpos>
    <reducedPhysBits>1</reducedPhysBits>
    <pdh>PDH</pdh>
    <certChain>CC</certChain>
  </sev>
  <hypervCapabilities supported='yes'>
    <cap name='relaxed'/>
    <cap name='vendor_id'/>
  </hypervCapabilities>
</qemuCaps>
`;

describe('the <qemuCaps> cache document', () => {
  it('a replayed transcript formats exactly as libvirt lays its cache out', () => {
    const caps = buildQemuCaps(probeDataFromTranscript(TRANSCRIPT, '/ignored'));
    expect(hasFlag(caps, 'kvm')).toBe(true);
    expect(hasFlag(caps, 'cpu-max')).toBe(false);
    const xml = formatQemuCapsXml(caps, {
      emulator: '/usr/bin/qemu-system-x86_64',
      qemuctime: 0,
      selfctime: 0,
      selfvers: 0,
      // libvirt's test harness: 431 ('x86_64') * 100000 + 247 ('9.2.0')
      microcodeVersion: 43_100_247,
    });
    expect(xml).toBe(EXPECTED);
  });

  it('escapes what XML needs escaped and leaves the KVM part out without KVM', () => {
    const caps = buildQemuCaps(probeDataFromTranscript(TRANSCRIPT, '/ignored'));
    caps.flags = (caps.flags ?? []).filter((f) => f !== 'kvm');
    caps.package = 'a<b>&\'c"';
    const xml = formatQemuCapsXml(caps, {
      qemuctime: 1,
      selfctime: 2,
      selfvers: 11_003_000,
      microcodeVersion: 0,
    });
    expect(xml).toContain('<emulator>/ignored</emulator>');
    expect(xml).toContain('<package>a&lt;b&gt;&amp;&apos;c&quot;</package>');
    expect(xml).toContain('<selfvers>11003000</selfvers>');
    expect(xml).not.toContain("type='kvm'");
  });
});

describe('host CPU and CPU model details', () => {
  const session = (...exchanges: object[]) =>
    [
      { execute: 'qmp_capabilities', id: 'l-1' },
      { return: {}, id: 'l-1' },
      { execute: 'query-version', id: 'l-2' },
      { return: { qemu: { major: 10, minor: 1, micro: 0 }, package: '' }, id: 'l-2' },
      { execute: 'query-target', id: 'l-3' },
      { return: { arch: 'x86_64' }, id: 'l-3' },
      ...exchanges,
    ]
      .map((o) => JSON.stringify(o))
      .join('\n\n');

  it('blockers come out in QEMU’s spelling even when QEMU used libvirt’s', () => {
    const text = session(
      { execute: 'query-cpu-definitions', id: 'l-4' },
      { return: [{ name: 'Westmere', 'unavailable-features': ['pclmuldq', 'ds_cpl', 'aes'] }], id: 'l-4' },
    );
    const caps = buildQemuCaps(probeDataFromTranscript(text, 'q'));
    expect(caps.accel.tcg?.cpuModels[0]?.blockers).toEqual(['pclmulqdq', 'ds-cpl', 'aes']);
  });

  it('a full expansion without deprecated features leaves the host CPU alone', () => {
    const text = session(
      {
        execute: 'query-cpu-model-expansion',
        arguments: { type: 'static', model: { name: 'max' } },
        id: 'l-4',
      },
      { return: { model: { name: 'base', props: { pcid: true } } }, id: 'l-4' },
      {
        execute: 'query-cpu-model-expansion',
        arguments: { type: 'full', model: { name: 'max' } },
        id: 'l-5',
      },
      { return: { model: { name: 'max', props: { pcid: true, 'pcid-alias': true } } }, id: 'l-5' },
    );
    const host = buildQemuCaps(probeDataFromTranscript(text, 'q')).accel.tcg?.hostCpu;
    expect(host?.model).toBe('base');
    expect(host?.props.map((p) => p.name)).toEqual(['pcid']);
    expect(host?.deprecatedProps).toBeUndefined();
  });

  it('deprecated features of a plain full expansion are listed under the host CPU', () => {
    const text = session(
      {
        execute: 'query-cpu-model-expansion',
        arguments: { type: 'static', model: { name: 'max' } },
        id: 'l-4',
      },
      { return: { model: { name: 'base', props: { pcid: true } } }, id: 'l-4' },
      {
        execute: 'query-cpu-model-expansion',
        arguments: { type: 'full', model: { name: 'max' } },
        id: 'l-5',
      },
      { return: { model: { name: 'max', props: {} }, 'deprecated-props': ['mpx'] }, id: 'l-5' },
    );
    const caps = buildQemuCaps(probeDataFromTranscript(text, 'q'));
    expect(caps.accel.tcg?.hostCpu).toEqual({
      model: 'base',
      migratability: false, // no non-migratable expansion to compare with
      props: [{ name: 'pcid', type: 'boolean', value: true }],
      deprecatedProps: ['mpx'],
    });
    const xml = formatQemuCapsXml(caps, { qemuctime: 0, selfctime: 0, selfvers: 0, microcodeVersion: 0 });
    expect(xml).toContain(
      [
        "  <hostCPU type='tcg' model='base' migratability='no'>",
        "    <property name='pcid' type='boolean' value='true'/>",
        '    <deprecatedFeatures>',
        "      <property name='mpx'/>",
        '    </deprecatedFeatures>',
        '  </hostCPU>',
      ].join('\n'),
    );
    // an empty package is not written
    expect(xml).not.toContain('<package>');
  });
});

describe('GIC facts', () => {
  it('an ARM binary lists its GIC versions after the accelerators', () => {
    const text = [
      { execute: 'qmp_capabilities', id: 'l-1' },
      { return: {}, id: 'l-1' },
      { execute: 'query-version', id: 'l-2' },
      { return: { qemu: { major: 9, minor: 0, micro: 0 }, package: '' }, id: 'l-2' },
      { execute: 'query-target', id: 'l-3' },
      { return: { arch: 'aarch64' }, id: 'l-3' },
      { execute: 'query-gic-capabilities', id: 'l-4' },
      {
        return: [
          { version: 3, kernel: true, emulated: true },
          { version: 2, kernel: false, emulated: true },
        ],
        id: 'l-4',
      },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n\n');
    const xml = formatQemuCapsXml(buildQemuCaps(probeDataFromTranscript(text, 'q')), {
      qemuctime: 0,
      selfctime: 0,
      selfvers: 0,
      microcodeVersion: 0,
    });
    expect(xml).toContain(
      "  <arch>aarch64</arch>\n  <gic version='3' kernel='yes' emulated='yes'/>\n  <gic version='2' kernel='no' emulated='yes'/>\n</qemuCaps>\n",
    );
  });
});

describe.skipIf(!HAS_SHARED)(`libvirt's recorded probes${SHARED_NOTE}`, () => {
  it('QEMU 10.0.0 gives exactly libvirt’s flags, in its order', () => {
    const dir = join(SHARED_DIR, 'qemucaps');
    const data = probeDataFromTranscript(readFileSync(join(dir, 'caps_10.0.0_x86_64.replies'), 'utf8'), 'q');
    const expected = [
      ...readFileSync(join(dir, 'caps_10.0.0_x86_64.xml'), 'utf8').matchAll(/<flag name='([^']+)'\/>/g),
    ].map((m) => m[1]);
    expect(buildQemuCaps(data).flags).toEqual(expected);
  });
});

describe.skipIf(!HAS_QEMU)(`live probe flags${QEMU_NOTE}`, () => {
  it('a real binary yields a sane flag set', { timeout: 60_000 }, async () => {
    const caps = await probeQemu(QEMU_BINARY);
    const flags = caps.flags ?? [];
    // in libvirt's order, each once
    const order = flags.map((f) => QEMU_CAPABILITY_FLAGS.indexOf(f));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(new Set(flags).size).toBe(flags.length);
    // every QEMU libvirt 11.3 supports (>= 6.2) has these
    for (const f of ['tcg', 'query-cpu-model-expansion', 'query-cpu-definitions', 'cpu-max'] as const) {
      expect(flags).toContain(f);
    }
    if (caps.arch === 'x86_64') expect(flags).toContain('x86-max-cpu');
    expect(flags.includes('kvm')).toBe((await kvmUsable()) && caps.accel.kvm !== undefined);
    // the static expansion of `max` (base model plus properties), not one of the side full expansions
    expect(caps.accel.tcg?.hostCpu?.model).toBe('base');
    expect(caps.accel.tcg?.hostCpu?.migratability).toBe(true);
    expect(caps.accel.tcg?.hostCpu?.props.length ?? 0).toBeGreaterThan(0);
  });
});

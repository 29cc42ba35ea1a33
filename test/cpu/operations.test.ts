import { describe, expect, it } from 'vitest';
import { CpuDef } from '../../src/conf/cpu.js';
import { CpuData } from '../../src/conf/cpu-data.js';
import {
  baselineCpu,
  compareCpu,
  cpuSignature,
  decodeCpuData,
  expandCpuFeatures,
  formatSignature,
  hasFeature,
  hostModelFromQemuExpansion,
  migratableHostCpu,
  signatureFromEax,
  signatureToEax,
  translateCpu,
  updateCpu,
  updateCpuLive,
} from '../../src/cpu/index.js';
import { VirError } from '../../src/errors.js';

// A Penryn host with a few extras (Penryn's model lacks vmx and ht; invtsc is not migratable).
const HOST = `<cpu>
  <arch>x86_64</arch>
  <model>Penryn</model>
  <vendor>Intel</vendor>
  <feature name='vmx'/>
  <feature name='ht'/>
  <feature name='invtsc'/>
</cpu>`;

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(VirError);
    return (err as VirError).code;
  }
  return undefined;
}

describe('compareCpu', () => {
  it('is IDENTICAL for the host itself', () => {
    expect(compareCpu(HOST, HOST).result).toBe('IDENTICAL');
  });

  it('reports the host extras of a plain model as SUPERSET, in database order', () => {
    const out = compareCpu(HOST, `<cpu match='exact'><model>Penryn</model></cpu>`);
    expect(out).toEqual({ result: 'SUPERSET', features: ['vmx', 'ht', 'invtsc'] });
  });

  it('is INCOMPATIBLE under match=strict when the host has more', () => {
    expect(compareCpu(HOST, `<cpu match='strict'><model>Penryn</model></cpu>`).result).toBe('INCOMPATIBLE');
    const exact = `<cpu match='strict'><model>Penryn</model>
      <feature name='vmx'/><feature name='ht'/><feature name='invtsc' policy='optional'/></cpu>`;
    expect(compareCpu(HOST, exact).result).toBe('IDENTICAL');
  });

  it('names missing required and present forbidden features', () => {
    const missing = compareCpu(HOST, `<cpu match='exact'><model>Penryn</model><feature name='avx'/></cpu>`);
    expect(missing.result).toBe('INCOMPATIBLE');
    expect(missing.features).toEqual(['avx']);
    const forbidden = compareCpu(
      HOST,
      `<cpu match='exact'><model>Penryn</model><feature name='vmx' policy='forbid'/></cpu>`,
    );
    expect(forbidden).toMatchObject({ result: 'INCOMPATIBLE', features: ['vmx'] });
    expect(compareCpu(HOST, `<cpu match='exact'><model>Haswell</model></cpu>`).result).toBe('INCOMPATIBLE');
  });

  it('lets force, optional and disable relax the model', () => {
    const cpu = `<cpu match='exact'><model>Penryn</model>
      <feature name='avx' policy='force'/><feature name='sse4.1' policy='disable'/></cpu>`;
    expect(compareCpu(HOST, cpu).result).toBe('SUPERSET');
  });

  it('is INCOMPATIBLE for another vendor or architecture', () => {
    expect(
      compareCpu(HOST, `<cpu match='exact'><model>Penryn</model><vendor>AMD</vendor></cpu>`).result,
    ).toBe('INCOMPATIBLE');
    expect(compareCpu(HOST, `<cpu><arch>aarch64</arch><model>Penryn</model></cpu>`).result).toBe(
      'INCOMPATIBLE',
    );
  });

  it('throws CPU_INCOMPATIBLE with failIncompatible, naming the features', () => {
    try {
      compareCpu(HOST, `<cpu match='exact'><model>Penryn</model><feature name='avx'/></cpu>`, {
        failIncompatible: true,
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VirError);
      expect((err as VirError).code).toBe('CPU_INCOMPATIBLE');
      expect((err as VirError).message).toContain('avx');
    }
  });

  it('rejects unknown models and features with INVALID_ARG naming them', () => {
    expect(code(() => compareCpu(HOST, `<cpu match='exact'><model>Pentium9000</model></cpu>`))).toBe(
      'INVALID_ARG',
    );
    try {
      compareCpu(HOST, `<cpu match='exact'><model>Penryn</model><feature name='warp-drive'/></cpu>`);
    } catch (err) {
      expect((err as VirError).message).toContain('warp-drive');
    }
    expect(code(() => compareCpu(HOST, `<cpu match='exact'/>`))).toBe('INVALID_ARG');
  });

  it('rejects a 10,000-feature CPU on its first unknown feature without trouble', () => {
    const features = Array.from({ length: 10_000 }, (_, i) => ({
      policy: 'require' as const,
      name: `f${i}`,
    }));
    const cpu = new CpuDef({ mode: 'custom', match: 'exact', model: { name: 'Penryn' }, features });
    expect(code(() => compareCpu(HOST, cpu))).toBe('INVALID_ARG');
  });

  it('refuses an unknown policy at parse time', () => {
    expect(
      code(() =>
        compareCpu(
          HOST,
          `<cpu match='exact'><model>Penryn</model><feature name='vmx' policy='maybe'/></cpu>`,
        ),
      ),
    ).toMatch(/^XML_/);
  });
});

describe('baselineCpu', () => {
  const other = `<cpu><arch>x86_64</arch><model>Penryn</model><vendor>Intel</vendor><feature name='ht'/></cpu>`;

  it('keeps the common model (fallback forbid when every input had it) and common features', () => {
    const b = baselineCpu([HOST, other]);
    expect(b.mode).toBe('custom');
    expect(b.match).toBe('exact');
    expect(b.model).toEqual({ fallback: 'forbid', name: 'Penryn' });
    expect(b.vendor).toBe('Intel');
    expect(b.features).toEqual([{ policy: 'require', name: 'ht' }]);
    for (const h of [HOST, other]) expect(['IDENTICAL', 'SUPERSET']).toContain(compareCpu(h, b).result);
  });

  it('drops non-migratable features when asked', () => {
    expect(baselineCpu([HOST]).features?.map((f) => f.name)).toContain('invtsc');
    expect(baselineCpu([HOST], { migratable: true }).features?.map((f) => f.name)).not.toContain('invtsc');
  });

  it('expands the model features', () => {
    const names = baselineCpu([HOST, other], { expandFeatures: true }).features?.map((f) => f.name) ?? [];
    expect(names).toContain('sse4.1');
    expect(names).toContain('ht');
  });

  it('fails on vendor mismatch, an empty list and unknown vendors', () => {
    const amd = `<cpu><arch>x86_64</arch><model>Opteron_G3</model><vendor>AMD</vendor></cpu>`;
    expect(code(() => baselineCpu([HOST, amd]))).toBe('CPU_INCOMPATIBLE');
    expect(code(() => baselineCpu([]))).toBe('INVALID_ARG');
    expect(code(() => baselineCpu([`<cpu><model>Penryn</model><vendor>Cyrix</vendor></cpu>`]))).toBe(
      'INVALID_ARG',
    );
    expect(code(() => baselineCpu([`<cpu><arch>ppc64le</arch><model>POWER9</model></cpu>`]))).toBe(
      'NO_SUPPORT',
    );
  });
});

describe('updateCpu / translateCpu / hasFeature', () => {
  it('fills host-model from the migratable host', () => {
    const cpu = updateCpu(`<cpu mode='host-model'/>`, migratableHostCpu(HOST));
    expect(cpu.mode).toBe('custom');
    expect(cpu.match).toBe('exact');
    expect(cpu.model).toEqual({ fallback: 'allow', name: 'Penryn' });
    expect(cpu.vendor).toBe('Intel');
    expect(cpu.features).toEqual([
      { policy: 'require', name: 'vmx' },
      { policy: 'require', name: 'ht' },
    ]);
  });

  it('resolves optional features against the host and leaves passthrough alone', () => {
    const cpu = updateCpu(
      `<cpu match='exact'><model>Penryn</model><feature name='vmx' policy='optional'/><feature name='avx' policy='optional'/></cpu>`,
      HOST,
    );
    expect(cpu.features).toEqual([
      { policy: 'require', name: 'vmx' },
      { policy: 'disable', name: 'avx' },
    ]);
    expect(updateCpu(`<cpu mode='host-passthrough'/>`, HOST).toXML()).toBe(
      `<cpu mode='host-passthrough'/>\n`,
    );
    expect(code(() => updateCpu(`<cpu mode='host-model'/>`, undefined))).toBe('CONFIG_UNSUPPORTED');
  });

  it('lists a model\u2019s removed features as disabled', () => {
    const cpu = updateCpu(`<cpu match='exact'><model>Skylake-Client</model></cpu>`, undefined);
    expect(cpu.features).toEqual([{ policy: 'disable', name: 'mpx' }]);
  });

  it('translates to an allowed model, or refuses with fallback=forbid', () => {
    const cpu = translateCpu(`<cpu match='exact'><model>Penryn</model></cpu>`, ['core2duo', 'qemu64']);
    expect(['core2duo', 'qemu64']).toContain(cpu.model?.name);
    expect(compareCpu(HOST, cpu).result).not.toBe('INCOMPATIBLE');
    expect(
      code(() =>
        translateCpu(`<cpu match='exact'><model fallback='forbid'>Penryn</model></cpu>`, ['qemu64']),
      ),
    ).toBe('CONFIG_UNSUPPORTED');
  });

  it('checks features, failing on unknown names', () => {
    expect(hasFeature(HOST, 'vmx')).toBe(true);
    expect(hasFeature(HOST, 'sse4.1')).toBe(true);
    expect(hasFeature(HOST, 'svm')).toBe(false);
    expect(code(() => hasFeature(HOST, 'bogus'))).toBe('INVALID_ARG');
  });

  it('expands a guest CPU with its model features', () => {
    const cpu = expandCpuFeatures(
      `<cpu match='exact'><model>Penryn</model><feature name='sse4.1' policy='disable'/></cpu>`,
    );
    const sse41 = cpu.features?.find((f) => f.name === 'sse4.1');
    expect(sse41?.policy).toBe('disable');
    expect(cpu.features?.find((f) => f.name === 'fpu')?.policy).toBe('require');
  });
});

describe('CPUID data', () => {
  // GenuineIntel, family 6 model 23 stepping 10 (a Penryn), with a few leaf-1 features.
  const eax1 = 0x0001067a;
  const penrynish = `<cpudata arch='x86'>
    <cpuid eax_in='0x00000000' ecx_in='0x00' eax='0x0000000d' ebx='0x756e6547' ecx='0x6c65746e' edx='0x49656e69'/>
    <cpuid eax_in='0x00000001' ecx_in='0x00' eax='0x${eax1.toString(16).padStart(8, '0')}' ebx='0x00000000' ecx='0x00000001' edx='0x00000001'/>
  </cpudata>`;

  it('computes the signature as libvirt prints it', () => {
    expect(cpuSignature(penrynish)).toEqual({ family: 6, model: 23, stepping: 10 });
    expect(formatSignature({ family: 6, model: 23, stepping: 10 })).toBe(
      '01067a\nfamily:     6 (0x06)\nmodel:     23 (0x17)\nstepping:  10 (0x0a)\n',
    );
    // AMD family 23 uses the extended family field.
    expect(signatureFromEax(0x00800f12)).toEqual({ family: 23, model: 1, stepping: 2 });
    expect(signatureToEax({ family: 23, model: 1, stepping: 2 })).toBe(0x00800f12);
  });

  it('decodes into a guest CPU listing what the model lacks', () => {
    const guest = decodeCpuData(penrynish, { kind: 'guest', models: ['486'] });
    expect(guest.model).toEqual({ fallback: 'forbid', name: '486' });
    expect(guest.vendor).toBe('Intel');
    // 486 needs fpu (present), vme, pse (absent); pni is extra.
    expect(guest.features?.find((f) => f.name === 'pni')?.policy).toBe('require');
    expect(guest.features?.find((f) => f.name === 'vme')?.policy).toBe('disable');
  });

  it('fails clearly on missing leaves, other architectures and undecodable data', () => {
    const noLeaf1 = `<cpudata arch='x86'><cpuid eax_in='0x00000000' ecx_in='0x00' eax='0x1' ebx='0x756e6547' ecx='0x6c65746e' edx='0x49656e69'/></cpudata>`;
    expect(code(() => cpuSignature(noLeaf1))).toBe('INVALID_ARG');
    expect(code(() => decodeCpuData(noLeaf1))).toBe('CONFIG_UNSUPPORTED');
    expect(
      code(() =>
        decodeCpuData(
          `<cpudata arch='ppc64'><cpuid eax_in='0x1' ecx_in='0x0' eax='0x0' ebx='0x0' ecx='0x0' edx='0x0'/></cpudata>`,
        ),
      ),
    ).toBe('NO_SUPPORT');
    expect(code(() => CpuData.fromXML(`<cpudata arch='x86'><cpuid eax_in='zz'/></cpudata>`))).toMatch(
      /^XML_/,
    );
  });

  it('applies live CPUID data: hypervisor additions become required, losses disabled', () => {
    const guest = `<cpu mode='custom' match='exact'><model fallback='forbid'>486</model></cpu>`;
    // enabled: fpu (leaf 1 edx bit 0) and pni (ecx bit 0); disabled: vme (edx bit 1).
    const enabled = `<cpudata arch='x86'><cpuid eax_in='0x00000001' ecx_in='0x00' eax='0x0' ebx='0x0' ecx='0x00000001' edx='0x00000009'/></cpudata>`;
    const disabled = `<cpudata arch='x86'><cpuid eax_in='0x00000001' ecx_in='0x00' eax='0x0' ebx='0x0' ecx='0x0' edx='0x00000002'/></cpudata>`;
    const live = updateCpuLive(guest, enabled, disabled);
    expect(live.features?.find((f) => f.name === 'pni')?.policy).toBe('require');
    expect(live.features?.find((f) => f.name === 'vme')?.policy).toBe('disable');
    const full = `<cpu mode='custom' match='exact' check='full'><model fallback='forbid'>486</model></cpu>`;
    expect(code(() => updateCpuLive(full, enabled, disabled))).toBe('CPU_INCOMPATIBLE');
  });

  it('builds the KVM host-model from a QEMU expansion', () => {
    const cpu = hostModelFromQemuExpansion(
      {
        name: 'base',
        props: {
          vendor: 'GenuineIntel',
          family: 6,
          model: 23,
          stepping: 10,
          fpu: true,
          sse3: true,
          vme: false,
        },
      },
      ['486'],
    );
    expect(cpu.model?.name).toBe('486');
    expect(cpu.features?.find((f) => f.name === 'pni')?.policy).toBe('require');
  });
});

describe('encodeCpu', () => {
  it('round-trips through CPUID data: same vendor and features', async () => {
    const { encodeCpu, dataHasFeature } = await import('../../src/cpu/index.js');
    const host = CpuDef.fromXML(HOST);
    host.signature = { family: 6, model: 23, stepping: 10 };
    const data = encodeCpu(host);
    // GenuineIntel in leaf 0: ebx 'Genu', edx 'ineI', ecx 'ntel'.
    expect(data.cpuid?.[0]).toMatchObject({ eaxIn: 0, ebx: 0x756e6547, edx: 0x49656e69, ecx: 0x6c65746e });
    expect(cpuSignature(data)).toEqual({ family: 6, model: 23, stepping: 10 });
    expect(dataHasFeature(data, 'vmx')).toBe(true);
    expect(dataHasFeature(data, 'svm')).toBe(false);
    const decoded = decodeCpuData(data);
    expect(decoded.vendor).toBe('Intel');
    expect(compareCpu(decoded, host).result).toBe('IDENTICAL');
    expect(code(() => dataHasFeature(data, 'bogus'))).toBe('INVALID_ARG');
  });
});

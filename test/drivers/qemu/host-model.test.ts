import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuModel, x86Database } from '../../../src/cpu/index.js';
import {
  hostModelMode,
  qemuHostModelCpu,
  shippedCpuCatalog,
} from '../../../src/drivers/qemu/caps/host-model.js';
import { buildQemuCaps, type QemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { probeDataFromTranscript } from '../../../src/drivers/qemu/probe/transcript.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';
import { hostModelLines } from './helpers.js';

/** QEMU's names for a database model's features (what its expansion of `host` would report as on). */
function propsOf(
  model: string,
  extra: Record<string, boolean> = {},
): Record<string, boolean | number | string> {
  const props: Record<string, boolean | number | string> = {
    vendor: 'AuthenticAMD',
    family: 25,
    model: 1,
    stepping: 1,
  };
  for (const f of cpuModel(model)?.features ?? []) props[f] = true;
  return { ...props, ...extra };
}

function caps(
  props: Record<string, boolean | number | string>,
  blockers: Record<string, string[]> = {},
): QemuCaps {
  const cpuDefinitions = ['Opteron_G3', 'EPYC', 'Skylake-Client'].map((name) => ({
    name,
    'unavailable-features': blockers[name] ?? [],
  }));
  return buildQemuCaps({
    emulator: '/usr/bin/qemu-system-x86_64',
    version: { qemu: { major: 9, minor: 0, micro: 0 } },
    target: { arch: 'x86_64' },
    accel: {
      kvm: { cpuDefinitions, hostExpansion: { model: { name: 'base', props } } },
      tcg: { cpuDefinitions, hostExpansion: { model: { name: 'base', props } } },
    },
  });
}

describe('host-model from probed QEMU caps (shipped CPU database)', () => {
  it('a CPU with exactly a model’s features is that model; only the features the model lost are listed', () => {
    const hm = hostModelMode(caps(propsOf('EPYC')), 'tcg');
    expect(hm?.models).toEqual([{ name: 'EPYC', fallback: 'forbid' }]);
    expect(hm?.vendor).toBe('AMD');
    const removed = cpuModel('EPYC')?.removedFeatures ?? [];
    expect(removed.length).toBeGreaterThan(0);
    expect(hm?.features).toEqual(removed.map((name) => ({ policy: 'disable', name })));
  });

  it('offers only models QEMU has, of the CPU’s vendor', () => {
    // Skylake-Client is Intel: never chosen for an AMD CPU even when QEMU offers it.
    const hm = hostModelMode(caps(propsOf('Skylake-Client')), 'tcg');
    expect(hm?.models?.[0]?.name).not.toBe('Skylake-Client');
    expect(['EPYC', 'Opteron_G3']).toContain(hm?.models?.[0]?.name);
  });

  it('disables what QEMU says blocks the chosen model', () => {
    const hm = hostModelMode(caps(propsOf('EPYC'), { EPYC: ['sha-ni'] }), 'tcg');
    expect(hm?.models?.[0]?.name).toBe('EPYC');
    expect(hm?.features).toContainEqual({ policy: 'disable', name: 'sha-ni' });
  });

  it('passes the physical address bits to KVM guests only', () => {
    expect(hostModelMode(caps(propsOf('EPYC')), 'kvm', 48)?.maxPhysAddr).toEqual({
      mode: 'passthrough',
      limit: 48,
    });
    expect(hostModelMode(caps(propsOf('EPYC')), 'tcg', 48)?.maxPhysAddr).toBeUndefined();
  });

  it('leaves out features that cannot migrate for a migratable CPU', () => {
    expect(x86Database().feature('invtsc')?.migratable).toBe(false);
    const c = caps(propsOf('EPYC', { invtsc: true }));
    expect(qemuHostModelCpu(c, 'kvm')?.features).toContainEqual({ policy: 'require', name: 'invtsc' });
    expect(qemuHostModelCpu(c, 'kvm', { migratable: true })?.features ?? []).not.toContainEqual(
      expect.objectContaining({ name: 'invtsc' }),
    );
  });

  it('has nothing to say without a host expansion or for another architecture', () => {
    const c = caps(propsOf('EPYC'));
    expect(hostModelMode({ ...c, arch: 'aarch64' }, 'tcg')).toBeUndefined();
    expect(hostModelMode({ ...c, accel: {} }, 'tcg')).toBeUndefined();
  });

  it('the catalogue knows vendors, canonical names and QEMU spellings', () => {
    const cat = shippedCpuCatalog();
    expect(cat.has('Broadwell')).toBe(true);
    expect(cat.has('max')).toBe(false);
    expect(cat.vendor('Broadwell')).toBe('Intel');
    expect(cat.vendor('qemu64')).toBeUndefined();
    // libvirt's map names Broadwell-v1 as Broadwell's versioned model, but has no Icelake-Client-v1
    expect(cat.canonical('Broadwell')).toBe('Broadwell-v1');
    expect(cat.canonical('Icelake-Client')).toBeUndefined();
    expect(cat.featureName('pclmulqdq')).toBe('pclmuldq');
  });
});

describe.skipIf(!HAS_SHARED)(`host-model on libvirt 11.3's data${SHARED_NOTE}`, () => {
  const versions = ['6.2.0', '7.0.0', '7.1.0', '8.0.0', '8.2.0', '9.0.0', '9.1.0', '10.0.0'];
  for (const version of versions) {
    for (const accel of ['kvm', 'tcg'] as const) {
      it(`QEMU ${version} ${accel}`, () => {
        const text = readFileSync(join(SHARED_DIR, `qemucaps/caps_${version}_x86_64.replies`), 'utf8');
        const c = buildQemuCaps(probeDataFromTranscript(text, '/usr/bin/qemu-system-x86_64'));
        const hm = hostModelMode(c, accel);
        const ours = [
          `model ${hm?.models?.[0]?.name}`,
          ...(hm?.features ?? []).map((f) => `${f.policy} ${f.name}`),
        ];
        const file = `domaincaps/qemu_${version}${accel === 'tcg' ? '-tcg' : ''}.x86_64.xml`;
        expect(ours).toEqual(hostModelLines(readFileSync(join(SHARED_DIR, file), 'utf8')));
      });
    }
  }
});

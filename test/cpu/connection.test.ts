import { describe, expect, it } from 'vitest';
import { CpuDef } from '../../src/conf/cpu.js';
import { connect } from '../../src/connection.js';
import { VirError } from '../../src/errors.js';

const A = `<cpu><arch>x86_64</arch><model>Penryn</model><vendor>Intel</vendor><feature name='vmx'/></cpu>`;
const B = `<cpu><arch>x86_64</arch><model>Nehalem</model><vendor>Intel</vendor></cpu>`;

describe('CPU operations on test:///default', () => {
  it('baselines CPUs through the engine', async () => {
    const conn = await connect('test:///default');
    try {
      const xml = await conn.baselineCpu([A, B]);
      const cpu = CpuDef.fromXML(xml);
      expect(cpu.mode).toBe('custom');
      expect(cpu.model?.name).toBe('Penryn');
      expect(cpu.vendor).toBe('Intel');
      const expanded = CpuDef.fromXML(await conn.baselineCpu([A, B], { expandFeatures: true }));
      expect(expanded.features?.some((f) => f.name === 'sse4.1')).toBe(true);
      await expect(
        conn.baselineCpu([A, `<cpu><model>Opteron_G3</model><vendor>AMD</vendor></cpu>`]),
      ).rejects.toBeInstanceOf(VirError);
    } finally {
      await conn.close();
    }
  });

  it('compares against the test host CPU, which has no model: incompatible, as libvirt reports', async () => {
    const conn = await connect('test:///default');
    try {
      expect(await conn.compareCpu(A)).toBe('incompatible');
    } finally {
      await conn.close();
    }
  });
});

/**
 * compareHypervisorCpu and baselineHypervisorCpu on libvirt 11.3's own QEMU
 * probes (the qemucaps transcripts of the conformance data), against the
 * verdicts libvirt wrote into the matching domain capabilities: a model
 * reported usable starts as it is; an unusable versioned model is refused
 * until the guest disables QEMU's blockers; an unversioned model of the
 * compatible check is compared with the host-model CPU. The installed
 * libvirt is too old for these rules, so the data is the reference here.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainCapabilities } from '../../../src/conf/domaincaps.js';
import { compareCpu, x86Database } from '../../../src/cpu/index.js';
import {
  qemuBaselineHypervisorCpu,
  qemuCompareHypervisorCpu,
} from '../../../src/drivers/qemu/caps/cpu-calls.js';
import { qemuHostModelCpu } from '../../../src/drivers/qemu/caps/host-model.js';
import { buildQemuCaps } from '../../../src/drivers/qemu/probe/qemu-caps.js';
import { probeDataFromTranscript } from '../../../src/drivers/qemu/probe/transcript.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';

describe.skipIf(!HAS_SHARED)(`hypervisor CPU calls on libvirt's QEMU 10.0 probe${SHARED_NOTE}`, () => {
  const load = () => {
    const text = readFileSync(join(SHARED_DIR, 'qemucaps/caps_10.0.0_x86_64.replies'), 'utf8');
    const caps = buildQemuCaps(probeDataFromTranscript(text, '/usr/bin/qemu-system-x86_64'));
    const domcaps = DomainCapabilities.fromXML(
      readFileSync(join(SHARED_DIR, 'domaincaps/qemu_10.0.0.x86_64.xml'), 'utf8'),
    );
    return { caps, models: domcaps.cpuMode('custom')?.models ?? [] };
  };
  const custom = (model: string, features = '') =>
    `<cpu mode='custom' match='exact'><model>${model}</model>${features}</cpu>`;

  it('accepts every model the domain capabilities call usable, as it is', () => {
    const { caps, models } = load();
    const usable = models.filter((m) => m.usable === 'yes');
    expect(usable.length).toBeGreaterThan(20);
    for (const m of usable)
      expect(qemuCompareHypervisorCpu(caps, 'kvm', custom(m.name)), m.name).toBe('superset');
  });

  it('refuses an unusable versioned model until its blockers are disabled', () => {
    const { caps, models } = load();
    const db = x86Database();
    const versioned = models.filter(
      (m) => m.usable === 'no' && (m.blockers?.length ?? 0) > 0 && db.model(m.name)?.compatCheck === false,
    );
    expect(versioned.length).toBeGreaterThan(10);
    for (const m of versioned) {
      expect(qemuCompareHypervisorCpu(caps, 'kvm', custom(m.name)), m.name).toBe('incompatible');
      const off = (m.blockers ?? []).map((b) => `<feature policy='disable' name='${b}'/>`).join('');
      expect(qemuCompareHypervisorCpu(caps, 'kvm', custom(m.name, off)), `${m.name} without blockers`).toBe(
        'superset',
      );
    }
  });

  it('compares an unversioned model of the compatible check with the host-model CPU', () => {
    const { caps, models } = load();
    const db = x86Database();
    const hostModel = qemuHostModelCpu(caps, 'kvm');
    expect(hostModel).toBeDefined();
    const compat = models.filter((m) => m.usable === 'no' && db.model(m.name)?.compatCheck === true);
    expect(compat.length).toBeGreaterThan(5);
    for (const m of compat) {
      const expected = compareCpu(hostModel as never, custom(m.name)).result.toLowerCase();
      expect(qemuCompareHypervisorCpu(caps, 'kvm', custom(m.name)), m.name).toBe(expected);
    }
  });

  it('a hypervisor baseline is a CPU the hypervisor accepts', () => {
    const { caps } = load();
    const hosts = [
      "<cpu><arch>x86_64</arch><model>EPYC</model><vendor>AMD</vendor><feature name='invtsc'/></cpu>",
      "<cpu><arch>x86_64</arch><model>Opteron_G3</model><vendor>AMD</vendor><feature name='avx'/></cpu>",
    ];
    for (const flags of [{}, { migratable: true }, { expandFeatures: true }]) {
      const xml = qemuBaselineHypervisorCpu(caps, 'kvm', hosts, flags);
      expect(xml).toMatch(/fallback='forbid'/);
      expect(qemuCompareHypervisorCpu(caps, 'kvm', xml), xml).not.toBe('incompatible');
    }
  });
});

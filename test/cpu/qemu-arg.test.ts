import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuDef } from '../../src/conf/cpu.js';
import {
  type HypervisorModel,
  hostModelFromQemuExpansion,
  qemuCpuArg,
  qemuFeatureName,
  resolveGuestCpu,
  updateCpu,
} from '../../src/cpu/index.js';
import { VirError } from '../../src/errors.js';
import { parseXml } from '../../src/xml/parse.js';
import { childElements, getAttr } from '../../src/xml/tree.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../shared-data.js';

describe('qemuCpuArg', () => {
  it('spells features the QEMU way', () => {
    expect(qemuFeatureName('tsc_adjust')).toBe('tsc-adjust');
    expect(qemuFeatureName('cmp_legacy')).toBe('cmp-legacy');
    expect(qemuFeatureName('pclmuldq')).toBe('pclmulqdq');
    expect(qemuFeatureName('sse4.2')).toBe('sse4.2');
    expect(qemuFeatureName('arch-capabilities')).toBe('arch-capabilities');
  });

  it('builds model,feat=on,feat=off in definition order', () => {
    const cpu = CpuDef.fromXML(`<cpu mode='custom' match='exact'><model>Penryn</model>
      <feature policy='require' name='vmx'/><feature policy='disable' name='sse4.1'/>
      <feature policy='force' name='tsc_adjust'/><feature policy='forbid' name='lahf_lm'/>
      <feature policy='optional' name='ht'/></cpu>`);
    expect(qemuCpuArg(cpu)).toBe('Penryn,vmx=on,sse4.1=off,tsc-adjust=on,lahf-lm=off');
    expect(qemuCpuArg(cpu, { style: 'plus-minus', enforce: true })).toBe(
      'Penryn,+vmx,-sse4.1,+tsc-adjust,-lahf-lm,enforce',
    );
    expect(qemuCpuArg(cpu, { qemuFeatures: new Set(['vmx']) })).toBe('Penryn,vmx=on');
  });

  it('uses host / max for passthrough and maximum', () => {
    expect(qemuCpuArg(CpuDef.fromXML(`<cpu mode='host-passthrough'/>`))).toBe('host,migratable=on');
    expect(qemuCpuArg(CpuDef.fromXML(`<cpu mode='host-passthrough' migratable='off'/>`))).toBe(
      'host,migratable=off',
    );
    expect(qemuCpuArg(CpuDef.fromXML(`<cpu mode='maximum'/>`))).toBe('max,migratable=on');
    expect(
      qemuCpuArg(
        CpuDef.fromXML(`<cpu mode='host-passthrough'><maxphysaddr mode='passthrough' limit='39'/></cpu>`),
      ),
    ).toBe('host,migratable=on,host-phys-bits=on,host-phys-bits-limit=39');
  });

  it('escapes commas in vendor_id and refuses newlines and unresolved CPUs', () => {
    const cpu = new CpuDef({
      mode: 'custom',
      match: 'exact',
      model: { name: 'Penryn', vendorId: 'Ab,cdEfghIjkl' },
    });
    expect(qemuCpuArg(cpu)).toBe('Penryn,vendor=Ab,,cdEfghIjkl');
    const bad = new CpuDef({
      mode: 'custom',
      match: 'exact',
      model: { name: 'Penryn', vendorId: 'Ab\ncdEfghIjk' },
    });
    expect(() => qemuCpuArg(bad)).toThrow(VirError);
    expect(() => qemuCpuArg(CpuDef.fromXML(`<cpu mode='host-model'/>`))).toThrow(/resolved to a model/);
    expect(() => qemuCpuArg(new CpuDef({ mode: 'custom', model: { name: 'Penryn,kvm=off' } }))).toThrow(
      VirError,
    );
  });

  it('realises a resolved guest CPU', () => {
    const host = CpuDef.fromXML(
      `<cpu><arch>x86_64</arch><model>Penryn</model><vendor>Intel</vendor><feature name='vmx'/></cpu>`,
    );
    const guest = CpuDef.fromXML(
      `<cpu mode='custom' match='exact'><model>Penryn</model><feature policy='optional' name='vmx'/><feature policy='optional' name='avx'/></cpu>`,
    );
    expect(qemuCpuArg(resolveGuestCpu(guest, host))).toBe('Penryn,vmx=on,avx=off');
  });
});

// The `-cpu` lines libvirt generated for its qemuxmlconf cases (x86_64-latest).
describe.skipIf(!HAS_SHARED)(`qemuCpuArg against libvirt's command lines${SHARED_NOTE}`, () => {
  const dir = join(SHARED_DIR, 'domainxml');
  const argOf = (name: string) => {
    const args = readFileSync(join(dir, `qemu/${name}.x86_64-latest.args`), 'utf8');
    const m = /^-cpu (.*) \\$/m.exec(args);
    return m?.[1]?.replace(/^'(.*)'$/, '$1');
  };
  const cpuOf = (name: string) => {
    const dom = parseXml(readFileSync(join(dir, `qemu/${name}.xml`), 'utf8'));
    const el = childElements(dom, 'cpu')[0];
    if (!el) throw new Error(`${name} has no <cpu>`);
    return CpuDef.fromElement(el);
  };

  const caps = () => parseXml(readFileSync(join(dir, 'caps/caps_10.0.0_x86_64.xml'), 'utf8'));
  const kvmHostCpu = () => {
    const hostCpu = childElements(caps(), 'hostCPU').find((h) => getAttr(h, 'type') === 'kvm');
    if (!hostCpu) throw new Error('no kvm hostCPU');
    return hostCpu;
  };

  it.each(['cpu-check-none', 'cpu-Icelake-Server-pconfig'])('%s (custom model, removed features)', (name) => {
    // At start libvirt updates the CPU (a non-relative update only lists removed model
    // features) and passes only features this QEMU knows (QEMU 10 has no pconfig).
    const known = new Set(childElements(kvmHostCpu(), 'property').map((p) => getAttr(p, 'name') ?? ''));
    expect(qemuCpuArg(updateCpu(cpuOf(name), undefined), { qemuFeatures: known })).toBe(argOf(name));
  });

  it.each(['cpu-host-passthrough', 'cpu-cache-passthrough', 'cpu-phys-bits-emulate-bare'])('%s', (name) => {
    expect(qemuCpuArg(cpuOf(name))).toBe(argOf(name));
  });

  it('cpu-host-model-kvm: host-model from the QEMU caps expansion, blockers disabled', () => {
    const hostCpu = kvmHostCpu();
    const props: Record<string, unknown> = {};
    for (const p of childElements(hostCpu, 'property')) {
      const type = getAttr(p, 'type');
      const value = getAttr(p, 'value') ?? '';
      // libvirt builds host-model from the migratable part of the expansion.
      if (type === 'boolean')
        props[getAttr(p, 'name') ?? ''] = value === 'true' && getAttr(p, 'migratable') === 'yes';
      else if (type === 'number') props[getAttr(p, 'name') ?? ''] = Number(value);
      else props[getAttr(p, 'name') ?? ''] = value;
    }
    const models: HypervisorModel[] = childElements(caps(), 'cpu')
      .filter((c) => getAttr(c, 'type') === 'kvm')
      .map((c) => ({
        name: getAttr(c, 'name') ?? '',
        blockers: childElements(c, 'blocker').map((b) => getAttr(b, 'name') ?? ''),
      }));
    const hostModel = hostModelFromQemuExpansion({ name: 'base', props }, models);
    expect(qemuCpuArg(hostModel)).toBe(argOf('cpu-host-model-kvm'));
  });
});

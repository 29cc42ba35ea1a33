import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CpuDef, type CpuFeaturePolicy } from '../../src/conf/cpu.js';
import { baselineCpu, compareCpu, resolveGuestCpu, x86Database } from '../../src/cpu/index.js';
import { VirError } from '../../src/errors.js';

const HOST = CpuDef.fromXML(`<cpu>
  <arch>x86_64</arch>
  <model>Penryn</model>
  <vendor>Intel</vendor>
  <feature name='vmx'/>
  <feature name='ht'/>
  <feature name='invtsc'/>
</cpu>`);

const guest = (xml: string) => CpuDef.fromXML(xml);

describe('resolveGuestCpu', () => {
  it('explains every feature: model, explicit policy, match default', () => {
    const r = resolveGuestCpu(
      guest(`<cpu mode='custom' match='exact'><model>Penryn</model>
        <feature policy='optional' name='vmx'/><feature policy='disable' name='sse4.1'/>
        <feature policy='force' name='avx'/></cpu>`),
      HOST,
    );
    const by = new Map(r.features.map((f) => [f.name, f]));
    expect(r.model).toBe('Penryn');
    expect(by.get('fpu')).toMatchObject({ enabled: true, policy: 'require', source: 'model', onHost: true });
    expect(by.get('vmx')).toMatchObject({
      enabled: true,
      policy: 'optional',
      source: 'explicit',
      onHost: true,
    });
    expect(by.get('sse4.1')).toMatchObject({ enabled: false, policy: 'disable', source: 'explicit' });
    expect(by.get('avx')).toMatchObject({ enabled: true, policy: 'force', onHost: false });
    // A host extra outside the model under match='exact' defaults to disable.
    expect(by.get('ht')).toMatchObject({ enabled: false, policy: 'disable', source: 'match' });
    expect(by.get('ht')?.reason).toContain("match='exact'");
    expect(r.violations).toEqual([]);
    expect(r.cpu.features?.find((f) => f.name === 'vmx')?.policy).toBe('require');
  });

  it('uses minimum → optional (host extras on) and strict → forbid (a violation)', () => {
    const min = resolveGuestCpu(guest(`<cpu match='minimum'><model>Penryn</model></cpu>`), HOST);
    expect(min.features.find((f) => f.name === 'ht')?.enabled).toBe(true);
    expect(() => resolveGuestCpu(guest(`<cpu match='strict'><model>Penryn</model></cpu>`), HOST)).toThrow(
      /ht \(forbidden/,
    );
  });

  it('throws CPU_INCOMPATIBLE naming required features the host lacks, unless check=none or asked not to', () => {
    const cpu = guest(`<cpu mode='custom' match='exact'><model>Penryn</model><feature name='avx'/></cpu>`);
    try {
      resolveGuestCpu(cpu, HOST);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(VirError);
      expect((err as VirError).code).toBe('CPU_INCOMPATIBLE');
      expect((err as VirError).message).toContain('avx');
    }
    const r = resolveGuestCpu(cpu, HOST, { allowViolations: true });
    expect(r.violations).toEqual([
      { feature: 'avx', policy: 'require', problem: 'required but the host lacks it' },
    ]);
    cpu.check = 'none';
    expect(resolveGuestCpu(cpu, HOST).violations).toHaveLength(1);
  });

  it('turns optional into require for an outgoing migration and flags non-migratable features', () => {
    const cpu = guest(`<cpu mode='custom' match='exact'><model>Penryn</model>
      <feature policy='optional' name='avx'/><feature policy='require' name='invtsc'/></cpu>`);
    const r = resolveGuestCpu(cpu, HOST, { migration: true, allowViolations: true });
    const avx = r.features.find((f) => f.name === 'avx');
    expect(avx).toMatchObject({ policy: 'require', requested: 'optional', enabled: true });
    expect(r.violations.map((v) => v.feature).sort()).toEqual(['avx', 'invtsc']);
  });

  it('fills host-model from the host and passes the host through', () => {
    const hm = resolveGuestCpu(guest(`<cpu mode='host-model'/>`), HOST);
    expect(hm.model).toBe('Penryn');
    expect(hm.features.find((f) => f.name === 'vmx')).toMatchObject({ enabled: true, source: 'host' });
    const pt = resolveGuestCpu(
      guest(`<cpu mode='host-passthrough'><feature policy='disable' name='vmx'/></cpu>`),
      HOST,
    );
    expect(pt.model).toBeUndefined();
    expect(pt.features.find((f) => f.name === 'vmx')?.enabled).toBe(false);
    expect(pt.features.find((f) => f.name === 'ht')?.enabled).toBe(true);
  });

  it('reports hypervisor blockers of the model unless the guest disables them', () => {
    const models = [{ name: 'Penryn', blockers: ['sse4.1', 'ssse3'] }];
    const cpu = guest(
      `<cpu match='exact'><model>Penryn</model><feature policy='disable' name='ssse3'/></cpu>`,
    );
    const r = resolveGuestCpu(cpu, HOST, { models, allowViolations: true });
    expect(r.violations).toEqual([
      { feature: 'sse4.1', policy: 'require', problem: 'the hypervisor cannot provide it with model Penryn' },
    ]);
    expect(() => resolveGuestCpu(cpu, HOST, { models })).toThrow(/sse4\.1/);
  });

  it('translates to the hypervisor models and rejects bad input', () => {
    const r = resolveGuestCpu(guest(`<cpu match='exact'><model>Penryn</model></cpu>`), HOST, {
      models: ['core2duo', 'qemu64'],
      allowViolations: true,
    });
    expect(['core2duo', 'qemu64']).toContain(r.model);
    expect(() => resolveGuestCpu(HOST, HOST)).toThrow(/guest CPU/);
    expect(() => resolveGuestCpu(guest(`<cpu match='exact'><model>Nope</model></cpu>`), HOST)).toThrow(
      VirError,
    );
    expect(() =>
      resolveGuestCpu(
        guest(`<cpu match='exact'><model>Penryn</model></cpu>`),
        new CpuDef({ arch: 'x86_64' }),
      ),
    ).toThrow(/host/);
  });
});

describe('CPU engine properties', () => {
  const db = x86Database();
  const hostModels = db.models.filter(
    (m) => m.decodeHost && (m.vendor === undefined || m.vendor === 'Intel'),
  );
  const featureNames = db.features.map((f) => f.name);
  const hostArb = fc
    .record({
      model: fc.constantFrom(...hostModels.map((m) => m.name)),
      extra: fc.uniqueArray(fc.constantFrom(...featureNames), { maxLength: 12 }),
    })
    .map(
      ({ model, extra }) =>
        new CpuDef({
          arch: 'x86_64',
          model: { name: model },
          vendor: 'Intel',
          features: extra.map((name) => ({ name })),
        }),
    );
  const policies: CpuFeaturePolicy[] = ['force', 'require', 'optional', 'disable', 'forbid'];

  it('compare is reflexive', () => {
    fc.assert(
      fc.property(hostArb, (h) => compareCpu(h, h).result === 'IDENTICAL'),
      { numRuns: 200 },
    );
  });

  it('every input compares SUPERSET or IDENTICAL against the baseline', () => {
    fc.assert(
      fc.property(fc.array(hostArb, { minLength: 1, maxLength: 6 }), (hosts) => {
        const b = baselineCpu(hosts);
        for (const h of hosts) expect(['IDENTICAL', 'SUPERSET']).toContain(compareCpu(h, b).result);
      }),
      { numRuns: 100 },
    );
  });

  it('resolution does not depend on feature order; disable/forbid never leave a feature on', () => {
    const guestArb = fc.record({
      model: fc.constantFrom('Penryn', 'Nehalem', 'Haswell', 'qemu64'),
      match: fc.constantFrom('minimum' as const, 'exact' as const, 'strict' as const),
      features: fc.uniqueArray(
        fc.record({ name: fc.constantFrom(...featureNames), policy: fc.constantFrom(...policies) }),
        { maxLength: 10, selector: (f) => f.name },
      ),
    });
    fc.assert(
      fc.property(guestArb, hostArb, fc.boolean(), (g, h, migration) => {
        const cpu = new CpuDef({
          mode: 'custom',
          match: g.match,
          model: { name: g.model },
          features: g.features,
        });
        const reversed = new CpuDef({ ...cpu, features: [...g.features].reverse() });
        const opts = { allowViolations: true, migration };
        const a = resolveGuestCpu(cpu, h, opts);
        const b = resolveGuestCpu(reversed, h, opts);
        const summary = (r: typeof a) => r.features.map((f) => `${f.name}:${f.enabled}:${f.policy}`);
        expect(summary(b)).toEqual(summary(a));
        for (const f of a.features) {
          if (f.policy === 'disable' || f.policy === 'forbid') expect(f.enabled).toBe(false);
        }
      }),
      { numRuns: 150 },
    );
  });
});

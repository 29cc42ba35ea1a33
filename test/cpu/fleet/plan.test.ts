/**
 * planFleet against libvirt's data: the cputest host CPUs (45 real hosts,
 * decoded from CPUID) and guests, the compare cases' expected results, the
 * domain capabilities of the probes (host-model CPU, usable models and
 * QEMU's blockers) and hosts whose capabilities lack a CPU model; plus the
 * properties the issue names (start ⇔ compare/resolve, a group's baseline
 * starts on every member, migration refused when the destination lacks a
 * feature the running guest has).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CpuDef } from '../../../src/conf/cpu.js';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { DomainCapabilities } from '../../../src/conf/domaincaps.js';
import { compareCpu, expandCpuFeatures, planFleet, resolveGuestCpu } from '../../../src/cpu/index.js';
import { VirError } from '../../../src/errors.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';

const CASES = join(SHARED_DIR, 'cpu/cases');
const read = (...p: string[]) => readFileSync(join(...p), 'utf8');

function cpuidHosts(): { name: string; cpu: CpuDef }[] {
  return readdirSync(CASES)
    .filter((f) => /^x86_64-cpuid-.*-host\.xml$/.test(f))
    .sort()
    .map((f) => ({
      name: f.replace(/^x86_64-cpuid-|-host\.xml$/g, ''),
      cpu: CpuDef.fromXML(read(CASES, f)),
    }));
}

function cpuidGuests(): { name: string; guest: CpuDef }[] {
  return readdirSync(CASES)
    .filter((f) => /^x86_64-cpuid-.*-guest\.xml$/.test(f))
    .sort()
    .map((f) => ({
      name: f.replace(/^x86_64-cpuid-|-guest\.xml$/g, ''),
      guest: CpuDef.fromXML(read(CASES, f)),
    }));
}

interface CpuCase {
  kind: string;
  name: string;
  host: string | null;
  cpu: string | string[] | null;
  expected: string;
}

describe.skipIf(!HAS_SHARED)(`planFleet on libvirt's CPU data${SHARED_NOTE}`, () => {
  const hosts = HAS_SHARED ? cpuidHosts() : [];
  const guests = HAS_SHARED ? cpuidGuests() : [];

  it('has the 45 real host CPUs', () => {
    expect(hosts.length).toBe(45);
    expect(guests.length).toBe(45);
  });

  it("agrees with libvirt's expected compare results", () => {
    const cases = (JSON.parse(read(SHARED_DIR, 'cpu/cases.json')) as CpuCase[]).filter(
      (c) => c.kind === 'compare' && typeof c.cpu === 'string',
    );
    expect(cases.length).toBeGreaterThan(20);
    for (const c of cases) {
      const host = { name: 'h', cpu: read(CASES, `x86_64-${c.host}.xml`) };
      const guest = read(CASES, `x86_64-${c.cpu}.xml`);
      if (c.expected === 'ERROR') {
        expect(() => planFleet({ hosts: [host], guests: [guest] }), c.name).toThrow(VirError);
        continue;
      }
      const cell = planFleet({ hosts: [host], guests: [guest] }).guests[0]?.cells[0];
      expect(cell?.canStart.ok, `${c.name}: ${JSON.stringify(cell?.canStart.blockers)}`).toBe(
        c.expected !== 'INCOMPATIBLE',
      );
    }
  });

  it('canStart on a bare host CPU exactly when compareCpu and resolveGuestCpu say it fits', () => {
    const plan = planFleet({ hosts, guests, options: { whatIf: false } });
    let fits = 0;
    for (const [gi, g] of plan.guests.entries()) {
      const guest = guests[gi]?.guest as CpuDef;
      for (const [hi, cell] of g.cells.entries()) {
        const host = hosts[hi]?.cpu as CpuDef;
        const compare = compareCpu(host, guest).result !== 'INCOMPATIBLE';
        const resolved = resolveGuestCpu(guest, host, { allowViolations: true }).violations.length === 0;
        expect(cell.canStart.ok, `${g.name} on ${cell.host}`).toBe(compare);
        expect(cell.canStart.ok, `${g.name} on ${cell.host} (resolve)`).toBe(resolved);
        if (cell.canStart.ok) fits++;
        else {
          // the blockers name exactly the features compare finds missing
          const out = compareCpu(host, guest);
          if (out.reason === 'host CPU does not provide required features') {
            const named = cell.canStart.blockers.filter((b) => b.kind === 'missing').map((b) => b.feature);
            expect(named.sort()).toEqual([...(out.features ?? [])].sort());
          }
        }
      }
    }
    // every CPU runs on its own host at least
    expect(fits).toBeGreaterThanOrEqual(45);
  });

  it('refuses a migration whenever the destination lacks a feature the running guest has', () => {
    const plan = planFleet({ hosts, guests, options: { whatIf: false } });
    let refused = 0;
    const offers = hosts.map((h) => new Set((expandCpuFeatures(h.cpu).features ?? []).map((f) => f.name)));
    for (const [gi, g] of plan.guests.entries()) {
      const source = hosts.find((h) => h.name === g.source);
      if (!source) continue;
      const running = resolveGuestCpu(guests[gi]?.guest as CpuDef, source.cpu, {
        migration: true,
        allowViolations: true,
      });
      const enabled = running.features.filter((f) => f.enabled).map((f) => f.name);
      for (const [hi, cell] of g.cells.entries()) {
        const lacking = enabled.filter((f) => !offers[hi]?.has(f));
        if (lacking.length > 0) {
          expect(cell.canReceiveMigration.ok, `${g.name} → ${cell.host}`).toBe(false);
          const named = cell.canReceiveMigration.blockers.map((b) => b.feature);
          for (const f of lacking) expect(named).toContain(f);
          refused++;
        }
      }
    }
    expect(refused).toBeGreaterThan(100);
  });

  it("a group's migratable baseline starts on every member, and so does its best model", () => {
    const plan = planFleet({ hosts, guests: [], options: { whatIf: false } });
    expect(plan.groups.map((g) => g.name).sort()).toEqual(['x86_64/AMD', 'x86_64/Hygon', 'x86_64/Intel']);
    for (const group of plan.groups) {
      expect(group.error).toBeUndefined();
      const baseline = group.baseline as CpuDef;
      const members = hosts.filter((h) => group.hosts.includes(h.name));
      const check = planFleet({
        hosts: members,
        guests: [baseline, `<cpu mode='custom' match='exact'><model>${group.bestModel}</model></cpu>`],
      });
      for (const g of check.guests) {
        for (const c of g.cells) expect(c.canStart.ok, `${g.name} of ${group.name} on ${c.host}`).toBe(true);
      }
      // migratable: no feature that blocks migration
      expect((baseline.features ?? []).map((f) => f.name)).not.toContain('invtsc');
    }
  });

  it('takes the hypervisor view from domain capabilities: host-model, usable models, blockers', () => {
    const file = join(SHARED_DIR, 'domaincaps/qemu_10.0.0.x86_64.xml');
    const domcaps = DomainCapabilities.fromXML(read(file));
    const custom = domcaps.cpuMode('custom')?.models ?? [];
    const blocked = custom.find(
      (m) => m.usable === 'no' && /-v\d+$/.test(m.name) && (m.blockers?.length ?? 0) > 0,
    );
    const usable = custom.find((m) => m.usable === 'yes');
    expect(blocked && usable).toBeTruthy();
    const plan = planFleet({
      hosts: [{ name: 'q', domainCapabilities: read(file) }],
      guests: [
        "<cpu mode='host-model'/>",
        "<cpu mode='host-passthrough'/>",
        `<cpu mode='custom' match='exact'><model>${usable?.name}</model></cpu>`,
        `<cpu mode='custom' match='exact'><model>${blocked?.name}</model></cpu>`,
      ],
    });
    const [hostModel, passthrough, good, bad] = plan.guests.map((g) => g.cells[0]);
    expect(plan.hosts[0]?.hostModel).toBe(domcaps.cpuMode('host-model')?.models?.[0]?.name);
    expect(hostModel?.canStart.ok).toBe(true);
    expect(passthrough?.canStart.ok).toBe(true);
    expect(good?.canStart.ok).toBe(true);
    expect(bad?.canStart.ok).toBe(false);
    // a versioned model takes QEMU's word: its blockers are the ones the domain capabilities list
    const named = (bad?.canStart.blockers ?? []).filter((b) => b.kind === 'hypervisor').map((b) => b.feature);
    expect(named.sort()).toEqual([...(blocked?.blockers ?? [])].filter((f) => named.includes(f)).sort());
    expect(named.length).toBeGreaterThan(0);
  });

  it('reports a host whose capabilities lack a CPU model, and one of another architecture', () => {
    const plan = planFleet({
      hosts: [
        { name: 'bare', capabilities: read(SHARED_DIR, 'hostcaps/vircaps-x86_64-basic.xml') },
        { name: 'arm', capabilities: read(SHARED_DIR, 'hostcaps/vircaps-aarch64-basic.xml') },
        { name: 'real', cpu: hosts[0]?.cpu as CpuDef },
      ],
      guests: ["<cpu mode='custom' match='exact'><model>pentium3</model></cpu>"],
    });
    expect(plan.hosts[0]?.problems.join()).toMatch(/no model/);
    const [bare, arm, real] = plan.guests[0]?.cells ?? [];
    expect(bare?.canStart.blockers[0]?.kind).toBe('host-cpu');
    expect(arm?.canStart.ok).toBe(false);
    expect(real?.canStart.ok).toBe(true);
    expect(plan.groups.map((g) => g.name)).toEqual(['x86_64/Intel']);
  });
});

describe('planFleet rules', () => {
  const HOST_A =
    "<cpu><arch>x86_64</arch><model>Haswell</model><vendor>Intel</vendor><feature name='invtsc'/></cpu>";
  const HOST_B = '<cpu><arch>x86_64</arch><model>SandyBridge</model><vendor>Intel</vendor></cpu>';
  const hosts = [
    { name: 'a', cpu: HOST_A },
    { name: 'b', cpu: HOST_B },
    { name: 'a2', cpu: HOST_A },
  ];

  it("turns the source's optional features into requirements for the migration", () => {
    const guest =
      "<cpu mode='custom' match='exact'><model>SandyBridge</model><feature policy='optional' name='avx2'/></cpu>";
    const fromA = planFleet({ hosts, guests: [{ guest, source: 'a' }] }).guests[0];
    expect(fromA?.cells.map((c) => c.canStart.ok)).toEqual([true, true, true]);
    const toB = fromA?.cells[1]?.canReceiveMigration;
    expect(toB?.ok).toBe(false);
    expect(toB?.from).toBe('a');
    expect(toB?.blockers.map((b) => b.feature)).toEqual(['avx2']);
    expect(toB?.blockers[0]?.reason).toMatch(/optional.*enabled on a/);
    // started where avx2 is absent, it is disabled and the guest can go anywhere
    const fromB = planFleet({ hosts, guests: [{ guest, source: 'b' }] }).guests[0];
    expect(fromB?.cells.map((c) => c.canReceiveMigration.ok)).toEqual([true, true, true]);
  });

  it('moves host-passthrough guests only between identical hosts, and never with invtsc required', () => {
    const plan = planFleet({ hosts, guests: [{ guest: "<cpu mode='host-passthrough'/>", source: 'a' }] });
    const cells = plan.guests[0]?.cells ?? [];
    expect(cells.map((c) => c.canReceiveMigration.ok)).toEqual([true, false, true]);
    expect(cells[1]?.canReceiveMigration.blockers[0]?.kind).toBe('not-identical');
    const tsc = planFleet({
      hosts,
      guests: [
        {
          guest: "<cpu mode='host-passthrough'><feature policy='require' name='invtsc'/></cpu>",
          source: 'a',
        },
      ],
    }).guests[0];
    expect(tsc?.cells[2]?.canReceiveMigration.blockers.map((b) => b.kind)).toEqual(['not-migratable']);
  });

  it('says which hosts a guest would gain by dropping a feature', () => {
    const guest =
      "<cpu mode='custom' match='exact'><model>SandyBridge</model><feature policy='require' name='avx2'/></cpu>";
    const g = planFleet({ hosts, guests: [guest] }).guests[0];
    expect(g?.cells.map((c) => c.canStart.ok)).toEqual([true, false, true]);
    expect(g?.whatIf).toEqual([{ feature: 'avx2', gainsStart: ['b'], gainsMigration: ['b'] }]);
    expect(g?.cells[1]?.canStart.blockers[0]).toEqual({
      kind: 'missing',
      feature: 'avx2',
      reason: "policy 'require', and host b lacks avx2",
    });
  });

  it('serialises verdicts with their blockers', () => {
    const guest = "<cpu mode='custom' match='exact'><model>Haswell</model></cpu>";
    const json = JSON.parse(JSON.stringify(planFleet({ hosts, guests: [guest] })));
    const cell = json.guests[0].cells[1];
    expect(cell.canStart.ok).toBe(false);
    expect(cell.canStart.blockers.map((b: { feature: string }) => b.feature)).toContain('avx2');
    expect(cell.canReceiveMigration.from).toBe('a');
  });

  it('refuses unknown models, features and source hosts with the field at fault', () => {
    const bad = (guest: string, source?: string) => {
      try {
        planFleet({ hosts, guests: [source ? { guest, source } : guest] });
      } catch (err) {
        return err instanceof VirError ? [err.code, err.field] : ['?'];
      }
      return ['no error'];
    };
    expect(bad("<cpu mode='custom'><model>Nope</model></cpu>")).toEqual([
      'INVALID_ARG',
      'guests[1]/cpu/model',
    ]);
    expect(bad("<cpu mode='custom'><model>Haswell</model><feature name='nope'/></cpu>")).toEqual([
      'INVALID_ARG',
      'guests[1]/cpu/feature[1]/@name',
    ]);
    expect(bad("<cpu mode='custom'><model>Haswell</model></cpu>", 'zz')).toEqual([
      'INVALID_ARG',
      'guests[1]/source',
    ]);
    expect(() => planFleet({ hosts: [{ name: 'x' }], guests: [] })).toThrow(/has no capabilities/);
  });

  it('takes domain definitions, with their architecture', () => {
    const dom = (arch: string) =>
      `<domain type='kvm'><name>g-${arch}</name><memory>1024</memory><os><type arch='${arch}'>hvm</type></os><cpu mode='custom' match='exact'><model>Westmere</model></cpu></domain>`;
    const plan = planFleet({ hosts, guests: [DomainDef.fromXML(dom('x86_64')), dom('aarch64')] });
    expect(plan.guests.map((g) => g.name)).toEqual(['g-x86_64', 'g-aarch64']);
    expect(plan.guests[0]?.cells.every((c) => c.canStart.ok)).toBe(true);
    expect(plan.guests[1]?.cells[0]?.canStart.blockers[0]?.kind).toBe('arch');
  });
});

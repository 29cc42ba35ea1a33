import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Connection, connect, DOMAIN_STATS_GROUPS, VirError } from '../../src/index.js';
import { HAS_PYTHON_LIBVIRT, libvirtSteps, type StatsStep, virtkitSteps } from './peer.js';

const URI = 'test:///default';
const SKIP = HAS_PYTHON_LIBVIRT
  ? ''
  : ' (skipped: python3-libvirt is not installed, no libvirt to compare with)';

const SECOND = `<domain type='test'><name>second</name><memory>524288</memory><vcpu>1</vcpu>
<os><type>hvm</type></os><devices><disk type='file' device='disk'><source file='/tmp/second.img'/>
<target dev='vdb' bus='virtio'/></disk></devices></domain>`;

/** Steps whose answers do not depend on the time of day: compared value for value. */
const EXACT: StatsStep[] = [
  { op: 'all' },
  { op: 'all', groups: ['state'] },
  { op: 'all', groups: [...DOMAIN_STATS_GROUPS] },
  { op: 'all', groups: ['cpu-total', 'block'] },
  { op: 'all', groups: ['cpu-total'], flags: ['enforce'] },
  { op: 'all', groups: ['state'], flags: ['enforce'] },
  { op: 'blockInfo', domain: 'test', disk: 'vda' },
  { op: 'blockInfo', domain: 'test', disk: '/guest/diskimage1' },
  { op: 'blockInfo', domain: 'test', disk: 'vdz' },
  { op: 'blockStats', domain: 'test', disk: 'vdz' },
  { op: 'interfaceStats', domain: 'test', device: 'vnet9' },
  { op: 'memoryStats', domain: 'test' },
  { op: 'setMemory', domain: 'test', kib: 1000000 },
  { op: 'memoryStats', domain: 'test' },
  { op: 'define', xml: SECOND },
  { op: 'all', flags: ['active'] },
  { op: 'all', flags: ['inactive'] },
  { op: 'all', flags: ['shutoff'] },
  { op: 'all', flags: ['persistent', 'running'] },
  { op: 'all', domains: ['second'] },
  { op: 'blockInfo', domain: 'second', disk: 'vdb' },
  { op: 'memoryStats', domain: 'second' },
  { op: 'blockStats', domain: 'second', disk: 'vdb' },
  { op: 'interfaceStats', domain: 'second', device: 'vnet0' },
  { op: 'suspend', domain: 'test' },
  { op: 'all', flags: ['paused'] },
  { op: 'destroy', domain: 'test' },
  { op: 'all' },
  { op: 'memoryStats', domain: 'test' },
  { op: 'blockStats', domain: 'test', disk: 'vda' },
  { op: 'interfaceStats', domain: 'test', device: 'testnet0' },
];

/** Counters libvirt's test driver makes from the time of day: ours must fall between two of its readings. */
const TIMED: StatsStep[] = [
  { op: 'blockStats', domain: 'test', disk: 'vda' },
  { op: 'blockStats', domain: 'test', disk: '/guest/diskimage1' },
  { op: 'interfaceStats', domain: 'test', device: 'testnet0' },
  { op: 'interfaceStats', domain: 'test', device: 'aa:bb:cc:dd:ee:ff' },
];

describe("test driver statistics vs libvirt's test driver", () => {
  let conn: Connection;
  beforeEach(async () => {
    conn = await connect(URI);
  });
  afterEach(async () => {
    await conn.close();
  });

  it.skipIf(!HAS_PYTHON_LIBVIRT)(`answers every step as python3-libvirt does${SKIP}`, async () => {
    const theirs = libvirtSteps(URI, EXACT);
    const ours = await virtkitSteps(conn, EXACT);
    for (let i = 0; i < EXACT.length; i++) {
      expect(ours[i], `step ${i}: ${JSON.stringify(EXACT[i]).slice(0, 120)}`).toEqual(theirs[i]);
    }
    // the steps reach what matters: the state group, an enforced refusal, the filters
    expect(theirs[0]?.value).toEqual([['test', { 'state.state': 1, 'state.reason': 0 }]]);
    expect(theirs[4]).toEqual({ ok: false, code: 'ARGUMENT_UNSUPPORTED' });
  });

  it.skipIf(!HAS_PYTHON_LIBVIRT)(
    `block and interface counters follow the time of day as libvirt makes them${SKIP}`,
    async () => {
      const before = libvirtSteps(URI, TIMED);
      const ours = await virtkitSteps(conn, TIMED);
      const after = libvirtSteps(URI, TIMED);
      for (let i = 0; i < TIMED.length; i++) {
        const lo = before[i]?.value as Record<string, number>;
        const hi = after[i]?.value as Record<string, number>;
        const mine = ours[i]?.value as Record<string, number>;
        expect(Object.keys(mine).sort(), `step ${i}`).toEqual(Object.keys(lo).sort());
        for (const k of Object.keys(lo)) {
          expect(mine[k], `step ${i} ${k}`).toBeGreaterThanOrEqual(lo[k] as number);
          expect(mine[k], `step ${i} ${k}`).toBeLessThanOrEqual(hi[k] as number);
        }
      }
    },
  );

  it('types the record by group and keeps the flat form', async () => {
    const dom = await conn.lookupDomain('test');
    const r = await dom.getStats({ groups: ['state'] });
    expect(r.domain).toBe(dom);
    // running (1), reason unknown (0): test:///default's domain as libvirt reports it
    expect(r.params).toEqual({ 'state.state': 1, 'state.reason': 0 });
    expect(r.stats).toEqual({ state: { state: 1, reason: 0 } });
    await dom.suspend();
    expect((await dom.getStats()).stats.state).toEqual({ state: 3, reason: 1 });
  });

  it('refuses a group that does not exist, naming it', async () => {
    const dom = await conn.lookupDomain('test');
    const err = await dom.getStats({ groups: ['state', 'cpu' as 'state'] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VirError);
    expect(err).toMatchObject({ code: 'INVALID_ARG', field: 'groups[1]' });
    expect((err as VirError).message).toContain("'cpu'");
    await expect(conn.getAllDomainStats(undefined, { groups: ['nope' as 'state'] })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'groups[0]',
    });
    await expect(conn.getAllDomainStats([dom], { active: true })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'active',
    });
    await expect(dom.getBlockInfo('')).rejects.toMatchObject({ code: 'INVALID_ARG', field: 'disk' });
    await expect(dom.getInterfaceStats('nope')).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'device',
    });
  });
});

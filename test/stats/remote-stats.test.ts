import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect, DOMAIN_STATS_GROUPS } from '../../src/index.js';
import { type Daemon, LIBVIRTD, PYTHON_LIBVIRT, startLibvirtd } from '../drivers/remote/libvirtd.js';
import { libvirtSteps, type StatsStep, virtkitSteps } from './peer.js';

const READY = Boolean(LIBVIRTD && PYTHON_LIBVIRT);
const SKIP = READY ? '' : ' (skipped: needs libvirtd and python3-libvirt)';

/** Steps that change nothing on the daemon, so both clients see the same host. */
const STEPS: StatsStep[] = [
  { op: 'all' },
  { op: 'all', groups: [...DOMAIN_STATS_GROUPS] },
  { op: 'all', groups: ['state', 'balloon'] },
  { op: 'all', groups: ['vcpu'], flags: ['enforce'] },
  { op: 'all', flags: ['active'] },
  { op: 'all', flags: ['inactive'] },
  { op: 'all', flags: ['persistent', 'running', 'paused'] },
  { op: 'all', domains: ['test'] },
  { op: 'blockInfo', domain: 'test', disk: 'vda' },
  { op: 'blockInfo', domain: 'test', disk: 'vdq' },
  { op: 'blockStats', domain: 'test', disk: 'vdq' },
  { op: 'interfaceStats', domain: 'test', device: 'vnet7' },
  { op: 'memoryStats', domain: 'test' },
];

const TIMED: StatsStep[] = [
  { op: 'blockStats', domain: 'test', disk: 'vda' },
  { op: 'interfaceStats', domain: 'test', device: 'testnet0' },
];

describe.skipIf(!READY)(`remote driver statistics vs python3-libvirt on the same libvirtd${SKIP}`, () => {
  let daemon: Daemon;
  let conn: Connection;
  beforeAll(async () => {
    daemon = await startLibvirtd();
    conn = await connect(daemon.unixUri);
  }, 60_000);
  afterAll(async () => {
    await conn?.close();
    await daemon?.stop();
  });

  it('same records, errors and per-device answers', async () => {
    const theirs = libvirtSteps(daemon.unixUri, STEPS);
    const ours = await virtkitSteps(conn, STEPS);
    for (let i = 0; i < STEPS.length; i++) {
      expect(ours[i], `step ${i}: ${JSON.stringify(STEPS[i])}`).toEqual(theirs[i]);
    }
    expect(theirs[3]).toEqual({ ok: false, code: 'ARGUMENT_UNSUPPORTED' });
    expect(theirs[9]).toEqual({ ok: false, code: 'INVALID_ARG' });
  });

  it('time-of-day counters fall between two readings of python3-libvirt', async () => {
    const before = libvirtSteps(daemon.unixUri, TIMED);
    const ours = await virtkitSteps(conn, TIMED);
    const after = libvirtSteps(daemon.unixUri, TIMED);
    for (let i = 0; i < TIMED.length; i++) {
      const lo = before[i]?.value as Record<string, number>;
      const hi = after[i]?.value as Record<string, number>;
      const mine = ours[i]?.value as Record<string, number>;
      expect(Object.keys(mine).sort()).toEqual(Object.keys(lo).sort());
      for (const k of Object.keys(lo)) {
        expect(mine[k], k).toBeGreaterThanOrEqual(lo[k] as number);
        expect(mine[k], k).toBeLessThanOrEqual(hi[k] as number);
      }
    }
  });

  it('types the record from the daemon parameters', async () => {
    const dom = await conn.lookupDomain('test');
    const r = await dom.getStats({ groups: ['state'] });
    expect(r.stats.state).toEqual({
      state: Number(r.params['state.state']),
      reason: Number(r.params['state.reason']),
    });
    expect(r.params['state.state']).toBe(1);
  });
});

/**
 * The typed record derived from libvirt's flat parameters: the input is a
 * record libvirt 9.0's QEMU driver returned for a TCG guest (two disks, a
 * balloon, user networking), captured through python3-libvirt.
 */
import { describe, expect, it } from 'vitest';
import { typedStats } from '../../src/stats-args.js';

const LIBVIRT_RECORD = {
  'state.state': 1,
  'state.reason': 1,
  'cpu.time': 460000000,
  'cpu.user': 200000000,
  'cpu.system': 260000000,
  'cpu.cache.monitor.count': 0,
  'cpu.haltpoll.success.time': 0,
  'balloon.current': 65536,
  'balloon.maximum': 65536,
  'balloon.last-update': 0,
  'balloon.rss': 45964,
  'vcpu.current': 2,
  'vcpu.maximum': 2,
  'vcpu.0.state': 1,
  'vcpu.0.time': 120000000,
  'vcpu.0.wait': 0,
  'vcpu.0.delay': 197162810,
  'vcpu.1.state': 1,
  'vcpu.1.time': 0,
  'net.count': 1,
  'block.count': 2,
  'block.0.name': 'vda',
  'block.0.path': '/img/raw.img',
  'block.0.backingIndex': 2,
  'block.0.rd.reqs': 1,
  'block.0.rd.bytes': 512,
  'block.0.rd.times': 7066901,
  'block.0.fl.reqs': 0,
  'block.0.allocation': 0,
  'block.0.capacity': 4194304,
  'block.0.physical': 4096,
  'block.1.name': 'vdb',
  'block.1.capacity': 67108864,
  'dirtyrate.calc_status': 0,
  'dirtyrate.calc_mode': 'page-sampling',
};

describe('typed statistics from libvirt parameters', () => {
  it('groups every key under its libvirt group', () => {
    const s = typedStats(LIBVIRT_RECORD);
    expect(s.state).toEqual({ state: 1, reason: 1 });
    expect(s['cpu-total']).toEqual({
      time: 460000000,
      user: 200000000,
      system: 260000000,
      other: { 'cache.monitor.count': 0, 'haltpoll.success.time': 0 },
    });
    expect(s.balloon).toEqual({ current: 65536, maximum: 65536, other: { 'last-update': 0, rss: 45964 } });
    expect(s.vcpu).toEqual({
      current: 2,
      maximum: 2,
      vcpus: [
        { index: 0, state: 1, time: 120000000, wait: 0, delay: 197162810, other: {} },
        { index: 1, state: 1, time: 0, other: {} },
      ],
    });
    expect(s.interface).toEqual([{}]); // one interface (user networking), no figures
    expect(s.block).toEqual([
      {
        name: 'vda',
        path: '/img/raw.img',
        backingIndex: 2,
        rdReqs: 1,
        rdBytes: 512,
        rdTimes: 7066901,
        flReqs: 0,
        allocation: 0,
        capacity: 4194304,
        physical: 4096,
      },
      { name: 'vdb', capacity: 67108864 },
    ]);
    expect(s.dirtyrate).toEqual({ calc_status: 0, calc_mode: 'page-sampling' });
    expect(s.vm).toBeUndefined();
  });

  it('reads interface entries and leaves absent groups out', () => {
    const s = typedStats({ 'net.count': 1, 'net.0.name': 'vnet0', 'net.0.rx.bytes': 10, 'net.0.tx.drop': 0 });
    expect(s.interface).toEqual([{ name: 'vnet0', rxBytes: 10, txDrop: 0 }]);
    expect(Object.keys(s)).toEqual(['interface']);
  });
});

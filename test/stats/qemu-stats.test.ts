/**
 * Statistics of a real QEMU guest (TCG, no OS: SeaBIOS reads the boot disk
 * and waits), checked against the host's own tools: qemu-img for image
 * sizes, /proc for CPU time and resident memory.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect, type Domain } from '../../src/index.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../drivers/qemu-lifecycle/helpers.js';

const QEMU_IMG = '/usr/bin/qemu-img';

function imgInfo(path: string): { 'virtual-size': number; 'actual-size': number } {
  return JSON.parse(execFileSync(QEMU_IMG, ['info', '-U', '--output=json', path], { encoding: 'utf8' }));
}

function procCpuNs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(f[11]) + Number(f[12])) * 1e7;
}

describe.skipIf(!HAS_QEMU)(`QEMU driver statistics on a running TCG guest${QEMU_NOTE}`, () => {
  let roots: TestRoots;
  let conn: Connection;
  let dom: Domain<Connection>;
  let raw: string;
  let qcow: string;

  beforeAll(async () => {
    roots = tempRoots('vk-stats-');
    raw = join(roots.path, 'raw.img');
    qcow = join(roots.path, 'disk.qcow2');
    execFileSync(QEMU_IMG, ['create', '-q', '-f', 'raw', raw, '4M']);
    execFileSync(QEMU_IMG, ['create', '-q', '-f', 'qcow2', qcow, '64M']);
    conn = await connect('qemu:///session', {
      driverOptions: {
        runDir: join(roots.path, 'run'),
        stateDir: join(roots.path, 'state'),
        configDir: join(roots.path, 'config'),
        logDir: join(roots.path, 'log'),
        cacheDir: join(roots.path, 'cache'),
        emulators: [QEMU_BINARY],
      },
    });
    dom = await conn.defineDomain(`<domain type='qemu'>
  <name>stats</name>
  <memory unit='MiB'>64</memory>
  <vcpu>2</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${raw}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${qcow}'/><target dev='vdb' bus='virtio'/></disk>
    <interface type='user'><mac address='52:54:00:aa:bb:01'/><model type='virtio'/></interface>
    <memballoon model='virtio'/>
  </devices>
</domain>`);
  }, 120_000);

  afterAll(async () => {
    await dom?.destroy().catch(() => {});
    await conn?.close();
    for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
    roots?.remove();
  });

  it('gives an inactive domain its state and definition figures only', async () => {
    const { params, stats } = await dom.getStats();
    expect(params['state.state']).toBe(5); // shutoff
    expect(stats.balloon).toMatchObject({ current: 65536, maximum: 65536 });
    expect(params['cpu.time']).toBeUndefined();
    await expect(dom.getMemoryStats()).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
    await expect(dom.getBlockStats('vda')).rejects.toMatchObject({ code: 'OPERATION_INVALID' });
    // libvirt answers block info of an inactive domain from the image
    expect(await dom.getBlockInfo('vdb')).toMatchObject({ capacity: 64 * 1024 * 1024 });
  });

  it('reads every group of a running guest, leaving out what the host cannot see', async () => {
    await dom.start();
    await new Promise((r) => setTimeout(r, 500));
    const [before] = await conn.getAllDomainStats([dom]);
    const pid = qemuProcessesMentioning(roots.path)[0] as number;
    if (!before) throw new Error('no record for the domain');
    const { params, stats } = before;
    expect(params['state.state']).toBe(1);
    expect(params['state.reason']).toBe(1); // booted
    const cpu = stats['cpu-total'];
    expect(cpu?.time).toBe((cpu?.user ?? 0) + (cpu?.system ?? 0));
    expect(cpu?.time).toBeGreaterThan(0);
    expect(cpu?.time).toBeLessThanOrEqual(procCpuNs(pid));
    expect(stats.vcpu).toMatchObject({ current: 2, maximum: 2 });
    expect(stats.vcpu?.vcpus.map((v) => [v.index, v.state])).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(typeof stats.vcpu?.vcpus[0]?.time).toBe('number');
    expect(stats.balloon).toMatchObject({ current: 65536, maximum: 65536 });
    expect(stats.balloon?.other.rss).toBeGreaterThan(0);
    // no balloon driver in the guest: no guest figures, and none invented
    expect(stats.balloon?.other.swap_in).toBeUndefined();
    // user networking has no host device: the interface is counted, its counters are absent
    expect(params['net.count']).toBe(1);
    expect(Object.keys(params).filter((k) => k.startsWith('net.0.'))).toEqual([]);
    expect(params['block.count']).toBe(2);
    expect(stats.block?.map((b) => [b.name, b.path])).toEqual([
      ['vda', raw],
      ['vdb', qcow],
    ]);
    expect(stats.block?.[1]?.capacity).toBe(imgInfo(qcow)['virtual-size']);
    expect(typeof stats.block?.[0]?.rdReqs).toBe('number');
    expect(typeof stats.block?.[0]?.wrBytes).toBe('number');
    // flat keys are libvirt's
    expect(Object.keys(params)).toEqual(
      expect.arrayContaining([
        'cpu.time',
        'vcpu.0.time',
        'balloon.current',
        'block.0.rd.bytes',
        'block.1.capacity',
      ]),
    );
    // counters only grow
    const later = (await dom.getStats({ groups: ['cpu-total', 'block'] })).params;
    expect(later['cpu.time']).toBeGreaterThanOrEqual(params['cpu.time'] as number);
    expect(later['block.0.rd.reqs']).toBeGreaterThanOrEqual(params['block.0.rd.reqs'] as number);
    expect(Object.keys(later).some((k) => k.startsWith('vcpu.'))).toBe(false);
  }, 60_000);

  it('answers the per-device calls as the host tools see the images', async () => {
    for (const [disk, path] of [
      ['vda', raw],
      ['vdb', qcow],
      [qcow, qcow],
    ] as const) {
      const info = await dom.getBlockInfo(disk);
      const img = imgInfo(path);
      expect(info.capacity, disk).toBe(img['virtual-size']);
      expect(info.allocation, disk).toBe(img['actual-size']);
    }
    const bs = await dom.getBlockStats('vda');
    expect(Object.keys(bs).sort()).toEqual(['rdBytes', 'rdReq', 'wrBytes', 'wrReq']);
    await expect(dom.getBlockStats('vdz')).rejects.toMatchObject({ code: 'INVALID_ARG', field: 'disk' });
    await expect(dom.getInterfaceStats('52:54:00:aa:bb:01')).rejects.toMatchObject({
      code: 'OPERATION_UNSUPPORTED',
      field: 'device',
    });
    await expect(dom.getInterfaceStats('vnet42')).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'device',
    });
    const mem = await dom.getMemoryStats();
    expect(mem.actual).toBe(65536);
    expect(mem.rss).toBeGreaterThan(0);
    expect(mem.swapIn).toBeUndefined();
    expect(mem.lastUpdate).toBe(0); // the guest's balloon driver never reported
  });

  it('perf and memory are empty for a guest with no perf events and no resctrl monitors, as libvirt', async () => {
    const rec = await dom.getStats({ groups: ['perf', 'memory'], enforce: true });
    expect(rec.params).toEqual({});
  });

  it('dirtyrate: a calculation QEMU measured, as its own query-dirty-rate reports it', async () => {
    await dom.qemuMonitorCommand({ execute: 'calc-dirty-rate', arguments: { 'calc-time': 1 } });
    let q: { status: string; 'start-time': number; 'calc-time': number; 'dirty-rate'?: number; mode: string };
    for (;;) {
      q = ((await dom.qemuMonitorCommand({ execute: 'query-dirty-rate' })) as { return: typeof q }).return;
      if (q.status === 'measured') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const rec = await dom.getStats({ groups: ['dirtyrate'], enforce: true });
    expect(rec.params).toEqual({
      'dirtyrate.calc_status': 2,
      'dirtyrate.calc_start_time': q['start-time'],
      'dirtyrate.calc_period': q['calc-time'],
      'dirtyrate.calc_mode': q.mode,
      'dirtyrate.megabytes_per_second': q['dirty-rate'],
    });
  });

  it('refuses unknown groups; backing asked of images without one is the same records', async () => {
    // neither disk has a backing image: the flag adds no record (qemu-backing-stats.test.ts has chains)
    const withBacking = await dom.getStats({ groups: ['block'], backing: true });
    expect(withBacking.params['block.count']).toBe(2);
    expect(Object.keys(withBacking.params).filter((k) => k.startsWith('block.2.'))).toEqual([]);
    await expect(dom.getStats({ groups: ['bogus' as 'vm'] })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'groups[0]',
    });
    const filtered = await conn.getAllDomainStats(undefined, { groups: ['state'], state: ['paused'] });
    expect(filtered).toEqual([]);
  });
});

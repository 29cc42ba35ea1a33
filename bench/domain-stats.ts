/**
 * Domain statistics, the call a management UI polls: `getAllDomainStats`
 * (every group) for 1, 20 and 100 running guests on the test driver, beside
 * python3-libvirt's `getAllDomainStats()` on libvirt's own test driver in
 * the same run; and the per-poll cost for 5 real diskless TCG guests on
 * qemu:///session (wall time per poll and Node CPU time per poll, which is
 * what 100 guests polled every second would load the process with).
 */
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/connection.js';
import { type BenchRow, measure, pythonMedianUs, row } from './harness.js';

const QEMU = process.env.VIRTKIT_BENCH_QEMU ?? '/usr/bin/qemu-system-x86_64';
const testXml = (i: number) =>
  `<domain type='test'><name>stats-${i}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;

export async function run(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const n of [1, 20, 100]) rows.push(await testDriver(n));
  rows.push(...(await qemuGuests(5)));
  return rows;
}

async function testDriver(n: number): Promise<BenchRow> {
  const conn = await connect('test:///default');
  for (let i = 1; i < n; i++) await (await conn.defineDomain(testXml(i))).start();
  const us = await measure(() => conn.getAllDomainStats(), { iterations: 500 });
  await conn.close();
  const peerUs = pythonMedianUs(
    `c = libvirt.open('test:///default')
for i in range(1, ${n}):
    c.defineXML(${JSON.stringify(testXml(0).replace('stats-0', 'stats-%d'))} % i).create()`,
    'c.getAllDomainStats()',
    1000,
  );
  return row(`getAllDomainStats, ${n} test-driver guest${n > 1 ? 's' : ''} (all groups)`, us, {
    name: 'python3-libvirt test:///default',
    us: peerUs,
  });
}

async function qemuGuests(n: number): Promise<BenchRow[]> {
  try {
    accessSync(QEMU, constants.X_OK);
  } catch {
    return [{ name: `getAllDomainStats, ${n} QEMU guests`, virtkitUs: 0, note: `skipped: ${QEMU} missing` }];
  }
  const dir = mkdtempSync(join(tmpdir(), 'vk-bench-stats-'));
  const conn = await connect('qemu:///session', {
    driverOptions: {
      runDir: join(dir, 'run'),
      stateDir: join(dir, 'state'),
      configDir: join(dir, 'config'),
      logDir: join(dir, 'log'),
      cacheDir: join(dir, 'cache'),
      emulators: [QEMU],
    },
  });
  try {
    for (let i = 0; i < n; i++) {
      await conn.createDomain(`<domain type='qemu'><name>poll-${i}</name><memory unit='MiB'>32</memory>
<vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
<devices><emulator>${QEMU}</emulator><memballoon model='virtio'/></devices></domain>`);
    }
    const polls = 200;
    const wall = await measure(() => conn.getAllDomainStats(), { iterations: polls, warmup: 20 });
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < polls; i++) await conn.getAllDomainStats();
    const cpu = process.cpuUsage(cpu0);
    const cpuPerPoll = (cpu.user + cpu.system) / polls;
    const perGuest = cpuPerPoll / n;
    return [
      {
        ...row(`getAllDomainStats, ${n} QEMU TCG guests (all groups, per poll)`, wall),
        note: 'wall µs per poll; no libvirtd peer in this run',
      },
      {
        ...row(`getAllDomainStats, ${n} QEMU guests: Node CPU µs per poll`, cpuPerPoll),
        note: `${perGuest.toFixed(0)} µs per guest: 100 guests polled at 1 Hz ≈ ${((perGuest * 100) / 1e4).toFixed(1)}% of a core`,
      },
    ];
  } finally {
    for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
    await conn.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

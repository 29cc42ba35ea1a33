/**
 * Real-guest lifecycle with QEMU: start (spawn, QMP, `cont`), destroy,
 * suspend + resume, crash detection latency (SIGKILL → stopped event) and
 * re-attach, on a diskless 16 MiB TCG guest (and KVM when usable). The peer
 * is python3-libvirt on qemu:///system with the same guest, when a libvirtd
 * answers there. Medians over a few iterations: each one is a process.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DomainDef } from '../src/conf/domain/index.js';
import { buildCommandLine } from '../src/drivers/qemu/command-line/index.js';
import { runnerGuestFromDef } from '../src/drivers/qemu/domains/index.js';
import {
  QemuDomainRunner,
  type RunnerCommand,
  type RunnerGuest,
  type RunnerOptions,
  runnerPaths,
} from '../src/drivers/qemu/lifecycle/index.js';
import { QemuCapsCache } from '../src/drivers/qemu/probe/index.js';
import type { QemuCaps } from '../src/drivers/qemu/probe/qemu-caps.js';
import { type BenchRow, hasPythonLibvirt, row } from './harness.js';

const QEMU = process.env.VIRTKIT_BENCH_QEMU ?? '/usr/bin/qemu-system-x86_64';
const ITERATIONS = 15;

function median(samples: number[]): number {
  const s = [...samples].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function nowUs(): number {
  return Number(process.hrtime.bigint()) / 1000;
}

/** A diskless guest as the qemu driver starts it: definition, runner guest, `buildCommandLine`. */
function spec(
  n: number,
  virtType: 'kvm' | 'qemu',
  caps: QemuCaps,
  options: RunnerOptions,
): { guest: RunnerGuest; command: RunnerCommand } {
  const def = DomainDef.fromXML(`<domain type='${virtType}'>
  <name>vk-bench-${n}</name>
  <uuid>b0000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}</uuid>
  <memory unit='KiB'>16384</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU}</emulator><memballoon model='virtio'/></devices>
</domain>`);
  const guest = runnerGuestFromDef(def);
  const paths = runnerPaths(options, guest);
  const command = buildCommandLine(def, caps, {
    domainDir: paths.runDir,
    monitor: { path: paths.monitorSocket },
  });
  return { guest, command };
}

function kvmUsable(): boolean {
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export async function run(): Promise<BenchRow[]> {
  if (spawnSync(QEMU, ['--version'], { stdio: 'ignore' }).status !== 0) {
    return [{ name: 'qemu lifecycle', virtkitUs: 0, note: `${QEMU} not installed; skipped` }];
  }
  let n = 0;
  const dir = mkdtempSync(join(tmpdir(), 'vk-bench-life-'));
  const options: RunnerOptions = { stateRoot: join(dir, 'run'), logRoot: join(dir, 'log') };
  const rows: BenchRow[] = [];
  const peer = libvirtPeer();
  try {
    const caps = (await new QemuCapsCache({ dir: null, probe: { runDir: dir } }).get(QEMU)).caps;
    const guest = (virtType: 'kvm' | 'qemu') => spec(++n, virtType, caps, options);
    const start: number[] = [];
    const destroy: number[] = [];
    const pauseResume: number[] = [];
    const crash: number[] = [];
    const reattach: number[] = [];
    for (let i = 0; i < ITERATIONS + 2; i++) {
      const g = guest('qemu');
      const r = new QemuDomainRunner(g.guest, options);
      let t = nowUs();
      await r.start({ command: g.command });
      const s = nowUs() - t;
      t = nowUs();
      await r.suspend();
      await r.resume();
      const pr = nowUs() - t;
      await r.detach();
      t = nowUs();
      const again = await QemuDomainRunner.reattach(r.name, options);
      const ra = nowUs() - t;
      t = nowUs();
      await again.destroy();
      const d = nowUs() - t;
      await again.detach();
      if (i >= 2) {
        start.push(s);
        pauseResume.push(pr);
        reattach.push(ra);
        destroy.push(d);
      }
    }
    for (let i = 0; i < ITERATIONS; i++) {
      const g = guest('qemu');
      const r = new QemuDomainRunner(g.guest, options);
      await r.start({ command: g.command });
      const stopped = new Promise<number>((resolve) => {
        r.subscribe((e) => {
          if (e.type === 'lifecycle' && e.event === 'stopped') resolve(nowUs());
        });
      });
      const t = nowUs();
      process.kill(r.pid as number, 'SIGKILL');
      crash.push((await stopped) - t);
      await r.detach();
    }
    const startPeer = peer
      ? { name: 'python3-libvirt create (qemu:///system)', us: peer.startUs }
      : undefined;
    const destroyPeer = peer
      ? { name: 'python3-libvirt destroy (qemu:///system)', us: peer.destroyUs }
      : undefined;
    const note = peer ? undefined : 'no libvirtd on qemu:///system: no peer';
    rows.push(withNote(row('start TCG guest (spawn, QMP, cont)', median(start), startPeer), note));
    rows.push(withNote(row('destroy (SIGTERM, reaped)', median(destroy), destroyPeer), note));
    rows.push(row('suspend + resume', median(pauseResume)));
    rows.push(row('re-attach (status file, QMP, query-status)', median(reattach)));
    rows.push(row('crash detection (SIGKILL to stopped event)', median(crash)));
    if (kvmUsable()) {
      const kvm: number[] = [];
      for (let i = 0; i < 7; i++) {
        const g = guest('kvm');
        const r = new QemuDomainRunner(g.guest, options);
        const t = nowUs();
        await r.start({ command: g.command });
        kvm.push(nowUs() - t);
        await r.destroy();
        await r.detach();
      }
      rows.push(row('start KVM guest', median(kvm)));
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

function withNote(r: BenchRow, note: string | undefined): BenchRow {
  return note ? { ...r, note } : r;
}

/** The same tiny guest through libvirt, when a system daemon answers. */
function libvirtPeer(): { startUs: number; destroyUs: number } | undefined {
  if (!hasPythonLibvirt()) return undefined;
  const xml = `<domain type='qemu'><name>vk-bench-peer</name><memory unit='KiB'>16384</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>${QEMU}</emulator></devices></domain>`;
  const script = `
import libvirt, time, json, statistics
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open('qemu:///system')
xml = ${JSON.stringify(xml)}
s, d = [], []
for i in range(${ITERATIONS + 2}):
    t = time.perf_counter_ns(); dom = c.createXML(xml, 0); s.append((time.perf_counter_ns() - t) / 1000)
    t = time.perf_counter_ns(); dom.destroy(); d.append((time.perf_counter_ns() - t) / 1000)
print(json.dumps([statistics.median(s[2:]), statistics.median(d[2:])]))
`;
  const r = spawnSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8', timeout: 180_000 });
  if (r.status !== 0) return undefined;
  const [startUs, destroyUs] = JSON.parse(r.stdout.trim()) as [number, number];
  return { startUs, destroyUs };
}

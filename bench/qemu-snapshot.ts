/**
 * Internal snapshots on qemu:///session: create, revert and delete of a
 * running 32 MiB SeaBIOS guest on an 8 MiB qcow2 disk (TCG), each the median
 * of three rounds, and the same of a shut-off guest (qemu-img). The peer is
 * libvirt 9 itself: a private session libvirtd run as `nobody` (when we are
 * root and virsh, libvirtd and setpriv are there), timed around `virsh`
 * (which adds its own start and connect, some milliseconds, to each call).
 * One more line: an external disk-only snapshot of the running guest,
 * created (qcow2 overlay, `blockdev-snapshot`) and deleted (`block-commit`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  accessSync,
  chmodSync,
  chownSync,
  constants,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Connection, connect } from '../src/connection.js';
import { type BenchRow, row } from './harness.js';

const QEMU = process.env.VIRTKIT_BENCH_QEMU ?? '/usr/bin/qemu-system-x86_64';
const ROUNDS = 3;

function guestXml(name: string, disk: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>b0071000-0000-4000-8000-00000000be21</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU}</emulator>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/>
      <target dev='vda' bus='virtio'/></disk>
    <memballoon model='none'/></devices>
</domain>`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

type Times = { create: number; revert: number; remove: number };

/** Median µs of each step over ROUNDS rounds of `step(i)` returning the three durations. */
async function rounds(step: (i: number) => Promise<Times> | Times): Promise<Times> {
  const all: Times[] = [];
  for (let i = 0; i < ROUNDS; i++) all.push(await step(i));
  return {
    create: median(all.map((t) => t.create)),
    revert: median(all.map((t) => t.revert)),
    remove: median(all.map((t) => t.remove)),
  };
}

const EXTERNAL = (name: string) =>
  `<domainsnapshot><name>${name}</name><disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>`;

async function ours(root: string, running: boolean, external = false): Promise<Times> {
  const disk = join(root, `ours-${running ? 'run' : 'off'}${external ? '-ext' : ''}.qcow2`);
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '8M']);
  const conn: Connection = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      runDir: join(root, 'rundir'),
      stateDir: join(root, 'state'),
      configDir: join(root, 'config'),
      logDir: join(root, 'log'),
      emulators: [QEMU],
    },
  });
  try {
    const dom = await conn.defineDomain(guestXml('vk-bench-snap', disk));
    if (running) await dom.start();
    const t = await rounds(async (i) => {
      const name = `s${i}`;
      const t0 = performance.now();
      if (external) await dom.createSnapshot(EXTERNAL(name), { diskOnly: true });
      else await dom.createSnapshot(`<domainsnapshot><name>${name}</name></domainsnapshot>`);
      const t1 = performance.now();
      // an external snapshot's revert ends the guest: this line times create and delete only
      if (!external) await dom.revertToSnapshot(name);
      const t2 = performance.now();
      await dom.deleteSnapshot(name);
      const t3 = performance.now();
      return { create: (t1 - t0) * 1000, revert: (t2 - t1) * 1000, remove: (t3 - t2) * 1000 };
    });
    if (running) await dom.destroy();
    await dom.undefine();
    return t;
  } finally {
    for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
    await conn.close();
  }
}

function canRunLibvirt(): boolean {
  return (
    process.getuid?.() === 0 &&
    spawnSync('sh', ['-c', 'command -v virsh && command -v setpriv && command -v libvirtd'], {
      stdio: 'ignore',
    }).status === 0
  );
}

function libvirts(running: boolean, external = false): Times | undefined {
  const home = mkdtempSync(join(tmpdir(), 'vk-bench-snap-lv-'));
  chmodSync(home, 0o777);
  const virsh = (args: string[]) => {
    const r = spawnSync(
      'setpriv',
      [
        '--reuid=65534',
        '--regid=65534',
        '--clear-groups',
        'env',
        `HOME=${home}`,
        `XDG_RUNTIME_DIR=${join(home, 'run')}`,
        'virsh',
        '-c',
        'qemu:///session',
        ...args,
      ],
      { encoding: 'utf8', timeout: 120_000, cwd: home },
    );
    if (r.status !== 0) throw new Error(`virsh ${args[0]}: ${r.stderr}`);
    return r.stdout;
  };
  try {
    const dir = join(home, 'images');
    mkdirSync(dir);
    const disk = join(dir, 'lv.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '8M']);
    chownSync(dir, 65534, 65534);
    chownSync(disk, 65534, 65534);
    const xml = join(home, 'dom.xml');
    writeFileSync(xml, guestXml('vk-bench-snap', disk));
    chmodSync(xml, 0o644);
    virsh(['define', xml]);
    if (running) virsh(['start', 'vk-bench-snap']);
    const timed = (args: string[]) => {
      const t0 = performance.now();
      virsh(args);
      return (performance.now() - t0) * 1000;
    };
    const step = (i: number): Times =>
      external
        ? {
            create: timed(['snapshot-create-as', 'vk-bench-snap', `s${i}`, '--disk-only']),
            revert: 0,
            remove: timed(['snapshot-delete', 'vk-bench-snap', `s${i}`]),
          }
        : {
            create: timed(['snapshot-create-as', 'vk-bench-snap', `s${i}`]),
            revert: timed(['snapshot-revert', 'vk-bench-snap', `s${i}`]),
            remove: timed(['snapshot-delete', 'vk-bench-snap', `s${i}`]),
          };
    const all: Times[] = [];
    for (let i = 0; i < ROUNDS; i++) all.push(step(i));
    if (running) virsh(['destroy', 'vk-bench-snap']);
    return {
      create: median(all.map((t) => t.create)),
      revert: median(all.map((t) => t.revert)),
      remove: median(all.map((t) => t.remove)),
    };
  } catch {
    return undefined;
  } finally {
    try {
      const pid = Number(readFileSync(join(home, 'run/libvirt/libvirtd.pid'), 'utf8').trim());
      if (pid > 1) process.kill(pid, 'SIGTERM');
    } catch {}
    rmSync(home, { recursive: true, force: true });
  }
}

export async function run(): Promise<BenchRow[]> {
  accessSync(QEMU, constants.X_OK);
  execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
  const root = mkdtempSync(join(tmpdir(), 'vk-bench-snap-'));
  try {
    const rows: BenchRow[] = [];
    for (const running of [true, false]) {
      const mine = await ours(root, running);
      const peer = canRunLibvirt() ? libvirts(running) : undefined;
      const what = running ? 'running 32 MiB guest, snapshot-save jobs' : 'shut-off guest, qemu-img';
      for (const k of ['create', 'revert', 'remove'] as const) {
        const label = k === 'remove' ? 'delete' : k;
        rows.push(
          row(`snapshot ${label}, ${what} (TCG, median of ${ROUNDS})`, mine[k], {
            name: 'libvirt 9 (virsh)',
            us: peer?.[k],
          }),
        );
      }
    }
    rows.push(...(await externalRows(root)));
    return rows;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** The external line: create and delete of a disk-only snapshot of the running guest. */
export async function externalRows(root?: string): Promise<BenchRow[]> {
  const dir = root ?? mkdtempSync(join(tmpdir(), 'vk-bench-snap-'));
  try {
    const mine = await ours(dir, true, true);
    const peer = canRunLibvirt() ? libvirts(true, true) : undefined;
    const what = 'running 32 MiB guest, external disk-only (overlay, block-commit)';
    return (['create', 'remove'] as const).map((k) =>
      row(`snapshot ${k === 'remove' ? 'delete' : k}, ${what} (TCG, median of ${ROUNDS})`, mine[k], {
        name: 'libvirt 9 (virsh)',
        us: peer?.[k],
      }),
    );
  } finally {
    if (!root) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Hotplug round trip on a booted guest (the tiny Linux of
 * scripts/tiny-linux.ts, which acknowledges unplugs): attach a virtio disk
 * and a user-mode virtio NIC, then detach both, each detach waiting for
 * QEMU's DEVICE_DELETED. virtkit on qemu:///session beside libvirt's QEMU
 * driver on a private libvirtd (test/drivers/remote/libvirtd.ts) driven by
 * python3-libvirt, the same guest XML, in one run. TCG; the guest's serial
 * port goes to a file, read for the end of its boot report.
 * VIRTKIT_BENCH_HOTPLUG_ITERATIONS=N takes N round trips each (default 5).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTinyLinux, findKernel, hasBusybox, REPORT_END } from '../scripts/tiny-linux.js';
import { connect } from '../src/connection.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../test/drivers/remote/libvirtd.js';
import { type BenchRow, hasPythonLibvirt, row } from './harness.js';

const QEMU = process.env.VIRTKIT_BENCH_QEMU ?? '/usr/bin/qemu-system-x86_64';
const N = Number(process.env.VIRTKIT_BENCH_HOTPLUG_ITERATIONS ?? 5);
const BOOT_MS = 180_000;

function guestXml(name: string, kernel: string, initrd: string, serial: string): string {
  const ports = [1, 2, 3, 4]
    .map((i) => `<controller type='pci' index='${i}' model='pcie-root-port'/>`)
    .join('');
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>${kernel}</kernel><initrd>${initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline></os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model>
    <feature policy='require' name='ssse3'/><feature policy='require' name='sse4.1'/>
    <feature policy='require' name='sse4.2'/></cpu>
  <on_poweroff>destroy</on_poweroff>
  <devices><emulator>${QEMU}</emulator>${ports}
    <serial type='file'><source path='${serial}'/></serial><memballoon model='none'/></devices></domain>`;
}

const diskXml = (path: string) =>
  `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${path}'/><target dev='vdb' bus='virtio'/></disk>`;
const NIC = "<interface type='user'><mac address='52:54:00:be:0c:01'/><model type='virtio'/></interface>";
const DETACH_DISK = "<disk type='file' device='disk'><target dev='vdb' bus='virtio'/></disk>";
const DETACH_NIC = "<interface type='user'><mac address='52:54:00:be:0c:01'/></interface>";

async function booted(serial: string): Promise<void> {
  const end = Date.now() + BOOT_MS;
  while (!(existsSync(serial) && readFileSync(serial, 'utf8').includes(REPORT_END))) {
    if (Date.now() > end) throw new Error(`the guest did not finish booting within ${BOOT_MS} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? 0;
}

async function virtkitRoundTrips(dir: string, xml: string, serial: string, disk: string): Promise<number[]> {
  const conn = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      runDir: join(dir, 'vk', 'run'),
      stateDir: join(dir, 'vk', 'state'),
      configDir: join(dir, 'vk', 'config'),
      logDir: join(dir, 'vk', 'log'),
      emulators: [QEMU],
    },
  });
  try {
    const dom = await conn.createDomain(xml);
    await booted(serial);
    const samples: number[] = [];
    for (let i = 0; i < N; i++) {
      const t0 = performance.now();
      await dom.attachDevice(diskXml(disk));
      await dom.attachDevice(NIC);
      await dom.detachDevice(DETACH_DISK);
      await dom.detachDevice(DETACH_NIC);
      samples.push((performance.now() - t0) * 1000);
    }
    await dom.destroy();
    return samples;
  } finally {
    await conn.close();
  }
}

function libvirtRoundTrips(daemon: Daemon, xml: string, serial: string, disk: string): number[] {
  const script = `import json, sys, time, os, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
uri, xml, serial, disk, nic, ddisk, dnic, n = sys.argv[1:9]
c = libvirt.open(uri)
d = c.createXML(xml, 0)
end = time.time() + ${BOOT_MS / 1000}
while not (os.path.exists(serial) and ${JSON.stringify(REPORT_END)} in open(serial, errors='replace').read()):
    if time.time() > end: raise SystemExit('the guest did not finish booting')
    time.sleep(0.2)
L = libvirt.VIR_DOMAIN_AFFECT_LIVE
s = []
for _ in range(int(n)):
    t0 = time.perf_counter_ns()
    d.attachDeviceFlags(disk, L); d.attachDeviceFlags(nic, L)
    d.detachDeviceFlags(ddisk, L); d.detachDeviceFlags(dnic, L)
    s.append((time.perf_counter_ns() - t0) / 1000)
d.destroy()
print(json.dumps(s))`;
  const uri = `qemu+unix:///session?socket=${daemon.socket}`;
  const args = [uri, xml, serial, diskXml(disk), NIC, DETACH_DISK, DETACH_NIC, String(N)];
  const r = spawnSync('/usr/bin/python3', ['-c', script, ...args], { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) throw new Error(`python3-libvirt failed: ${r.stderr.trim().split('\n').at(-1) ?? ''}`);
  return JSON.parse(r.stdout) as number[];
}

export async function run(): Promise<BenchRow[]> {
  const name = `hotplug round trip: virtio disk + user NIC attach, detach both (booted Linux guest, TCG, median of ${N})`;
  if (spawnSync(QEMU, ['--version'], { stdio: 'ignore' }).status !== 0)
    return [{ name, virtkitUs: 0, note: `${QEMU} not installed; skipped` }];
  const kernel = findKernel();
  if (!kernel || !hasBusybox())
    return [{ name, virtkitUs: 0, note: 'skipped: no kernel under /boot or no busybox-static' }];
  const dir = mkdtempSync(join(tmpdir(), 'vk-bench-hp-'));
  const root = process.getuid?.() === 0;
  try {
    // the private libvirtd's QEMU runs as nobody when we are root: it must reach these files
    if (root) chownSync(dir, 65534, 65534);
    const tiny = buildTinyLinux(kernel, { cacheDir: join(dir, 'tiny') });
    const image = join(dir, 'vmlinuz');
    copyFileSync(kernel.image, image);
    const files: string[] = [image, tiny.initrd, join(dir, 'tiny')];
    for (const side of ['vk', 'lv']) {
      const disk = join(dir, `${side}.qcow2`);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
      files.push(disk);
    }
    if (root) for (const f of files) chownSync(f, 65534, 65534);
    const vkSerial = join(dir, 'vk.serial');
    const vk = await virtkitRoundTrips(
      dir,
      guestXml('vk-bench-hotplug', image, tiny.initrd, vkSerial),
      vkSerial,
      join(dir, 'vk.qcow2'),
    );
    let note: string | undefined;
    let lv: number[] | undefined;
    if (!LIBVIRTD) note = 'libvirt: libvirtd is not installed';
    else if (!hasPythonLibvirt()) note = 'libvirt: python3-libvirt is not installed';
    else {
      const daemon = await startLibvirtd();
      try {
        const lvSerial = join(dir, 'lv.serial');
        const xml = guestXml('lv-bench-hotplug', image, tiny.initrd, lvSerial);
        lv = libvirtRoundTrips(daemon, xml, lvSerial, join(dir, 'lv.qcow2'));
      } catch (err) {
        note = `libvirt: ${err instanceof Error ? err.message : String(err)}`;
      } finally {
        await daemon.stop();
      }
    }
    const r = row(
      name,
      median(vk),
      lv ? { name: 'libvirt (private libvirtd, python3-libvirt)', us: median(lv) } : undefined,
    );
    return [note ? { ...r, note } : r];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Hotplug seen from inside a booted Linux guest (scripts/tiny-linux.ts with
 * its `hotplug` report: each line typed on the console answers with the
 * guest's /sys/block, /sys/class/net and carrier states). A virtio disk and
 * a virtio NIC plugged into spare PCIe root ports appear in the guest; the
 * NIC's carrier follows `updateDevice` link state; a detach completes on the
 * guest's acknowledgement (QEMU's DEVICE_DELETED), well before libvirt's 5 s.
 *
 * KVM when /dev/kvm opens, TCG otherwise (the bounded waits allow for it).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTinyLinux,
  findKernel,
  hasBusybox,
  REPORT_END,
  type TinyLinux,
} from '../../../scripts/tiny-linux.js';
import { type Connection, connect } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import type { ConsoleStream } from '../../../src/driver.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

const KERNEL = findKernel();
/** KVM only when it gives the guest the CPU asked for (a nested /dev/kvm may miss CPUID bits). */
const KVM = (() => {
  if (process.env.VIRTKIT_TEST_ACCEL === 'qemu') return false;
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    // biome-ignore format: one QEMU invocation
    execFileSync(QEMU_BINARY, ['-accel', 'kvm', '-machine', 'q35', '-cpu', 'qemu64,ssse3=on,sse4.1=on,sse4.2=on,enforce', '-display', 'none', '-nodefaults', '-S', '-qmp', 'stdio'], {
      input: '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
      stdio: ['pipe', 'ignore', 'ignore'],
      timeout: 15_000,
    });
    return true;
  } catch {
    return false;
  }
})();
const SKIP = !HAS_QEMU
  ? `${QEMU_BINARY} not installed`
  : !KERNEL
    ? 'no readable /boot/vmlinuz-<version> with /lib/modules/<version> (linux-image-amd64)'
    : !hasBusybox()
      ? 'no /bin/busybox (busybox-static)'
      : '';
const BOOT_MS = KVM ? 60_000 : 120_000;

let roots: TestRoots;
let conn: Connection;
let dom: Domain;
let tiny: TinyLinux;
let consoleStream: ConsoleStream;
let transcript = '';
let asked = 0;

async function until(test: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms; transcript:\n${transcript}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Types a line on the console and returns the guest's answer: block devices, interfaces, carriers. */
async function ask(): Promise<{
  block: string[];
  net: string[];
  carrier: string[];
  hwrng: string[];
  vport: string[];
}> {
  const tag = `q${++asked}`;
  consoleStream.write(`${tag}\n`);
  const line = (key: string) =>
    transcript
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l.startsWith(`VK ${key}-${tag}`));
  await until(() => line('carrier') !== undefined, `answer ${tag}`, 30_000);
  const words = (key: string) => (line(key) ?? '').split(/\s+/).slice(2).filter(Boolean);
  return {
    block: words('block'),
    net: words('net'),
    carrier: words('carrier'),
    hwrng: words('hwrng'),
    vport: words('vport'),
  };
}

describe.skipIf(SKIP !== '')(`hotplug inside a Linux guest${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    roots = tempRoots('vk-hpl-');
    if (!KERNEL) throw new Error('unreachable: no kernel');
    tiny = buildTinyLinux(KERNEL, { hotplug: true, cacheDir: join(roots.path, 'cache') });
    conn = await connect('qemu:///session', {
      driverOptions: {
        cacheDir: null,
        runDir: join(roots.path, 'rundir'),
        stateDir: join(roots.path, 'state'),
        configDir: join(roots.path, 'config'),
        logDir: join(roots.path, 'log'),
        emulators: [QEMU_BINARY],
      },
    });
    const ports = [1, 2, 3, 4, 5]
      .map((i) => `<controller type='pci' index='${i}' model='pcie-root-port'/>`)
      .join('');
    dom = await conn.defineDomain(`<domain type='${KVM ? 'kvm' : 'qemu'}'>
  <name>vk-hotplug-linux</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${tiny.kernel.image}</kernel>
    <initrd>${tiny.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='partial'>
    <model fallback='forbid'>qemu64</model>
    <feature policy='require' name='ssse3'/>
    <feature policy='require' name='sse4.1'/>
    <feature policy='require' name='sse4.2'/>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    ${ports}
    <controller type='virtio-serial' index='0'/>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`);
    await dom.start({ paused: true });
    consoleStream = await dom.openConsole();
    consoleStream.on('data', (chunk: Buffer | string) => {
      transcript += chunk.toString();
    });
    await dom.resume();
    await until(() => transcript.includes(REPORT_END), 'boot report', BOOT_MS);
  }, BOOT_MS + 30_000);

  afterAll(async () => {
    try {
      consoleStream?.destroy();
      if (conn && !conn.isClosed) {
        for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
        await conn.close();
      }
    } finally {
      for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
      roots.remove();
    }
  }, 30_000);

  it('a virtio disk attached live appears in the guest, and is gone from it and the live XML after detach', async () => {
    const before = await ask();
    expect(before.block.filter((b) => b.startsWith('vd'))).toEqual([]);
    const img = join(roots.path, 'hot.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '16M']);
    await dom.attachDevice(
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${img}'/><target dev='vdb' bus='virtio'/></disk>`,
    );
    let seen: string[] = [];
    for (let i = 0; i < 10 && !seen.includes('vda'); i++) seen = (await ask()).block;
    expect(seen).toContain('vda');
    const t0 = Date.now();
    await dom.detachDevice("<disk type='file' device='disk'><target dev='vdb'/></disk>");
    // the guest acknowledged the unplug: DEVICE_DELETED came before the 5 s wait ran out
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await dom.getXML()).not.toContain("dev='vdb'");
    expect((await ask()).block).not.toContain('vda');
  }, 120_000);

  it('a user NIC attached live is an interface in the guest; its carrier follows the link state', async () => {
    await dom.attachDevice(
      "<interface type='user'><mac address='52:54:00:0b:0b:01'/><model type='virtio'/></interface>",
    );
    let seen = await ask();
    // the guest brings the new interface up on the next line it reads: its carrier shows then
    for (let i = 0; i < 10 && (!seen.net.includes('eth0') || seen.carrier.length === 0); i++)
      seen = await ask();
    expect(seen.net).toContain('eth0');
    expect(seen.carrier).toEqual(['1']);
    await dom.updateDevice(
      "<interface type='user'><mac address='52:54:00:0b:0b:01'/><model type='virtio'/><link state='down'/></interface>",
    );
    expect((await ask()).carrier).toEqual(['0']);
    await dom.updateDevice(
      "<interface type='user'><mac address='52:54:00:0b:0b:01'/><model type='virtio'/><link state='up'/></interface>",
    );
    expect((await ask()).carrier).toEqual(['1']);
    await dom.detachDevice("<interface type='user'><mac address='52:54:00:0b:0b:01'/></interface>");
    expect(await dom.getXML()).not.toContain('52:54:00:0b:0b:01');
    expect((await ask()).net).not.toContain('eth0');
  }, 120_000);

  it("an RNG attached live is a hardware RNG in the guest; its detach completes on the guest's release", async () => {
    expect((await ask()).hwrng).toEqual([]);
    await dom.attachDevice("<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>");
    let seen: string[] = [];
    for (let i = 0; i < 10 && seen.length === 0; i++) seen = (await ask()).hwrng;
    expect(seen.join(' ')).toMatch(/virtio_rng/);
    const t0 = Date.now();
    await dom.detachDevice("<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>");
    // DEVICE_DELETED came before libvirt's 5 s: the device and its backend are gone from the live XML
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await dom.getXML()).not.toContain('<rng');
    expect((await ask()).hwrng).toEqual([]);
  }, 120_000);

  it('a virtio-serial channel attached live is a named port in the guest, gone after detach', async () => {
    const sock = join(roots.path, 'vk-hotplug2-port.sock');
    const chan = `<channel type='unix'><source mode='bind' path='${sock}'/><target type='virtio' name='org.virtkit.hot.0'/></channel>`;
    await dom.attachDevice(chan);
    let seen: string[] = [];
    for (let i = 0; i < 10 && !seen.includes('org.virtkit.hot.0'); i++) seen = (await ask()).vport;
    expect(seen).toContain('org.virtkit.hot.0');
    await dom.detachDevice(chan);
    expect(await dom.getXML()).not.toContain('org.virtkit.hot.0');
    expect((await ask()).vport).not.toContain('org.virtkit.hot.0');
  }, 120_000);
});

/**
 * The issue's target for managed save: the booting Linux test guest
 * (tiny-linux.ts) under TCG counts the lines typed on its console in its
 * shell's memory; after a managed save and a start (a restore), the count
 * goes on where it was, which only the saved memory can know (a fresh boot
 * would start again at 1, after its boot report).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTinyLinux, findKernel, hasBusybox, REPORT_END } from '../../../scripts/tiny-linux.js';
import { type Connection, connect } from '../../../src/connection.js';
import type { ConsoleStream } from '../../../src/driver.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

const KERNEL = findKernel();
const HAS_QEMU_IMG = (() => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const SKIP = !HAS_QEMU
  ? `${QEMU_BINARY} not installed`
  : !KERNEL
    ? 'no readable /boot/vmlinuz-<version> with /lib/modules/<version>'
    : !hasBusybox()
      ? 'no /bin/busybox (busybox-static)'
      : !HAS_QEMU_IMG
        ? 'no qemu-img'
        : '';
const BOOT_MS = 120_000;

const allRoots: TestRoots[] = [];
const conns: Connection[] = [];
const streams: ConsoleStream[] = [];

afterAll(async () => {
  for (const s of streams) s.destroy();
  for (const c of conns) {
    if (c.isClosed) continue;
    for (const d of await c.listDomains({ active: true })) await d.destroy().catch(() => {});
    await c.close();
  }
  for (const r of allRoots) {
    for (const pid of qemuProcessesMentioning(r.path)) process.kill(pid, 'SIGKILL');
    r.remove();
  }
}, 30_000);

async function open(root: string, label: string): Promise<Connection> {
  const c = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      runDir: join(root, label, 'rundir'),
      stateDir: join(root, label, 'state'),
      configDir: join(root, label, 'config'),
      logDir: join(root, label, 'log'),
      emulators: [QEMU_BINARY],
    },
  });
  conns.push(c);
  return c;
}

/** Collects what a console stream says; `until` waits for a text. */
function transcriptOf(stream: ConsoleStream): {
  until(text: string, ms: number): Promise<void>;
  text(): string;
} {
  let got = '';
  stream.on('data', (chunk: Buffer | string) => {
    got += chunk.toString();
  });
  return {
    text: () => got,
    async until(text, ms) {
      const end = Date.now() + ms;
      while (!got.includes(text)) {
        if (Date.now() > end) throw new Error(`no '${text}' within ${ms} ms; console:\n${got}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
  };
}

describe.skipIf(SKIP !== '')(
  `a booted Linux guest survives a managed save${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    it(
      'counts on its console, is saved, starts again and counts on',
      async () => {
        const roots = tempRoots('vk-save-linux-');
        allRoots.push(roots);
        if (!KERNEL) throw new Error('unreachable');
        const tiny = buildTinyLinux(KERNEL, { cacheDir: join(roots.path, 'cache'), echo: true });
        const disk = join(roots.path, 'disk.qcow2');
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
        const a = await open(roots.path, 'a');
        const dom = await a.defineDomain(`<domain type='qemu'>
  <name>vk-save-linux</name>
  <uuid>b0070000-0000-4000-8000-00000000a5a5</uuid>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${tiny.kernel.image}</kernel>
    <initrd>${tiny.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline>
  </os>
  <features><acpi/></features>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`);
        await dom.start({ paused: true });
        const first = await dom.openConsole();
        streams.push(first);
        const before = transcriptOf(first);
        await dom.resume();
        await before.until(REPORT_END, BOOT_MS);
        first.write('one\n');
        await before.until('VK count 1', 20_000);
        first.write('two\n');
        await before.until('VK count 2', 20_000);

        const t0 = performance.now();
        await dom.managedSave();
        const saveMs = performance.now() - t0;
        expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'saved' });
        expect(await dom.hasManagedSave()).toBe(true);
        expect(qemuProcessesMentioning(roots.path)).toEqual([]);

        const t1 = performance.now();
        await dom.start();
        const restoreMs = performance.now() - t1;
        expect(await dom.getState()).toEqual({ state: 'running', reason: 'restored' });
        expect(await dom.hasManagedSave()).toBe(false);
        const second = await dom.openConsole();
        streams.push(second);
        const after = transcriptOf(second);
        second.write('three\n');
        await after.until('VK count 3', 30_000);
        // No second boot: the guest's boot report did not come again.
        expect(after.text()).not.toContain(REPORT_END);
        console.log(
          `managed save of a booted 256 MiB Linux guest under TCG: save ${saveMs.toFixed(0)} ms, restore ${restoreMs.toFixed(0)} ms`,
        );
      },
      BOOT_MS + 90_000,
    );
  },
);

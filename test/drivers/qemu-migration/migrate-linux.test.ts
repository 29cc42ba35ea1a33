/**
 * The issue's target: the booting Linux test guest (tiny-linux.ts, without
 * the TPM and virtiofs share, which do not migrate) live-migrated between
 * two qemu:///session state roots under TCG, its disk on shared storage
 * (the same image path from both roots), and its serial console answering
 * on the destination: a line typed there comes back from the guest's shell.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildTinyLinux, findKernel, hasBusybox, REPORT_END } from '../../../scripts/tiny-linux.js';
import { type Connection, connect } from '../../../src/connection.js';
import type { ConsoleStream, DomainJobInfo } from '../../../src/driver.js';
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
  `a booted Linux guest migrates with its console${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    it(
      'boots at the source, moves live, answers on the destination console',
      async () => {
        const roots = tempRoots('vk-mig-linux-');
        allRoots.push(roots);
        if (!KERNEL) throw new Error('unreachable');
        const tiny = buildTinyLinux(KERNEL, { cacheDir: join(roots.path, 'cache'), echo: true });
        const disk = join(roots.path, 'disk.qcow2');
        execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
        const a = await open(roots.path, 'a');
        const b = await open(roots.path, 'b');
        const dom = await a.defineDomain(`<domain type='qemu'>
  <name>vk-mig-linux</name>
  <uuid>b0070000-0000-4000-8000-00000000a1a1</uuid>
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
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'><mac address='52:54:00:b0:07:a1'/><model type='virtio'/></interface>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`);
        await dom.start({ paused: true });
        const srcConsole = await dom.openConsole();
        streams.push(srcConsole);
        const before = transcriptOf(srcConsole);
        await dom.resume();
        await before.until(REPORT_END, BOOT_MS);
        srcConsole.write('before\n');
        await before.until('VK got before', 20_000);

        const progress: DomainJobInfo[] = [];
        const t0 = performance.now();
        const moved = await dom.migrate(b, {
          live: true,
          persistDest: true,
          onProgress: (i) => progress.push(i),
        });
        const ms = performance.now() - t0;
        expect(await moved.getState()).toEqual({ state: 'running', reason: 'migrated' });
        expect((await dom.getState()).state).toBe('shutoff');
        expect(progress.at(-1)?.type).toBe('completed');
        // The source's console ended with its QEMU.
        expect(qemuProcessesMentioning(join(roots.path, 'a'))).toEqual([]);

        const dstConsole = await moved.openConsole();
        streams.push(dstConsole);
        const after = transcriptOf(dstConsole);
        dstConsole.write('after-migration\n');
        await after.until('VK got after-migration', 30_000);
        expect(after.text()).toContain('VK got after-migration');
        console.log(`migration of a booted 256 MiB Linux guest under TCG: ${ms.toFixed(0)} ms`);
      },
      BOOT_MS + 90_000,
    );
  },
);

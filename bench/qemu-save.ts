/**
 * Managed save and the start that restores it, on qemu:///session, measured
 * once each: a diskless 32 MiB guest running SeaBIOS, and the booted tiny
 * Linux test guest (256 MiB, scripts/tiny-linux.ts) once its init has
 * reported. TCG; the times are `managedSave()` from the call to QEMU gone,
 * and `start()` from the call to the guest running again. No peer: libvirt's
 * `virsh managedsave` needs a qemu:///session daemon of its own here.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTinyLinux, findKernel, hasBusybox, REPORT_END } from '../scripts/tiny-linux.js';
import { type Connection, connect } from '../src/connection.js';
import { type BenchRow, row } from './harness.js';

const QEMU = process.env.VIRTKIT_BENCH_QEMU ?? '/usr/bin/qemu-system-x86_64';

function openRoot(root: string, label: string): Promise<Connection> {
  return connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      runDir: join(root, label, 'rundir'),
      stateDir: join(root, label, 'state'),
      configDir: join(root, label, 'config'),
      logDir: join(root, label, 'log'),
      emulators: [QEMU],
    },
  });
}

function domainXml(name: string, uuidTail: string, body: string, memMiB: number): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>b0070000-0000-4000-8000-${uuidTail}</uuid>
  <memory unit='MiB'>${memMiB}</memory>
  <vcpu>1</vcpu>
  ${body}
</domain>`;
}

async function linuxGuestXml(root: string): Promise<string | undefined> {
  const kernel = findKernel();
  if (!kernel || !hasBusybox()) return undefined;
  const tiny = buildTinyLinux(kernel, { cacheDir: join(root, 'cache'), echo: true });
  return domainXml(
    'vk-bench-save-linux',
    '0000000be012',
    `<os><type arch='x86_64' machine='q35'>hvm</type><kernel>${tiny.kernel.image}</kernel>
    <initrd>${tiny.initrd}</initrd><cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline></os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model>
    <feature policy='require' name='ssse3'/><feature policy='require' name='sse4.1'/>
    <feature policy='require' name='sse4.2'/></cpu>
  <devices><emulator>${QEMU}</emulator><serial type='pty'/><console type='pty'/>
    <memballoon model='none'/></devices>`,
    256,
  );
}

async function saveOnce(root: string, xml: string, waitFor?: string): Promise<[number, number]> {
  const conn = await openRoot(root, 'a');
  try {
    const dom = await conn.defineDomain(xml);
    await dom.start({ paused: waitFor !== undefined });
    if (waitFor !== undefined) {
      const stream = await dom.openConsole();
      let got = '';
      stream.on('data', (c: Buffer | string) => {
        got += c.toString();
      });
      await dom.resume();
      const end = Date.now() + 120_000;
      while (!got.includes(waitFor)) {
        if (Date.now() > end) throw new Error(`the guest did not say '${waitFor}'`);
        await new Promise((r) => setTimeout(r, 100));
      }
      stream.destroy();
    }
    const t0 = performance.now();
    await dom.managedSave();
    const t1 = performance.now();
    await dom.start();
    const t2 = performance.now();
    await dom.destroy();
    await dom.undefine();
    return [(t1 - t0) * 1000, (t2 - t1) * 1000];
  } finally {
    for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
    await conn.close();
  }
}

export async function run(): Promise<BenchRow[]> {
  accessSync(QEMU, constants.X_OK);
  execFileSync(QEMU, ['--version'], { stdio: 'ignore' });
  const root = mkdtempSync(join(tmpdir(), 'vk-bench-save-'));
  try {
    const rows: BenchRow[] = [];
    const small = domainXml(
      'vk-bench-save',
      '0000000be011',
      `<os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU}</emulator><memballoon model='none'/></devices>`,
      32,
    );
    const [save, restore] = await saveOnce(root, small);
    rows.push(row('managed save, diskless 32 MiB guest (TCG, once)', save));
    rows.push(row('start from managed save, diskless 32 MiB guest (TCG, once)', restore));
    const linux = await linuxGuestXml(root);
    if (linux) {
      const [s, r] = await saveOnce(root, linux, REPORT_END);
      rows.push(row('managed save, booted 256 MiB Linux guest (TCG, once)', s));
      rows.push(row('start from managed save, booted 256 MiB Linux guest (TCG, once)', r));
    }
    return rows;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Live migration between two qemu:///session state roots on this machine
 * (two "hosts"), measured once each, as the issue asks: a diskless 32 MiB
 * guest running SeaBIOS, and the booted tiny Linux test guest (256 MiB,
 * scripts/tiny-linux.ts) once its init has reported. TCG;
 * the time is `Domain.migrate` from the call to the destination running.
 * No peer: a libvirtd of our own would need two daemons and their ports.
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
    'vk-bench-mig-linux',
    '0000000be002',
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

async function migrateOnce(root: string, xml: string, waitFor?: string): Promise<number> {
  const a = await openRoot(root, 'a');
  const b = await openRoot(root, 'b');
  try {
    const dom = await a.createDomain(xml, { paused: waitFor !== undefined });
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
    const moved = await dom.migrate(b, { live: true });
    const us = (performance.now() - t0) * 1000;
    await moved.destroy();
    return us;
  } finally {
    for (const c of [a, b]) {
      for (const d of await c.listDomains({ active: true })) await d.destroy().catch(() => {});
      await c.close();
    }
  }
}

export async function run(): Promise<BenchRow[]> {
  accessSync(QEMU, constants.X_OK);
  execFileSync(QEMU, ['--version'], { stdio: 'ignore' });
  const root = mkdtempSync(join(tmpdir(), 'vk-bench-mig-'));
  try {
    const rows: BenchRow[] = [];
    const small = domainXml(
      'vk-bench-mig',
      '0000000be001',
      `<os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU}</emulator><memballoon model='none'/></devices>`,
      32,
    );
    rows.push({
      ...row('live migration, diskless 32 MiB guest (TCG, once)', await migrateOnce(root, small)),
    });
    const linux = await linuxGuestXml(root);
    if (linux) {
      const us = await migrateOnce(root, linux, REPORT_END);
      rows.push(row('live migration, booted 256 MiB Linux guest (TCG, once)', us));
    }
    return rows;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

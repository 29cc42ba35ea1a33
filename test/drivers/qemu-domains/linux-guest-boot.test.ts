/**
 * A real Linux guest under qemu:///session: the host's Debian kernel with a
 * busybox initramfs (scripts/tiny-linux.ts) boots with a virtio disk, a virtio NIC,
 * a virtio RNG, an emulated TPM (swtpm), a virtiofs share (virtiofsd) and a
 * serial console. The guest's /init prints what the kernel found; the test
 * reads it through openConsole() and checks each device is there, then
 * shuts the guest down with the ACPI power button as libvirt does.
 *
 * KVM when /dev/kvm opens, TCG otherwise (the bounded wait allows for it).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BOOT_MARKER, buildTinyLinux, type TinyLinux } from '../../../scripts/tiny-linux.js';
import type { Connection } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import type { AnyDomainEvent } from '../../../src/driver.js';
import { findVirtiofsd } from '../../../src/drivers/qemu/lifecycle/virtiofsd.js';
import { waitFor } from '../../wait-for.js';
import { QEMU_BINARY, qemuProcessesMentioning, type TestRoots } from '../qemu-lifecycle/helpers.js';
import {
  bootToReport,
  type GuestConsole,
  kernel,
  kvmRuns,
  leftoversAfterAll,
  processesMentioning,
  realGuestSkip,
  runs,
  SSE42_CPU,
  sse42CpuXml,
  tinyLinuxOs,
} from '../real-guest.js';

/**
 * KVM only when it gives the guest the CPU this test asks for: a nested
 * /dev/kvm can open yet miss basic CPUID bits (pni, sse4.2 here).
 */
const KVM_OK = kvmRuns(SSE42_CPU);
const HAS_SWTPM =
  runs('swtpm', ['socket', '--print-capabilities']) && runs('swtpm_setup', ['--print-capabilities']);
const VIRTIOFSD = findVirtiofsd(['/usr/share/qemu/vhost-user', '/etc/qemu/vhost-user']);
const FS_OK = VIRTIOFSD !== undefined && process.getuid?.() === 0;

const SKIP = realGuestSkip([!runs('qemu-img'), 'no qemu-img']);
const TPM_NOTE = HAS_SWTPM ? '' : ' (skipped: swtpm and swtpm_setup are not installed)';
const FS_NOTE = FS_OK
  ? ''
  : VIRTIOFSD
    ? ' (skipped: here the share is served as root; unprivileged-helpers.test.ts boots one as a user)'
    : " (skipped: no vhost-user descriptor of type 'fs')";
const ACCEL = KVM_OK ? 'kvm' : 'qemu';
const BOOT_MS = KVM_OK ? 60_000 : 120_000;
const SHARE_TAG = 'vkshare';
const SHARE_TEXT = 'hello from the host';

let roots: TestRoots;
let conn: Connection;
let dom: Domain;
let tiny: TinyLinux;
let guest: GuestConsole;
const events: string[] = [];
let eventsDone: Promise<void> | undefined;
const leftovers = leftoversAfterAll();
leftovers.afterClose(() => eventsDone);
// the helpers too (swtpm, virtiofsd), not only QEMU
leftovers.lastly(() => {
  if (roots) for (const pid of processesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
});

function domainXml(disk: string, share: string): string {
  const tpm = HAS_SWTPM ? "<tpm model='tpm-crb'><backend type='emulator' version='2.0'/></tpm>" : '';
  const fs = FS_OK
    ? `<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>
         <source dir='${share}'/><target dir='${SHARE_TAG}'/></filesystem>`
    : '';
  const memoryBacking = FS_OK
    ? "<memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
    : '';
  return `<domain type='${ACCEL}'>
  <name>vk-linux</name>
  <uuid>b0070000-0000-4000-8000-000000000001</uuid>
  <memory unit='MiB'>256</memory>
  ${memoryBacking}
  <vcpu>1</vcpu>
  ${tinyLinuxOs(tiny)}
  <features><acpi/></features>
  ${sse42CpuXml('partial')}
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>destroy</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source file='${disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='user'><mac address='52:54:00:b0:07:01'/><model type='virtio'/></interface>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    ${tpm}
    ${fs}
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`;
}

/** The value of the guest's "VK <key> ..." report line. */
function report(key: string): string {
  const value = guest.report(key);
  if (value === undefined) throw new Error(`no 'VK ${key}' line on the console; transcript:\n${guest.text}`);
  return value;
}

describe.skipIf(SKIP !== '')(`a Linux guest boots (${ACCEL})${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    roots = leftovers.roots('vk-boot-');
    tiny = buildTinyLinux(kernel(), {
      ...(FS_OK ? { share: SHARE_TAG } : {}),
      cacheDir: join(roots.path, 'cache'),
    });
    const disk = join(roots.path, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '16M']);
    const share = join(roots.path, 'share');
    mkdirSync(share);
    writeFileSync(join(share, 'hello.txt'), `${SHARE_TEXT}\n`);
    conn = await leftovers.connect(roots.path);
    const iter = conn.events() as AsyncIterable<AnyDomainEvent>;
    eventsDone = (async () => {
      for await (const e of iter) if (e.type === 'lifecycle') events.push(`${e.event}/${e.detail}`);
    })();
    dom = await conn.defineDomain(domainXml(disk, share));
    guest = await bootToReport(dom, BOOT_MS, leftovers);
  }, BOOT_MS + 30_000);

  it('the kernel runs /init from the initramfs, and every module it needs loads', () => {
    expect(guest.text).toContain(BOOT_MARKER);
    expect(guest.text).not.toContain('VK insmod-failed');
    // the builder names drivers this kernel has neither built in nor as a module
    expect(tiny.plan.missing).toEqual([]);
  });

  it('the guest CPU is the model with the required features: qemu64 has no SSSE3 or SSE4 of its own', () => {
    const flags = report('cpu').split(/\s+/);
    expect(flags).toEqual(expect.arrayContaining(['fpu', 'lm', 'sse2', 'ssse3', 'sse4_1', 'sse4_2']));
  });

  it('the virtio disk is a block device (vda)', () => {
    expect(report('block').split(/\s+/)).toContain('vda');
  });

  it('the virtio NIC is there next to loopback', () => {
    const nics = report('net').split(/\s+/);
    expect(nics).toContain('lo');
    expect(nics.filter((n) => n !== 'lo')).toHaveLength(1);
  });

  it('the virtio RNG is the guest hwrng and gives bytes', () => {
    expect(report('hwrng')).toMatch(/^virtio_rng\.\d+ dev$/);
    expect(report('hwrng-bytes')).toBe('8');
  });

  it.skipIf(!HAS_SWTPM)(`the emulated TPM (tpm-crb on swtpm) is tpm0${TPM_NOTE}`, () => {
    expect(report('tpm').split(/\s+/)).toContain('tpm0');
  });

  it.skipIf(!FS_OK)(`the virtiofs share mounts by its tag and shows the host's file${FS_NOTE}`, () => {
    expect(report('share')).toBe(SHARE_TEXT);
  });

  it('shutdown() presses the ACPI power button: the guest powers off, shutoff/shutdown, event stopped/shutdown', async () => {
    expect(report('button')).toMatch(/^\/dev\/input\/event\d+$/);
    await dom.shutdown();
    const end = Date.now() + 30_000;
    let state = await dom.getState();
    while (state.state !== 'shutoff' && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
      state = await dom.getState();
    }
    expect(state, `the guest did not power off; transcript:\n${guest.text}`).toEqual({
      state: 'shutoff',
      reason: 'shutdown',
    });
    expect(guest.text).toContain('VK power-button');
    await waitFor(() => events.includes('stopped/shutdown'), {
      what: 'stopped/shutdown event',
      seen: () => `${events}`,
    });
    expect(events).toContain('started/booted');
    expect(events).toContain('stopped/shutdown');
    expect(qemuProcessesMentioning(roots.path)).toEqual([]);
  }, 45_000);
});

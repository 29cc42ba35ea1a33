/**
 * Domain events whose source is a booted Linux guest (scripts/tiny-linux.ts
 * in its `shell` mode: each console line is run as a command): a write the
 * host cannot store, on a raw image in a 1 MiB tmpfs (a real ENOSPC), with
 * `error_policy='stop'`, is libvirt's io-error and io-error-reason naming
 * the disk (alias `virtio-disk0`, its source path, action `pause`, reason
 * `enospc`) and pauses the guest `paused/ioerror`; the guest setting its
 * RTC (`hwclock -w`) is rtc-change with libvirt's offset from UTC, which
 * `<clock offset='variable'>`'s live adjustment follows.
 *
 * The tmpfs needs root (mount); without it the test skips, saying so.
 * KVM when /dev/kvm opens, TCG otherwise (the bounded waits allow for it).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, truncateSync, writeFileSync } from 'node:fs';
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
import type { AnyDomainEvent, ConsoleStream } from '../../../src/driver.js';
import type { EventStream } from '../../../src/event-stream.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

const KERNEL = findKernel();
const IS_ROOT = process.getuid?.() === 0;
/** KVM only when a q35 guest really runs on it (a nested /dev/kvm may open and still fail). */
const KVM = (() => {
  if (process.env.VIRTKIT_TEST_ACCEL === 'qemu') return false;
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    // biome-ignore format: one QEMU invocation
    execFileSync(QEMU_BINARY, ['-accel', 'kvm', '-machine', 'q35', '-cpu', 'qemu64,enforce', '-display', 'none', '-nodefaults', '-S', '-qmp', 'stdio'], {
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
      : !IS_ROOT
        ? 'not root: the 1 MiB tmpfs that gives a real ENOSPC needs mount'
        : '';
const BOOT_MS = KVM ? 60_000 : 120_000;

let roots: TestRoots;
let small: string;
let mounted = false;
let conn: Connection;
let dom: Domain;
let tiny: TinyLinux;
let consoleStream: ConsoleStream;
let transcript = '';

async function until(test: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end) throw new Error(`no ${what} within ${ms} ms; transcript:\n${transcript}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function nextOf<T>(it: AsyncIterator<T>, ms = 60_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms; transcript:\n${transcript}`)), ms);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    if (r.done) throw new Error('stream ended');
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(SKIP !== '')(`events from inside a Linux guest${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  let image: string;

  beforeAll(async () => {
    roots = tempRoots('vk-gev-');
    if (!KERNEL) throw new Error('unreachable: no kernel');
    tiny = buildTinyLinux(KERNEL, { shell: true, cacheDir: join(roots.path, 'cache') });
    small = join(roots.path, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'vk-events2-small', small]);
    mounted = true;
    // 8 MiB the guest sees, 1 MiB the host can store
    image = join(small, 'full.raw');
    writeFileSync(image, '');
    truncateSync(image, 8 * 1024 * 1024);
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
    dom = await conn.createDomain(
      `<domain type='${KVM ? 'kvm' : 'qemu'}'>
  <name>vk-events2-guest</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${tiny.kernel.image}</kernel>
    <initrd>${tiny.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>
  <clock offset='variable' adjustment='3600' basis='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw' error_policy='stop'/>
      <source file='${image}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`,
      { paused: true },
    );
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
      if (mounted) execFileSync('umount', [small]);
      roots.remove();
    }
  }, 30_000);

  it('the guest setting its RTC: rtc-change with the new offset from UTC, the live adjustment follows', async () => {
    const events = conn.events({ ids: ['rtc-change'] }) as EventStream<AnyDomainEvent>;
    const done = transcript.split('VK done').length;
    // 2030-01-01T00:00:00Z into the guest's clock, then its RTC
    const target = Date.UTC(2030, 0, 1) / 1000;
    consoleStream.write('date -u -s "2030-01-01 00:00:00" >/dev/null && hwclock -w -u\n');
    await until(() => transcript.split('VK done').length > done, 'hwclock', 60_000);
    const hostNow = Date.now() / 1000;
    const first = await nextOf(events);
    let last = first;
    // the RTC may be written more than once: the live XML holds the last offset
    await new Promise((r) => setTimeout(r, 500));
    events.end();
    for await (const e of events) last = e;
    expect(transcript).toContain('VK done 0');
    if (first.type !== 'rtc-change' || last.type !== 'rtc-change') throw new Error('not an rtc-change');
    // libvirt's offset is from UTC (the 3600 s the guest started with included), not from QEMU's base
    expect(Math.abs(first.utcoffset - (target - hostNow))).toBeLessThan(15);
    expect(await dom.getXML()).toContain(
      `<clock offset='variable' adjustment='${last.utcoffset}' basis='utc'/>`,
    );
  }, 120_000);

  it('a write the host has no room for: io-error and io-error-reason name the disk, the guest pauses on it', async () => {
    const events = conn.events({
      ids: ['io-error', 'io-error-reason', 'lifecycle'],
    }) as EventStream<AnyDomainEvent>;
    // more than the tmpfs holds, flushed so the host sees it now
    consoleStream.write('dd if=/dev/zero of=/dev/vda bs=64k count=64 conv=fsync\n');
    const seen: AnyDomainEvent[] = [];
    while (!seen.some((e) => e.type === 'lifecycle')) seen.push(await nextOf(events));
    events.end();
    const strip = (e: AnyDomainEvent) => ({ ...e, timestamp: 0, domain: e.domain.name });
    // libvirt names the disk by its source and alias; werror=stop is action pause; ENOSPC is 'enospc'
    expect(seen.slice(0, 2).map(strip)).toEqual([
      {
        type: 'io-error',
        domain: 'vk-events2-guest',
        timestamp: 0,
        srcPath: image,
        devAlias: 'virtio-disk0',
        action: 'pause',
      },
      {
        type: 'io-error-reason',
        domain: 'vk-events2-guest',
        timestamp: 0,
        srcPath: image,
        devAlias: 'virtio-disk0',
        action: 'pause',
        reason: 'enospc',
      },
    ]);
    expect(seen.find((e) => e.type === 'lifecycle')).toMatchObject({ event: 'suspended', detail: 'ioerror' });
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'ioerror' });
  }, 120_000);
});

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
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTinyLinux, type TinyLinux } from '../../../scripts/tiny-linux.js';
import type { Connection } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import type { AnyDomainEvent } from '../../../src/driver.js';
import type { EventStream } from '../../../src/event-stream.js';
import { waitFor } from '../../wait-for.js';
import { QEMU_BINARY, type TestRoots } from '../qemu-lifecycle/helpers.js';
import {
  bootToReport,
  type GuestConsole,
  kernel,
  kvmRuns,
  leftoversAfterAll,
  realGuestSkip,
  tinyLinuxOs,
} from '../real-guest.js';

const IS_ROOT = process.getuid?.() === 0;
/** KVM only when a q35 guest really runs on it (a nested /dev/kvm may open and still fail). */
const KVM = kvmRuns('qemu64,enforce');
const SKIP = realGuestSkip([!IS_ROOT, 'not root: the 1 MiB tmpfs that gives a real ENOSPC needs mount']);
const BOOT_MS = KVM ? 60_000 : 120_000;

const leftovers = leftoversAfterAll();
let roots: TestRoots;
let small: string;
let mounted = false;
let conn: Connection;
let dom: Domain;
let tiny: TinyLinux;
let guest: GuestConsole;
leftovers.lastly(() => {
  if (mounted) execFileSync('umount', [small]);
});

async function nextOf<T>(it: AsyncIterator<T>, ms = 60_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms; transcript:\n${guest.text}`)), ms);
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
    roots = leftovers.roots('vk-gev-');
    tiny = buildTinyLinux(kernel(), { shell: true, cacheDir: join(roots.path, 'cache') });
    small = join(roots.path, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1M', 'vk-events2-small', small]);
    mounted = true;
    // 8 MiB the guest sees, 1 MiB the host can store
    image = join(small, 'full.raw');
    writeFileSync(image, '');
    truncateSync(image, 8 * 1024 * 1024);
    conn = await leftovers.connect(roots.path);
    dom = await conn.createDomain(
      `<domain type='${KVM ? 'kvm' : 'qemu'}'>
  <name>vk-events2-guest</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  ${tinyLinuxOs(tiny)}
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
    guest = await bootToReport(dom, BOOT_MS, leftovers, true);
  }, BOOT_MS + 30_000);

  it('the guest setting its RTC: rtc-change with the new offset from UTC, the live adjustment follows', async () => {
    const events = conn.events({ ids: ['rtc-change'] }) as EventStream<AnyDomainEvent>;
    const done = guest.text.split('VK done').length;
    // 2030-01-01T00:00:00Z into the guest's clock, then its RTC
    const target = Date.UTC(2030, 0, 1) / 1000;
    guest.type('date -u -s "2030-01-01 00:00:00" >/dev/null && hwclock -w -u');
    await guest.until(() => guest.text.split('VK done').length > done, 60_000, 'hwclock');
    const hostNow = Date.now() / 1000;
    const first = await nextOf(events);
    expect(guest.text).toContain('VK done 0');
    if (first.type !== 'rtc-change') throw new Error('not an rtc-change');
    // libvirt's offset is from UTC (the 3600 s the guest started with included), not from QEMU's base
    expect(Math.abs(first.utcoffset - (target - hostNow))).toBeLessThan(15);
    // The RTC may be written more than once, and QEMU holds back an RTC_CHANGE that follows
    // another within a second: however late the last one comes, the live XML holds its offset.
    let last = first.utcoffset;
    const pump = (async () => {
      for await (const e of events) if (e.type === 'rtc-change') last = e.utcoffset;
    })();
    const clock = () => /<clock offset='variable' adjustment='(-?\d+)' basis='utc'\/>/.exec(xml)?.[1];
    let xml = '';
    await waitFor(
      async () => {
        xml = await dom.getXML();
        return clock() === String(last);
      },
      { what: 'live adjustment of the last rtc-change', seen: () => `event ${last}, live ${clock()}` },
    );
    events.end();
    await pump;
  }, 120_000);

  it('a write the host has no room for: io-error and io-error-reason name the disk, the guest pauses on it', async () => {
    const events = conn.events({
      ids: ['io-error', 'io-error-reason', 'lifecycle'],
    }) as EventStream<AnyDomainEvent>;
    // more than the tmpfs holds, flushed so the host sees it now
    guest.type('dd if=/dev/zero of=/dev/vda bs=64k count=64 conv=fsync');
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

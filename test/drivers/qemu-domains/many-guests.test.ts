/**
 * Many guests and several callers on qemu:///session, with real QEMU (TCG,
 * 32 MiB, no disks) and every root in a temporary directory: starts of
 * different domains run side by side, a QEMU that never opens its monitor
 * holds up nobody else, calls issued together take effect in order, names
 * survive a reopen or are refused at define, and a crash's temporary files
 * are cleaned when the driver opens.
 */
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { DomainEvent } from '../../../src/driver.js';
import type { QemuDriverOptions } from '../../../src/driver-options.js';
import { isVirError } from '../../../src/errors.js';
import { waitFor } from '../../wait-for.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import { driverOptionsUnder, rootsEachTest } from '../real-guest.js';

// a stuck QEMU and starts side by side: none may be left when the file ends, not even one
// killed and not yet reaped
const each = rootsEachTest('vk-many-', { noQemuLeft: true });
const open = (extra: QemuDriverOptions = {}): Promise<Connection> => each.connect(undefined, extra);

let uuidCounter = 0;
function domainXml(name: string, emulator = QEMU_BINARY): string {
  uuidCounter++;
  const id = `d1d1d1d1-0000-4000-8000-${String(process.pid * 100 + uuidCounter).padStart(12, '0')}`;
  return `<domain type='qemu'>
  <name>${name}</name>
  <uuid>${id}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${emulator}</emulator></devices>
</domain>`;
}

async function errorOf(p: Promise<unknown>): Promise<{ code?: string; message: string; field?: string }> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isVirError(err), String(err)).toBe(true);
  return err as { code: string; message: string; field?: string };
}

describe.skipIf(!HAS_QEMU)(`many guests, several callers${QEMU_NOTE}`, () => {
  it('six guests started together with Promise.all all reach running, each with its own id', async () => {
    const conn = await open();
    const doms = await Promise.all(
      [1, 2, 3, 4, 5, 6].map((i) => conn.defineDomain(domainXml(`vk-many-${i}`))),
    );
    await Promise.all(doms.map((d) => d.start()));
    for (const d of doms) expect(await d.getState()).toEqual({ state: 'running', reason: 'booted' });
    const ids = doms.map((d) => d.id);
    expect(new Set(ids).size).toBe(6);
    expect(ids.every((id) => id > 0)).toBe(true);
    expect(qemuProcessesMentioning(each.path)).toHaveLength(6);
    await Promise.all(doms.map((d) => d.destroy()));
    expect(qemuProcessesMentioning(each.path)).toEqual([]);
  });

  it('a QEMU that never opens its monitor blocks nobody: another domain defines and starts meanwhile', async () => {
    // A real emulator for the probe; for a guest start (the monitor on the command line) a process
    // that lives on without ever listening, as a QEMU stuck before its monitor would.
    const stuck = join(each.path, 'stuck-qemu');
    writeFileSync(
      stuck,
      `#!/bin/sh\ncase " $* " in *charmonitor*) exec sleep 617;; esac\nexec ${QEMU_BINARY} "$@"\n`,
    );
    chmodSync(stuck, 0o755);
    const conn = await open({ emulators: [QEMU_BINARY, stuck], startTimeout: 5000 });
    const slow = await conn.defineDomain(domainXml('vk-stuck', stuck));
    const t0 = Date.now();
    const slowStart = slow.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    let slowDone = false;
    void slowStart.then(() => {
      slowDone = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    const other = await conn.defineDomain(domainXml('vk-quick'));
    await other.start();
    expect(await other.getState()).toEqual({ state: 'running', reason: 'booted' });
    expect(slowDone).toBe(false);
    expect(Date.now() - t0).toBeLessThan(4000);
    // The stuck start ends at the driver's start timeout, with the process gone.
    const err = await slowStart;
    expect(isVirError(err), String(err)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4900);
    expect(await slow.getState()).toEqual({ state: 'shutoff', reason: 'failed' });
    const sleepers = readdirSync('/proc').filter((p) => {
      try {
        return /^\d+$/.test(p) && readFileSync(`/proc/${p}/cmdline`, 'utf8') === 'sleep\u0000617\u0000';
      } catch {
        return false;
      }
    });
    expect(sleepers).toEqual([]);
    // A start's own timeout wins over the driver's.
    const t1 = Date.now();
    expect(isVirError(await slow.start({ timeout: 1000 }).catch((e: unknown) => e))).toBe(true);
    expect(Date.now() - t1).toBeLessThan(3500);
    const bad = await errorOf(slow.start({ timeout: 0 }));
    expect([bad.code, bad.field]).toEqual(['INVALID_ARG', 'timeout']);
    await other.destroy();
  });

  it('suspend and resume issued together both take effect, in order; checks see the state of their turn', async () => {
    const conn = await open();
    const seen: string[] = [];
    void (async () => {
      for await (const e of conn.events() as AsyncIterable<DomainEvent>) seen.push(`${e.event}/${e.detail}`);
    })();
    const dom = await conn.defineDomain(domainXml('vk-together'));
    await dom.start();
    await Promise.all([dom.suspend(), dom.resume()]);
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'unpaused' });
    await Promise.all([dom.suspend(), dom.resume(), dom.suspend()]);
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'user' });
    // A resume queued behind another resume finds the guest running and is refused, as libvirt refuses it.
    const [first, second] = await Promise.allSettled([dom.resume(), dom.resume()]);
    expect(first.status).toBe('fulfilled');
    expect(second.status === 'rejected' && isVirError(second.reason, 'OPERATION_INVALID')).toBe(true);
    const pausesAndResumes = () => seen.filter((s) => /^(suspended|resumed)/.test(s));
    await waitFor(() => pausesAndResumes().length >= 7, {
      what: "the boot's resume and the three suspend-resume pairs",
      seen: () => seen.join(', '),
    });
    expect(pausesAndResumes()).toEqual([
      'resumed/unpaused', // the boot's
      'suspended/paused',
      'resumed/unpaused',
      'suspended/paused',
      'resumed/unpaused',
      'suspended/paused',
      'resumed/unpaused',
    ]);
    await dom.destroy();
  });

  it('names survive a reopen exactly, or are refused at define naming the name', async () => {
    const conn = await open();
    const long = 'ä'.repeat(100); // 200 bytes of UTF-8, the longest name taken
    const names = ['.hidden', '..dots', 'a\\b c,d', long];
    for (const n of names) await conn.defineDomain(domainXml(n));
    const started = await conn.lookupDomain('.hidden');
    await started.start();
    await conn.close();
    const again = await open();
    expect((await again.listDomains()).map((d) => d.name).sort()).toEqual([...names].sort());
    expect(await (await again.lookupDomain('.hidden')).getState()).toEqual({
      state: 'running',
      reason: 'booted',
    });
    await (await again.lookupDomain('.hidden')).destroy();

    const tooLong = await errorOf(again.defineDomain(domainXml('b'.repeat(230))));
    expect(tooLong.code).toBe('INVALID_ARG');
    expect(tooLong.field).toBe('/domain/name');
    expect(tooLong.message).toContain('230 bytes');
    // A lone surrogate is no character: the document is not XML, and the parser says so.
    const surrogate = await errorOf(again.defineDomain(domainXml('vk-\uD800-lone')));
    expect(surrogate.code).toBe('XML_ERROR');
    expect(surrogate.message).toContain('surrogate');
    // libvirt's own refusals keep libvirt's codes
    const slash = await errorOf(again.defineDomain(domainXml('a/b')));
    expect(slash.field).toBe('/domain/name');
    const newline = await errorOf(again.defineDomain(domainXml('a&#10;b')));
    expect(newline.field).toBe('/domain/name');
    expect((await again.listDomains()).length).toBe(names.length);
  });

  it('temporary files a killed writer left are removed when the driver opens; a live writer’s are kept', async () => {
    const first = await open();
    await first.defineDomain(domainXml('vk-temps'));
    await first.close();
    const configDir = join(each.path, 'config', 'qemu');
    const stateDir = join(each.path, 'state', 'qemu');
    // pid 2^22+1 is above Linux's pid_max limit: never a live process.
    const dead = 4_194_305;
    const litter = [
      join(configDir, `.vk-${dead}-1.tmp`),
      join(configDir, `.vk-temps.xml.${dead}.1700000000000.tmp`),
      join(stateDir, `.vk-${dead}-7.tmp`),
    ];
    const live = join(configDir, `.vk-${process.ppid}-1.tmp`);
    for (const f of [...litter, live]) writeFileSync(f, '<half');
    const conn = await open();
    expect((await conn.listDomains()).map((d) => d.name)).toEqual(['vk-temps']);
    for (const f of litter) expect(existsSync(f), f).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it('timeout driver options are checked: whole milliseconds, named in the error', async () => {
    for (const [key, value] of [
      ['qmpTimeout', -1],
      ['startTimeout', 1.5],
      ['shutdownTimeout', '100'],
    ] as const) {
      const err = await errorOf(
        connect('qemu:///session', { driverOptions: { ...driverOptionsUnder(each.path), [key]: value } }),
      );
      expect(err.code).toBe('INVALID_ARG');
      expect(err.field).toBe(key);
    }
  });
});

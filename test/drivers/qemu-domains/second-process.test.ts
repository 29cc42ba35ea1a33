/**
 * A second Node process on the same qemu:///session roots (a CLI next to a
 * service), autostart, and what a user sees of the lifecycle: real QEMU
 * (TCG, 32 MiB) and real child processes running virtkit.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import { isVirError } from '../../../src/errors.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  writeBootImage,
} from '../qemu-lifecycle/helpers.js';
import { driverOptionsUnder, rootsEachTest } from '../real-guest.js';

// a second process and autostart start QEMUs this process did not: none may be left when the file ends, not even one
// killed and not yet reaped
const each = rootsEachTest('vk-second-', { noQemuLeft: true });
const open = (): Promise<Connection> => each.connect();

let uuidCounter = 0;
function domainXml(name: string, devices = '', features = '', extra = ''): string {
  uuidCounter++;
  const id = `d2d2d2d2-0000-4000-8000-${String(process.pid * 100 + uuidCounter).padStart(12, '0')}`;
  return `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${name}</name>
  <uuid>${id}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>${features}
  <devices><emulator>${QEMU_BINARY}</emulator>${devices}</devices>${extra}
</domain>`;
}

/**
 * The `acpi` boot program writes 'R' to a debug console once it listens for
 * the power button; libvirt's XML has no debug console, so it goes in by
 * `<qemu:commandline>`. `ready(n)` waits for the n-th 'R' since the last `clear()`.
 */
function acpiConsole(dir: string): { extra: string; clear(): void; ready(n?: number): Promise<void> } {
  const file = join(dir, 'acpi.con');
  writeFileSync(file, '');
  const args = [
    '-chardev',
    `file,id=dbgcon,path=${file.split(',').join(',,')}`,
    '-device',
    'isa-debugcon,iobase=0x780,chardev=dbgcon',
  ];
  return {
    extra: `<qemu:commandline>${args.map((a) => `<qemu:arg value='${a}'/>`).join('')}</qemu:commandline>`,
    clear: () => truncateSync(file, 0),
    async ready(n = 1) {
      const deadline = Date.now() + 20_000;
      while (readFileSync(file, 'latin1').split('R').length - 1 < n) {
        if (Date.now() > deadline) throw new Error('the guest never listened for the power button');
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

type Result = { value?: unknown; code?: string; message?: string };

/** Runs virtkit in a child Node process on the same roots; resolves with what each action gave. */
function inChild(
  name: string,
  actions: string[],
  xml?: string,
): Promise<{ openMs: number; results: Record<string, Result> }> {
  const script = join(import.meta.dirname, 'second-process-child.ts');
  const input = JSON.stringify({
    driverOptions: driverOptionsUnder(each.path),
    name,
    actions,
    ...(xml ? { xml } : {}),
  });
  const child = spawn(process.execPath, ['--import', 'tsx', script, input], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
    });
    child.once('exit', () => {
      try {
        resolve(JSON.parse(out.trim().split('\n').at(-1) ?? '') as never);
      } catch {
        reject(new Error(`child said: ${out}`));
      }
    });
  });
}

/** Like {@link inChild}, but the child keeps running (and owning its guests) after it answers. */
function holdingChild(
  name: string,
  actions: string[],
): Promise<{ pid: number; results: Record<string, Result>; kill(): Promise<void> }> {
  const script = join(import.meta.dirname, 'second-process-child.ts');
  const input = JSON.stringify({ driverOptions: driverOptionsUnder(each.path), name, actions, hold: true });
  const child = spawn(process.execPath, ['--import', 'tsx', script, input], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
      if (!out.includes('\n')) return;
      const { results } = JSON.parse(out.split('\n')[0] ?? '') as { results: Record<string, Result> };
      resolve({
        pid: child.pid ?? -1,
        results,
        kill: async () => {
          child.kill('SIGKILL');
          await exited;
        },
      });
    });
    void exited.then(() => reject(new Error(`child exited early: ${out}`)));
  });
}

async function until(what: string, check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(!HAS_QEMU)(`a second process on the same roots${QEMU_NOTE}`, () => {
  it('sees the running guest as running at once, is refused every change naming the owner; attaches once the owner lets go', async () => {
    const conn = await open();
    const xml = domainXml('vk-owned');
    const dom = await conn.defineDomain(xml);
    await dom.start();
    await dom.suspend();

    const other = await inChild(
      'vk-owned',
      ['state', 'id', 'xml-id', 'info', 'undefine', 'redefine', 'destroy', 'resume', 'start'],
      xml,
    );
    // No wait on a monitor that belongs to this process.
    expect(other.openMs).toBeLessThan(3000);
    expect(other.results.list?.value).toEqual(['vk-owned']);
    expect(other.results.state?.value).toEqual({ state: 'paused', reason: 'user' });
    expect(other.results.id?.value).toBe(dom.id);
    expect(other.results['xml-id']?.value).toBe(String(dom.id));
    expect(other.results.info?.value).toBe(32 * 1024);
    for (const action of ['undefine', 'redefine', 'destroy', 'resume', 'start']) {
      expect(other.results[action]?.code, action).toBe('OPERATION_INVALID');
      expect(other.results[action]?.message, action).toContain(`pid ${process.pid}`);
    }
    // Nothing changed behind the owner's back.
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'user' });
    expect(await dom.isPersistent()).toBe(true);
    await dom.resume();

    // The owner closes; the guest runs on, and the next process takes it over.
    await conn.close();
    const next = await inChild('vk-owned', ['state', 'suspend', 'destroy', 'active']);
    expect(next.results.state?.value).toEqual({ state: 'running', reason: 'unpaused' });
    expect(next.results.suspend?.value).toBe('done');
    expect(next.results.destroy?.value).toBe('done');
    expect(next.results.active?.value).toEqual([]);
    expect(qemuProcessesMentioning(each.path)).toEqual([]);
  });

  it('an owner that died is stale: the next process takes its running guest over', async () => {
    const conn = await open();
    const dom = await conn.defineDomain(domainXml('vk-orphan'));
    await conn.close();
    // A child starts the guest and exits without closing anything, as a crashed CLI would.
    const started = await inChild('vk-orphan', ['start', 'state']);
    expect(started.results.state?.value).toEqual({ state: 'running', reason: 'booted' });
    const owner = join(each.path, 'state', 'qemu', 'vk-orphan.owner');
    expect(existsSync(owner)).toBe(false);
    const again = await open();
    const found = await again.lookupDomain('vk-orphan');
    expect(await found.getState()).toEqual({ state: 'running', reason: 'booted' });
    expect(JSON.parse(readFileSync(owner, 'utf8'))).toMatchObject({ pid: process.pid });
    await found.destroy();
    expect(existsSync(owner)).toBe(false);
    expect(dom.name).toBe('vk-orphan');
  });
});

describe.skipIf(!HAS_QEMU)(`a service next to this process${QEMU_NOTE}`, () => {
  it('a guest another live process started after we opened is seen running and cannot be undefined; once that process is killed it is ours', async () => {
    const conn = await open();
    const dom = await conn.defineDomain(domainXml('vk-service'));
    const service = await holdingChild('vk-service', ['start', 'state']);
    try {
      expect(service.results.state?.value).toEqual({ state: 'running', reason: 'booted' });
      expect((await conn.listDomains({ active: true })).map((d) => d.name)).toEqual(['vk-service']);
      expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });
      for (const p of [dom.undefine(), dom.destroy(), dom.start(), conn.defineDomain(await dom.getXML())]) {
        const err = await p.then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isVirError(err, 'OPERATION_INVALID'), String(err)).toBe(true);
        expect((err as Error).message).toContain(`pid ${service.pid}`);
      }
      expect(await dom.isPersistent()).toBe(true);
    } finally {
      await service.kill();
    }
    // The owner died (SIGKILL, nothing closed): its guest runs on and is taken over here.
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });
    await dom.suspend();
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'user' });
    await dom.destroy();
    expect(qemuProcessesMentioning(each.path)).toEqual([]);
  });
});

describe.skipIf(!HAS_QEMU)(`lifecycle as users expect it${QEMU_NOTE}`, () => {
  it('autostart guests start at the first open after boot, once: not again on reopen, not in another process', async () => {
    const first = await open();
    const auto = await first.defineDomain(domainXml('vk-auto'));
    await auto.setAutostart(true);
    await first.defineDomain(domainXml('vk-manual'));
    await first.close();
    // The stamp of this boot was left by the first open; removing it is what a host reboot does.
    const qemuState = join(each.path, 'state', 'qemu');
    const stamps = readdirSync(qemuState).filter((f) => f.startsWith('autostarted-'));
    expect(stamps).toHaveLength(1);
    for (const s of stamps) rmSync(join(qemuState, s));

    const conn = await open();
    const dom = await conn.lookupDomain('vk-auto');
    await until('the autostart guest to run', async () => (await dom.getState()).state === 'running');
    expect(await (await conn.lookupDomain('vk-manual')).getState()).toEqual({
      state: 'shutoff',
      reason: 'unknown',
    });
    await dom.destroy();
    await conn.close();

    const reopened = await open();
    const child = await inChild('vk-auto', ['state']);
    expect(child.results.state?.value).toMatchObject({ state: 'shutoff' });
    await new Promise((r) => setTimeout(r, 500));
    expect((await reopened.listDomains({ active: true })).map((d) => d.name)).toEqual([]);
  });

  it("a start that QEMU refuses says QEMU's reason first, not the command line", async () => {
    const conn = await open();
    const dom = await conn.defineDomain(
      domainXml(
        'vk-why',
        "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/dev/null'/><target dev='hda' bus='ide'/></disk>",
      ),
    );
    const err = await dom.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isVirError(err, 'OPERATION_FAILED'), String(err)).toBe(true);
    const message = (err as Error).message;
    expect(message).toMatch(/^starting 'vk-why': \S*qemu-system-x86_64: .*\/dev\/null/);
    expect(message).not.toContain('-machine');
    expect(message.length).toBeLessThan(600);
  });

  it('reboot() gives shutdown, reboot, resumed as libvirt does (no paused/resumed pair); reset() is a reboot event; shutdown({ timeout }) waits for the power-off', async () => {
    const img = writeBootImage(join(each.path, 'acpi.img'), 'acpi');
    const conn = await open();
    const seen: string[] = [];
    void (async () => {
      for await (const e of conn.events({ reboot: true })) {
        seen.push(e.type === 'reboot' ? 'reboot' : `${e.event}/${e.detail}`);
      }
    })();
    const con = acpiConsole(each.path);
    const dom = await conn.defineDomain(
      domainXml(
        'vk-reboot',
        `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${img}'/><target dev='hda' bus='ide'/></disk>`,
        '<features><acpi/></features>',
        con.extra,
      ),
    );
    await dom.start();
    await con.ready();
    await dom.reboot();
    await until(
      'the rebooted guest to run',
      async () => seen.filter((s) => s === 'resumed/unpaused').length === 2,
    ).catch((err) => {
      throw new Error(
        `${err}; saw ${seen.join(', ')}; log: ${readFileSync(join(each.path, 'log', 'qemu', 'vk-reboot.log'), 'utf8')}`,
      );
    });
    // SeaBIOS resets once more by itself after a warm reset: every reset is a reboot event, as in libvirt.
    const lifecycle = () => seen.filter((s) => s !== 'reboot');
    expect(seen.slice(0, 6)).toEqual([
      'defined/added',
      'resumed/unpaused',
      'started/booted',
      'shutdown/guest',
      'reboot',
      'resumed/unpaused',
    ]);
    expect(await dom.getState(), seen.join()).toEqual({ state: 'running', reason: 'booted' });
    // the rebooted guest listens again (its second 'R') before the reset, so the next 'R' is the reset's
    await con.ready(2);
    con.clear();
    const before = seen.length;
    await dom.reset();
    await until('the reset', async () => seen.length > before);
    expect(seen.slice(before)[0]).toBe('reboot');
    expect(lifecycle()).toEqual([
      'defined/added',
      'resumed/unpaused',
      'started/booted',
      'shutdown/guest',
      'resumed/unpaused',
    ]);
    expect(await dom.getState(), seen.join()).toEqual({ state: 'running', reason: 'booted' });
    // The reset guest listens for the button again; shutdown({ timeout }) waits until it is off.
    await con.ready();
    await dom.shutdown({ timeout: 15_000 });
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'shutdown' });
    expect(lifecycle().slice(5)).toEqual(['shutdown/guest', 'stopped/shutdown']);
  });
});

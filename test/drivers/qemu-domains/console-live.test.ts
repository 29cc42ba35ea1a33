/**
 * Running guests through the public API with real QEMU: consoles (bytes the
 * firmware writes to the serial port), what the live XML shows (pty paths,
 * aliases, display ports), VNC autoport, the CPU check after QEMU created
 * the vCPU (TCG and KVM), and the lifecycle details of libvirt (reboot
 * events, shutdown with a timeout, QEMU's words first when a start fails).
 */
import { closeSync, constants, existsSync, openSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import { isVirError } from '../../../src/errors.js';
import { parseXml, type XmlElement } from '../../../src/xml/index.js';
import { waitFor } from '../../wait-for.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';
import { rootsEachTest } from '../real-guest.js';

const KVM_OK = (() => {
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
})();

const each = rootsEachTest('vk-live-');
/** A connection on this test's roots; `stateDir` a state root elsewhere. */
const open = (stateDir?: string): Promise<Connection> =>
  each.connect(undefined, stateDir === undefined ? {} : { stateDir });

let n = 0;
function xml(
  name: string,
  o: { type?: 'qemu' | 'kvm'; os?: string; cpu?: string; devices?: string } = {},
): string {
  n++;
  const uuid = `a1a1a1a1-0000-4000-8000-${String(process.pid * 100 + n).padStart(12, '0')}`;
  return `<domain type='${o.type ?? 'qemu'}'>
  <name>${name}</name>
  <uuid>${uuid}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type>${o.os ?? ''}</os>
  ${o.cpu ?? ''}
  <devices><emulator>${QEMU_BINARY}</emulator>${o.devices ?? ''}<memballoon model='none'/></devices>
</domain>`;
}

function elements(root: XmlElement, name: string): XmlElement[] {
  const out: XmlElement[] = [];
  const walk = (el: XmlElement) => {
    if (el.name === name) out.push(el);
    for (const c of el.children) if (c.type === 'element') walk(c);
  };
  walk(root);
  return out;
}

function attr(el: XmlElement | undefined, name: string): string | undefined {
  return el?.attrs.find((a) => a.name === name)?.value;
}

function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c): c is XmlElement => c.type === 'element' && c.name === name);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isVirError(err), String(err)).toBe(true);
  return (err as { code: string }).code;
}

/** Reads from `stream` until `text` has come, or fails after `ms`. */
function readUntil(stream: NodeJS.ReadableStream, text: string, ms = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const timer = setTimeout(() => {
      stream.off('data', onData);
      reject(new Error(`no '${text}' within ${ms} ms; got ${JSON.stringify(got)}`));
    }, ms);
    const onData = (chunk: Buffer | string) => {
      got += chunk.toString();
      if (got.includes(text)) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(got);
      }
    };
    stream.on('data', onData);
  });
}

/** The first bytes a VNC server sends: its protocol version. */
function rfbBanner(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tcpConnect(port, '127.0.0.1');
    s.once('data', (d) => {
      s.destroy();
      resolve(d.toString());
    });
    s.once('error', reject);
  });
}

describe.skipIf(!HAS_QEMU)(`live guests: consoles, live XML, ports, CPU check${QEMU_NOTE}`, () => {
  it('openConsole reads what SeaBIOS writes to the serial pty; the live XML shows the pty, tty and aliases', async () => {
    const conn = await open();
    const dom = await conn.defineDomain(
      xml('vk-console', {
        os: "<bios useserial='yes'/>",
        devices:
          "<serial type='pty'/><console type='pty'/><serial type='file'><source path='/dev/null'/></serial>",
      }),
    );
    expect(await codeOf(dom.openConsole())).toBe('OPERATION_INVALID');
    await dom.start({ paused: true });
    const live = parseXml(await dom.getXML());
    const [serial0, serial1] = elements(live, 'serial');
    const pty = attr(child(serial0, 'source'), 'path') ?? '';
    expect(pty).toMatch(/^\/dev\/pts\/\d+$/);
    expect(attr(child(serial0, 'alias'), 'name')).toBe('serial0');
    expect(attr(child(serial1, 'alias'), 'name')).toBe('serial1');
    const console0 = elements(live, 'console')[0];
    expect(attr(console0, 'tty')).toBe(pty);
    expect(attr(child(console0, 'source'), 'path')).toBe(pty);
    expect(attr(child(console0, 'alias'), 'name')).toBe('serial0');
    // the next-boot definition has none of it
    const inactive = parseXml(await dom.getXML({ inactive: true }));
    expect(child(elements(inactive, 'serial')[0], 'alias')).toBe(undefined);
    expect(child(elements(inactive, 'serial')[0], 'source')).toBe(undefined);

    const stream = await dom.openConsole();
    // One session per device unless forced, as libvirt locks it.
    expect(await codeOf(dom.openConsole('serial0'))).toBe('OPERATION_FAILED');
    expect(await codeOf(dom.openConsole('serial1'))).toBe('CONFIG_UNSUPPORTED');
    expect(await codeOf(dom.openConsole('parallel7'))).toBe('INTERNAL_ERROR');
    const forced = await dom.openConsole('serial0', { force: true });
    expect(stream.destroyed).toBe(true);
    // QEMU looks for a reader on its pty once a second: let it see ours before the firmware runs.
    await new Promise((r) => setTimeout(r, 1500));
    const seen = readUntil(forced, 'SeaBIOS');
    await dom.resume();
    expect(await seen).toContain('SeaBIOS');
    const closed = new Promise((r) => forced.once('close', r));
    await dom.destroy();
    await closed;
  });

  it('a console on a unix socket QEMU listens on carries bytes both ways', async () => {
    const conn = await open();
    const sock = join(each.path, 'serial.sock');
    const dom = await conn.createDomain(
      xml('vk-console-unix', {
        os: "<bios useserial='yes'/>",
        devices: `<serial type='unix'><source mode='bind' path='${sock}'/></serial>`,
      }),
      { paused: true },
    );
    const stream = await dom.openConsole('serial0');
    const seen = readUntil(stream, 'SeaBIOS');
    await dom.resume();
    expect(await seen).toContain('SeaBIOS');
    expect(stream.write('x')).toBe(true);
    await dom.destroy();
  });

  it('VNC autoport: two guests get different ports from 5900 up, each served by its QEMU, freed at stop', async () => {
    const conn = await open();
    const vnc =
      "<graphics type='vnc' autoport='yes'><listen type='address' address='127.0.0.1'/></graphics><audio id='1' type='none'/>";
    const a = await conn.createDomain(xml('vk-vnc-a', { devices: vnc }), { paused: true });
    const b = await conn.createDomain(xml('vk-vnc-b', { devices: vnc }), { paused: true });
    const portOf = async (d: typeof a) =>
      Number(attr(elements(parseXml(await d.getXML()), 'graphics')[0], 'port'));
    const pa = await portOf(a);
    const pb = await portOf(b);
    expect(pa).toBeGreaterThanOrEqual(5900);
    expect(pb).toBeGreaterThan(pa);
    expect(await rfbBanner(pa)).toMatch(/^RFB 003\.\d{3}\n/);
    expect(await rfbBanner(pb)).toMatch(/^RFB 003\.\d{3}\n/);
    await a.destroy();
    // The stopped guest's port is the lowest free one again.
    const c = await conn.createDomain(xml('vk-vnc-c', { devices: vnc }), { paused: true });
    expect(await portOf(c)).toBe(pa);
  });

  for (const type of ['qemu', 'kvm'] as const) {
    const skip = type === 'kvm' && !KVM_OK;
    it.skipIf(skip)(
      `${type}: a required feature QEMU could not give refuses the start; check='none' starts and the live XML shows it disabled${skip ? ' (skipped: /dev/kvm cannot be opened)' : ''}`,
      async () => {
        const conn = await open();
        const cpu = (check: string) =>
          `<cpu mode='custom' match='exact' check='${check}'><model fallback='forbid'>qemu64</model><feature policy='require' name='amx-tile'/></cpu>`;
        const strict = await conn.defineDomain(xml(`vk-cpu-${type}`, { type, cpu: cpu('partial') }));
        const err = await strict.start().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isVirError(err, 'CPU_INCOMPATIBLE'), String(err)).toBe(true);
        expect((err as Error).message).toContain('qemu64');
        expect((err as Error).message).toContain('amx-tile');
        expect(await strict.getState()).toEqual({ state: 'shutoff', reason: 'failed' });

        const lax = await conn.createDomain(xml(`vk-cpu-lax-${type}`, { type, cpu: cpu('none') }), {
          paused: true,
        });
        const liveCpu = elements(parseXml(await lax.getXML()), 'cpu')[0];
        const amx = elements(liveCpu as XmlElement, 'feature').find((f) => attr(f, 'name') === 'amx-tile');
        expect(attr(amx, 'policy')).toBe('disable');
        await lax.destroy();
      },
    );
  }

  it('reset() is a reboot event; shutdown({ timeout }) fails on a guest that ignores the button', async () => {
    const conn = await open();
    const events: string[] = [];
    void (async () => {
      for await (const e of conn.events({ reboot: true }))
        events.push(e.type === 'reboot' ? 'reboot' : `${e.event}/${e.detail}`);
    })();
    const dom = await conn.createDomain(xml('vk-reset'));
    await dom.reset();
    await waitFor(() => events.includes('reboot'), { what: 'reboot event', seen: () => `${events}` });
    expect(events).toEqual(['resumed/unpaused', 'started/booted', 'reboot']);
    // Without an OS nothing answers the ACPI button.
    expect(await codeOf(dom.shutdown({ timeout: 300 }))).toBe('OPERATION_TIMEOUT');
    expect((await dom.getState()).state).toBe('running');
  });

  it('the run directory is domain-<id>-<20 characters of the name>, so a deep state root still fits the socket', async () => {
    // 30 more characters than usual: a domain-<uuid> directory would not fit a unix socket address.
    const stateDir = join(each.path, 'state-of-a-very-deep-home-directory');
    const conn = await open(stateDir);
    const name = 'vk-a-rather-long-guest-name-for-paths';
    const dom = await conn.createDomain(xml(name), { paused: true });
    const dir = join(stateDir, 'qemu', `domain-${dom.id}-${name.slice(0, 20)}`);
    expect(existsSync(join(dir, 'monitor.sock'))).toBe(true);
    expect(
      Buffer.byteLength(join(stateDir, 'qemu', `domain-${'x'.repeat(36)}`, 'monitor.sock')),
    ).toBeGreaterThan(107);
    await dom.destroy();
    expect(existsSync(dir)).toBe(false);
  });

  it("a start QEMU refuses says QEMU's own reason first, not the command line", async () => {
    const conn = await open();
    const dom = await conn.defineDomain(
      xml('vk-badstart', {
        devices:
          "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/dev/null'/><target dev='hda' bus='ide'/></disk>",
      }),
    );
    const err = await dom.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    const message = (err as Error).message;
    expect(message).toMatch(/^starting 'vk-badstart': \S*qemu-system-x86_64: .*\/dev\/null/);
    expect(message).not.toContain('-nodefaults');
  });
});

/**
 * libvirt-qemu's passthrough, the monitor event tap, QMP events as libvirt's
 * domain events, and screenshots, on real QEMU (TCG, diskless SeaBIOS guests,
 * every root in a temporary directory). Expected values are QEMU's own
 * answers, libvirt's names and numbers (python3-libvirt's constants), and
 * what netpbm's decoder reads from our PNGs.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { AnyDomainEvent, QemuMonitorEvent } from '../../../src/driver.js';
import { isVirError } from '../../../src/errors.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';
import { rootsEachTest } from '../real-guest.js';

const HAS_PNGTOPNM = (() => {
  try {
    execFileSync('pngtopnm', ['-version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const each = rootsEachTest('vk-qmp-');
const open = (): Promise<Connection> => each.connect();

function xml(name: string, devices = ''): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>${devices}</devices>
</domain>`;
}

async function nextOf<T>(it: AsyncIterator<T>, ms = 10_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    if (r.done) throw new Error('stream ended');
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (err: unknown) => err,
  );
}

describe.skipIf(!HAS_QEMU)(`qemuMonitorCommand${QEMU_NOTE}`, () => {
  it('runs QMP and HMP through our own monitor, passes QEMU errors through, taints the domain once', async () => {
    const conn = await open();
    const dom = await conn.createDomain(xml('vk-qmp-pass'));
    const status = await dom.qemuMonitorCommand('{"execute":"query-status"}');
    expect(status).toMatchObject({ return: { status: 'running', running: true } });
    const name = await dom.qemuMonitorCommand({ execute: 'query-name' });
    expect(name).toEqual({ return: { name: 'vk-qmp-pass' } });
    // HMP's text, as QEMU's monitor prints it
    expect(await dom.qemuMonitorCommand('info status', { hmp: true })).toBe('VM status: running\r\n');
    // a QEMU-side error is a reply, as libvirt-qemu passes it on
    const bad = await dom.qemuMonitorCommand({ execute: 'no-such-command' });
    expect(bad).toMatchObject({ error: { class: 'CommandNotFound' } });
    // the state machine still follows: a stop through the passthrough is a pause
    await dom.qemuMonitorCommand({ execute: 'stop' });
    await expect.poll(() => dom.getState()).toEqual({ state: 'paused', reason: 'unknown' });
    await dom.qemuMonitorCommand({ execute: 'cont' });
    const log = readFileSync(join(each.path, 'log', 'qemu', 'vk-qmp-pass.log'), 'utf8');
    expect(log.match(/Domain id=\d+ is tainted: custom-monitor/g)).toHaveLength(1);
  });

  it('refuses what is not a command, naming the field; a guest not running; the test driver', async () => {
    const conn = await open();
    const dom = await conn.defineDomain(xml('vk-qmp-bad'));
    const notRunning = await rejection(dom.qemuMonitorCommand({ execute: 'query-status' }));
    expect(isVirError(notRunning) && notRunning.code).toBe('OPERATION_INVALID');
    await dom.start();
    const cases: [unknown, string][] = [
      ['{not json', 'cmd'],
      ['[1]', 'cmd'],
      [{ execute: 'query-status', id: 7 }, 'cmd.id'],
      [{ execute: 'query status' }, 'cmd.execute'],
      [{ execute: 'qmp_capabilities' }, 'cmd.execute'],
      [{ execute: 'query-status', arguments: [1] }, 'cmd.arguments'],
    ];
    for (const [cmd, field] of cases) {
      const err = await rejection(dom.qemuMonitorCommand(cmd as string));
      expect(isVirError(err) && [err.code, err.field]).toEqual(['INVALID_ARG', field]);
    }
    const hmp = await rejection(dom.qemuMonitorCommand('info status\nquit', { hmp: true }));
    expect(isVirError(hmp) && hmp.code).toBe('INVALID_ARG');
    expect((await dom.getState()).state).toBe('running');
    const t = await connect('test:///default');
    const tdom = await t.lookupDomain('test');
    const nos = await rejection(tdom.qemuMonitorCommand({ execute: 'query-status' }));
    expect(isVirError(nos) && nos.code).toBe('NO_SUPPORT');
    expect(() => t.qemuMonitorEvents()).toThrow(/NO_SUPPORT|QEMU monitor/);
    await t.close();
  });
});

describe.skipIf(!HAS_QEMU)(`monitor event tap and domain events${QEMU_NOTE}`, () => {
  it('delivers raw QMP events of one domain by name, and the lifecycle follows', async () => {
    const conn = await open();
    const a = await conn.createDomain(xml('vk-qmp-tap-a'));
    const b = await conn.createDomain(xml('vk-qmp-tap-b'));
    const tap = conn.qemuMonitorEvents({ domain: a, event: 'stop' });
    const re = conn.qemuMonitorEvents({ event: /^RESUME$/ });
    const life = conn.events();
    await b.qemuMonitorCommand({ execute: 'stop' });
    await a.qemuMonitorCommand({ execute: 'stop' });
    const ev: QemuMonitorEvent = await nextOf(tap);
    expect(ev).toMatchObject({ type: 'qemu-monitor', event: 'STOP', domain: { name: 'vk-qmp-tap-a' } });
    expect(ev.details).toBeUndefined();
    expect(Math.abs(ev.seconds - Date.now() / 1000)).toBeLessThan(60);
    await a.qemuMonitorCommand({ execute: 'cont' });
    expect(await nextOf(re)).toMatchObject({ event: 'RESUME' });
    const seen = new Set<string>();
    while (seen.size < 3) {
      const e = await nextOf(life);
      if (e.event === 'suspended' || e.event === 'resumed')
        seen.add(`${e.domain.name}:${e.event}/${e.detail}`);
    }
    expect([...seen].sort()).toEqual([
      'vk-qmp-tap-a:resumed/unpaused',
      'vk-qmp-tap-a:suspended/paused',
      'vk-qmp-tap-b:suspended/paused',
    ]);
    tap.end();
    re.end();
    life.end();
  });

  it('device-removed and tray-change with the aliases libvirt gives, only for the ids asked for', async () => {
    const conn = await open();
    const dom = await conn.createDomain(
      xml(
        'vk-qmp-devs',
        `<controller type='usb' model='piix3-uhci'/><disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>`,
      ),
    );
    const events = conn.events({ ids: ['device-removed', 'tray-change'] });
    const all: AnyDomainEvent[] = [];

    const lifecycleOnly = conn.events();
    await dom.qemuMonitorCommand({
      execute: 'device_add',
      arguments: { driver: 'usb-tablet', id: 'ua-tablet', bus: 'usb.0' },
    });
    await dom.qemuMonitorCommand({ execute: 'device_del', arguments: { id: 'ua-tablet' } });
    all.push(await nextOf(events));
    // libvirt's alias of the IDE cdrom on bus 1, unit 0
    await dom.qemuMonitorCommand({ execute: 'blockdev-open-tray', arguments: { id: 'ide0-1-0' } });
    all.push(await nextOf(events));
    expect(all.map((e) => ({ ...e, timestamp: 0 }))).toEqual([
      { type: 'device-removed', domain: { ...dom.toJSON() }, devAlias: 'ua-tablet', timestamp: 0 },
      {
        type: 'tray-change',
        domain: { ...dom.toJSON() },
        devAlias: 'ide0-1-0',
        reason: 'open',
        timestamp: 0,
      },
    ]);
    // the default stream saw none of them
    await dom.suspend();
    expect((await nextOf(lifecycleOnly)).type).toBe('lifecycle');
    events.end();
    lifecycleOnly.end();
  });
});

describe.skipIf(!HAS_QEMU)(`screenshot${QEMU_NOTE}`, () => {
  it.skipIf(!HAS_PNGTOPNM)(
    "gives a PNG of the VGA console with the pixels of QEMU's own dump (skipped without pngtopnm)",
    async () => {
      const conn = await open();
      const dom = await conn.createDomain(xml('vk-qmp-shot', `<video><model type='vga'/></video>`));
      // paused, so QEMU's own PPM of the same moment has the same pixels
      await dom.suspend();
      const shot = await dom.screenshot();
      expect(shot.mime).toBe('image/png');
      expect([...shot.data.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      const file = join(each.path, 'shot.ppm');
      await dom.qemuMonitorCommand({ execute: 'screendump', arguments: { filename: file } });
      const decoded = execFileSync('pngtopnm', [], { input: shot.data });
      expect(decoded.subarray(0, 2).toString('latin1')).toBe('P6');
      expect(Buffer.compare(decoded, readFileSync(file))).toBe(0);
      const err = await rejection(dom.screenshot({ screen: 1 }));
      expect(isVirError(err) && [err.code, err.field]).toEqual(['INVALID_ARG', 'screen']);
    },
  );

  it.skipIf(!HAS_PNGTOPNM)(
    "our PPM to PNG conversion gives back QEMU's own pixels (skipped without pngtopnm)",
    async () => {
      const conn = await open();
      const dom = await conn.createDomain(xml('vk-qmp-ppm', `<video><model type='cirrus'/></video>`));
      const { encodePng, parsePpm } = await import('../../../src/drivers/png-image.js');
      const file = join(each.path, 'shot.ppm');
      await dom.qemuMonitorCommand('{"execute":"stop"}');
      await dom.qemuMonitorCommand({ execute: 'screendump', arguments: { filename: file } });
      const ppm = new Uint8Array(readFileSync(file));
      const decoded = execFileSync('pngtopnm', [], { input: encodePng(parsePpm(ppm)) });
      expect(Buffer.compare(decoded, Buffer.from(ppm))).toBe(0);
    },
  );

  it('a guest without a display is refused at once', async () => {
    const conn = await open();
    const dom = await conn.createDomain(xml('vk-qmp-nodisplay', `<video><model type='none'/></video>`));
    const err = await rejection(dom.screenshot());
    expect(isVirError(err) && err.code).toBe('OPERATION_FAILED');
    expect((await dom.getState()).state).toBe('running');
  });
});

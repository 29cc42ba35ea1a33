/**
 * Node device events of the QEMU driver. On the fixture tree (a short read
 * interval): a USB device that appears is `created`, one that goes
 * `deleted`, a PCI device whose bound driver changes `updated`, and nothing
 * else is reported. On this host, as root: a veth pair made with `ip link`
 * shows up as two `net_<ifname>_<mac>` devices `created`, then `deleted`
 * when it is removed, through `conn.nodeDevices.events()` on
 * qemu:///session; the pair is removed whatever happens.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../../src/connection.js';
import type { NodeDeviceEvent } from '../../../src/driver-objects.js';
import { DeviceWatch } from '../../../src/drivers/qemu/nodedev/device-watch.js';
import { QemuNodeDevices } from '../../../src/drivers/qemu/nodedev/index.js';
import { waitFor } from '../../wait-for.js';
import { type Fixture, makeFixture } from './sysfs-fixture.js';

/** Collects events until `want` returns true for what was collected, or fails after `ms`. */
function collect(subscribe: (l: (e: NodeDeviceEvent) => void) => () => void): {
  events: NodeDeviceEvent[];
  until(want: (e: NodeDeviceEvent[]) => boolean, ms?: number): Promise<void>;
  stop(): void;
} {
  const events: NodeDeviceEvent[] = [];
  const waiters = new Set<() => void>();
  const off = subscribe((e) => {
    events.push(e);
    for (const w of waiters) w();
  });
  return {
    events,
    until: (want, ms = 20_000) =>
      new Promise((resolve, reject) => {
        const check = () => {
          if (!want(events)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(`events so far: ${JSON.stringify(events.map((e) => `${e.device.name}:${e.event}`))}`),
          );
        }, ms);
        waiters.add(check);
        check();
      }),
    stop: off,
  };
}

const short = (events: NodeDeviceEvent[]) => events.map((e) => `${e.device.name}:${e.event}`);

describe('events on the fixture tree', () => {
  let f: Fixture;
  beforeAll(() => {
    f = makeFixture();
  });
  afterAll(() => f?.remove());

  it('created, deleted, updated on a driver change; nothing for what did not change', async () => {
    const devs = new QemuNodeDevices({
      privileged: false,
      sysRoot: f.sys,
      udevData: f.udev,
      usbIds: [f.usbIds],
      pciIds: [f.pciIds],
      watchIntervalMs: 50,
    });
    const c = collect((l) => devs.subscribe(l));
    try {
      // a call after subscribing waits for the first read: what follows is a change
      await devs.listNodeDevices({});
      const usb5 = join(f.sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-5');
      mkdirSync(usb5, { recursive: true });
      writeFileSync(join(usb5, 'uevent'), 'DEVTYPE=usb_device\nBUSNUM=001\nDEVNUM=005\n');
      writeFileSync(join(usb5, 'idVendor'), '1d6b\n');
      writeFileSync(join(usb5, 'idProduct'), '0003\n');
      symlinkSync(usb5, join(f.sys, 'bus/usb/devices/1-5'));
      await c.until((e) => e.length >= 1);
      expect(short(c.events)).toEqual(['usb_1_5:created']);

      unlinkSync(join(f.sys, 'bus/usb/devices/1-5'));
      rmSync(usb5, { recursive: true });
      await c.until((e) => e.length >= 2);
      expect(short(c.events)).toEqual(['usb_1_5:created', 'usb_1_5:deleted']);

      // the kernel binding 0000:00:05.0 to vfio-pci, as a detach makes it
      const drv = join(f.sys, 'devices/pci0000:00/0000:00:05.0/driver');
      unlinkSync(drv);
      symlinkSync(join(f.sys, 'bus/pci/drivers/vfio-pci'), drv);
      await c.until((e) => e.length >= 3);
      expect(short(c.events)).toEqual(['usb_1_5:created', 'usb_1_5:deleted', 'pci_0000_00_05_0:updated']);
      expect(c.events.every((e) => e.type === 'nodeDevice' && e.timestamp > 0)).toBe(true);
    } finally {
      c.stop();
    }
  });
});

const ROOT = process.getuid?.() === 0;
const IP = spawnSync('ip', ['-V'], { encoding: 'utf8' }).status === 0;
const A = 'vk-nodedev2a';
const B = 'vk-nodedev2b';
const ip = (...args: string[]) => spawnSync('ip', args, { encoding: 'utf8', timeout: 30_000 });

describe.skipIf(!ROOT || !IP)(
  `events on this host${ROOT && IP ? '' : ' (skipped: needs root and iproute2 to make a veth pair)'}`,
  () => {
    afterAll(() => {
      ip('link', 'del', A); // removes its peer too; absent already when the test passed
    });

    it('a veth pair made with ip link is created, then deleted, as two net_<ifname>_<mac> devices', async () => {
      ip('link', 'del', A);
      const conn = await connect('qemu:///session', { driverOptions: { cacheDir: null } });
      const stream = conn.nodeDevices.events({ filter: (e) => e.device.name.includes('vk_nodedev2') });
      const seen: NodeDeviceEvent[] = [];
      const pump = (async () => {
        for await (const e of stream) {
          seen.push(e);
          if (seen.length === 4) break;
        }
      })();
      try {
        await conn.nodeDevices.list();
        const made = ip('link', 'add', A, 'type', 'veth', 'peer', 'name', B);
        expect(made.status, made.stderr).toBe(0);
        const mac = (n: string) =>
          readFileSync(`/sys/class/net/${n}/address`, 'utf8').trim().replaceAll(':', '_');
        const names = [`net_${A}_${mac(A)}`, `net_${B}_${mac(B)}`].map((n) => n.replaceAll('-', '_')).sort();
        // the devices are there to look up as soon as the events say so
        const events = (n: number) =>
          waitFor(() => seen.length >= n, {
            what: `${n} node device events`,
            seen: () => seen.map((e) => `${e.device.name}:${e.event}`).join(' '),
          });
        await events(2);
        expect(seen.map((e) => `${e.device.name}:${e.event}`).sort()).toEqual(
          names.map((n) => `${n}:created`),
        );
        for (const n of names) expect((await conn.nodeDevices.lookup(n)).name).toBe(n);
        expect(ip('link', 'del', A).status).toBe(0);
        await events(4);
        expect(
          seen
            .slice(2)
            .map((e) => `${e.device.name}:${e.event}`)
            .sort(),
        ).toEqual(names.map((n) => `${n}:deleted`));
        await pump;
      } finally {
        stream.end();
        await conn.close();
      }
    }, 60_000);
  },
);

describe('the watch reads only while someone listens', () => {
  it('no read before a subscription or after the last one ends; a new one starts from a fresh read', async () => {
    let reads = 0;
    let devices = [{ name: 'computer', driver: undefined as string | undefined }];
    const watch = new DeviceWatch(async () => {
      reads++;
      return devices;
    }, 10);
    await new Promise((r) => setTimeout(r, 100));
    expect(reads).toBe(0);
    const events: string[] = [];
    const off = watch.subscribe((e) => events.push(`${e.device.name}:${e.event}`));
    await watch.ready();
    devices = [...devices, { name: 'usb_1_9', driver: 'usb' }];
    await watch.refresh();
    expect(events).toEqual(['usb_1_9:created']);
    off();
    await new Promise((r) => setTimeout(r, 50));
    const after = reads;
    await new Promise((r) => setTimeout(r, 150));
    expect(reads).toBe(after);
    // what changed while no one listened is no event for the next subscriber
    devices = [devices[0]!];
    const later: string[] = [];
    const off2 = watch.subscribe((e) => later.push(`${e.device.name}:${e.event}`));
    await watch.ready();
    await watch.refresh();
    expect(later).toEqual([]);
    off2();
  });
});

/**
 * libvirt's `control-error`: the monitor connection breaks while QEMU runs
 * on. libvirt sends it when its monitor reads what is not QMP or fails with
 * an I/O error (not at an end of file, which means QEMU is going). QEMU
 * itself never sends garbage, so the garbage comes from a relay on the
 * monitor channel: a guest started by one connection, re-attached by the
 * next through a real unix-socket relay to QEMU's real monitor (the status
 * file's monitor path pointed at it), and the relay then writes a line that
 * is not JSON towards virtkit. Real QEMU (TCG).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { AnyDomainEvent } from '../../../src/domain-events.js';
import type { EventStream } from '../../../src/event-stream.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

const roots = HAS_QEMU ? tempRoots('vk-ctlerr-') : undefined;
const conns: Connection[] = [];
let relay: Server | undefined;

afterAll(async () => {
  for (const c of conns) if (!c.isClosed) await c.close();
  relay?.close();
  if (!roots) return;
  for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
  roots.remove();
});

async function open(): Promise<Connection> {
  const path = (roots as NonNullable<typeof roots>).path;
  const c = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      runDir: join(path, 'rundir'),
      stateDir: join(path, 'state'),
      configDir: join(path, 'config'),
      logDir: join(path, 'log'),
      emulators: [QEMU_BINARY],
    },
  });
  conns.push(c);
  return c;
}

/** A relay from `listen` to the unix socket `target`; `inject` writes to the client side. */
async function startRelay(listen: string, target: string): Promise<{ inject(text: string): void }> {
  let client: Socket | undefined;
  relay = createServer((c) => {
    client = c;
    const up = netConnect(target);
    c.pipe(up);
    up.pipe(c);
    const end = () => {
      c.destroy();
      up.destroy();
    };
    c.on('error', end);
    up.on('error', end);
  });
  await new Promise<void>((r) => relay?.listen(listen, r));
  return {
    inject: (text) => {
      if (!client) throw new Error('nobody connected to the relay');
      client.write(text);
    },
  };
}

describe.skipIf(!HAS_QEMU)(`control-error when the monitor breaks under a running QEMU${QEMU_NOTE}`, () => {
  it('garbage on the monitor: control-error, QEMU and the guest run on, monitor calls fail', async () => {
    const path = (roots as NonNullable<typeof roots>).path;
    const image = join(path, 'disk.img');
    writeFileSync(image, Buffer.alloc(1 << 20));
    const first = await open();
    await first.createDomain(`<domain type='qemu'><name>vk-ctlerr</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>${QEMU_BINARY}</emulator>
      <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${image}'/><target dev='vda' bus='virtio'/></disk>
      </devices></domain>`);
    // the guest runs on without this connection; its monitor is free for the next one
    await first.close();
    const statusFile = join(path, 'state', 'qemu', 'vk-ctlerr.xml');
    const status = readFileSync(statusFile, 'utf8');
    const monitor = /<monitor path='([^']+)'/.exec(status)?.[1];
    expect(monitor).toBeDefined();
    const proxied = join(path, 'relay.sock');
    const wire = await startRelay(proxied, monitor as string);
    writeFileSync(statusFile, status.replace(`<monitor path='${monitor}'`, `<monitor path='${proxied}'`));

    const conn = await open();
    const dom = await conn.lookupDomain('vk-ctlerr');
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });
    const events = conn.events({ ids: ['control-error', 'lifecycle'] }) as EventStream<AnyDomainEvent>;
    wire.inject('this is not QMP\n');
    let seen: AnyDomainEvent | undefined;
    const timer = setTimeout(() => events.end(), 30_000);
    for await (const e of events) {
      seen = e;
      break;
    }
    clearTimeout(timer);
    expect(seen).toMatchObject({ type: 'control-error', domain: { name: 'vk-ctlerr', id: dom.id } });
    // as libvirt: the domain is not stopped for it; QEMU still runs
    expect(qemuProcessesMentioning(path).length).toBe(1);
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });
    await expect(dom.suspend()).rejects.toMatchObject({ name: 'VirError' });
    await dom.destroy();
    expect(qemuProcessesMentioning(path)).toEqual([]);
  }, 90_000);
});

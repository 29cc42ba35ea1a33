/**
 * The remote driver's pools, volumes, networks, secrets and node devices
 * against a private libvirtd (test/drivers/remote/libvirtd.ts), with
 * python3-libvirt on the same daemon as the reference: the daemon's test
 * driver (test+unix:///default) walks the same scenarios as the test
 * driver's differential test; its real storage driver (storage:///session)
 * a dir pool with qemu-img volumes; and its secret, node device and network
 * drivers.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../src/connection.js';
import { VirError } from '../../src/errors.js';
import { type Daemon, LIBVIRTD, startLibvirtd } from '../drivers/remote/libvirtd.js';
import {
  DIR_POOL_PY,
  dirPoolSteps,
  NODE_DEVICE_PY,
  nodeDeviceSteps,
  PORT_PY,
  portSteps,
  SECRET_PY,
  SESSION_NETWORK_PY,
  secretSteps,
  sessionNetworkSteps,
} from './daemon-scenarios.js';
import { EVENTS_PY, eventName, eventSteps } from './events-scenario.js';
import { NETWORK_PY, networkSteps } from './network-scenario.js';
import { compare, HAVE_PYTHON_LIBVIRT, type Outcome, runLibvirt, runOurs } from './py-steps.js';
import { STORAGE_PY, storageSteps } from './storage-scenario.js';

let daemon: Daemon;

beforeAll(async () => {
  if (LIBVIRTD && HAVE_PYTHON_LIBVIRT) daemon = await startLibvirtd();
}, 30_000);

afterAll(async () => {
  await daemon?.stop();
});

const uri = (driver: string, path: string) => `${driver}+unix://${path}?socket=${daemon.socket}`;

async function both(
  driver: string,
  path: string,
  steps: (c: Awaited<ReturnType<typeof connect>>) => Array<readonly [string, () => Promise<unknown>]>,
  py: string,
  ...args: string[]
): Promise<[Outcome[], Outcome[]]> {
  // python first, then virtkit: the daemon's test:///default is one host, shared by the
  // connections open on it, and starts afresh once the last one closes
  const theirs = runLibvirt(uri(driver, path), py, args);
  const conn = await connect(uri(driver, path));
  try {
    const ours = await runOurs(steps(conn));
    return [ours, theirs];
  } finally {
    await conn.close();
  }
}

describe.skipIf(!LIBVIRTD || !HAVE_PYTHON_LIBVIRT)('remote driver objects against libvirtd', () => {
  it("storage on the daemon's test driver matches python3-libvirt call by call", async () => {
    const [ours, theirs] = await both('test', '/default', storageSteps, STORAGE_PY);
    compare(ours, theirs);
  });

  it("networks and node devices on the daemon's test driver match", async () => {
    const [ours, theirs] = await both('test', '/default', networkSteps, NETWORK_PY);
    compare(ours, theirs);
  });

  it('a dir pool of the storage driver: build, qcow2/raw volumes, resize, wipe, clone, delete', async () => {
    // not made yet: build makes it, as the daemon's user (the daemon's own directory is its)
    const pyDir = join(daemon.dir, 'pool-py');
    const ourDir = join(daemon.dir, 'pool-ours');
    const theirs = runLibvirt(uri('storage', '/session'), DIR_POOL_PY, [pyDir]);
    const conn = await connect(uri('storage', '/session'));
    const ours = await runOurs(dirPoolSteps(conn, ourDir));
    await conn.close();
    // the keys are the paths, which differ only by the directory
    const norm = (os: Outcome[], d: string) =>
      JSON.parse(JSON.stringify(os).replaceAll(d, '<dir>')) as Outcome[];
    compare(norm(ours, ourDir), norm(theirs, pyDir));
    expect(ours.find((o) => o.step === 'resized')).toEqual({
      step: 'resized',
      ok: true,
      value: ['file', 20 * 1024 * 1024],
    });
  });

  it('secrets of the secret driver: values as bytes, lookups by usage', async () => {
    const [ours, theirs] = await both('secret', '/session', secretSteps, SECRET_PY);
    compare(ours, theirs);
    expect(ours.find((o) => o.step === 'get')).toEqual({ step: 'get', ok: true, value: 'pass phrase' });
  });

  it("the node device driver's devices", async () => {
    const [ours, theirs] = await both('nodedev', '/session', nodeDeviceSteps, NODE_DEVICE_PY);
    compare(ours, theirs);
  });

  it("the session network driver's definitions", async () => {
    const [ours, theirs] = await both('network', '/session', sessionNetworkSteps, SESSION_NETWORK_PY);
    compare(ours, theirs);
  });

  it('ports of a bridged network: create, list, typed XML, delete', async () => {
    const [ours, theirs] = await both('network', '/session', portSteps, PORT_PY);
    compare(ours, theirs);
    expect(ours.find((o) => o.step === 'plug')).toEqual({ step: 'plug', ok: true, value: 'vkbr0' });
  });

  it("pool and network events from the daemon's test driver, as python3-libvirt sees them", async () => {
    const [theirs] = runLibvirt(uri('test', '/default'), EVENTS_PY);
    const conn = await connect(uri('test', '/default'));
    const expected = (theirs?.ok && Array.isArray(theirs.value) ? theirs.value : []).length;
    const ours = await eventSteps(conn, () => new Promise((r) => setTimeout(r, 50)), expected);
    await conn.close();
    expect(theirs).toEqual({ step: 'events', ok: true, value: ours });
    expect(ours.length).toBeGreaterThan(8);
  });

  it('secret events from the secret driver: defined, valueChanged, undefined (never the value)', async () => {
    const conn = await connect(uri('secret', '/session'));
    const stream = conn.secrets.events();
    const s = await conn.secrets.define(
      "<secret ephemeral='no' private='no'><usage type='ceph'><name>client.vk</name></usage></secret>",
    );
    await s.setValue(new Uint8Array([7, 7, 7]));
    await s.undefine();
    const seen: string[] = [];
    for await (const e of stream) {
      seen.push(eventName(e));
      expect(JSON.stringify(e)).not.toContain('7,7,7');
      if (seen.length === 3) break;
    }
    expect(seen).toEqual([
      'secret:client.vk:defined',
      'secret:client.vk:valueChanged',
      'secret:client.vk:undefined',
    ]);
    await conn.close();
  });
});

describe.skipIf(!LIBVIRTD || !HAVE_PYTHON_LIBVIRT)('volume upload and download over RPC streams', () => {
  it('uploads bytes that python3-libvirt downloads back, and downloads ranges', async () => {
    const conn = await connect(uri('storage', '/session'));
    const dir = join(daemon.dir, 'pool-streams');
    const pool = await conn.storagePools.define(
      `<pool type='dir'><name>streams</name><target><path>${dir}</path></target></pool>`,
    );
    await pool.build();
    await pool.start();
    try {
      const vol = await pool.createVolume(
        "<volume><name>data.img</name><capacity unit='M'>2</capacity><target><format type='raw'/></target></volume>",
      );
      // 1.5 MiB of a pattern: several stream packets of libvirt's 256 KiB payload
      const data = Buffer.alloc(1536 * 1024);
      for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 10)) & 0xff;
      const up = await vol.upload({ length: data.length });
      await pipeline(Readable.from([data.subarray(0, 100_000), data.subarray(100_000)]), up);
      const theirs = runLibvirt(
        uri('storage', '/session'),
        `
import hashlib
def dl(off, length):
    v = conn.storageVolLookupByPath(sys.argv[2])
    st = conn.newStream(0)
    v.download(st, off, length, 0)
    chunks = []
    st.recvAll(lambda s, d, o: chunks.append(d), None)
    st.finish()
    return hashlib.sha256(b''.join(chunks)).hexdigest()
steps = [('all', lambda: dl(0, ${data.length})), ('range', lambda: dl(1000, 300000))]
`,
        [join(dir, 'data.img')],
      );
      const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      expect(theirs).toEqual([
        { step: 'all', ok: true, value: sha(data) },
        { step: 'range', ok: true, value: sha(data.subarray(1000, 301000)) },
      ]);
      const read = async (offset: number, length: number) => {
        const chunks: Buffer[] = [];
        for await (const c of await vol.download({ offset, length })) chunks.push(c as Buffer);
        return Buffer.concat(chunks);
      };
      expect(sha(await read(0, data.length))).toBe(sha(data));
      expect(sha(await read(1000, 300000))).toBe(sha(data.subarray(1000, 301000)));
      // to the end of the volume: the pattern, then the zeros of the rest of its 2 MiB
      const all = await read(0, 0);
      expect(all.length).toBe(2 * 1024 * 1024);
      expect(sha(all.subarray(0, data.length))).toBe(sha(data));
      // from past the end: no bytes, as the daemon's file stream reads none
      expect((await read(3 * 1024 * 1024, 10)).length).toBe(0);
      // a consumer that stops early aborts the transfer, and the connection stays usable
      const partial = await vol.download();
      for await (const _ of partial) break;
      // (the daemon's answer to the abort must not upset the connection)
      await new Promise((r) => setTimeout(r, 300));
      expect((await vol.getInfo()).capacity).toBe(2n * 1024n * 1024n);
      await vol.delete();
      // a deleted volume: the daemon refuses the transfer itself
      await expect(vol.upload()).rejects.toBeInstanceOf(VirError);
    } finally {
      await pool.destroy();
      await pool.undefine();
      await conn.close();
    }
  });

  it("the test driver has no volume streams, as libvirt's", async () => {
    const conn = await connect('test:///default');
    const pool = await conn.storagePools.lookup('default-pool');
    const vol = await pool.createVolume('<volume><name>x</name><capacity>1024</capacity></volume>');
    await expect(vol.download()).rejects.toMatchObject({ code: 'NO_SUPPORT' });
    await expect(vol.upload({ offset: -1 })).rejects.toMatchObject({ code: 'INVALID_ARG' });
    await conn.close();
  });
});

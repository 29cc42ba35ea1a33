/**
 * Bounded calls in the remote driver, against a scripted peer on a real unix
 * socket that speaks the handshake like libvirtd and then misbehaves: it
 * trickles a reply one byte every 200 ms (keepalive sees traffic and cannot
 * help) or stays silent. Each call fails with `OPERATION_TIMEOUT`, distinct
 * from an AbortSignal's `OPERATION_ABORTED`, and the connection stays usable.
 * Many calls on one signal add one listener to it (no MaxListenersExceededWarning).
 */
import type { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { PacketFramer } from '../../../src/drivers/remote/framer.js';
import {
  encRemoteAuthListRet,
  encRemoteConnectGetHostnameRet,
  encRemoteConnectGetTypeRet,
  encRemoteConnectSupportsFeatureRet,
  remoteProcedures as P,
} from '../../../src/drivers/remote/gen/remote-protocol.js';
import { decodePacket, encodePacket, type PacketHeader } from '../../../src/drivers/remote/packet.js';
import { RpcClient } from '../../../src/drivers/remote/rpc-client.js';
import { XdrWriter } from '../../../src/drivers/remote/xdr-writer.js';
import type { VirError } from '../../../src/errors.js';

type Mode = 'answer' | 'trickle' | 'silent';

let dir: string;
let server: Server;
let path: string;
let mode: Mode = 'answer';
const peers = new Set<Socket>();
const timers = new Set<NodeJS.Timeout>();
const w = new XdrWriter();

function reply(h: PacketHeader, body: (w: XdrWriter) => void): Buffer {
  return encodePacket(w, { ...h, type: 1, status: 0 }, (wr) => body(wr), undefined);
}

/** The daemon's side of the handshake, then the hostname call as `mode` says. */
function answer(h: PacketHeader, s: Socket): void {
  switch (h.proc) {
    case P.AUTH_LIST.procedure:
      return void s.write(reply(h, (wr) => encRemoteAuthListRet(wr, { types: [0] })));
    case P.CONNECT_SUPPORTS_FEATURE.procedure:
      return void s.write(reply(h, (wr) => encRemoteConnectSupportsFeatureRet(wr, { supported: 0 })));
    case P.CONNECT_OPEN.procedure:
    case P.CONNECT_CLOSE.procedure:
      return void s.write(reply(h, () => {}));
    case P.CONNECT_GET_TYPE.procedure:
      return void s.write(reply(h, (wr) => encRemoteConnectGetTypeRet(wr, { type: 'TEST' })));
    case P.CONNECT_GET_HOSTNAME.procedure: {
      const full = reply(h, (wr) => encRemoteConnectGetHostnameRet(wr, { hostname: 'slow-host' }));
      if (mode === 'answer') return void s.write(full);
      if (mode === 'silent') return;
      let i = 0;
      const t = setInterval(() => {
        if (s.destroyed || i >= full.length) {
          clearInterval(t);
          timers.delete(t);
          return;
        }
        s.write(full.subarray(i, i + 1));
        i++;
      }, 200);
      timers.add(t);
      return;
    }
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'virtkit-timeouts-'));
  path = join(dir, 'sock');
  server = createServer((socket) => {
    peers.add(socket);
    socket.on('close', () => peers.delete(socket));
    socket.on('error', () => {});
    const framer = new PacketFramer();
    socket.on('data', (chunk: Buffer) => framer.push(chunk, (f) => answer(decodePacket(f).header, socket)));
  });
  await new Promise<void>((r) => server.listen(path, r));
});

afterEach(() => {
  for (const t of timers) clearInterval(t);
  timers.clear();
  mode = 'answer';
});

afterAll(async () => {
  for (const p of peers) p.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

const uri = () => `test+unix:///default?socket=${path}`;

async function errorOf(p: Promise<unknown>): Promise<VirError> {
  return (await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  )) as VirError;
}

/** Runs `body` and returns the process warnings it caused. */
async function warningsDuring(body: () => Promise<void>): Promise<Error[]> {
  const seen: Error[] = [];
  const onWarning = (w: Error) => seen.push(w);
  process.on('warning', onWarning);
  try {
    await body();
    // warnings are emitted on the next tick
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('warning', onWarning);
  }
  return seen;
}

describe('remote calls are bounded in time', () => {
  let conn: Connection;

  beforeAll(async () => {
    conn = await connect(uri(), { driverOptions: { callTimeout: 700, keepaliveInterval: 0 } });
  });

  afterAll(async () => {
    await conn.close();
  });

  it('times out a reply trickled one byte every 200 ms (callTimeout), and the connection goes on', async () => {
    mode = 'trickle';
    const err = await errorOf(conn.getHostname());
    expect(err.code).toBe('OPERATION_TIMEOUT');
    expect(err.message).toMatch(/CONNECT_GET_HOSTNAME: no complete reply from unix socket .* within 700 ms/);
  });

  it('times out a silent daemon, with the call own (shorter) timeout, and the connection goes on', async () => {
    const c = await connect(uri(), { driverOptions: { keepaliveInterval: 0 } });
    mode = 'silent';
    const err = await errorOf(c.getHostname({ timeout: 300 }));
    expect(err.code).toBe('OPERATION_TIMEOUT');
    expect(err.message).toMatch(/getHostname: no answer within 300 ms/);
    mode = 'answer';
    expect(await c.getHostname()).toBe('slow-host');
    await c.close();
  });

  it('tells an abort (OPERATION_ABORTED) from a timeout (OPERATION_TIMEOUT)', async () => {
    const c = await connect(uri(), { driverOptions: { keepaliveInterval: 0 } });
    mode = 'silent';
    const ctl = new AbortController();
    const pending = errorOf(c.getHostname({ signal: ctl.signal, timeout: 60_000 }));
    setTimeout(() => ctl.abort(), 50);
    const err = await pending;
    expect(err.code).toBe('OPERATION_ABORTED');
    await c.close();
  });

  it('refuses a bad timeout, naming the field', async () => {
    await expect(conn.getHostname({ timeout: -1 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      field: 'timeout',
    });
    // as a JavaScript caller could pass it
    const driverOptions = { callTimeout: 'soon' } as unknown as { callTimeout: number };
    await expect(connect(uri(), { driverOptions })).rejects.toMatchObject({
      code: 'INVALID_ARG',
      message: expect.stringMatching(/callTimeout/),
    });
  });
});

describe('many calls in flight on one signal', () => {
  it('add no MaxListenersExceededWarning through the facade, with a signal and without', async () => {
    const c = await connect(uri(), { driverOptions: { keepaliveInterval: 0 } });
    const signal = new AbortController().signal;
    const warnings = await warningsDuring(async () => {
      const names = await Promise.all(Array.from({ length: 50 }, () => c.getHostname({ signal })));
      expect(new Set(names)).toEqual(new Set(['slow-host']));
      await Promise.all(Array.from({ length: 50 }, () => c.getHostname()));
    });
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    await c.close();
  });

  it('add no warning on the RPC client, and all 50 abort together', async () => {
    const socket = createConnection(path);
    await new Promise<void>((r) => socket.once('connect', () => r()));
    const client = new RpcClient(socket, `unix socket ${path}`);
    mode = 'silent';
    const ctl = new AbortController();
    const warnings = await warningsDuring(async () => {
      const calls = Array.from({ length: 50 }, () =>
        errorOf(client.call(P.CONNECT_GET_HOSTNAME, undefined, ctl.signal)),
      );
      await new Promise((r) => setTimeout(r, 20));
      expect(client.pendingCalls).toBe(50);
      ctl.abort();
      const errs = await Promise.all(calls);
      expect(errs.map((e) => e.code)).toEqual(Array(50).fill('OPERATION_ABORTED'));
    });
    expect(warnings.map((w) => `${w.name}: ${w.message}`)).toEqual([]);
    expect(client.pendingCalls).toBe(0);
    client.close();
  });
});

/**
 * The RPC client against a scripted peer on a real unix socket: faults a
 * healthy libvirtd never produces (wrong serials, truncated and oversized
 * packets, a hang, a peer that dies mid-reply) and the keepalive program.
 */
import { Buffer } from 'node:buffer';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PacketFramer } from '../../../src/drivers/remote/framer.js';
import { KEEPALIVE_PROGRAM } from '../../../src/drivers/remote/gen/keepalive-protocol.js';
import {
  encRemoteConnectGetHostnameRet,
  remoteProcedures,
} from '../../../src/drivers/remote/gen/remote-protocol.js';
import { encVirNetMessageError } from '../../../src/drivers/remote/gen/virnet-protocol.js';
import { decodePacket, encodePacket, type PacketHeader } from '../../../src/drivers/remote/packet.js';
import { RemoteConnection } from '../../../src/drivers/remote/remote-connection.js';
import { RpcClient } from '../../../src/drivers/remote/rpc-client.js';
import { XdrWriter } from '../../../src/drivers/remote/xdr-writer.js';
import { VirError } from '../../../src/errors.js';
import { parseUri } from '../../../src/uri.js';

type Handler = (header: PacketHeader, socket: Socket) => void;

let dir: string;
let server: Server;
let path: string;
let handler: Handler = () => {};
const peers = new Set<Socket>();
const w = new XdrWriter();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'virtkit-rpc-'));
  path = join(dir, 'sock');
  server = createServer((socket) => {
    peers.add(socket);
    socket.on('close', () => peers.delete(socket));
    socket.on('error', () => {});
    const framer = new PacketFramer();
    socket.on('data', (chunk: Buffer) => {
      framer.push(chunk, (frame) => handler(decodePacket(frame).header, socket));
    });
  });
  await new Promise<void>((r) => server.listen(path, r));
});

afterEach(() => {
  for (const p of peers) p.destroy();
  handler = () => {};
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(dir, { recursive: true, force: true });
});

function reply(header: PacketHeader, body: (w: XdrWriter) => void, over: Partial<PacketHeader> = {}): Buffer {
  return encodePacket(w, { ...header, type: 1, status: 0, ...over }, (wr) => body(wr), undefined);
}

function hostnameReply(header: PacketHeader, hostname: string): Buffer {
  return reply(header, (wr) => encRemoteConnectGetHostnameRet(wr, { hostname }));
}

async function client(): Promise<RpcClient> {
  const socket = createConnection(path);
  await new Promise<void>((r) => socket.once('connect', () => r()));
  return new RpcClient(socket, `unix socket ${path}`);
}

const HOSTNAME = remoteProcedures.CONNECT_GET_HOSTNAME;

describe('RPC client against a scripted peer', () => {
  it('matches replies to calls by serial, whatever their order', async () => {
    const held: PacketHeader[] = [];
    handler = (h, s) => {
      held.push(h);
      if (held.length === 3) for (const x of held.reverse()) s.write(hostnameReply(x, `host-${x.serial}`));
    };
    const c = await client();
    const results = await Promise.all([
      c.call(HOSTNAME, undefined),
      c.call(HOSTNAME, undefined),
      c.call(HOSTNAME, undefined),
    ]);
    expect(results.map((r) => r.hostname)).toEqual(['host-1', 'host-2', 'host-3']);
    c.close();
  });

  it('decodes an error reply into a VirError with libvirt numbers', async () => {
    handler = (h, s) =>
      s.write(
        reply(
          h,
          (wr) =>
            encVirNetMessageError(wr, {
              code: 42,
              domain: 12,
              message: 'Domain not found',
              level: 2,
              dom: null,
              str1: null,
              str2: null,
              str3: null,
              int1: 0,
              int2: 0,
              net: null,
            }),
          { status: 1 },
        ),
      );
    const c = await client();
    await expect(c.call(HOSTNAME, undefined)).rejects.toMatchObject({
      code: 'NO_DOMAIN',
      libvirtCode: 42,
      message: 'Domain not found',
    });
    c.close();
  });

  it('fails every pending call when the peer closes mid-reply', async () => {
    let n = 0;
    handler = (h, s) => {
      if (++n < 3) return;
      const full = hostnameReply(h, 'never-complete');
      s.end(full.subarray(0, full.length - 3));
    };
    const c = await client();
    const calls = [c.call(HOSTNAME, undefined), c.call(HOSTNAME, undefined), c.call(HOSTNAME, undefined)];
    for (const p of calls) {
      const err = (await p.catch((e: unknown) => e)) as VirError;
      expect(err).toBeInstanceOf(VirError);
      expect(err.code).toBe('RPC');
      expect(err.message).toMatch(/CONNECT_GET_HOSTNAME: connection to unix socket .* closed by the server/);
    }
    expect(c.closed).toBe(true);
    await expect(c.call(HOSTNAME, undefined)).rejects.toMatchObject({ code: 'RPC' });
  });

  it('fails the connection on a reply with an unknown serial', async () => {
    handler = (h, s) => s.write(hostnameReply({ ...h, serial: h.serial + 1000 }, 'x'));
    const c = await client();
    await expect(c.call(HOSTNAME, undefined)).rejects.toMatchObject({
      code: 'RPC',
      message: expect.stringMatching(/unexpected serial 1001/),
    });
  });

  it('fails the connection on a packet over the 32 MiB limit', async () => {
    handler = (_h, s) => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(0x7fffffff);
      s.write(len);
    };
    const c = await client();
    await expect(c.call(HOSTNAME, undefined)).rejects.toMatchObject({
      code: 'RPC',
      message: expect.stringMatching(/exceeds the limit of 33554432 bytes/),
    });
  });

  it('rejects a reply whose body is truncated, keeping the connection', async () => {
    let first = true;
    handler = (h, s) => {
      if (first) {
        first = false;
        // header says OK but the body is a string length with no bytes
        s.write(reply(h, (wr) => wr.uint(50)));
      } else {
        s.write(hostnameReply(h, 'fine'));
      }
    };
    const c = await client();
    await expect(c.call(HOSTNAME, undefined)).rejects.toMatchObject({
      code: 'RPC',
      message: expect.stringMatching(/cannot decode reply: truncated packet/),
    });
    expect((await c.call(HOSTNAME, undefined)).hostname).toBe('fine');
    c.close();
  });

  it('times out a hung daemon with AbortSignal.timeout, and drops the late reply', async () => {
    let late: PacketHeader | undefined;
    handler = (h, s) => {
      if (!late) {
        late = h;
        return;
      }
      s.write(hostnameReply(late, 'late'));
      s.write(hostnameReply(h, 'on time'));
    };
    const c = await client();
    await expect(c.call(HOSTNAME, undefined, AbortSignal.timeout(50))).rejects.toMatchObject({
      code: 'OPERATION_TIMEOUT',
    });
    expect((await c.call(HOSTNAME, undefined)).hostname).toBe('on time');
    expect(c.closed).toBe(false);
    c.close();
  });

  it('answers keepalive PING with PONG', async () => {
    const pong = new Promise<PacketHeader>((resolve) => {
      handler = (h) => {
        if (h.prog === KEEPALIVE_PROGRAM) resolve(h);
      };
    });
    const c = await client();
    const s = [...peers][0]!;
    s.write(
      encodePacket(
        w,
        { prog: KEEPALIVE_PROGRAM, vers: 1, proc: 1, type: 2, serial: 0, status: 0 },
        () => {},
        undefined,
      ),
    );
    expect(await pong).toEqual({ prog: KEEPALIVE_PROGRAM, vers: 1, proc: 2, type: 2, serial: 0, status: 0 });
    c.close();
  });

  it('declares a silent peer dead after unanswered pings and fails pending calls', async () => {
    let pings = 0;
    handler = (h) => {
      if (h.prog === KEEPALIVE_PROGRAM && h.proc === 1) pings++;
    };
    const c = await client();
    c.startKeepalive({ interval: 0.02, count: 3 });
    const err = (await c.call(HOSTNAME, undefined).catch((e: unknown) => e)) as VirError;
    expect(err.code).toBe('RPC');
    expect(err.message).toMatch(/no keepalive response after 3 pings/);
    expect(pings).toBe(3);
  });

  it('reports SASL-only daemons as AUTH_FAILED and closes', async () => {
    handler = (h, s) => {
      // AUTH_LIST -> [SASL]
      if (h.proc === remoteProcedures.AUTH_LIST.procedure) {
        s.write(reply(h, (wr) => wr.array([1], 20, (x, v: number) => x.int(v))));
      }
    };
    const err = (await RemoteConnection.open(parseUri(`test+unix:///default?socket=${path}`), {
      readonly: false,
    }).catch((e: unknown) => e)) as VirError;
    expect(err).toBeInstanceOf(VirError);
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toMatch(/requires SASL authentication/);
  });

  it('reports polkit-only daemons (a non-root client) as AUTH_FAILED without waiting for the open', async () => {
    handler = (h, s) => {
      // AUTH_LIST -> [POLKIT]; the open and feature probes stay unanswered, as if pending
      if (h.proc === remoteProcedures.AUTH_LIST.procedure) {
        s.write(reply(h, (wr) => wr.array([2], 20, (x, v: number) => x.int(v))));
      }
    };
    const err = (await RemoteConnection.open(parseUri(`test+unix:///default?socket=${path}`), {
      readonly: false,
    }).catch((e: unknown) => e)) as VirError;
    expect(err).toBeInstanceOf(VirError);
    expect(err.code).toBe('AUTH_FAILED');
    expect(err.message).toMatch(/requires polkit authentication/);
  });
});

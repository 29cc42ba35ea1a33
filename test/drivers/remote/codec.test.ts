import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PacketFramer } from '../../../src/drivers/remote/framer.js';
import {
  decRemoteConnectListAllDomainsRet,
  decRemoteTypedParam,
  encRemoteConnectListAllDomainsRet,
  encRemoteTypedParam,
  type RemoteConnectListAllDomainsRet,
  remoteProcedures,
} from '../../../src/drivers/remote/gen/remote-protocol.js';
import {
  errorCodeFromLibvirt,
  LIBVIRT_ERROR_NAMES,
  virErrorFromRemote,
} from '../../../src/drivers/remote/libvirt-errors.js';
import { decodePacket, encodePacket, MAX_PACKET, MessageType } from '../../../src/drivers/remote/packet.js';
import { XdrReader } from '../../../src/drivers/remote/xdr-reader.js';
import { XdrWriter } from '../../../src/drivers/remote/xdr-writer.js';
import { VirError } from '../../../src/errors.js';
import { PYTHON_LIBVIRT } from './libvirtd.js';

function bytes(f: (w: XdrWriter) => void): number[] {
  const w = new XdrWriter(4);
  f(w);
  return [...w.toBuffer()];
}

describe('XDR writer and reader (RFC 4506)', () => {
  it('encodes primitives big-endian in 4-byte units', () => {
    expect(bytes((w) => w.int(-2))).toEqual([0xff, 0xff, 0xff, 0xfe]);
    expect(bytes((w) => w.uint(0x01020304))).toEqual([1, 2, 3, 4]);
    expect(bytes((w) => w.hyper(-1n))).toEqual([255, 255, 255, 255, 255, 255, 255, 255]);
    expect(bytes((w) => w.uhyper(2n ** 32n + 5n))).toEqual([0, 0, 0, 1, 0, 0, 0, 5]);
    expect(bytes((w) => w.bool(true))).toEqual([0, 0, 0, 1]);
    expect(bytes((w) => w.double(1))).toEqual([0x3f, 0xf0, 0, 0, 0, 0, 0, 0]);
  });

  it('pads strings and opaques to a multiple of 4 with zeros', () => {
    expect(bytes((w) => w.string('abcde', 100))).toEqual([0, 0, 0, 5, 97, 98, 99, 100, 101, 0, 0, 0]);
    expect(bytes((w) => w.string('é', 100))).toEqual([0, 0, 0, 2, 0xc3, 0xa9, 0, 0]);
    expect(bytes((w) => w.opaque(Uint8Array.of(9, 8, 7, 6), 10))).toEqual([0, 0, 0, 4, 9, 8, 7, 6]);
    expect(bytes((w) => w.fixedOpaque(Uint8Array.of(1), 1))).toEqual([1, 0, 0, 0]);
  });

  it('rejects values that do not fit their XDR type or limit', () => {
    const w = new XdrWriter();
    expect(() => w.int(2 ** 31)).toThrow(VirError);
    expect(() => w.uint(-1)).toThrow(VirError);
    expect(() => w.int(1.5)).toThrow(VirError);
    expect(() => w.string('abcd', 3)).toThrow(/limit of 3/);
    expect(() => w.fixedOpaque(new Uint8Array(15), 16)).toThrow(VirError);
  });

  it('rejects truncated input and lengths over the limit with RPC errors', () => {
    expect(() => new XdrReader(Buffer.from([0, 0, 0])).int()).toThrow(/truncated/);
    expect(() => new XdrReader(Buffer.from([0, 0, 0, 9, 1, 2])).string(100)).toThrow(/truncated/);
    expect(() => new XdrReader(Buffer.from([0, 0, 1, 0])).string(16)).toThrow(/exceeds the protocol limit/);
    expect(() => new XdrReader(Buffer.from([0xff, 0xff, 0xff, 0xff])).array(2 ** 32, (r) => r.int())).toThrow(
      VirError,
    );
    expect(() => new XdrReader(Buffer.from([0, 0, 0, 2])).bool()).toThrow(/bool/);
  });

  it('round-trips generated structures (property)', () => {
    const domain = fc.record({
      name: fc.string({ maxLength: 40 }),
      uuid: fc.uint8Array({ minLength: 16, maxLength: 16 }),
      id: fc.integer({ min: -1, max: 2 ** 31 - 1 }),
    });
    fc.assert(
      fc.property(fc.array(domain, { maxLength: 5 }), fc.nat({ max: 2 ** 32 - 1 }), (domains, ret) => {
        const value: RemoteConnectListAllDomainsRet = { domains, ret };
        const w = new XdrWriter(8);
        encRemoteConnectListAllDomainsRet(w, value);
        const r = new XdrReader(w.toBuffer());
        expect(decRemoteConnectListAllDomainsRet(r)).toEqual(value);
        expect(r.remaining).toBe(0);
      }),
    );
  });

  it('encodes unions with their discriminant and rejects unknown ones', () => {
    const w = new XdrWriter();
    encRemoteTypedParam(w, { field: 'x', value: { type: 4, ul: 7n } });
    expect([...w.toBuffer()]).toEqual([0, 0, 0, 1, 120, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 7]);
    expect(decRemoteTypedParam(new XdrReader(w.toBuffer()))).toEqual({
      field: 'x',
      value: { type: 4, ul: 7n },
    });
    const bad = Buffer.from([0, 0, 0, 1, 120, 0, 0, 0, 0, 0, 0, 99]);
    expect(() => decRemoteTypedParam(new XdrReader(bad))).toThrow(/unknown discriminant 99/);
  });
});

function samplePackets(): Buffer[] {
  const w = new XdrWriter();
  const proc = remoteProcedures.DOMAIN_LOOKUP_BY_NAME;
  const packets: Buffer[] = [];
  for (const [i, name] of ['a', 'longer-domain-name', ''].entries()) {
    packets.push(
      encodePacket(
        w,
        {
          prog: proc.program,
          vers: proc.version,
          proc: proc.procedure,
          type: MessageType.CALL,
          serial: i + 1,
          status: 0,
        },
        proc.encodeArgs,
        { name },
      ),
    );
  }
  return packets;
}

describe('packet framing', () => {
  it('writes the length word and the 24-byte header', () => {
    const [p] = samplePackets();
    expect(p!.readUInt32BE(0)).toBe(p!.length);
    expect(p!.length).toBe(4 + 24 + 8);
    const { header, body } = decodePacket(p!);
    expect(header).toEqual({ prog: 0x20008086, vers: 1, proc: 23, type: 0, serial: 1, status: 0 });
    expect(body.string(100)).toBe('a');
  });

  it('reassembles packets split at every byte boundary (two and three pieces)', () => {
    const stream = Buffer.concat(samplePackets());
    const expected = samplePackets().map((p) => [...p]);
    for (let i = 0; i <= stream.length; i++) {
      const framer = new PacketFramer();
      const got: number[][] = [];
      framer.push(stream.subarray(0, i), (f) => got.push([...f]));
      framer.push(stream.subarray(i), (f) => got.push([...f]));
      expect(got).toEqual(expected);
      expect(framer.buffered).toBe(0);
      for (let j = i; j <= stream.length; j += 7) {
        const f3 = new PacketFramer();
        const got3: number[][] = [];
        for (const part of [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]) {
          f3.push(part, (f) => got3.push([...f]));
        }
        expect(got3).toEqual(expected);
      }
    }
  });

  it('reassembles a byte-at-a-time stream', () => {
    const stream = Buffer.concat(samplePackets());
    const framer = new PacketFramer();
    const got: number[][] = [];
    for (const b of stream) framer.push(Buffer.from([b]), (f) => got.push([...f]));
    expect(got).toEqual(samplePackets().map((p) => [...p]));
  });

  it('rejects a packet over libvirt 32 MiB limit before allocating it, and stays failed', () => {
    const framer = new PacketFramer();
    const len = Buffer.alloc(4);
    len.writeUInt32BE(4 + MAX_PACKET + 1);
    expect(() => framer.push(len, () => {})).toThrow(/exceeds the limit of 33554432/);
    expect(() => framer.push(Buffer.concat(samplePackets()), () => {})).toThrow(VirError);
    // exactly at the limit is accepted (and waits for the bytes)
    const ok = new PacketFramer();
    len.writeUInt32BE(4 + MAX_PACKET);
    ok.push(len, () => {});
    expect(ok.buffered).toBe(4);
  });

  it('rejects a length shorter than a header', () => {
    expect(() => new PacketFramer().push(Buffer.from([0, 0, 0, 8, 0, 0, 0, 0]), () => {})).toThrow(/shorter/);
  });

  it('refuses to encode a packet over the limit', () => {
    const w = new XdrWriter();
    const big = new Uint8Array(MAX_PACKET);
    expect(() =>
      encodePacket(
        w,
        { prog: 1, vers: 1, proc: 1, type: 0, serial: 1, status: 0 },
        (wr, v: Uint8Array) => wr.raw(v),
        big,
      ),
    ).toThrow(/exceeds libvirt's limit/);
  });
});

describe('libvirt error translation', () => {
  it('maps libvirt numbers to our code names', () => {
    expect(errorCodeFromLibvirt(42)).toBe('NO_DOMAIN');
    expect(errorCodeFromLibvirt(55)).toBe('OPERATION_INVALID');
    expect(errorCodeFromLibvirt(91)).toBe('CPU_INCOMPATIBLE');
    expect(errorCodeFromLibvirt(110)).toBe('MULTIPLE_DOMAINS');
    expect(errorCodeFromLibvirt(12)).toBe('INTERNAL_ERROR'); // HTTP_ERROR: no code of ours
    expect(errorCodeFromLibvirt(9999)).toBe('INTERNAL_ERROR');
    expect(LIBVIRT_ERROR_NAMES).toHaveLength(111);
  });

  it('turns a remote_error into a VirError keeping libvirt numbers', () => {
    const err = virErrorFromRemote({
      code: 42,
      domain: 12,
      message: "Domain not found: no domain with matching name 'x'",
      level: 2,
      dom: null,
      str1: null,
      str2: null,
      str3: null,
      int1: 0,
      int2: 0,
      net: null,
    });
    expect(err).toBeInstanceOf(VirError);
    expect(err.code).toBe('NO_DOMAIN');
    expect(err.domain).toBe('test');
    expect(err.libvirtCode).toBe(42);
    expect(err.message).toContain('no domain with matching name');
    const unknown = virErrorFromRemote({
      code: 4242,
      domain: 999,
      message: null,
      level: 2,
      dom: null,
      str1: null,
      str2: null,
      str3: null,
      int1: 0,
      int2: 0,
      net: null,
    });
    expect(unknown.code).toBe('INTERNAL_ERROR');
    expect(unknown.libvirtCode).toBe(4242);
  });

  it('reports an unknown procedure of an older daemon as NO_SUPPORT', () => {
    const err = virErrorFromRemote(
      {
        code: 39,
        domain: 7,
        message: 'unknown procedure: 999',
        level: 2,
        dom: null,
        str1: null,
        str2: null,
        str3: null,
        int1: 0,
        int2: 0,
        net: null,
      },
      'DOMAIN_SOMETHING_NEW',
    );
    expect(err.code).toBe('NO_SUPPORT');
    expect(err.message).toContain('DOMAIN_SOMETHING_NEW');
  });
});

describe.skipIf(!PYTHON_LIBVIRT)("libvirt's error numbers agree with python3-libvirt's constants", () => {
  it('every VIR_ERR_* / VIR_WAR_* number has the name we give it', () => {
    const pairs = JSON.parse(
      execFileSync(
        PYTHON_LIBVIRT!,
        [
          '-c',
          'import libvirt, json; print(json.dumps({k: getattr(libvirt, k) for k in dir(libvirt) if k.startswith(("VIR_ERR_", "VIR_WAR_")) and isinstance(getattr(libvirt, k), int)}))',
        ],
        { encoding: 'utf8' },
      ),
    ) as Record<string, number>;
    let checked = 0;
    for (const [name, value] of Object.entries(pairs)) {
      // VIR_ERR_NONE/WARNING/ERROR are virErrorLevel, not error numbers
      if (['VIR_ERR_NONE', 'VIR_ERR_WARNING', 'VIR_ERR_ERROR'].includes(name) || value > 110) continue;
      const ours = LIBVIRT_ERROR_NAMES[value];
      if (name.startsWith('VIR_WAR_')) expect(ours).toBe(`${name.slice(8)}_WARNING`);
      else expect(ours, name).toBe(name.slice(8));
      checked++;
    }
    expect(checked).toBeGreaterThan(100);
  });
});

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  findProtocolDir,
  GEN_DIR,
  generateRemoteProtocol,
  parseXdr,
  readProtocolSources,
} from '../../../scripts/gen-remote-protocol.js';
import { REMOTE_PROGRAM, remoteProcedures } from '../../../src/drivers/remote/gen/remote-protocol.js';
import { VIR_NET_MESSAGE_MAX } from '../../../src/drivers/remote/gen/virnet-protocol.js';

const protocolDir = findProtocolDir();

describe('XDR language parser', () => {
  it('parses consts, enums, typedefs, structs and unions', () => {
    const defs = parseXdr(`
      %#include "ignored.h"
      /* a comment */
      const MAX = 0x10;
      enum colour { RED = 1, GREEN = MAX };
      typedef string name<MAX>;
      typedef name *maybe_name;
      struct pair { unsigned hyper a; int list<>; opaque id[16]; char c; };
      union u switch (int kind) { case RED: int x; case GREEN: void; default: hyper y; };
    `);
    expect(defs.map((d) => `${d.kind}:${d.name}`)).toEqual([
      'const:MAX',
      'enum:colour',
      'typedef:name',
      'typedef:maybe_name',
      'struct:pair',
      'union:u',
    ]);
  });

  it('reports the line of a syntax error', () => {
    expect(() => parseXdr('const A = 1;\nstruct s { int };', 'bad.x')).toThrow(/bad\.x:2/);
  });
});

describe('generated protocol facts', () => {
  it('carries the numbers libvirt uses on the wire', () => {
    // facts from libvirt's remote_protocol.x / virnetprotocol.x
    expect(REMOTE_PROGRAM).toBe(0x20008086);
    expect(VIR_NET_MESSAGE_MAX).toBe(33554432);
    expect(remoteProcedures.CONNECT_OPEN.procedure).toBe(1);
    expect(remoteProcedures.CONNECT_GET_CAPABILITIES.procedure).toBe(7);
    expect(remoteProcedures.DOMAIN_LOOKUP_BY_NAME.procedure).toBe(23);
    expect(remoteProcedures.CONNECT_LIST_ALL_DOMAINS.procedure).toBe(273);
    expect(remoteProcedures.DOMAIN_EVENT_CALLBACK_LIFECYCLE.decodeMsg).toBeTypeOf('function');
  });
});

describe.skipIf(!protocolDir)('generated code is current (needs ../shared/libvirt-protocol)', () => {
  it('re-running the generator reproduces src/drivers/remote/gen byte for byte', () => {
    const generated = generateRemoteProtocol(readProtocolSources(protocolDir!));
    expect([...generated.keys()].sort()).toEqual([
      'keepalive-protocol.ts',
      'qemu-protocol.ts',
      'remote-protocol.ts',
      'virnet-protocol.ts',
    ]);
    for (const [name, text] of generated) {
      const committed = readFileSync(join(GEN_DIR, name), 'utf8');
      expect(committed === text, `${name} is stale: run npm run gen:remote`).toBe(true);
    }
  });
});
if (!protocolDir) console.warn('skipping generator freshness test: ../shared/libvirt-protocol not found');

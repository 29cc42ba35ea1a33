import { describe, expect, it } from 'vitest';
import { connect } from '../src/connection.js';
import { isRemoteUri, parseUri, uriParam } from '../src/uri.js';

describe('parseUri', () => {
  it('parses local URIs', () => {
    expect(parseUri('test:///default')).toMatchObject({
      driver: 'test',
      transport: undefined,
      host: undefined,
      path: '/default',
    });
    expect(parseUri('qemu:///system')).toMatchObject({ driver: 'qemu', path: '/system' });
    expect(parseUri('qemu:///session')).toMatchObject({ driver: 'qemu', path: '/session' });
    expect(parseUri('test:///abs/path%20with%20space/node.xml').path).toBe('/abs/path with space/node.xml');
  });

  it('parses remote URIs with transport, user, host, port and query', () => {
    const u = parseUri(
      'qemu+ssh://root@host.example:2222/system?keyfile=/k%2Cey&no_verify=1&socket=/a&socket=/b',
    );
    expect(u).toMatchObject({
      driver: 'qemu',
      transport: 'ssh',
      user: 'root',
      host: 'host.example',
      port: 2222,
      path: '/system',
    });
    expect(u.params).toEqual([
      ['keyfile', '/k,ey'],
      ['no_verify', '1'],
      ['socket', '/a'],
      ['socket', '/b'],
    ]);
    expect(uriParam(u, 'socket')).toBe('/b');
    expect(isRemoteUri(u)).toBe(true);
    expect(parseUri('qemu+tcp://[::1]:16509/system')).toMatchObject({ host: '::1', port: 16509 });
    expect(parseUri('qemu+unix:///system?socket=/tmp/s')).toMatchObject({
      transport: 'unix',
      host: undefined,
    });
    expect(isRemoteUri(parseUri('qemu://host/system'))).toBe(true);
    expect(isRemoteUri(parseUri('qemu:///system'))).toBe(false);
  });

  it.each([
    ['no scheme', '/default'],
    ['unknown transport', 'qemu+carrierpigeon:///system'],
    ['bad port', 'qemu+tcp://host:99999/system'],
    ['non-numeric port', 'qemu+tcp://host:http/system'],
    ['whitespace', 'test:///de fault'],
    ['newline', 'test:///default\n'],
    ['bad percent-encoding', 'test:///%zz'],
    ['unterminated IPv6', 'qemu+tcp://[::1/system'],
  ])('refuses %s with NO_CONNECT', (_what, uri) => {
    expect(() => parseUri(uri)).toThrow(
      expect.objectContaining({ name: 'VirError', code: 'NO_CONNECT', domain: 'connect' }),
    );
  });

  it('refuses a non-string with INVALID_ARG', () => {
    expect(() => parseUri(undefined as unknown as string)).toThrow(
      expect.objectContaining({ code: 'INVALID_ARG' }),
    );
  });
});

describe('connect', () => {
  it('refuses an unknown scheme with NO_CONNECT', async () => {
    await expect(connect('xen:///system')).rejects.toMatchObject({ name: 'VirError', code: 'NO_CONNECT' });
    await expect(connect('bogus://x/y')).rejects.toMatchObject({ code: 'NO_CONNECT' });
  });

  it('refuses test:/// without a path', async () => {
    await expect(connect('test:///')).rejects.toMatchObject({ code: 'NO_CONNECT', domain: 'test' });
  });

  it('honours an already aborted signal', async () => {
    await expect(connect('test:///default', { signal: AbortSignal.abort() })).rejects.toMatchObject({
      code: 'OPERATION_ABORTED',
    });
  });
});

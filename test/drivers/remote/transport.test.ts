/**
 * Which socket, port and far-side command a URI designates, by libvirt's
 * conventions (facts from libvirt's documentation of remote URIs).
 */
import { describe, expect, it } from 'vitest';
import { daemonUri, openTransport, unixSocketPath } from '../../../src/drivers/remote/transport.js';
import { parseUri } from '../../../src/uri.js';

describe('unix socket of a URI', () => {
  it('is the system daemon socket by default, its -ro twin when read-only', () => {
    expect(unixSocketPath(parseUri('qemu+unix:///system'), false)).toBe('/run/libvirt/libvirt-sock');
    expect(unixSocketPath(parseUri('qemu+unix:///system'), true)).toBe('/run/libvirt/libvirt-sock-ro');
  });

  it('is what ?socket= says, read-only or not', () => {
    const uri = parseUri('test+unix:///default?socket=/tmp/x/sock');
    expect(unixSocketPath(uri, false)).toBe('/tmp/x/sock');
    expect(unixSocketPath(uri, true)).toBe('/tmp/x/sock');
  });

  it.skipIf(process.getuid?.() === 0 || !process.env.XDG_RUNTIME_DIR)(
    "is the user's runtime directory for a session daemon (non-root with XDG_RUNTIME_DIR only)",
    () => {
      const runtime = process.env.XDG_RUNTIME_DIR;
      expect(unixSocketPath(parseUri('qemu+unix:///session'), false)).toBe(`${runtime}/libvirt/libvirt-sock`);
    },
  );
});

describe('daemon-side URI', () => {
  it('drops the transport and the client-side parameters', () => {
    expect(daemonUri(parseUri('qemu+tls://h/system?pkipath=/p&no_verify=1'))).toBe('qemu:///system');
    expect(daemonUri(parseUri('test+unix:///default?socket=/s&readonly=1'))).toBe('test:///default');
  });
});

describe('transports that cannot start', () => {
  it('names an unknown transport as NO_SUPPORT', async () => {
    await expect(
      openTransport(parseUri('qemu+libssh2://h/system'), { readonly: false }),
    ).rejects.toMatchObject({
      code: 'NO_SUPPORT',
      message: expect.stringContaining('libssh2'),
    });
  });

  it('needs a host for tcp and tls', async () => {
    await expect(openTransport(parseUri('qemu+tcp:///system'), { readonly: false })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
  });

  it('refuses to start once the signal has fired', async () => {
    const ac = new AbortController();
    ac.abort();
    await expect(
      openTransport(parseUri('qemu+unix:///system?socket=/nonexistent'), {
        readonly: false,
        signal: ac.signal,
      }),
    ).rejects.toMatchObject({ code: 'OPERATION_ABORTED' });
  });
});

/**
 * The remote driver's domain events of every id and its screenshots,
 * against a private libvirtd (its test:///default driver), side by side
 * with python3-libvirt on the same daemon: the events python3-libvirt's
 * callbacks receive (libvirt's numbers, named through its constants) are
 * the events we deliver, and the screenshot's bytes and MIME type are the
 * ones python3-libvirt's stream reads.
 */
import { execFileSync, spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { AnyDomainEvent } from '../../../src/driver.js';
import { daemonPeer, PEER_NOTE } from './daemon-peer.js';
import { LIBVIRTD, PYTHON_LIBVIRT } from './libvirtd.js';

const peer = daemonPeer();
const NOTE = PEER_NOTE;

/**
 * python3-libvirt registers for metadata-change and lifecycle, changes the
 * metadata of `test` three ways, suspends and resumes it, and prints what
 * its callbacks saw, named by libvirt's own constants.
 */
const PY_EVENTS = `import json, sys, threading, time, libvirt
libvirt.virEventRegisterDefaultImpl()
c = libvirt.open(sys.argv[1])
seen = []
def names(prefix):
    return {getattr(libvirt, n): n[len(prefix):].lower().replace('_', '-') for n in dir(libvirt) if n.startswith(prefix)}
meta = names('VIR_DOMAIN_METADATA_')
life = {0: 'defined', 1: 'undefined', 2: 'started', 3: 'suspended', 4: 'resumed', 5: 'stopped', 6: 'shutdown', 7: 'pmsuspended', 8: 'crashed'}
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
    lambda conn, dom, kind, ns, op: seen.append({'type': 'metadata-change', 'name': dom.name(), 'kind': meta[kind], 'nsuri': ns}), None)
c.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
    lambda conn, dom, ev, detail, op: seen.append({'type': 'lifecycle', 'name': dom.name(), 'event': life[ev]}), None)
threading.Thread(target=lambda: [libvirt.virEventRunDefaultImpl() for _ in iter(int, 1)], daemon=True).start()
print('ready', flush=True)
sys.stdin.readline()
d = c.lookupByName('test')
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_DESCRIPTION, 'described', None, None, 0)
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_TITLE, 'titled', None, None, 0)
d.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, '<app/>', 'vk', 'http://virtkit.example/app', 0)
d.suspend()
d.resume()
time.sleep(0.5)
print(json.dumps(seen), flush=True)
`;

describe.skipIf(!LIBVIRTD || !PYTHON_LIBVIRT)(`remote domain events, differential${NOTE}`, () => {
  it('delivers metadata-change (and lifecycle only when asked) as python3-libvirt receives them', async () => {
    const metaOnly = peer.conn.events({ ids: ['metadata-change'] });
    const both = peer.conn.events({ ids: ['metadata-change', 'lifecycle'] });
    const py = spawn(PYTHON_LIBVIRT as string, ['-c', PY_EVENTS, peer.daemon.unixUri], { stdio: 'pipe' });
    let out = '';
    py.stdout.on('data', (b: Buffer) => {
      out += b.toString();
    });
    await new Promise<void>((resolve, reject) => {
      const t = setInterval(() => {
        if (!out.startsWith('ready')) return;
        clearInterval(t);
        resolve();
      }, 20);
      py.on('exit', (code) => reject(new Error(`python3-libvirt exited ${code}`)));
    });
    // our registrations were made before python's changes: both see everything
    await peer.conn.listDomains();
    py.stdin.write('\n');
    const code = await new Promise<number | null>((resolve) => py.on('exit', resolve));
    expect(code).toBe(0);
    const theirs = JSON.parse(out.split('\n')[1] as string) as Record<string, unknown>[];
    expect(theirs.length).toBe(5);
    const take = async (it: AsyncIterator<AnyDomainEvent>, n: number) => {
      const got: Record<string, unknown>[] = [];
      for (let i = 0; i < n; i++) {
        const e = (await it.next()).value as AnyDomainEvent;
        if (e.type === 'metadata-change')
          got.push({ type: e.type, name: e.domain.name, kind: e.kind, nsuri: e.nsuri ?? null });
        else if (e.type === 'lifecycle') got.push({ type: e.type, name: e.domain.name, event: e.event });
      }
      return got;
    };
    expect(await take(both, 5)).toEqual(theirs);
    expect(await take(metaOnly, 3)).toEqual(theirs.filter((e) => e.type === 'metadata-change'));
    metaOnly.end();
    both.end();
  });

  it('refuses an event id libvirt does not have, naming ids', () => {
    expect(() => peer.conn.events({ ids: ['no-such-event' as 'lifecycle'] })).toThrow(
      expect.objectContaining({ code: 'INVALID_ARG', field: 'ids' }),
    );
  });
});

describe.skipIf(!LIBVIRTD || !PYTHON_LIBVIRT)(`remote screenshot, differential${NOTE}`, () => {
  it('gives the bytes and MIME type python3-libvirt reads from the same daemon', async () => {
    const dom = await peer.conn.lookupDomain('test');
    const shot = await dom.screenshot();
    const theirs = JSON.parse(
      execFileSync(
        PYTHON_LIBVIRT as string,
        [
          '-c',
          `import json, sys, libvirt
c = libvirt.open(sys.argv[1]); d = c.lookupByName('test'); s = c.newStream(0)
mime = d.screenshot(s, 0); data = b''
while True:
    b = s.recv(262144)
    if not b: break
    data += b
s.finish()
print(json.dumps({'mime': mime, 'hex': data.hex()}))`,
          peer.daemon.unixUri,
        ],
        { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      ),
    ) as { mime: string; hex: string };
    expect(shot.mime).toBe(theirs.mime);
    expect(Buffer.from(shot.data).toString('hex')).toBe(theirs.hex);
  });
});

/**
 * The remote driver's metadata and block I/O tuning calls against a private
 * libvirtd (its test:///default driver): what we set, python3-libvirt reads
 * back from the same daemon, and what python3-libvirt set, we read; the
 * daemon's errors arrive with libvirt's codes, and `metadata-change` events
 * for our own calls arrive over the connection.
 */
import { describe, expect, it } from 'vitest';
import type { AnyDomainEvent } from '../../../src/driver.js';
import { daemonPeer, PEER_NOTE } from './daemon-peer.js';
import { LIBVIRTD, PYTHON_LIBVIRT } from './libvirtd.js';

const peer = daemonPeer();
const python = (code: string) => peer.python(code);
const NOTE = PEER_NOTE;

describe.skipIf(!LIBVIRTD || !PYTHON_LIBVIRT)(`remote metadata and block I/O tuning${NOTE}`, () => {
  it('sets metadata python3-libvirt reads back, and reads what it set', async () => {
    const events = peer.conn.events({ ids: ['metadata-change'] });
    const dom = await peer.conn.lookupDomain('test');
    await dom.setMetadata('title', 'remote title');
    await dom.setMetadata('element', '<app id="7"><v>1</v></app>', { key: 'vk', uri: 'urn:virtkit:app' });
    const theirs = python(`import json, sys, libvirt
c = libvirt.open(sys.argv[1]); d = c.lookupByName('test')
out = [d.metadata(1, None, 0), d.metadata(2, 'urn:virtkit:app', 0)]
d.setMetadata(0, 'from python', None, None, 0)
print(json.dumps(out))`);
    expect(theirs).toEqual(['remote title', '<app id="7">\n  <v>1</v>\n</app>']);
    expect(await dom.getMetadata('description')).toBe('from python');
    expect(await dom.getXML()).toContain('<vk:app xmlns:vk="urn:virtkit:app" id="7">');
    await dom.setMetadata('element', null, { uri: 'urn:virtkit:app' });
    await expect(dom.getMetadata('element', { uri: 'urn:virtkit:app' })).rejects.toMatchObject({
      code: 'NO_DOMAIN_METADATA',
    });
    // the daemon refuses a bad prefix itself (the facade cannot know XML's name rules)
    await expect(dom.setMetadata('element', '<a/>', { key: '1k', uri: 'urn:x' })).rejects.toMatchObject({
      code: 'INTERNAL_ERROR',
    });
    const it = events[Symbol.asyncIterator]();
    const got: [string, string | undefined][] = [];
    // ours: title, element, element removed, the refused one none; python's description in between
    for (let i = 0; i < 4; i++) {
      const e = (await it.next()).value as AnyDomainEvent;
      if (e.type === 'metadata-change') got.push([e.kind, e.nsuri]);
    }
    expect(got).toEqual([
      ['title', undefined],
      ['element', 'urn:virtkit:app'],
      ['description', undefined],
      ['element', 'urn:virtkit:app'],
    ]);
    events.end();
  });

  it('sets block I/O limits python3-libvirt reads back, with the daemon checks', async () => {
    const dom = await peer.conn.lookupDomain('test');
    await dom.setBlockIoTune('vda', { total_bytes_sec_max: 4000, group_name: 'vkgroup' });
    await dom.setBlockIoTune('vda', { total_bytes_sec: 2000 });
    const theirs = python(`import json, sys, libvirt
c = libvirt.open(sys.argv[1]); d = c.lookupByName('test')
print(json.dumps(d.blockIoTune('vda', 0)))`) as Record<string, unknown>;
    const ours = await dom.getBlockIoTune('vda');
    expect(ours).toEqual(theirs);
    expect(theirs).toMatchObject({ total_bytes_sec: 2000, total_bytes_sec_max: 4000, group_name: 'vkgroup' });
    await expect(dom.setBlockIoTune('vda', { read_bytes_sec: 1 })).rejects.toMatchObject({
      code: 'INVALID_ARG',
    });
    await expect(dom.getBlockIoTune('vdz')).rejects.toMatchObject({ code: 'INVALID_ARG' });
  });
});

/**
 * The remote driver's snapshot calls against a private libvirtd (its
 * test:///default driver): each option reaches the daemon as libvirt's
 * numeric flag (the daemon's own "unsupported flags (0x…)" answers and
 * python3-libvirt's view of the same daemon say which bits arrived).
 */
import { describe, expect, it } from 'vitest';
import { isVirError } from '../../../src/errors.js';
import { daemonPeer, PEER_NOTE } from './daemon-peer.js';
import { LIBVIRTD, PYTHON_LIBVIRT } from './libvirtd.js';

const peer = daemonPeer();
const python = (code: string) => peer.python(code);
const NOTE = PEER_NOTE;

async function messageOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isVirError(err), String(err)).toBe(true);
  return (err as Error).message;
}

describe.skipIf(!LIBVIRTD || !PYTHON_LIBVIRT)(`remote snapshots${NOTE}`, () => {
  it('sends every create, revert and delete option as libvirt numeric flag', async () => {
    const dom = await peer.conn.lookupDomain('test');
    // the test driver refuses these bits by value: the message names what arrived
    expect(await messageOf(dom.createSnapshot('<domainsnapshot/>', { noMetadata: true }))).toContain('(0x4)');
    expect(await messageOf(dom.createSnapshot('<domainsnapshot/>', { diskOnly: true }))).toContain('(0x10)');
    expect(await messageOf(dom.createSnapshot('<domainsnapshot/>', { reuseExt: true }))).toContain('(0x20)');
    expect(await messageOf(dom.revertToSnapshot('none', { resetNvram: true }))).toMatch(
      /0x8|no domain snapshot/,
    );
    // quiesce, atomic, live and validate are taken
    const opts = { quiesce: true, atomic: true, live: true, validate: true };
    expect(await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>', opts)).toBe('s1');
    expect(await messageOf(dom.revertToSnapshot('s1', { resetNvram: true }))).toContain('(0x8)');
    // halt (0x8) stops the guest in the daemon
    expect(await dom.createSnapshot('<domainsnapshot><name>s2</name></domainsnapshot>', { halt: true })).toBe(
      's2',
    );
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'from snapshot' });
    // redefine (0x1) + current (0x2): python sees s1 back as the current one
    const xml = await dom.getSnapshotXML('s1');
    expect(await dom.createSnapshot(xml, { redefine: true, current: true })).toBe('s1');
    const list = await dom.listSnapshots();
    expect(list.map((s) => [s.name, s.state, s.current, s.parent ?? null])).toEqual([
      ['s1', 'running', true, null],
      ['s2', 'running', false, 's1'],
    ]);
    expect(
      python(`import json, sys, libvirt
c = libvirt.open(sys.argv[1]); d = c.lookupByName('test')
print(json.dumps(d.snapshotCurrent().getName()))`),
    ).toBe('s1');
    // revert paused (0x2) to a running snapshot: the daemon's domain ends paused
    await dom.revertToSnapshot('s2', { paused: true });
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'from snapshot' });
    expect(dom.id).toBeGreaterThan(0);
    // delete children (0x1): both go
    await dom.deleteSnapshot('s1', { children: true });
    expect(await dom.listSnapshots()).toEqual([]);
  });

  it("sends secure (0x1) for a snapshot's XML and migratable (0x8) for a domain's: the daemon's documents", async () => {
    const dom = await peer.conn.defineDomain(
      "<domain type='test'><name>vk-remote-secret</name><memory>65536</memory><os><type arch='x86_64'>hvm</type></os>" +
        "<devices><input type='keyboard' bus='ps2'/><graphics type='vnc' passwd='s3cret'/></devices></domain>",
    );
    try {
      expect(await dom.createSnapshot('<domainsnapshot><name>s1</name></domainsnapshot>')).toBe('s1');
      const plain = await dom.getSnapshotXML('s1');
      const secure = await dom.getSnapshotXML('s1', { secure: true });
      expect(plain).not.toContain('s3cret');
      expect(secure).toContain("passwd='s3cret'");
      const theirs = python(`import json, sys, libvirt
c = libvirt.open(sys.argv[1]); d = c.lookupByName('vk-remote-secret'); s = d.snapshotLookupByName('s1')
print(json.dumps([s.getXMLDesc(0), s.getXMLDesc(1), d.XMLDesc(8)]))`) as string[];
      expect([plain, secure]).toEqual([theirs[0], theirs[1]]);
      const migratable = await dom.getXML({ migratable: true });
      expect(migratable).not.toContain("<input type='keyboard' bus='ps2'/>");
      expect(migratable).toBe(theirs[2]);
    } finally {
      await dom.deleteSnapshot('s1').catch(() => {});
      await dom.undefine();
    }
  });
});

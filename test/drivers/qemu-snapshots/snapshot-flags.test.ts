/**
 * Snapshot create and revert flags of the QEMU driver on real QEMU and
 * qemu-img: disk-only, reuse of the caller's overlay, no metadata, halt,
 * quiesce without an agent, live, and revert to a shut-off snapshot asked
 * to end paused. Each refusal leaves no file and no metadata behind.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DomainSnapshotDef } from '../../../src/conf/snapshot.js';
import { errorOf, guestXml, host, image, imageSectorIs, SKIP } from './helpers.js';

const ext = (name: string, file?: string) =>
  `<domainsnapshot><name>${name}</name>${
    file ? `<disks><disk name='vda' snapshot='external'><source file='${file}'/></disk></disks>` : ''
  }</domainsnapshot>`;

describe.skipIf(SKIP !== '')(`snapshot flags on real QEMU${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('diskOnly, reuseExt and noMetadata on a shut-off domain; bad input leaves nothing behind', async () => {
    const h = await host();
    const base = image(h, 'vk-qflag');
    const dom = await h.conn.defineDomain(guestXml('vk-qflag', base));
    const before = await dom.getXML({ inactive: true });

    // disk-only with memory asked for: refused before anything is made
    const e1 = await errorOf(
      dom.createSnapshot("<domainsnapshot><name>m</name><memory snapshot='internal'/></domainsnapshot>", {
        diskOnly: true,
      }),
    );
    expect([e1.code, e1.field]).toEqual(['XML_ERROR', '/domainsnapshot/memory/@snapshot']);
    // names the driver cannot keep a file for
    for (const bad of ['a/b', 'x'.repeat(10240)]) {
      const e = await errorOf(dom.createSnapshot(ext(bad), { diskOnly: true }));
      expect(e.field).toBe('/domainsnapshot/name');
    }
    // reuseExt with a file that is not there
    const missing = base.replace(/\.qcow2$/, '.missing');
    const e2 = await errorOf(dom.createSnapshot(ext('r0', missing), { diskOnly: true, reuseExt: true }));
    expect([e2.code, e2.field]).toEqual(['CONFIG_UNSUPPORTED', '/domainsnapshot/disks']);
    expect(existsSync(missing)).toBe(false);

    // the caller's overlay, with data of its own: without reuseExt it is refused, with it used as is
    const mine = base.replace(/\.qcow2$/, '.mine');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base, mine]);
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x5a 0 4k', mine]);
    const e3 = await errorOf(dom.createSnapshot(ext('r1', mine), { diskOnly: true }));
    expect(e3.code).toBe('OPERATION_INVALID');
    expect(await dom.listSnapshots()).toEqual([]);
    expect(await dom.getXML({ inactive: true })).toBe(before);

    expect(await dom.createSnapshot(ext('r1', mine), { diskOnly: true, reuseExt: true })).toBe('r1');
    expect(imageSectorIs(mine, 0x5a)).toBe(true);
    const snap = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('r1'));
    expect([snap.state, snap.memory?.snapshot]).toEqual(['shutoff', 'no']);
    expect(snap.disks?.disk?.[0]).toMatchObject({ snapshot: 'external', source: { file: mine } });

    // noMetadata: the overlay is made, the domain is on it, nothing lists the snapshot
    const quiet = base.replace(/\.qcow2$/, '.quiet');
    expect(await dom.createSnapshot(ext('n1', quiet), { diskOnly: true, noMetadata: true })).toBe('n1');
    expect(existsSync(quiet)).toBe(true);
    expect((await dom.listSnapshots()).map((s) => s.name)).toEqual(['r1']);
    expect(await dom.getXML({ inactive: true })).toContain(quiet);
  });

  it('a running guest: quiesce without an agent and live are refused; halt stops it after a disk-only snapshot', async () => {
    const h = await host();
    const base = image(h, 'vk-qflag-run');
    const dom = await h.conn.defineDomain(guestXml('vk-qflag-run', base));
    await dom.start();
    const o1 = base.replace(/\.qcow2$/, '.q1');
    const eq = await errorOf(dom.createSnapshot(ext('q1', o1), { quiesce: true }));
    expect(eq.code).toBe('INVALID_ARG');
    const ea = await errorOf(dom.createSnapshot(ext('q1', o1), { quiesce: true, diskOnly: true }));
    expect([ea.code, ea.field]).toEqual(['AGENT_UNRESPONSIVE', 'flags.quiesce']);
    const el = await errorOf(dom.createSnapshot(ext('l1', o1), { live: true }));
    expect(el.code).toBe('OPERATION_UNSUPPORTED');
    expect(existsSync(o1)).toBe(false);
    expect(await dom.listSnapshots()).toEqual([]);

    h.events.length = 0;
    expect(await dom.createSnapshot(ext('h1', o1), { diskOnly: true, halt: true })).toBe('h1');
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'from snapshot' });
    expect(h.events).toContain('stopped/from snapshot');
    const snap = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('h1'));
    expect(snap.state).toBe('disk-snapshot');

    // a transient guest cannot halt after its snapshot
    const tbase = image(h, 'vk-qflag-tr');
    const tr = await h.conn.createDomain(guestXml('vk-qflag-tr', tbase));
    const eh = await errorOf(tr.createSnapshot(ext('t1', `${tbase}.t1`), { diskOnly: true, halt: true }));
    expect(eh.code).toBe('OPERATION_INVALID');
    expect(existsSync(`${tbase}.t1`)).toBe(false);
  });

  it('revert to a shut-off internal snapshot with paused boots the guest paused', async () => {
    const h = await host();
    const base = image(h, 'vk-qflag-rev');
    const dom = await h.conn.defineDomain(guestXml('vk-qflag-rev', base));
    await dom.createSnapshot('<domainsnapshot><name>off</name></domainsnapshot>');
    const e = await errorOf(dom.revertToSnapshot('off', { running: true, paused: true }));
    expect(e.code).toBe('INVALID_ARG');
    h.events.length = 0;
    await dom.revertToSnapshot('off', { paused: true });
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'from snapshot' });
    expect(h.events).toContain('started/from snapshot');
    await dom.revertToSnapshot('off', { running: true });
    expect((await dom.getState()).state).toBe('running');
  });
});

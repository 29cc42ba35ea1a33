/**
 * Internal snapshots with real QEMU (TCG) and real qcow2 images made by
 * qemu-img. The guest is SeaBIOS with a blank disk: it finds nothing to
 * boot and waits, running, with its timer interrupt counting the BIOS
 * data area's tick counter (a 32-bit word at 0x46c), so the guest's memory
 * changes by itself while it runs. A snapshot of the running or paused
 * guest goes through QEMU's snapshot-save job; its revert must give back
 * the tick count read then (memory) and the sector written then (disk,
 * written and checked through QEMU's own `qemu-io`). A shut-off guest's
 * snapshots are `qemu-img snapshot`, checked with the image's own list and
 * host-side `qemu-io` reads. Bad input is a typed error naming the field
 * that leaves the definitions and the images as they were.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainSnapshotDef } from '../../../src/conf/snapshot.js';
import type { Domain } from '../../../src/domain.js';
import {
  errorOf,
  guestXml,
  type Host,
  host,
  image,
  imageSectorIs,
  imageTags,
  qemuProcessesMentioning,
  SKIP,
} from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The BIOS tick counter (0x46c) of a paused guest, read with QMP `pmemsave`. */
async function ticks(h: Host, dom: Domain): Promise<number> {
  const file = join(h.roots.path, `ticks-${Date.now()}-${Math.random()}.bin`);
  const r = await dom.qemuMonitorCommand({
    execute: 'pmemsave',
    arguments: { val: 0x46c, size: 4, filename: file },
  });
  expect(r).toEqual({ return: {} });
  return readFileSync(file).readUInt32LE(0);
}

/**
 * Writes `pattern` over 4 KiB of the guest's disk from inside QEMU (HMP
 * `qemu-io` on the device's own BlockBackend; its report goes to QEMU's
 * stdout, so the effect is checked on the image once QEMU is gone).
 */
async function writeSector(dom: Domain, pattern: number, offset = 0): Promise<void> {
  const dev = '/machine/peripheral/virtio-disk0/virtio-backend';
  const out = await dom.qemuMonitorCommand(`qemu-io -d ${dev} "write -P ${pattern} ${offset} 4k"`, {
    hmp: true,
  });
  expect(out).toBe('');
}

describe.skipIf(SKIP !== '')(`internal snapshots on real QEMU${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('a running guest: snapshot-save, revert gives back its memory and disk, the tree and the XML', async () => {
    const h = await host();
    const disk = image(h, 'vk-qsnap-run');
    const dom = await h.conn.defineDomain(guestXml('vk-qsnap-run', disk));
    await dom.start();
    await writeSector(dom, 0x11);
    h.events.length = 0;
    expect(
      await dom.createSnapshot(
        '<domainsnapshot><name>run1</name><description>up</description></domainsnapshot>',
      ),
    ).toBe('run1');
    // libvirt pauses a running guest around the save and resumes it
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'unpaused' });
    expect(h.events).toEqual(['suspended/paused', 'resumed/unpaused']);
    expect(imageTags(disk)).toEqual(['run1']);

    await sleep(300); // SeaBIOS ticks on
    await dom.suspend();
    await writeSector(dom, 0x22);
    const t1 = await ticks(h, dom);
    expect(await dom.createSnapshot('<domainsnapshot><name>p1</name></domainsnapshot>')).toBe('p1');
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'user' });

    await dom.resume();
    await sleep(1500);
    await writeSector(dom, 0x33);
    await dom.suspend();
    const t2 = await ticks(h, dom);
    expect(t2).toBeGreaterThan(t1);

    h.events.length = 0;
    await dom.revertToSnapshot('p1');
    expect(await dom.getState()).toEqual({ state: 'paused', reason: 'from snapshot' });
    expect(await ticks(h, dom)).toBe(t1);
    await sleep(100);
    // it was paused already: no suspend event, only the definition put back
    expect(h.events).toEqual(['defined/from snapshot']);

    const list = await dom.listSnapshots();
    expect(list.map((s) => [s.name, s.state, s.parent ?? null, s.current])).toEqual([
      ['run1', 'running', null, false],
      ['p1', 'paused', 'run1', true],
    ]);
    expect(list[0]?.description).toBe('up');
    const p1 = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('p1'));
    expect(p1.state).toBe('paused');
    expect(p1.parentName).toBe('run1');
    expect(p1.memory).toEqual({ snapshot: 'internal' });
    expect(p1.disks?.disk).toEqual([{ name: 'vda', snapshot: 'internal' }]);
    expect(p1.domainDef()?.name).toBe('vk-qsnap-run');
    expect(p1.active).toBeUndefined();
    // the metadata file is where libvirt keeps it, with <active>
    const file = join(h.state, 'qemu', 'snapshot', 'vk-qsnap-run', 'p1.xml');
    expect(DomainSnapshotDef.fromXML(readFileSync(file, 'utf8')).active).toBe(1);

    // the disk as it was at p1: 0x22, the later 0x33 gone
    await dom.destroy();
    expect(imageSectorIs(disk, 0x22)).toBe(true);

    // back to the running snapshot from shut off: booted for it, running, the disk of then
    await dom.revertToSnapshot('run1');
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'from snapshot' });
    expect((await dom.listSnapshots()).find((s) => s.current)?.name).toBe('run1');

    // delete the child while running: snapshot-delete, gone from the image and the list
    await dom.deleteSnapshot('p1');
    expect(imageTags(disk)).toEqual(['run1']);
    expect((await dom.listSnapshots()).map((s) => s.name)).toEqual(['run1']);
    expect(existsSync(file)).toBe(false);
    // no QEMU job is left behind
    expect(await dom.qemuMonitorCommand({ execute: 'query-jobs' })).toEqual({ return: [] });
    await dom.destroy();
    expect(imageSectorIs(disk, 0x11)).toBe(true);
  });

  it('a shut-off guest: qemu-img snapshots, revert of the disk, delete with children', async () => {
    const h = await host();
    const disk = image(h, 'vk-qsnap-off');
    const dom = await h.conn.defineDomain(guestXml('vk-qsnap-off', disk));
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x55 0 4k', disk]);
    await dom.createSnapshot('<domainsnapshot><name>off1</name></domainsnapshot>');
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x66 0 4k', disk]);
    await dom.createSnapshot('<domainsnapshot><name>off2</name></domainsnapshot>');
    await dom.createSnapshot('<domainsnapshot><name>off3</name></domainsnapshot>');
    expect(imageTags(disk)).toEqual(['off1', 'off2', 'off3']);
    const off1 = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('off1'));
    expect([off1.state, off1.memory?.snapshot]).toEqual(['shutoff', 'no']);

    h.events.length = 0;
    await dom.revertToSnapshot('off1');
    expect(await dom.getState()).toMatchObject({ state: 'shutoff' });
    expect(imageSectorIs(disk, 0x55)).toBe(true);
    expect((await dom.listSnapshots()).find((s) => s.current)?.name).toBe('off1');

    // deleting off2 with its children takes off3 too; off1 stays current
    await dom.deleteSnapshot('off2', { children: true });
    expect(imageTags(disk)).toEqual(['off1']);
    expect((await dom.listSnapshots()).map((s) => [s.name, s.current])).toEqual([['off1', true]]);

    // a snapshot taken shut off, reverted while the guest runs: QEMU is stopped, the disk reverted
    await dom.start();
    h.events.length = 0;
    await dom.revertToSnapshot('off1');
    expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'from snapshot' });
    await sleep(100);
    expect(h.events).toContain('stopped/from snapshot');
    expect(qemuProcessesMentioning(h.roots.path)).toEqual([]);
    expect(imageSectorIs(disk, 0x55)).toBe(true);

    // a running snapshot reverted while shut off boots the guest from it
    await dom.start();
    await dom.createSnapshot('<domainsnapshot><name>up</name></domainsnapshot>');
    await dom.destroy();
    h.events.length = 0;
    await dom.revertToSnapshot('up');
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'from snapshot' });
    await sleep(100);
    // libvirt's events: the guest started for the snapshot, then its definition put back
    expect(h.events).toEqual(['started/from snapshot', 'resumed/from snapshot', 'defined/from snapshot']);

    // undefine is refused while snapshots exist, then drops their metadata with `snapshots`
    await dom.destroy();
    expect((await errorOf(dom.undefine())).code).toBe('OPERATION_INVALID');
    await dom.undefine({ snapshots: true });
    expect(existsSync(join(h.state, 'qemu', 'snapshot', 'vk-qsnap-off'))).toBe(false);
  });

  it('bad input: typed errors naming the field, nothing changed', async () => {
    const h = await host();
    const disk = image(h, 'vk-qsnap-bad');
    const dom = await h.conn.defineDomain(guestXml('vk-qsnap-bad', disk));
    const rawDisk = image(h, 'vk-qsnap-raw', 'raw');
    const raw = await h.conn.defineDomain(guestXml('vk-qsnap-raw', rawDisk, 'raw'));
    const before = await dom.getXML();
    const snapDir = join(h.state, 'qemu', 'snapshot', 'vk-qsnap-bad');

    const slash = await errorOf(dom.createSnapshot('<domainsnapshot><name>a/b</name></domainsnapshot>'));
    expect([slash.code, slash.field]).toEqual(['XML_DETAIL', '/domainsnapshot/name']);
    const dot = await errorOf(dom.createSnapshot('<domainsnapshot><name>.x</name></domainsnapshot>'));
    expect([dot.code, dot.field]).toEqual(['XML_DETAIL', '/domainsnapshot/name']);
    const long = await errorOf(
      dom.createSnapshot(`<domainsnapshot><name>${'n'.repeat(10240)}</name></domainsnapshot>`),
    );
    expect([long.code, long.field]).toEqual(['XML_DETAIL', '/domainsnapshot/name']);
    expect(long.message.length).toBeLessThan(300);
    const rawErr = await errorOf(raw.createSnapshot('<domainsnapshot><name>r</name></domainsnapshot>'));
    expect([rawErr.code, rawErr.field]).toEqual([
      'CONFIG_UNSUPPORTED',
      '/domain/devices/disk[1]/driver/@type',
    ]);
    expect(rawErr.message).toContain('vda');
    // a shut-off guest has no memory to save: libvirt's offline parse refuses that before the disks
    const mixed = await errorOf(
      dom.createSnapshot(
        "<domainsnapshot><name>e</name><memory snapshot='internal'/><disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>",
      ),
    );
    expect([mixed.code, mixed.field]).toEqual(['XML_ERROR', '/domainsnapshot/memory/@snapshot']);
    const noDisk = await errorOf(
      dom.createSnapshot("<domainsnapshot><disks><disk name='vdz'/></disks></domainsnapshot>"),
    );
    expect([noDisk.code, noDisk.field]).toEqual([
      'CONFIG_UNSUPPORTED',
      '/domainsnapshot/disks/disk[1]/@name',
    ]);
    const offMem = await errorOf(
      dom.createSnapshot("<domainsnapshot><memory snapshot='internal'/></domainsnapshot>"),
    );
    expect([offMem.code, offMem.field]).toEqual(['XML_ERROR', '/domainsnapshot/memory/@snapshot']);
    const notXml = await errorOf(dom.createSnapshot('<domainsnapshot><name>x</domainsnapshot>'));
    expect(['XML_ERROR', 'XML_DETAIL']).toContain(notXml.code);
    expect((await errorOf(dom.revertToSnapshot('nope'))).code).toBe('NO_DOMAIN_SNAPSHOT');
    expect((await errorOf(dom.deleteSnapshot('nope'))).code).toBe('NO_DOMAIN_SNAPSHOT');
    expect(existsSync(snapDir)).toBe(false);
    expect(imageTags(disk)).toEqual([]);
    expect(imageTags(rawDisk)).toEqual([]);

    await dom.createSnapshot('<domainsnapshot><name>good</name></domainsnapshot>');
    const dup = await errorOf(dom.createSnapshot('<domainsnapshot><name>good</name></domainsnapshot>'));
    expect(dup.code).toBe('OPERATION_FAILED');
    expect(imageTags(disk)).toEqual(['good']);

    // a snapshot of another domain, its metadata file put into this domain's folder by hand
    const other = await h.conn.defineDomain(guestXml('vk-qsnap-other', image(h, 'vk-qsnap-other')));
    await other.createSnapshot('<domainsnapshot><name>theirs</name></domainsnapshot>');
    copyFileSync(
      join(h.state, 'qemu', 'snapshot', 'vk-qsnap-other', 'theirs.xml'),
      join(snapDir, 'theirs.xml'),
    );
    const foreign = await errorOf(dom.revertToSnapshot('theirs'));
    expect([foreign.code, foreign.field]).toEqual(['INVALID_ARG', '/domainsnapshot/domain/uuid']);
    expect(await dom.getXML()).toBe(before);
    expect(imageTags(disk)).toEqual(['good']);
    // rename keeps a domain with snapshots where it is, as libvirt does
    expect((await errorOf(dom.rename('vk-qsnap-renamed'))).code).toBe('OPERATION_INVALID');
    expect(readdirSync(snapDir).sort()).toEqual(['good.xml', 'theirs.xml']);
  });
});

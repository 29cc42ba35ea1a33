/**
 * Revert to and delete of external snapshots on real QEMU and qemu-img,
 * with libvirt's semantics: a revert puts the disk on a new overlay over
 * the snapshot's image (which stays as it was) and discards the state it
 * leaves; a delete merges the overlay into its base (`qemu-img commit`
 * shut off, QMP `block-commit` running: active for the top, intermediate
 * below it) or, for a leaf off the current line, removes its files. The
 * chains are read with `qemu-img info --backing-chain`, the data with
 * `qemu-io` (host side) or HMP `qemu-io` in the running guest.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { DomainSnapshotDef } from '../../../src/conf/snapshot.js';
import type { Domain } from '../../../src/domain.js';
import { errorOf, guestXml, host, image, imageSectorIs, SKIP } from './helpers.js';

/** The file names of an image's chain, top first, as qemu-img reports them. */
function chain(path: string): string[] {
  const j = JSON.parse(
    execFileSync('qemu-img', ['info', '-U', '--backing-chain', '--output=json', path], { encoding: 'utf8' }),
  ) as Array<{ filename: string }>;
  return j.map((i) => i.filename);
}

function write(path: string, pattern: number): void {
  execFileSync('qemu-io', ['-f', 'qcow2', '-c', `write -P ${pattern} 0 4k`, path]);
}

async function liveWrite(dom: Domain, pattern: number): Promise<void> {
  const dev = '/machine/peripheral/virtio-disk0/virtio-backend';
  expect(await dom.qemuMonitorCommand(`qemu-io -d ${dev} "write -P ${pattern} 0 4k"`, { hmp: true })).toBe(
    '',
  );
}

async function diskFile(dom: Domain, inactive = false): Promise<string | undefined> {
  return DomainDef.fromXML(await dom.getXML({ inactive })).devices?.disks?.[0]?.source?.file;
}

/** QEMU's own view of the disk: its image chain, top first. */
async function qemuChain(dom: Domain): Promise<string[]> {
  type Img = { filename: string; 'backing-image'?: Img };
  const r = (await dom.qemuMonitorCommand({ execute: 'query-block' })) as {
    return: Array<{ inserted?: { image: Img } }>;
  };
  const out: string[] = [];
  for (let i: Img | undefined = r.return.find((b) => b.inserted)?.inserted?.image; i; i = i['backing-image'])
    out.push(i.filename);
  return out;
}

/** Waits for the next second: a revert names its overlays after the time in seconds, as libvirt does. */
async function nextSecond(): Promise<void> {
  const t = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === t) await new Promise((r) => setTimeout(r, 50));
}

const ext = (name: string) =>
  `<domainsnapshot><name>${name}</name><disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>`;

describe.skipIf(SKIP !== '')(
  `external snapshot revert and delete${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    it('revert of a shut-off and of a running domain: a new overlay on the snapshot image, the left state gone', async () => {
      const h = await host();
      const base = image(h, 'vk-qsnap-xrev');
      const dom = await h.conn.defineDomain(guestXml('vk-qsnap-xrev', base));
      write(base, 0x71);
      await dom.createSnapshot(ext('e1'));
      const o1 = base.replace(/\.qcow2$/, '.e1');
      write(o1, 0x72);

      await nextSecond();
      await dom.revertToSnapshot('e1');
      const r1 = (await diskFile(dom, true))!;
      // libvirt's name: the snapshot image's path without its suffix, then the revert's time in seconds
      expect(r1).toMatch(new RegExp(`^${base.replace(/\.qcow2$/, '')}\\.\\d{10}$`));
      expect(chain(r1)).toEqual([r1, base]);
      expect(imageSectorIs(r1, 0x71)).toBe(true);
      expect(imageSectorIs(base, 0x71)).toBe(true);
      // what the domain wrote after the snapshot (its current overlay, no child on it) is discarded
      expect(existsSync(o1)).toBe(false);
      const s1 = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('e1'));
      expect(s1.disks?.disk?.[0]?.source?.file).toBe(r1);
      expect(s1.revertDisks).toBeUndefined();
      expect((await dom.listSnapshots()).map((s) => [s.name, s.current])).toEqual([['e1', true]]);
      expect(h.events).toContain('defined/from snapshot');

      // running now, writing into its overlay: the revert stops it, as libvirt does for a shut-off snapshot
      await dom.start();
      await liveWrite(dom, 0x73);
      await nextSecond();
      h.events.length = 0;
      await dom.revertToSnapshot('e1');
      expect((await dom.getState()).state).toBe('shutoff');
      expect(h.events).toEqual(['stopped/from snapshot', 'defined/from snapshot']);
      const r2 = (await diskFile(dom, true))!;
      expect(r2).not.toBe(r1);
      expect(chain(r2)).toEqual([r2, base]);
      expect(existsSync(r1)).toBe(false);
      expect(imageSectorIs(r2, 0x71)).toBe(true);
      // and it boots on the new overlay
      await dom.start();
      expect(await qemuChain(dom)).toEqual([r2, base]);
      await dom.destroy();
    });

    it('revert to a snapshot with a child keeps the child base; deleting the child hands the overlay back', async () => {
      const h = await host();
      const base = image(h, 'vk-qsnap-xkid');
      const dom = await h.conn.defineDomain(guestXml('vk-qsnap-xkid', base));
      write(base, 0x41);
      await dom.createSnapshot(ext('a'));
      const oa = base.replace(/\.qcow2$/, '.a');
      write(oa, 0x42);
      await dom.createSnapshot(ext('b'));
      const ob = base.replace(/\.qcow2$/, '.b');
      expect(chain(ob)).toEqual([ob, oa, base]);
      write(ob, 0x43);

      await nextSecond();
      await dom.revertToSnapshot('a');
      const r = (await diskFile(dom, true))!;
      expect(chain(r)).toEqual([r, base]);
      expect(imageSectorIs(r, 0x41)).toBe(true);
      // b's state (its overlay, the current one) is gone; a's overlay stays: b's image is on it
      expect(existsSync(ob)).toBe(false);
      expect(imageSectorIs(oa, 0x42)).toBe(true);
      const a = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('a'));
      expect(a.disks?.disk?.[0]?.source?.file).toBe(oa);
      expect(a.revertDisks?.disk?.[0]).toMatchObject({
        name: 'vda',
        snapshot: 'external',
        source: { file: r },
      });

      // the current snapshot with a child: libvirt refuses the merge
      const busy = await errorOf(dom.deleteSnapshot('a'));
      expect(busy.code).toBe('CONFIG_UNSUPPORTED');
      const kids = await errorOf(dom.deleteSnapshot('a', { children: true }));
      expect(kids.code).toBe('CONFIG_UNSUPPORTED');
      expect(existsSync(oa)).toBe(true);

      // b is a leaf off the current line: its files go (a's overlay was only b's base), nothing merges
      await dom.deleteSnapshot('b');
      expect(existsSync(oa)).toBe(false);
      expect(chain(r)).toEqual([r, base]);
      expect(imageSectorIs(base, 0x41)).toBe(true);
      const a2 = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('a'));
      expect(a2.disks?.disk?.[0]?.source?.file).toBe(r);
      expect(a2.revertDisks).toBeUndefined();

      // a is a current leaf now: its delete merges the domain's overlay into the base
      write(r, 0x44);
      await dom.deleteSnapshot('a');
      expect(existsSync(r)).toBe(false);
      expect(await diskFile(dom, true)).toBe(base);
      expect(imageSectorIs(base, 0x44)).toBe(true);
      expect(await dom.listSnapshots()).toEqual([]);
    });

    it('delete on a running guest: active commit for the top, intermediate commit below it', async () => {
      const h = await host();
      const base = image(h, 'vk-qsnap-xcommit');
      const dom = await h.conn.defineDomain(guestXml('vk-qsnap-xcommit', base));
      write(base, 0x51);
      await dom.start();
      await dom.createSnapshot(ext('l1'));
      const o1 = base.replace(/\.qcow2$/, '.l1');
      await liveWrite(dom, 0x52);
      await dom.createSnapshot(ext('l2'));
      const o2 = base.replace(/\.qcow2$/, '.l2');
      expect(await qemuChain(dom)).toEqual([o2, o1, base]);

      // l1 has one child on the current line: its overlay is merged below l2's (intermediate commit)
      await dom.deleteSnapshot('l1');
      expect(await qemuChain(dom)).toEqual([o2, base]);
      expect(chain(o2)).toEqual([o2, base]);
      expect(existsSync(o1)).toBe(false);
      const l2 = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('l2'));
      expect(l2.parentName).toBeUndefined();
      expect(l2.domainDef()?.devices?.disks?.[0]?.source?.file).toBe(base);
      const live = DomainDef.fromXML(await dom.getXML()).devices?.disks?.[0];
      expect(live?.source?.file).toBe(o2);
      expect(JSON.stringify(live?.backingStore)).not.toContain(o1);
      expect((await dom.getState()).state).toBe('running');

      // l2 is the current leaf, its overlay the disk's top: an active commit, the disk back on the base
      await liveWrite(dom, 0x53);
      await dom.deleteSnapshot('l2');
      expect(await qemuChain(dom)).toEqual([base]);
      expect(await diskFile(dom)).toBe(base);
      expect(await diskFile(dom, true)).toBe(base);
      expect(existsSync(o2)).toBe(false);
      expect(await dom.qemuMonitorCommand({ execute: 'query-jobs' })).toEqual({ return: [] });
      await dom.destroy();
      expect(imageSectorIs(base, 0x53)).toBe(true);
      expect(chain(base)).toEqual([base]);
    });

    it('metadataOnly leaves the images as they are; childrenOnly of external children is refused', async () => {
      const h = await host();
      const base = image(h, 'vk-qsnap-xmeta');
      const dom = await h.conn.defineDomain(guestXml('vk-qsnap-xmeta', base));
      await dom.createSnapshot(ext('m1'));
      await dom.createSnapshot(ext('m2'));
      const o1 = base.replace(/\.qcow2$/, '.m1');
      const o2 = base.replace(/\.qcow2$/, '.m2');
      const only = await errorOf(dom.deleteSnapshot('m1', { childrenOnly: true }));
      expect([only.code, only.message]).toEqual([
        'CONFIG_UNSUPPORTED',
        'deletion of external children disk snapshots not supported',
      ]);
      const both = await errorOf(dom.deleteSnapshot('m1', { children: true, childrenOnly: true }));
      expect(both.code).toBe('INVALID_ARG');
      expect((await dom.listSnapshots()).map((s) => s.name)).toEqual(['m1', 'm2']);

      await dom.deleteSnapshot('m1', { childrenOnly: true, metadataOnly: true });
      expect((await dom.listSnapshots()).map((s) => [s.name, s.current])).toEqual([['m1', true]]);
      await dom.deleteSnapshot('m1', { metadataOnly: true });
      expect(await dom.listSnapshots()).toEqual([]);
      // the images and the definition are untouched
      expect(chain(o2)).toEqual([o2, o1, base]);
      expect(await diskFile(dom, true)).toBe(o2);
    });

    it('refuses bad input with typed errors and changes nothing', async () => {
      const h = await host();
      const base = image(h, 'vk-qsnap-xbad');
      const dom = await h.conn.defineDomain(guestXml('vk-qsnap-xbad', base));
      await dom.start();
      await dom.createSnapshot(ext('s1'));
      const o1 = base.replace(/\.qcow2$/, '.s1');

      // a block job runs: libvirt refuses to delete an external snapshot then
      const target = join(h.roots.path, 'images', 'vk-qsnap-xbad-mirror.qcow2');
      const mirror = await dom.qemuMonitorCommand({
        execute: 'drive-mirror',
        arguments: {
          'job-id': 'vk-test-mirror',
          device: (await qemuTopNode(dom))!,
          target,
          format: 'qcow2',
          sync: 'full',
          speed: 1,
        },
      });
      expect(mirror).toEqual({ return: {} });
      const jobbed = await errorOf(dom.deleteSnapshot('s1'));
      expect(jobbed.code).toBe('OPERATION_UNSUPPORTED');
      expect(existsSync(o1)).toBe(true);
      expect(await qemuChain(dom)).toEqual([o1, base]);
      await dom.qemuMonitorCommand({ execute: 'block-job-cancel', arguments: { device: 'vk-test-mirror' } });

      // a snapshot of another domain, its metadata put into this domain's folder by hand
      const other = await h.conn.defineDomain(guestXml('vk-qsnap-xother', image(h, 'vk-qsnap-xother')));
      await other.createSnapshot(ext('theirs'));
      copyFileSync(
        join(h.state, 'qemu', 'snapshot', 'vk-qsnap-xother', 'theirs.xml'),
        join(h.state, 'qemu', 'snapshot', 'vk-qsnap-xbad', 'theirs.xml'),
      );
      const before = await dom.getXML({ inactive: true });
      const foreign = await errorOf(dom.revertToSnapshot('theirs'));
      expect([foreign.code, foreign.field]).toEqual(['INVALID_ARG', '/domainsnapshot/domain/uuid']);
      expect((await dom.getState()).state).toBe('running');
      expect(await dom.getXML({ inactive: true })).toBe(before);

      // a running guest's disk-only snapshot holds no memory: libvirt does not revert to it either
      const diskOnly = await errorOf(dom.revertToSnapshot('s1'));
      expect([diskOnly.code, diskOnly.field]).toEqual(['NO_SUPPORT', '/domainsnapshot/state']);
      expect(await qemuChain(dom)).toEqual([o1, base]);
      await dom.destroy();
    });
  },
);

async function qemuTopNode(dom: Domain): Promise<string | undefined> {
  const r = (await dom.qemuMonitorCommand({ execute: 'query-block' })) as {
    return: Array<{ inserted?: { 'node-name': string } }>;
  };
  return r.return.find((b) => b.inserted)?.inserted?.['node-name'];
}

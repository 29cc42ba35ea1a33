/**
 * External memory snapshots with real QEMU (TCG): the SeaBIOS guest of
 * `internal-snapshots.test.ts`, whose BIOS tick counter (0x46c) moves by
 * itself while it runs, is the memory marker; a 4 KiB pattern written
 * through QEMU's own `qemu-io` is the disk marker. A snapshot with
 * `<memory snapshot='external' file=…>` writes a whole save image (its
 * magic read on the host) and puts the disk on an overlay; the revert
 * restores that memory (the tick count read at the snapshot) onto a new
 * overlay on the snapshot's image (the pattern then, read by host-side
 * `qemu-io`), ending as the snapshot or the flags say. Also: `live`,
 * `halt`, delete (the memory file stays), revert `running` / `paused` to a
 * shut-off external snapshot, `resetNvram`, and the refusals.
 */

import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { DomainSnapshotDef } from '../../../src/conf/snapshot.js';
import type { Domain } from '../../../src/domain.js';
import { serializeXml } from '../../../src/xml/serialize.js';
import type { XmlElement } from '../../../src/xml/tree.js';
import { errorOf, guestXml, type Host, host, image, imageSectorIs, SKIP } from './helpers.js';

/** The BIOS tick counter (0x46c) of the guest, read with QMP `pmemsave`. */
async function ticks(h: Host, dom: Domain): Promise<number> {
  const file = join(h.roots.path, `ticks-${process.hrtime.bigint()}.bin`);
  expect(
    await dom.qemuMonitorCommand({ execute: 'pmemsave', arguments: { val: 0x46c, size: 4, filename: file } }),
  ).toEqual({ return: {} });
  return readFileSync(file).readUInt32LE(0);
}

/** Polls (no fixed wait) until the running guest's tick counter passes `n`. */
async function ticksPast(h: Host, dom: Domain, n: number): Promise<void> {
  while ((await ticks(h, dom)) <= n) await new Promise((r) => setImmediate(r));
}

/** Waits for the next second: a revert names its overlays after the time in seconds, as libvirt does. */
async function nextSecond(): Promise<void> {
  const t = Math.floor(Date.now() / 1000);
  while (Math.floor(Date.now() / 1000) === t) await new Promise((r) => setTimeout(r, 50));
}

async function writeSector(dom: Domain, pattern: number): Promise<void> {
  const dev = '/machine/peripheral/virtio-disk0/virtio-backend';
  expect(await dom.qemuMonitorCommand(`qemu-io -d ${dev} "write -P ${pattern} 0 4k"`, { hmp: true })).toBe(
    '',
  );
}

/** The image files of the guest's disk in QEMU, top first. */
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

const diskSource = async (dom: Domain, inactive: boolean) =>
  DomainDef.fromXML(await dom.getXML({ inactive })).devices?.disks?.[0]?.source?.file;

const magic = (file: string) => readFileSync(file).subarray(0, 16).toString('latin1');

const memSnap = (name: string, file: string, overlay: string) =>
  `<domainsnapshot><name>${name}</name><memory snapshot='external' file='${file}'/><disks><disk name='vda' snapshot='external'><source file='${overlay}'/></disk></disks></domainsnapshot>`;

describe.skipIf(SKIP !== '')(
  `external memory snapshots on real QEMU${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    it('running and paused guests: memory file and overlay taken, revert gives back memory and disk', async () => {
      const h = await host();
      const base = image(h, 'vk-qmem');
      const dom = await h.conn.defineDomain(guestXml('vk-qmem', base));
      await dom.start();
      await writeSector(dom, 0x41);

      // a paused guest: its snapshot stays paused and holds exactly the tick count of now
      await dom.suspend();
      const t0 = await ticks(h, dom);
      const mem1 = join(h.roots.path, 'p1.mem');
      const o1 = join(h.roots.path, 'p1.qcow2');
      h.events.length = 0;
      expect(await dom.createSnapshot(memSnap('p1', mem1, o1))).toBe('p1');
      expect(await dom.getState()).toEqual({ state: 'paused', reason: 'user' });
      expect(h.events).toEqual([]);
      expect(magic(mem1)).toBe('VirtkitSaveImage');
      expect(await qemuChain(dom)).toEqual([o1, base]);
      expect([await diskSource(dom, false), await diskSource(dom, true)]).toEqual([o1, o1]);
      const p1 = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('p1'));
      expect([p1.state, p1.memory]).toEqual(['paused', { snapshot: 'external', file: mem1 }]);
      expect(p1.disks?.disk?.[0]).toMatchObject({ name: 'vda', snapshot: 'external', source: { file: o1 } });
      expect(p1.domainDef()?.devices?.disks?.[0]?.source?.file).toBe(base);
      // libvirt's save cookie (qemuDomainSaveCookieFormat): the CPU as the guest runs it when QEMU's
      // read-back changed it (origCPU), then <slirpHelper/> as no interface uses QEMU's built-in slirp
      const cookie = (p1.cookie?.children ?? []).flatMap((c) => (c.type === 'element' ? [c] : []));
      expect(cookie.at(-1)?.name).toBe('slirpHelper');
      const liveCpu = DomainDef.fromXML(await dom.getXML())
        .toElement({ check: false })
        .children.find((c) => c.type === 'element' && c.name === 'cpu');
      if (cookie.length === 2) expect(serializeXml(cookie[0]!)).toBe(serializeXml(liveCpu as XmlElement));
      else expect(cookie.length).toBe(1);

      // a running guest: paused for the dump (libvirt's events), running again after
      await dom.resume();
      h.events.length = 0;
      const mem2 = join(h.roots.path, 'r1.mem');
      const o2 = join(h.roots.path, 'r1.qcow2');
      const before = await ticks(h, dom);
      expect(await dom.createSnapshot(memSnap('r1', mem2, o2))).toBe('r1');
      expect(await dom.getState()).toEqual({ state: 'running', reason: 'unpaused' });
      expect(h.events).toEqual(['suspended/paused', 'resumed/unpaused']);
      const after = await ticks(h, dom);
      expect(DomainSnapshotDef.fromXML(await dom.getSnapshotXML('r1')).state).toBe('running');
      expect(await qemuChain(dom)).toEqual([o2, o1, base]);

      // the guest moves on: its memory and disk change
      await writeSector(dom, 0x42);
      await ticksPast(h, dom, after + 20);

      // back to the paused snapshot: a new QEMU with the memory of then, paused, on a new overlay on o1's base
      h.events.length = 0;
      await dom.revertToSnapshot('p1');
      expect(await dom.getState()).toEqual({ state: 'paused', reason: 'from snapshot' });
      expect(h.events).toEqual([
        'stopped/from snapshot',
        'started/from snapshot',
        'suspended/from snapshot',
        'defined/from snapshot',
      ]);
      expect(await ticks(h, dom)).toBe(t0);
      const chain = await qemuChain(dom);
      expect(chain.slice(1)).toEqual([base]);
      const fresh = chain[0]!;
      expect(fresh).not.toBe(o1);
      expect([await diskSource(dom, false), await diskSource(dom, true)]).toEqual([fresh, fresh]);
      // the memory file is read, never changed
      expect(magic(mem1)).toBe('VirtkitSaveImage');

      // back to the running one, asked to stay paused: its tick count is the one between the reads around it
      await dom.revertToSnapshot('r1', { paused: true });
      expect(await dom.getState()).toEqual({ state: 'paused', reason: 'from snapshot' });
      const tr = await ticks(h, dom);
      expect(tr).toBeGreaterThanOrEqual(before);
      expect(tr).toBeLessThanOrEqual(after);
      expect((await qemuChain(dom)).slice(1)).toEqual([o1, base]);
      await dom.resume();
      expect((await dom.getState()).state).toBe('running');
      await dom.destroy();
      // the disk is the snapshot's: 0x41 (0x42 went into the overlay the revert discarded)
      const top = (await diskSource(dom, true))!;
      expect(imageSectorIs(top, 0x41)).toBe(true);
      expect(existsSync(o2)).toBe(false);

      // delete: the memory file stays (as libvirt), the metadata goes
      await dom.deleteSnapshot('r1');
      expect(existsSync(mem2)).toBe(true);
      expect((await dom.listSnapshots()).map((s) => s.name)).toEqual(['p1']);
    });

    it('live and halt: the guest runs during the dump, is stopped after; revert starts it running', async () => {
      const h = await host();
      const base = image(h, 'vk-qmem-live');
      const dom = await h.conn.defineDomain(guestXml('vk-qmem-live', base));
      await dom.start();
      const mem = join(h.roots.path, 'l1.mem');
      const o = join(h.roots.path, 'l1.qcow2');
      h.events.length = 0;
      await dom.createSnapshot(memSnap('l1', mem, o), { live: true, halt: true });
      expect(await dom.getState()).toEqual({ state: 'shutoff', reason: 'from snapshot' });
      // QEMU's own pause at the stream's end, then the halt
      expect(h.events).toEqual(['suspended/paused', 'stopped/from snapshot']);
      expect(magic(mem)).toBe('VirtkitSaveImage');
      expect(await diskSource(dom, true)).toBe(o);

      h.events.length = 0;
      await dom.revertToSnapshot('l1');
      expect(await dom.getState()).toEqual({ state: 'running', reason: 'from snapshot' });
      expect(h.events).toEqual(['started/from snapshot', 'resumed/from snapshot', 'defined/from snapshot']);
      expect((await qemuChain(dom)).slice(1)).toEqual([base]);
      await dom.destroy();
    });

    it('revert running / paused to a shut-off external snapshot boots the guest on new overlays', async () => {
      const h = await host();
      const base = image(h, 'vk-qmem-off');
      const dom = await h.conn.defineDomain(guestXml('vk-qmem-off', base));
      await dom.createSnapshot(
        "<domainsnapshot><name>off</name><disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>",
      );
      const first = (await diskSource(dom, true))!;
      h.events.length = 0;
      await dom.revertToSnapshot('off', { running: true });
      expect((await dom.getState()).state).toBe('running');
      expect(h.events).toContain('started/from snapshot');
      expect(h.events.at(-1)).toBe('defined/from snapshot');
      const chain = await qemuChain(dom);
      expect(chain.slice(1)).toEqual([base]);
      expect(chain[0]).not.toBe(first);
      expect(existsSync(first)).toBe(false);
      await nextSecond();
      await dom.revertToSnapshot('off', { paused: true });
      expect(await dom.getState()).toEqual({ state: 'paused', reason: 'from snapshot' });
      expect((await qemuChain(dom)).slice(1)).toEqual([base]);
      await dom.destroy();
    });

    it('resetNvram: a UEFI guest gets its NVRAM from the template again; a BIOS guest is left as is', async () => {
      const code = '/usr/share/OVMF/OVMF_CODE_4M.fd';
      const vars = '/usr/share/OVMF/OVMF_VARS_4M.fd';
      if (!existsSync(code) || !existsSync(vars)) return void console.warn(`skipped: no ${code} / ${vars}`);
      const h = await host();
      const base = image(h, 'vk-qmem-uefi');
      const nvram = join(h.roots.path, 'uefi_VARS.fd');
      const xml = guestXml('vk-qmem-uefi', base)
        .replace("machine='pc'", "machine='q35'")
        .replace(
          '</os>',
          `<loader readonly='yes' type='pflash'>${code}</loader><nvram template='${vars}'>${nvram}</nvram></os>`,
        );
      const dom = await h.conn.defineDomain(xml);
      await dom.createSnapshot(
        "<domainsnapshot><name>u1</name><disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>",
      );
      const template = readFileSync(vars);
      // the guest's variables since: not the template's
      writeFileSync(nvram, Buffer.alloc(template.length, 0x5a));
      await dom.revertToSnapshot('u1', { paused: true });
      expect(readFileSync(nvram).equals(Buffer.alloc(template.length, 0x5a))).toBe(true);
      await dom.destroy();
      await nextSecond();
      await dom.revertToSnapshot('u1', { paused: true, resetNvram: true });
      expect(readFileSync(nvram).equals(template)).toBe(true);
      await dom.destroy();

      // a guest without NVRAM: the flag changes nothing, as libvirt's
      const bios = await h.conn.defineDomain(guestXml('vk-qmem-bios', image(h, 'vk-qmem-bios')));
      await bios.createSnapshot('<domainsnapshot><name>b1</name></domainsnapshot>');
      await bios.revertToSnapshot('b1', { paused: true, resetNvram: true });
      expect(await bios.getState()).toEqual({ state: 'paused', reason: 'from snapshot' });
      await bios.destroy();
    });

    it('refuses as libvirt does, naming the field, and leaves nothing behind', async () => {
      const h = await host();
      const base = image(h, 'vk-qmem-bad');
      const dom = await h.conn.defineDomain(guestXml('vk-qmem-bad', base));
      const mem = join(h.roots.path, 'bad.mem');
      const o = join(h.roots.path, 'bad.qcow2');
      // a shut-off guest has no memory to save
      const off = await errorOf(dom.createSnapshot(memSnap('b', mem, o)));
      expect([off.code, off.field]).toEqual(['XML_ERROR', '/domainsnapshot/memory/@snapshot']);
      expect(off.message).toContain('memory state cannot be saved with offline or disk-only snapshot');
      await dom.start();
      const rel = await errorOf(dom.createSnapshot(memSnap('b', 'rel.mem', o)));
      expect([rel.code, rel.field]).toEqual(['XML_ERROR', '/domainsnapshot/memory/@file']);
      expect(rel.message).toContain('must be absolute');
      const mixed = await errorOf(
        dom.createSnapshot(
          `<domainsnapshot><name>b</name><memory snapshot='external' file='${mem}'/><disks><disk name='vda' snapshot='internal'/></disks></domainsnapshot>`,
        ),
      );
      expect([mixed.code, mixed.message]).toEqual([
        'CONFIG_UNSUPPORTED',
        'mixing internal and external targets for a snapshot is not yet supported',
      ]);
      const diskOnly = await errorOf(dom.createSnapshot(memSnap('b', mem, o), { diskOnly: true }));
      expect(diskOnly.code).toBe('XML_ERROR');
      // an existing file is not written over unless the caller's files are to be reused
      writeFileSync(mem, 'precious');
      const exists = await errorOf(dom.createSnapshot(memSnap('b', mem, o)));
      expect([exists.code, exists.field]).toEqual(['OPERATION_INVALID', '/domainsnapshot/memory/@file']);
      expect(readFileSync(mem, 'utf8')).toBe('precious');
      expect(existsSync(o)).toBe(false);
      expect(await dom.listSnapshots()).toEqual([]);
      expect(await qemuChain(dom)).toEqual([base]);
      expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });

      // a memory file that is not whole: the revert is refused before the guest is touched
      const good = join(h.roots.path, 'good.mem');
      await dom.createSnapshot(memSnap('g', good, o));
      copyFileSync(good, `${good}.orig`);
      writeFileSync(good, 'not an image');
      const broken = await errorOf(dom.revertToSnapshot('g'));
      expect([broken.code, broken.field]).toEqual(['INVALID_ARG', '/domainsnapshot/memory/@file']);
      expect((await dom.getState()).state).toBe('running');
      expect(await qemuChain(dom)).toEqual([o, base]);
      await dom.destroy();
    });
  },
);

/**
 * External (disk-only) snapshots with real QEMU and qemu-img: the overlay
 * is a qcow2 image whose backing file is the disk's image of the moment
 * (checked with `qemu-img info`), the domain's definitions name it with the
 * old image as `<backingStore>`, a running guest writes into the overlay
 * from then on (the base keeps the snapshot's data, checked with host-side
 * `qemu-io`), and deleting the snapshot of a shut-off domain merges the
 * overlay back into the base (revert and the other deletes:
 * `external-revert-delete.test.ts`). What is not implemented is refused by name.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import { DomainSnapshotDef } from '../../../src/conf/snapshot.js';
import { errorOf, guestXml, host, image, imageSectorIs, SKIP } from './helpers.js';

function backingOf(path: string): { file?: string; format?: string } {
  const j = JSON.parse(
    execFileSync('qemu-img', ['info', '-U', '--output=json', path], { encoding: 'utf8' }),
  ) as {
    'backing-filename'?: string;
    'backing-filename-format'?: string;
    format: string;
  };
  return {
    ...(j['backing-filename'] !== undefined ? { file: j['backing-filename'] } : {}),
    ...(j['backing-filename-format'] !== undefined ? { format: j['backing-filename-format'] } : {}),
  };
}

describe.skipIf(SKIP !== '')(`external snapshots on real QEMU${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  it('a shut-off domain: the overlay made on the base, the definition on it, delete merges it back', async () => {
    const h = await host();
    const base = image(h, 'vk-qsnap-ext');
    const dom = await h.conn.defineDomain(guestXml('vk-qsnap-ext', base));
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x71 0 4k', base]);
    await dom.createSnapshot(
      "<domainsnapshot><name>e1</name><disks><disk name='vda' snapshot='external'/></disks></domainsnapshot>",
    );
    // libvirt's default overlay name: the base without its suffix, then the snapshot's name
    const overlay = base.replace(/\.qcow2$/, '.e1');
    expect(backingOf(overlay)).toEqual({ file: base, format: 'qcow2' });
    const def = DomainDef.fromXML(await dom.getXML({ inactive: true }));
    const disk = def.devices?.disks?.[0];
    expect([disk?.source?.file, disk?.driver?.type]).toEqual([overlay, 'qcow2']);
    expect(disk?.backingStore?.name).toBe('backingStore');
    const snap = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('e1'));
    expect(snap.state).toBe('shutoff');
    expect(snap.memory?.snapshot).toBe('no');
    expect(snap.disks?.disk?.[0]).toMatchObject({
      name: 'vda',
      snapshot: 'external',
      source: { file: overlay },
    });
    // the snapshot's own definition is the one of before: the disk on the base
    expect(snap.domainDef()?.devices?.disks?.[0]?.source?.file).toBe(base);

    // the guest writes into the overlay; the base keeps the snapshot's data
    execFileSync('qemu-io', ['-f', 'qcow2', '-c', 'write -P 0x72 0 4k', overlay]);
    expect(imageSectorIs(base, 0x71)).toBe(true);
    expect(imageSectorIs(overlay, 0x72)).toBe(true);

    // a boot on the overlay works: QEMU opens the chain the definition names
    await dom.start();
    expect((await dom.getState()).state).toBe('running');
    await dom.destroy();

    await dom.deleteSnapshot('e1');
    expect(existsSync(overlay)).toBe(false);
    expect(imageSectorIs(base, 0x72)).toBe(true);
    const after = DomainDef.fromXML(await dom.getXML({ inactive: true }));
    expect(after.devices?.disks?.[0]?.source?.file).toBe(base);
    expect(await dom.listSnapshots()).toEqual([]);
  });

  it('a running guest: blockdev-snapshot switches the disk to the overlay, live and persistent', async () => {
    const h = await host();
    const base = image(h, 'vk-qsnap-extrun');
    const dom = await h.conn.defineDomain(guestXml('vk-qsnap-extrun', base));
    await dom.start();
    const overlay = `${base}.top`;
    await dom.createSnapshot(
      `<domainsnapshot><name>live1</name><memory snapshot='no'/><disks><disk name='vda'><source file='${overlay}'/></disk></disks></domainsnapshot>`,
    );
    expect(await dom.getState()).toEqual({ state: 'running', reason: 'booted' });
    expect(backingOf(overlay)).toEqual({ file: base, format: 'qcow2' });
    const snap = DomainSnapshotDef.fromXML(await dom.getSnapshotXML('live1'));
    expect(snap.state).toBe('disk-snapshot');
    // QEMU's own view: the device's top node is the overlay, the base below it
    const blocks = (await dom.qemuMonitorCommand({ execute: 'query-block' })) as {
      return: Array<{
        inserted?: { file: string; image: { filename: string; 'backing-image'?: { filename: string } } };
      }>;
    };
    const inserted = blocks.return.find((b) => b.inserted)?.inserted;
    expect(inserted?.image.filename).toBe(overlay);
    expect(inserted?.image['backing-image']?.filename).toBe(base);
    const live = DomainDef.fromXML(await dom.getXML());
    expect(live.devices?.disks?.[0]?.source?.file).toBe(overlay);
    const config = DomainDef.fromXML(await dom.getXML({ inactive: true }));
    expect(config.devices?.disks?.[0]?.source?.file).toBe(overlay);

    // a writable guest disk now writes into the overlay only
    await dom.qemuMonitorCommand(
      'qemu-io -d /machine/peripheral/virtio-disk0/virtio-backend "write -P 0x7a 0 4k"',
      {
        hmp: true,
      },
    );
    await dom.destroy();
    expect(imageSectorIs(overlay, 0x7a)).toBe(true);
    expect(imageSectorIs(base, 0x7a)).toBe(false);
  });

  it('refuses what it cannot do, naming it, and changes nothing', async () => {
    const h = await host();
    const base = image(h, 'vk-qsnap-extbad');
    const dom = await h.conn.defineDomain(guestXml('vk-qsnap-extbad', base));
    const before = await dom.getXML({ inactive: true });
    const taken = `${base}.taken`;
    writeFileSync(taken, 'x');
    const exists = await errorOf(
      dom.createSnapshot(
        `<domainsnapshot><name>x</name><disks><disk name='vda'><source file='${taken}'/></disk></disks></domainsnapshot>`,
      ),
    );
    expect(exists.code).toBe('OPERATION_INVALID');
    const mem = await errorOf(
      dom.createSnapshot(
        "<domainsnapshot><name>m</name><memory snapshot='external' file='/tmp/vk-qsnap.mem'/></domainsnapshot>",
      ),
    );
    // a shut-off guest has no memory to save (libvirt's offline parse rule)
    expect([mem.code, mem.field]).toEqual(['XML_ERROR', '/domainsnapshot/memory/@snapshot']);
    const fmt = await errorOf(
      dom.createSnapshot(
        `<domainsnapshot><name>f</name><disks><disk name='vda'><driver type='raw'/><source file='${base}.raw'/></disk></disks></domainsnapshot>`,
      ),
    );
    expect([fmt.code, fmt.field]).toEqual([
      'CONFIG_UNSUPPORTED',
      '/domainsnapshot/disks/disk[1]/driver/@type',
    ]);
    expect(await dom.getXML({ inactive: true })).toBe(before);
    expect(existsSync(`${base}.raw`)).toBe(false);
    expect(await dom.listSnapshots()).toEqual([]);
  });
});

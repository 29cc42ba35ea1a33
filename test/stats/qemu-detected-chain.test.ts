/**
 * A backing chain known only from the image headers (a qcow2 over a qcow2
 * over a qcow2, the definition naming the top only) against libvirt 9.0's
 * QEMU driver: the same guest — beside it a raw disk, a qcow2 whose chain
 * the definition gives, an empty cdrom — run by a private libvirtd
 * (through python3-libvirt) and by virtkit. At start, after an external
 * disk-only snapshot of the header-only disk and after deleting it again
 * (a block commit), each disk's chain in the live XML (every layer's
 * source, format, type and `index`, the empty terminator) and the block
 * statistics with backing records (names, paths, `backingIndex`) must be
 * libvirt's. The live XML's chain also survives a re-attach (the status
 * file), and the persistent definition gains nothing.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/index.js';
import { statsImages } from './chain-images.js';
import { chains, records } from './chain-views.js';
import { QEMU, qemuStatsPeer, PEER_READY as READY, PEER_SKIP as SKIP } from './qemu-peer.js';

function guestXml(name: string, dir: string): string {
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>${QEMU}</emulator>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${dir}/raw.img'/><target dev='vda' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${dir}/top.qcow2'/><target dev='vdb' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${dir}/top2.qcow2'/><backingStore type='file'><format type='qcow2'/><source file='${dir}/base.qcow2'/><backingStore/></backingStore><target dev='vdc' bus='virtio'/></disk>
  <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
  </devices></domain>`;
}

const snapshotXml = (dir: string) =>
  `<domainsnapshot><name>s1</name><disks><disk name='vda' snapshot='no'/><disk name='vdb' snapshot='external'><source file='${dir}/snap.qcow2'/></disk><disk name='vdc' snapshot='no'/></disks></domainsnapshot>`;

function images(dir: string): void {
  statsImages(dir, 48, [
    ['base.qcow2'],
    ['mid.qcow2', 'base.qcow2'],
    ['top.qcow2', 'mid.qcow2'],
    ['top2.qcow2', 'base.qcow2'],
  ]);
}

interface Views {
  started: { xml: string; stats: Record<string, unknown> };
  snapped: { xml: string; stats: Record<string, unknown> };
  deleted: { xml: string; stats: Record<string, unknown> };
  inactive: string;
}

describe.skipIf(!READY)(
  `QEMU driver: a backing chain found in the image headers vs libvirt's QEMU driver${SKIP}`,
  () => {
    const peer = qemuStatsPeer();
    let theirs: Views;
    let root: string;
    let conn: Connection | undefined;

    beforeAll(async () => {
      root = peer.root;
      images(join(root, 'lv'));
      images(join(root, 'vk'));
      const out = peer.python(
        `c = libvirt.open(sys.argv[1]); dom = c.defineXML(sys.argv[2]); dom.create()
def view():
    stats = c.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_BLOCK, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING)[0][1]
    return {'xml': dom.XMLDesc(0), 'stats': stats}
out = {'started': view()}
snap = dom.snapshotCreateXML(sys.argv[3], libvirt.VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY)
out['snapped'] = view()
snap.delete(0)
out['deleted'] = view()
out['inactive'] = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
dom.destroy(); dom.undefine()
print(json.dumps(out))`,
        [guestXml('lvchain', join(root, 'lv')), snapshotXml(join(root, 'lv'))],
        120_000,
      );
      theirs = JSON.parse(out) as Views;
    }, 180_000);

    it("libvirt's chains and indexes at start, after an external snapshot, after its delete, and over a re-attach", async () => {
      const dir = join(root, 'vk');
      const lvDir = join(root, 'lv');
      conn = await peer.connect();
      let dom = await conn.defineDomain(guestXml('vkchain', dir));
      await dom.start();
      const view = async () => ({
        xml: await dom.getXML(),
        stats: (await dom.getStats({ groups: ['block'], backing: true })).params as Record<string, unknown>,
      });
      const same = (ours: { xml: string; stats: Record<string, unknown> }, lv: typeof ours, when: string) => {
        expect(chains(ours.xml, dir), when).toEqual(chains(lv.xml, lvDir));
        expect(records(ours.stats, dir), when).toEqual(records(lv.stats, lvDir));
      };
      const started = await view();
      same(started, theirs.started, 'at start');
      // the header-only disk's layers are numbered, and written where libvirt writes them
      expect(chains(started.xml, dir).vdb).toHaveLength(4);
      expect(started.stats['block.3.path']).toBe(join(dir, 'base.qcow2'));
      expect(typeof started.stats['block.3.backingIndex']).toBe('number');

      await dom.createSnapshot(snapshotXml(dir), { diskOnly: true });
      same(await view(), theirs.snapped, 'after the external snapshot');

      // the chain comes back from the status file when another connection takes the guest over
      const before = await dom.getXML();
      await conn.close();
      conn = await peer.connect();
      dom = await conn.lookupDomain('vkchain');
      expect(chains(await dom.getXML(), dir)).toEqual(chains(before, dir));

      await dom.deleteSnapshot('s1');
      same(await view(), theirs.deleted, 'after the delete (block commit)');
      // the persistent definition names what it named, as libvirt's
      expect(chains(await dom.getXML({ inactive: true }), dir)).toEqual(chains(theirs.inactive, lvDir));
      await dom.destroy();
      await dom.undefine();
    }, 180_000);
  },
);

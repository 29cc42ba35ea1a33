/**
 * Backing chains of `<disk type='volume'>` disks at start against libvirt
 * 9.0's QEMU driver: a `dir` pool holding a qcow2 volume over a qcow2
 * (made by qemu-img) and a raw volume, the same guest on each run by a
 * private libvirtd (through python3-libvirt) and by virtkit. libvirt
 * translates a volume disk to its file and reads the chain from its
 * headers as a file disk's; each disk's chain in the live XML (the source
 * still naming pool and volume, every found layer's type, format, source
 * and `index`, the terminator) and the block statistics with backing
 * records (the path the pool resolved) must be libvirt's.
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/index.js';
import { statsImages } from './chain-images.js';
import { chains, records } from './chain-views.js';
import { QEMU, qemuStatsPeer, PEER_READY as READY, PEER_SKIP as SKIP } from './qemu-peer.js';

function guestXml(name: string): string {
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>${QEMU}</emulator>
  <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='${name}p' volume='vol.qcow2'/><target dev='vda' bus='virtio'/></disk>
  <disk type='volume' device='disk'><driver name='qemu' type='raw'/><source pool='${name}p' volume='raw.img'/><target dev='vdb' bus='virtio'/></disk>
  </devices></domain>`;
}

const poolXml = (name: string, dir: string) =>
  `<pool type='dir'><name>${name}</name><target><path>${dir}</path></target></pool>`;

function images(dir: string): void {
  statsImages(dir, 16, [['vbase.qcow2'], ['vol.qcow2', 'vbase.qcow2']]);
}

interface View {
  xml: string;
  stats: Record<string, unknown>;
}

describe.skipIf(!READY)(
  `QEMU driver: backing chains of volume and NBD disks vs libvirt's QEMU driver${SKIP}`,
  () => {
    const peer = qemuStatsPeer();
    let theirs: View;
    let root: string;
    let conn: Connection | undefined;

    beforeAll(async () => {
      root = peer.root;
      images(join(root, 'lv'));
      images(join(root, 'vk'));
      const out = peer.python(
        `c = libvirt.open(sys.argv[1]); pool = c.storagePoolCreateXML(sys.argv[2], 0)
dom = c.defineXML(sys.argv[3]); dom.create()
stats = c.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_BLOCK, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING)[0][1]
out = {'xml': dom.XMLDesc(0), 'stats': stats}
dom.destroy(); dom.undefine(); pool.destroy()
print(json.dumps(out))`,
        [poolXml('pvp', join(root, 'lv')), guestXml('pv')],
        120_000,
      );
      theirs = JSON.parse(out) as View;
    }, 180_000);

    it("a volume disk's chain is read from the volume's headers, as libvirt reads it", async () => {
      const dir = join(root, 'vk');
      conn = await peer.connect({ storagePoolRoots: [dir] });
      const pool = await conn.storagePools.create(poolXml('pvp', dir));
      const dom = await conn.defineDomain(guestXml('pv'));
      await dom.start();
      const xml = await dom.getXML();
      const stats = (await dom.getStats({ groups: ['block'], backing: true })).params as Record<
        string,
        unknown
      >;
      expect(chains(xml, dir)).toEqual(chains(theirs.xml, join(root, 'lv')));
      expect(records(stats, dir)).toEqual(records(theirs.stats, join(root, 'lv')));
      // the volume's backing image is a numbered layer of the live XML
      expect(chains(xml, dir).vda).toHaveLength(3);
      await dom.destroy();
      await dom.undefine();
      await pool.destroy();
    }, 180_000);
  },
);

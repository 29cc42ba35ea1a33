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
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../src/index.js';
import { qemuProcessesMentioning } from '../drivers/qemu-lifecycle/helpers.js';
import { type Daemon, qemuPeerMissing, startLibvirtd } from '../drivers/remote/libvirtd.js';
import { statsImages } from './chain-images.js';
import { chains, records } from './chain-views.js';

const QEMU = '/usr/bin/qemu-system-x86_64';
const MISSING = qemuPeerMissing(QEMU);
const READY = MISSING === '';
const SKIP = READY ? '' : ` (skipped: ${MISSING})`;

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
    let daemon: Daemon;
    let theirs: View;
    let root: string;
    let conn: Connection | undefined;

    beforeAll(async () => {
      daemon = await startLibvirtd();
      chmodSync(daemon.dir, 0o755);
      root = daemon.dir;
      images(join(root, 'lv'));
      images(join(root, 'vk'));
      const out = execFileSync(
        '/usr/bin/python3',
        [
          '-c',
          `import sys, json, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1]); pool = c.storagePoolCreateXML(sys.argv[2], 0)
dom = c.defineXML(sys.argv[3]); dom.create()
stats = c.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_BLOCK, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING)[0][1]
out = {'xml': dom.XMLDesc(0), 'stats': stats}
dom.destroy(); dom.undefine(); pool.destroy()
print(json.dumps(out))`,
          `qemu+unix:///session?socket=${daemon.socket}`,
          poolXml('pvp', join(root, 'lv')),
          guestXml('pv'),
        ],
        { encoding: 'utf8', timeout: 120_000 },
      );
      theirs = JSON.parse(out) as View;
    }, 180_000);

    afterAll(async () => {
      for (const d of (await conn?.listDomains({ active: true })) ?? []) await d.destroy().catch(() => {});
      await conn?.close();
      for (const pid of qemuProcessesMentioning(join(root, 'vk'))) process.kill(pid, 'SIGKILL');
      await daemon?.stop();
    });

    it("a volume disk's chain is read from the volume's headers, as libvirt reads it", async () => {
      const dir = join(root, 'vk');
      conn = await connect('qemu:///session', {
        driverOptions: {
          runDir: join(root, 'vk-run'),
          stateDir: join(root, 'vk-state'),
          configDir: join(root, 'vk-config'),
          logDir: join(root, 'vk-log'),
          cacheDir: join(root, 'vk-cache'),
          storagePoolRoots: [dir],
          emulators: [QEMU],
        },
      });
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

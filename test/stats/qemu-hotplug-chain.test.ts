/**
 * Backing chains of disks plugged into a running guest, and of a new CD-ROM
 * medium, against libvirt 9.0's QEMU driver: the same guest (a raw disk, a
 * qcow2 whose chain only the headers know, a virtio-scsi controller, an
 * empty qcow2 CD-ROM drive) run by a private libvirtd (through
 * python3-libvirt) and by virtkit. Then the same calls on both: a SCSI disk
 * plugged whose chain only its headers know (qcow2 over qcow2 over qcow2),
 * a second one whose definition names one layer and leaves the rest to the
 * headers, a medium with a backing file inserted, the first plugged disk
 * detached. After each, every disk's chain in the live XML (sources,
 * formats, types, `index`, the terminator), the block statistics with
 * backing records and QEMU's storage nodes (after the detach: none of
 * the detached disk's left) must be libvirt's. The images are made by
 * qemu-img; the expected values are what libvirtd did.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/index.js';
import { waitFor } from '../wait-for.js';
import { statsImages } from './chain-images.js';
import { chains, nodes, records } from './chain-views.js';
import { QEMU, qemuStatsPeer, PEER_READY as READY, PEER_SKIP as SKIP } from './qemu-peer.js';

/**
 * The guest: SeaBIOS writes its log to the debug console at 0x402 (put in
 * by `<qemu:commandline>`, libvirt's XML has none) and, with no bootable
 * disk and no reboot timeout, stops after "No bootable device". While it
 * still probes the drives it may close the CD-ROM's tray under a media
 * change (QEMU then refuses the medium's removal, on either side), so both
 * sides wait for that line before the first call.
 */
function guestXml(name: string, dir: string): string {
  const args = [
    '-chardev',
    `file,id=fwlog,path=${dir}/firmware.log`,
    '-device',
    'isa-debugcon,iobase=0x402,chardev=fwlog',
  ];
  return `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><bios rebootTimeout='-1'/></os><devices><emulator>${QEMU}</emulator>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${dir}/raw.img'/><target dev='vda' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${dir}/top.qcow2'/><target dev='vdb' bus='virtio'/></disk>
  <disk type='file' device='cdrom'><driver name='qemu' type='qcow2'/><target dev='hdc' bus='ide'/><readonly/></disk>
  <controller type='scsi' index='0' model='virtio-scsi'/>
  </devices><qemu:commandline>${args.map((a) => `<qemu:arg value='${a}'/>`).join('')}</qemu:commandline></domain>`;
}

/** Waits until the guest's firmware has given up booting (see `guestXml`). */
async function firmwareDone(dir: string): Promise<void> {
  const log = join(dir, 'firmware.log');
  const done = () => existsSync(log) && readFileSync(log, 'latin1').includes('No bootable device');
  await waitFor(done, {
    what: 'the firmware to finish probing the drives',
    withinMs: 60_000,
    seen: () => (existsSync(log) ? readFileSync(log, 'latin1').slice(-500) : 'no firmware log'),
  });
}

/** The plugged disks and the new medium, in the order the calls go. */
const plugged = (dir: string) => ({
  sda: `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${dir}/hot.qcow2'/><target dev='sda' bus='scsi'/></disk>`,
  sdb: `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${dir}/hot2.qcow2'/><backingStore type='file'><format type='qcow2'/><source file='${dir}/h2mid.qcow2'/></backingStore><target dev='sdb' bus='scsi'/></disk>`,
  cd: `<disk type='file' device='cdrom'><driver name='qemu' type='qcow2'/><source file='${dir}/cd.qcow2'/><target dev='hdc' bus='ide'/><readonly/></disk>`,
});

function images(dir: string): void {
  statsImages(dir, 16, [
    ['base.qcow2'],
    ['top.qcow2', 'base.qcow2'],
    ['hbase.qcow2'],
    ['hmid.qcow2', 'hbase.qcow2'],
    ['hot.qcow2', 'hmid.qcow2'],
    ['h2base.qcow2'],
    ['h2mid.qcow2', 'h2base.qcow2'],
    ['hot2.qcow2', 'h2mid.qcow2'],
    ['cdbase.qcow2'],
    ['cd.qcow2', 'cdbase.qcow2'],
  ]);
}

interface View {
  xml: string;
  stats: Record<string, unknown>;
  nodes: unknown;
}
const STEPS = ['started', 'sda', 'sdb', 'media', 'detached'] as const;
type Views = Record<(typeof STEPS)[number], View>;

describe.skipIf(!READY)(
  `QEMU driver: backing chains of hot-plugged disks and new media vs libvirt's QEMU driver${SKIP}`,
  () => {
    const peer = qemuStatsPeer();
    let theirs: Views;
    let root: string;
    let conn: Connection | undefined;

    beforeAll(async () => {
      root = peer.root;
      images(join(root, 'lv'));
      images(join(root, 'vk'));
      const x = plugged(join(root, 'lv'));
      const out = peer.python(
        `import libvirt_qemu
c = libvirt.open(sys.argv[1]); dom = c.defineXML(sys.argv[2]); dom.create()
import time, os
deadline = time.time() + 60
while b'No bootable device' not in (open(sys.argv[6], 'rb').read() if os.path.exists(sys.argv[6]) else b''):
    if time.time() > deadline: raise SystemExit('the firmware never finished probing the drives')
    time.sleep(0.05)
LIVE = libvirt.VIR_DOMAIN_AFFECT_LIVE
def view():
    stats = c.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_BLOCK, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING)[0][1]
    q = json.loads(libvirt_qemu.qemuMonitorCommand(dom, '{"execute":"query-named-block-nodes"}', 0))
    return {'xml': dom.XMLDesc(0), 'stats': stats, 'nodes': q}
out = {'started': view()}
dom.attachDeviceFlags(sys.argv[3], LIVE); out['sda'] = view()
dom.attachDeviceFlags(sys.argv[4], LIVE); out['sdb'] = view()
dom.updateDeviceFlags(sys.argv[5], LIVE); out['media'] = view()
dom.detachDeviceFlags(sys.argv[3], LIVE); out['detached'] = view()
dom.destroy(); dom.undefine()
print(json.dumps(out))`,
        [guestXml('lvhot', join(root, 'lv')), x.sda, x.sdb, x.cd, join(root, 'lv', 'firmware.log')],
        120_000,
      );
      theirs = JSON.parse(out) as Views;
    }, 180_000);

    it("libvirt's chains, indexes, statistics and block nodes after each plug, the media change and the detach", async () => {
      const dir = join(root, 'vk');
      const lvDir = join(root, 'lv');
      conn = await peer.connect();
      const dom = await conn.defineDomain(guestXml('vkhot', dir));
      await dom.start();
      await firmwareDone(dir);
      const x = plugged(dir);
      const ours: Partial<Views> = {};
      const view = async (): Promise<View> => ({
        xml: await dom.getXML(),
        stats: (await dom.getStats({ groups: ['block'], backing: true })).params as Record<string, unknown>,
        nodes: await dom.qemuMonitorCommand({ execute: 'query-named-block-nodes' }),
      });
      ours.started = await view();
      await dom.attachDevice(x.sda, { live: true });
      ours.sda = await view();
      await dom.attachDevice(x.sdb, { live: true });
      ours.sdb = await view();
      await dom.updateDevice(x.cd, { live: true });
      ours.media = await view();
      await dom.detachDevice(x.sda, { live: true });
      ours.detached = await view();
      for (const step of STEPS) {
        const o = ours[step]!;
        const t = theirs[step];
        expect(chains(o.xml, dir), step).toEqual(chains(t.xml, lvDir));
        expect(records(o.stats, dir), step).toEqual(records(t.stats, lvDir));
        expect(nodes(o.nodes, dir), step).toEqual(nodes(t.nodes, lvDir));
      }
      // the plugged disk's three images are each a numbered layer, as the headers chain them
      expect(chains(ours.sda!.xml, dir).sda).toHaveLength(4);
      expect(chains(ours.media!.xml, dir).hdc).toHaveLength(3);
      // nothing of the detached disk is left open
      expect(nodes(ours.detached!.nodes, dir).some((n) => /DIR\/h(ot|mid|base)\.qcow2$/.test(n))).toBe(false);
      await dom.destroy();
      await dom.undefine();
    }, 180_000);
  },
);

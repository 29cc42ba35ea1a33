/**
 * `block` statistics with backing records (libvirt's
 * `VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING`) against libvirt's own QEMU
 * driver: the same guest — a raw disk, a qcow2 over a qcow2 backing file
 * (the chain in the definition, as `<backingStore>`), an empty cdrom — run
 * by a private libvirtd (through python3-libvirt) and by virtkit. The
 * records, their names, paths and node indexes must be libvirt's; each
 * image's `physical` is its file's allocation (`stat`), its `capacity` the
 * size `qemu-img` made it.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../src/index.js';
import { statsImages } from './chain-images.js';
import { QEMU, qemuStatsPeer, PEER_READY as READY, PEER_SKIP as SKIP } from './qemu-peer.js';

function guestXml(name: string, dir: string, chainInXml = true): string {
  const chain = chainInXml
    ? `<backingStore type='file'><format type='qcow2'/><source file='${dir}/base.qcow2'/><backingStore/></backingStore>`
    : '';
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>${QEMU}</emulator>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${dir}/raw.img'/><target dev='vda' bus='virtio'/></disk>
  <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${dir}/top.qcow2'/>${chain}<target dev='vdb' bus='virtio'/></disk>
  <disk type='file' device='cdrom'><target dev='hdc' bus='ide'/><readonly/></disk>
  </devices></domain>`;
}

function images(dir: string): void {
  statsImages(dir, 48, [['base.qcow2'], ['top.qcow2', 'base.qcow2']]);
}

const allocated = (path: string) => Number(statSync(path).blocks) * 512;

describe.skipIf(!READY)(`QEMU driver backing-chain statistics vs libvirt's QEMU driver${SKIP}`, () => {
  const peer = qemuStatsPeer();
  let conn: Connection;
  let theirs: Record<string, unknown>;
  let root: string;

  beforeAll(async () => {
    root = peer.root;
    images(join(root, 'lv'));
    images(join(root, 'vk'));
    images(join(root, 'vk2'));
    images(join(root, 'rm'));
    const out = peer.python(
      `c = libvirt.open(sys.argv[1]); dom = c.createXML(sys.argv[2], 0)
print(json.dumps(c.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_BLOCK, libvirt.VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING)[0][1]))
dom.destroy()`,
      [guestXml('lvbacking', join(root, 'lv'))],
    );
    theirs = JSON.parse(out);
    conn = await peer.connect();
  }, 120_000);

  it("one record per chain layer, libvirt's keys, names and indexes; the figures are the images'", async () => {
    const dir = join(root, 'vk');
    const dom = await conn.createDomain(guestXml('vkbacking', dir));
    const [rec] = await conn.getAllDomainStats([dom], { groups: ['block'], backing: true });
    const ours = rec?.params ?? {};
    const lvDir = join(root, 'lv');
    // the same keys, and the same names, paths (in each side's directory) and node indexes
    expect(Object.keys(ours).sort()).toEqual(Object.keys(theirs).sort());
    expect(ours['block.count']).toBe(4);
    for (const k of Object.keys(theirs)) {
      if (/\.(name|backingIndex|capacity)$|^block\.count$/.test(k)) expect(ours[k], k).toBe(theirs[k]);
      if (k.endsWith('.path')) expect(ours[k], k).toBe(String(theirs[k]).replace(lvDir, dir));
    }
    expect(ours['block.2.path']).toBe(join(dir, 'base.qcow2'));
    expect(ours['block.2.capacity']).toBe(48 << 20);
    for (const [n, file] of [
      [0, 'raw.img'],
      [1, 'top.qcow2'],
      [2, 'base.qcow2'],
    ] as const) {
      expect(ours[`block.${n}.physical`], file).toBe(allocated(join(dir, file)));
      expect(theirs[`block.${n}.physical`], file).toBe(allocated(join(lvDir, file)));
    }
    // the frontend's counters only on the top record, as libvirt has them
    expect(Object.keys(ours).filter((k) => k.startsWith('block.2.') && /\.(rd|wr|fl)\./.test(k))).toEqual([]);
    // without the flag: one record per disk
    const plain = await dom.getStats({ groups: ['block'] });
    expect(plain.params['block.count']).toBe(3);
    expect(plain.params['block.2.name']).toBe('hdc');
    await dom.destroy();
  }, 60_000);

  it('a chain known only from the image header: its layer is reported with its image figures', async () => {
    const dir = join(root, 'vk2');
    const dom = await conn.createDomain(guestXml('vkbacking2', dir, false));
    const s = (await dom.getStats({ groups: ['block'], backing: true })).params;
    expect(s['block.count']).toBe(4);
    expect(s['block.2.name']).toBe('vdb');
    expect(s['block.2.path']).toBe(join(dir, 'base.qcow2'));
    expect(s['block.2.capacity']).toBe(48 << 20);
    expect(s['block.2.physical']).toBe(allocated(join(dir, 'base.qcow2')));
    // the start found it in the header and numbered it after the definition's layers, as libvirt
    // does (its numbers against libvirt's own: qemu-detected-chain.test.ts)
    expect(typeof s['block.2.backingIndex']).toBe('number');
    expect(s['block.3.name']).toBe('hdc');
    await dom.destroy();
  }, 60_000);

  it('the remote driver passes the flag: libvirt answers with the backing records', async () => {
    const remote = await connect(peer.uri);
    try {
      const dir = join(root, 'rm');
      const dom = await remote.createDomain(guestXml('rmbacking', dir));
      const [rec] = await remote.getAllDomainStats([dom], { groups: ['block'], backing: true });
      expect(rec?.params['block.count']).toBe(4);
      expect(rec?.params['block.2.path']).toBe(join(dir, 'base.qcow2'));
      expect(rec?.params['block.2.backingIndex']).toBe(theirs['block.2.backingIndex']);
      expect((await dom.getStats({ groups: ['block'] })).params['block.count']).toBe(3);
      await dom.destroy();
    } finally {
      await remote.close();
    }
  }, 60_000);
});

/**
 * The start's chain detection on real image files (made by qemu-img):
 * relative backing names resolved against the image's directory, a chain
 * the definition gives in part completed below its last layer, and
 * libvirt's refusals — a backing image whose format the header does not
 * name, a chain that loops, a missing backing file — as typed errors that
 * leave the definition as it was; a volume disk read through what its
 * pool resolves it to, a network disk not read at all (libvirt has no
 * header reader for NBD, iSCSI, RBD); a plugged disk's chain read without
 * writing, then numbered as libvirt's hot-plug numbers it. The numbers
 * themselves are checked against libvirt's in
 * test/stats/qemu-detected-chain.test.ts, qemu-hotplug-chain.test.ts and
 * qemu-volume-chain.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/index.js';
import {
  completeDiskChains,
  numberDiskChain,
  placeDiskChain,
  readDiskChain,
} from '../../../src/drivers/qemu/domains/disk-chain.js';
import { VirError } from '../../../src/errors.js';

const HAVE_QEMU_IMG = (() => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const dir = mkdtempSync(join(tmpdir(), 'vk-disk-chain-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const img = (file: string, backing?: string, rel = false) =>
  execFileSync(
    'qemu-img',
    [
      'create',
      '-q',
      '-f',
      'qcow2',
      ...(backing ? ['-b', rel ? backing : join(dir, backing), '-F', 'qcow2'] : []),
      join(dir, file),
      '1M',
    ],
    { cwd: dir },
  );

function def(disk: string): DomainDef {
  return DomainDef.fromXML(`<domain type='qemu'><name>c</name><memory unit='MiB'>16</memory>
    <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${join(dir, disk)}'/><target dev='vda' bus='virtio'/></disk>
    <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${join(dir, 'raw.img')}'/><target dev='vdb' bus='virtio'/></disk>
    </devices></domain>`);
}

async function refusal(d: DomainDef): Promise<VirError> {
  const before = d.toXML();
  const err = await completeDiskChains(d).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(VirError);
  expect(d.toXML()).toBe(before);
  return err as VirError;
}

describe.skipIf(!HAVE_QEMU_IMG)(
  `disk chains found in image headers${HAVE_QEMU_IMG ? '' : ' (skipped: needs qemu-img)'}`,
  () => {
    writeFileSync(join(dir, 'raw.img'), Buffer.alloc(4096));

    it('follows relative backing names from the image directory and numbers after the definition', async () => {
      img('base.qcow2');
      img('rel.qcow2', 'base.qcow2', true);
      img('top.qcow2', 'rel.qcow2');
      const d = def('top.qcow2');
      const ranges = await completeDiskChains(d);
      const vda = d.devices!.disks![0]!;
      const xml = d.toXML();
      expect(xml).toContain(`<source file='${join(dir, 'rel.qcow2')}'/>`);
      expect(xml).toContain(`<source file='${dir}/base.qcow2'/>`);
      // the definition's two disks take 1 and 2; the found layers follow, top down
      expect(ranges).toEqual([
        { first: 3, count: 1, target: 'vda' },
        { first: 4, count: 1, target: 'vda' },
      ]);
      expect(vda.backingStore?.attrs).toEqual([
        { name: 'type', value: 'file' },
        { name: 'index', value: '3' },
      ]);
      // a raw disk's chain ends at once: the empty terminator, as libvirt writes it
      expect(d.devices!.disks![1]!.backingStore).toMatchObject({
        name: 'backingStore',
        attrs: [],
        children: [],
      });
    });

    it('completes a chain the definition gives in part, below its last layer', async () => {
      const d = DomainDef.fromXML(`<domain type='qemu'><name>c</name><memory unit='MiB'>16</memory>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
        <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${join(dir, 'top.qcow2')}'/>
        <backingStore type='file'><format type='qcow2'/><source file='${join(dir, 'rel.qcow2')}'/></backingStore>
        <target dev='vda' bus='virtio'/></disk></devices></domain>`);
      const ranges = await completeDiskChains(d);
      // top and rel are the definition's (1, 2); base is found
      expect(ranges).toEqual([{ first: 3, count: 1, target: 'vda' }]);
      expect(d.toXML()).toContain(`<backingStore type='file' index='3'>`);
    });

    it("refuses a backing image whose format the header does not name (libvirt's rule)", async () => {
      img('noformat.qcow2', 'base.qcow2');
      // turn the backing-format header extension into one QEMU ignores: the header names no format
      const bytes = readFileSync(join(dir, 'noformat.qcow2'));
      const at = bytes.indexOf(Buffer.from([0xe2, 0x79, 0x2a, 0xca]));
      expect(at).toBeGreaterThan(0);
      bytes.writeUInt32BE(0x12345678, at);
      writeFileSync(join(dir, 'noformat.qcow2'), bytes);
      const err = await refusal(def('noformat.qcow2'));
      expect(err.code).toBe('OPERATION_FAILED');
      expect(err.message).toContain(`format of backing image '${join(dir, 'base.qcow2')}'`);
    });

    it('refuses a chain that loops back on itself', async () => {
      img('a.qcow2');
      img('b.qcow2', 'a.qcow2');
      execFileSync('qemu-img', [
        'rebase',
        '-u',
        '-F',
        'qcow2',
        '-b',
        join(dir, 'b.qcow2'),
        join(dir, 'a.qcow2'),
      ]);
      const err = await refusal(def('b.qcow2'));
      expect(err.code).toBe('OPERATION_INVALID');
      expect(err.message).toContain('self-referential');
    });

    it('refuses a chain whose backing file is missing', async () => {
      img('gone.qcow2');
      img('orphan.qcow2', 'gone.qcow2');
      rmSync(join(dir, 'gone.qcow2'));
      const err = await refusal(def('orphan.qcow2'));
      expect(err.code).toBe('SYSTEM_ERROR');
      expect(err.message).toContain(`Cannot access backing file '${join(dir, 'gone.qcow2')}'`);
    });

    it('reads a volume through its pool, and neither a network disk nor a volume that is a LUN', async () => {
      img('vbase.qcow2');
      img('vol.qcow2', 'vbase.qcow2');
      const d = DomainDef.fromXML(`<domain type='qemu'><name>c</name><memory unit='MiB'>16</memory>
        <os><type arch='x86_64' machine='pc'>hvm</type></os><devices>
        <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='p' volume='vol.qcow2'/><target dev='vda' bus='virtio'/></disk>
        <disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='iscsi' volume='lun'/><target dev='vdb' bus='virtio'/></disk>
        <disk type='network' device='disk'><driver name='qemu' type='qcow2'/><source protocol='nbd' name='x'><host name='127.0.0.1' port='10809'/></source><target dev='vdc' bus='virtio'/></disk>
        </devices></domain>`);
      const asked: string[] = [];
      const ranges = await completeDiskChains(d, (req) => {
        asked.push(`${req.pool}/${req.volume} ${req.field}`);
        return req.pool === 'p'
          ? { type: 'file', path: join(dir, req.volume) }
          : { type: 'network', protocol: 'iscsi', name: 'iqn.2026-01.test:t/1', hosts: [{ name: 'h' }] };
      });
      expect(asked).toEqual([
        'iscsi/lun /domain/devices/disk[2]/source',
        'p/vol.qcow2 /domain/devices/disk[1]/source',
      ]);
      expect(ranges).toEqual([{ first: 4, count: 1, target: 'vda' }]);
      const [vda, vdb, vdc] = d.devices!.disks!;
      expect(vda!.backingStore?.attrs).toEqual([
        { name: 'type', value: 'file' },
        { name: 'index', value: '4' },
      ]);
      const xml = d.toXML();
      expect(xml).toContain(`<source file='${join(dir, 'vbase.qcow2')}'/>`);
      // the volume's own source keeps naming the pool and volume
      expect(xml).toContain("<source pool='p' volume='vol.qcow2'/>");
      // no layers and no terminator: QEMU opens what the header names
      expect(vdb!.backingStore).toBeUndefined();
      expect(vdc!.backingStore).toBeUndefined();
    });

    it("reads a plugged disk's chain without writing it, then numbers it as libvirt's hot-plug", async () => {
      img('pbase.qcow2');
      img('pmid.qcow2', 'pbase.qcow2');
      img('ptop.qcow2', 'pmid.qcow2');
      const d = def('ptop.qcow2');
      const disk = d.devices!.disks![0]!;
      const before = d.toXML();
      const plan = await readDiskChain(disk, '/disk', undefined);
      expect(d.toXML()).toBe(before);
      expect(plan?.found.layers.map((l) => l.path)).toEqual([
        join(dir, 'pmid.qcow2'),
        join(dir, 'pbase.qcow2'),
      ]);
      // the monitor's next free number is 7: libvirt's found layers took 7 and 8 first, the top is 9
      const ranges = placeDiskChain(disk, plan, 7 + 2);
      numberDiskChain(disk, 9);
      expect(ranges).toEqual([
        { first: 9, count: 1, target: 'vda' },
        { first: 10, count: 1, target: 'vda' },
        { first: 11, count: 1, target: 'vda' },
      ]);
      const xml = d.toXML();
      expect(xml).toContain(`<source file='${join(dir, 'ptop.qcow2')}' index='9'/>`);
      expect(xml).toContain(`<backingStore type='file' index='10'>`);
      expect(xml).toContain(`<backingStore type='file' index='11'>`);
    });
  },
);

/**
 * A guest started from `<disk type='volume'>` under qemu:///session, with
 * real QEMU (TCG, no OS) and real qemu-img: the disk resolves to the
 * volume's file at start (QEMU holds it open, the live XML still names the
 * pool and volume), a volume the running guest uses is not deleted,
 * resized or wiped, and a guest whose pool or volume is missing does not
 * start. A volume disk hot-plugged into a running guest resolves the same
 * way and is in use until the guest stops.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VirError } from '../../../src/errors.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';
import { connectUnder } from '../real-guest.js';

const HAS_IMG = existsSync('/usr/bin/qemu-img');
const NOTE = `${QEMU_NOTE}${HAS_IMG ? '' : ' (skipped: qemu-img not installed; Debian: qemu-utils)'}`;
let roots: ReturnType<typeof tempRoots>;

beforeAll(() => {
  roots = tempRoots('vk-qvol-');
});

afterAll(() => {
  for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
  roots.remove();
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    if (err instanceof VirError) return err.code;
    throw err;
  }
}

const guest = (name: string, pool: string, volume: string) => `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source pool='${pool}' volume='${volume}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
  </devices>
</domain>`;

/** The files a process holds open. */
function openFiles(pid: number): string[] {
  return readdirSync(`/proc/${pid}/fd`).flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/${pid}/fd/${fd}`)];
    } catch {
      return [];
    }
  });
}

/** A qemu:///session connection with roots of its own (under `roots/s<tag>`), its pools under `roots`. */
function openSession(tag: string) {
  return connectUnder(join(roots.path, `s${tag}`), 'qemu:///session', { storagePoolRoots: [roots.path] });
}

describe.skipIf(!HAS_QEMU || !HAS_IMG)(`a guest on a storage volume${NOTE}`, () => {
  it('starts from the volume, keeps it from being deleted while it runs, and refuses missing volumes', async () => {
    const conn = await openSession('1');
    try {
      const dir = join(roots.path, 'images');
      mkdirSync(dir);
      const pool = await conn.storagePools.create(
        `<pool type='dir'><name>images</name><target><path>${dir}</path></target></pool>`,
      );
      const vol = await pool.createVolume(
        "<volume><name>root.qcow2</name><capacity unit='M'>64</capacity><target><format type='qcow2'/></target></volume>",
      );
      const path = await vol.getPath();
      // domxml-to-native resolves the volume as a start does, starting nothing
      const argv = await conn.domainXMLToNative('qemu-argv', guest('native', 'images', 'root.qcow2'));
      expect(argv).toContain(`"filename":"${path}"`);
      const dom = await conn.defineDomain(guest('on-volume', 'images', 'root.qcow2'));
      await dom.start();
      const [pid] = qemuProcessesMentioning(roots.path);
      expect(pid).toBeDefined();
      expect(openFiles(pid!)).toContain(path);
      expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8')).toContain(`"filename":"${path}"`);
      const live = await dom.getXML();
      // the live source keeps naming the volume, with the index libvirt gives a running disk's source
      expect(live).toContain("<source pool='images' volume='root.qcow2' index='1'/>");
      expect(await code(vol.delete())).toBe('OPERATION_INVALID');
      expect(await code(vol.resize(128 * 1024 * 1024))).toBe('OPERATION_INVALID');
      expect(await code(vol.wipe())).toBe('OPERATION_INVALID');
      expect(existsSync(path)).toBe(true);
      await dom.destroy();
      // a guest naming a volume or a pool that is not there does not start
      const missing = await conn.defineDomain(guest('no-volume', 'images', 'nope.qcow2'));
      expect(await code(missing.start())).toBe('NO_STORAGE_VOL');
      const noPool = await conn.defineDomain(guest('no-pool', 'absent', 'root.qcow2'));
      expect(await code(noPool.start())).toBe('NO_STORAGE_POOL');
      expect(qemuProcessesMentioning(roots.path)).toEqual([]);
      await vol.delete();
      expect(existsSync(path)).toBe(false);
      await pool.destroy();
      for (const d of [dom, missing, noPool]) await d.undefine();
    } finally {
      await conn.close();
    }
  }, 60_000);

  it('hot-plugs a volume disk: QEMU opens its file, the live XML names the volume; a missing one changes nothing', async () => {
    const conn = await openSession('2');
    try {
      const dir = join(roots.path, 'plugged');
      mkdirSync(dir);
      const pool = await conn.storagePools.create(
        `<pool type='dir'><name>plugged</name><target><path>${dir}</path></target></pool>`,
      );
      const root = await pool.createVolume(
        "<volume><name>root.qcow2</name><capacity unit='M'>64</capacity><target><format type='qcow2'/></target></volume>",
      );
      const data = await pool.createVolume(
        "<volume><name>data.qcow2</name><capacity unit='M'>16</capacity><target><format type='qcow2'/></target></volume>",
      );
      const dataPath = await data.getPath();
      // ACPI: the PCI bus takes hot-plugged devices
      const dom = await conn.createDomain(
        guest('plug-volume', 'plugged', 'root.qcow2').replace('</os>', '</os><features><acpi/></features>'),
      );
      const [pid] = qemuProcessesMentioning(roots.path);
      expect(pid).toBeDefined();
      const disk = (volume: string) =>
        `<disk type='volume' device='disk'><driver name='qemu' type='qcow2'/><source pool='plugged' volume='${volume}'/><target dev='vdb' bus='virtio'/></disk>`;
      const before = await dom.getXML();
      // a volume that is not there: the plug is refused before QEMU sees anything
      expect(await code(dom.attachDevice(disk('nope.qcow2')))).toBe('NO_STORAGE_VOL');
      expect(await dom.getXML()).toBe(before);
      await dom.attachDevice(disk('data.qcow2'));
      expect(openFiles(pid!)).toContain(dataPath);
      const live = await dom.getXML();
      expect(live).toMatch(/<source pool='plugged' volume='data.qcow2' index='\d+'\/>/);
      expect(live).toContain("<target dev='vdb' bus='virtio'/>");
      // the plugged volume is in use now, as the one the guest started from
      expect(await code(data.delete())).toBe('OPERATION_INVALID');
      // the unplug request goes out (its node names are a file's); no guest OS lets the disk go, so
      // after libvirt's 5 s it stays listed (hotplug-linux.test.ts sees a guest let disks go)
      await dom.detachDevice(disk('data.qcow2'), { live: true });
      expect(await dom.getXML()).toContain("volume='data.qcow2'");
      await dom.destroy();
      await data.delete();
      await root.delete();
      await pool.destroy();
    } finally {
      await conn.close();
    }
  }, 60_000);
});

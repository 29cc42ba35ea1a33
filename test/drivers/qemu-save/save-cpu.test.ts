/**
 * A save, restore and managed save of a guest whose CPU QEMU changed at
 * start carry both CPUs, as libvirt's save does (qemu_saveimage.c writes the
 * definition with `origCPU`, its save cookie the CPU the guest runs with;
 * the restore starts on the cookie's and keeps the definition's as its
 * `origCPU`): after the restore the live XML shows the CPU the guest ran
 * with before the save, and the migratable XML the one the definition asked
 * for. Real QEMU (TCG): its qemu64 has more than libvirt's model (the live
 * XML lists the added features, `check='full'`).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSaveHeader } from '../../../src/drivers/qemu/lifecycle/index.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';
import { rootsEachTest } from '../real-guest.js';

const each = rootsEachTest('vk-save-cpu-');

const ASKED = "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>";
const WANTED =
  "<cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n  </cpu>";
const cpuOf = (xml: string) => /<cpu[\s\S]*?<\/cpu>/.exec(xml)?.[0] ?? '';

function guestXml(name: string): string {
  // an empty boot disk: SeaBIOS finds nothing to boot and waits, running
  const image = join(each.path, `${name}.img`);
  writeFileSync(image, Buffer.alloc(64 << 10));
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>${ASKED}<devices><emulator>${QEMU_BINARY}</emulator>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${image}'/><target dev='vda' bus='virtio'/></disk>
  <memballoon model='none'/></devices></domain>`;
}

describe.skipIf(!HAS_QEMU)(
  `a save carries the asked-for CPU and the one the guest ran with${QEMU_NOTE}`,
  () => {
    it('save and restore: the image has both, the restored guest runs the CPU it ran and migrates as asked', async () => {
      const conn = await each.connect();
      const dom = await conn.createDomain(guestXml('vk-save-cpu'));
      const live = cpuOf(await dom.getXML());
      expect(live).toContain("check='full'");
      expect(live).toContain("<feature policy='require' name='hypervisor'/>");
      expect(cpuOf(await dom.getXML({ migratable: true }))).toBe(WANTED);

      const path = join(each.path, 'guest.save');
      await dom.save(path);
      const header = readSaveHeader(path);
      expect(cpuOf(header.xml)).toBe(WANTED);
      expect(header.cookie).toContain("<feature policy='require' name='hypervisor'/>");
      expect(header.cookie).toMatch(/^<cookie>[\s\S]*<cpu mode='custom' match='exact' check='full'>/);

      const back = await conn.restoreDomain(path);
      expect((await back.getState()).state).toBe('running');
      expect(cpuOf(await back.getXML())).toBe(live);
      expect(cpuOf(await back.getXML({ migratable: true }))).toBe(WANTED);
      // and a save of the restored guest carries them on
      await back.save(path);
      const again = readSaveHeader(path);
      expect(cpuOf(again.xml)).toBe(WANTED);
      expect(again.cookie).toBe(header.cookie);
      await conn.close();
    }, 120_000);

    it('managed save: the start restores the CPU the guest ran; a process that takes over knows the asked-for one', async () => {
      const conn = await each.connect();
      const dom = await conn.defineDomain(guestXml('vk-msave-cpu'));
      await dom.start();
      const live = cpuOf(await dom.getXML());
      await dom.managedSave();
      await dom.start();
      expect((await dom.getState()).reason).toBe('restored');
      expect(cpuOf(await dom.getXML())).toBe(live);
      expect(cpuOf(await dom.getXML({ migratable: true }))).toBe(WANTED);
      // the persistent definition is as defined
      expect(cpuOf(await dom.getXML({ inactive: true }))).toBe(WANTED);
      await conn.close();
      const other = await each.connect();
      const taken = await other.lookupDomain('vk-msave-cpu');
      expect(cpuOf(await taken.getXML())).toBe(live);
      expect(cpuOf(await taken.getXML({ migratable: true }))).toBe(WANTED);
      await taken.destroy();
      await other.close();
    }, 120_000);

    it('a version 1 image (no cookie) still restores, on the CPU its definition names', async () => {
      const conn = await each.connect();
      const dom = await conn.createDomain(guestXml('vk-v1-cpu'));
      const live = cpuOf(await dom.getXML());
      const path = join(each.path, 'v1.save');
      await dom.save(path);
      // the same image as version 1 wrote it: the XML at 32, no cookie, the stream where it was
      const image = readFileSync(path);
      const header = readSaveHeader(path);
      const xml = Buffer.from(header.xml, 'utf8');
      const v1 = Buffer.concat([Buffer.alloc(header.dataOffset), image.subarray(header.dataOffset)]);
      image.copy(v1, 0, 0, 32);
      v1.writeUInt32LE(1, 16);
      xml.copy(v1, 32);
      writeFileSync(path, v1);
      expect(readSaveHeader(path).cookie).toBeUndefined();
      const back = await conn.restoreDomain(path);
      expect((await back.getState()).state).toBe('running');
      // QEMU gives the same CPU again; no asked-for CPU is known apart from it
      expect(cpuOf(await back.getXML())).toBe(live);
      await conn.close();
    }, 120_000);
  },
);

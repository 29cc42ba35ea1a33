/**
 * The memory devices' live facts QEMU decides, in the live XML from the
 * start on, as libvirt 9.0's QEMU driver writes them (private libvirtd,
 * the same definition: `<current unit='KiB'>` after `<requested>` for a
 * virtio-mem device, `<address type='dimm' slot='N' base='0x…'/>` for a
 * DIMM, hex in lower case): right after start, after a DIMM is plugged,
 * and after the process re-attaches (QEMU asked again: a virtio-mem size
 * the status file missed is QEMU's). Every figure is compared with QEMU's
 * own `query-memory-devices` through the monitor pass-through. The guest
 * has no OS (TCG): the DIMM's placement needs none, and a virtio-mem device
 * whose guest has no driver has plugged nothing, so QEMU reports 0.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';
import { leftoversAfterAll } from '../real-guest.js';

interface MemoryDeviceInfo {
  type: string;
  data: { id: string; addr?: number; slot?: number; size: number };
}

// 60 s: the guests of every test go at the end
const leftovers = leftoversAfterAll(undefined, 60_000);
const roots = leftovers.roots('vk-memfacts-');
const open = (): Promise<Connection> => leftovers.connect(roots.path);

/** QEMU's memory devices, by id, as its monitor reports them. */
async function queryMemoryDevices(dom: Domain): Promise<Map<string, MemoryDeviceInfo['data']>> {
  const reply = (await dom.qemuMonitorCommand({ execute: 'query-memory-devices' })) as {
    return: MemoryDeviceInfo[];
  };
  return new Map(reply.return.map((d) => [d.data.id, d.data]));
}

/** The live XML's `<memory>` device whose alias is `alias`. */
function deviceOf(xml: string, alias: string): string {
  const all = xml.match(/<memory model='[^']+'>[\s\S]*?<\/memory>/g) ?? [];
  return all.find((d) => d.includes(`<alias name='${alias}'/>`)) ?? '';
}

/** libvirt's DIMM address for QEMU's slot and guest-physical address. */
const dimmAddress = (d: MemoryDeviceInfo['data'] | undefined) =>
  `<address type='dimm' slot='${d?.slot}' base='0x${d?.addr?.toString(16)}'/>`;

/**
 * libvirt's `<current>` of a virtio-mem device from QEMU's plugged size in
 * bytes, right after `<requested>` (whose unit the definition chose).
 */
const currentAfterRequested = (d: MemoryDeviceInfo['data'] | undefined) =>
  new RegExp(
    `<requested unit='\\w+'>\\d+</requested>\\s*<current unit='KiB'>${(d?.size ?? Number.NaN) / 1024}</current>`,
  );

describe.skipIf(!HAS_QEMU)(`memory devices' live facts from QEMU${QEMU_NOTE}`, () => {
  let conn: Connection;
  let dom: Domain;

  it('right after start: the virtio-mem <current> and the DIMM base are QEMU’s', async () => {
    conn = await open();
    dom = await conn.defineDomain(`<domain type='qemu'><name>vk-mem-facts</name>
      <maxMemory slots='4' unit='MiB'>2048</maxMemory><memory unit='MiB'>256</memory><vcpu>1</vcpu>
      <os><type arch='x86_64' machine='q35'>hvm</type></os><features><acpi/></features>
      <cpu><numa><cell id='0' cpus='0' memory='128' unit='MiB'/></numa></cpu>
      <devices><emulator>${QEMU_BINARY}</emulator>
        <controller type='pci' index='1' model='pcie-root-port'/><controller type='pci' index='2' model='pcie-root-port'/>
        <memory model='virtio-mem'><target><size unit='MiB'>128</size><node>0</node><block unit='MiB'>2</block><requested unit='MiB'>16</requested></target></memory>
        <memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>
        <memballoon model='none'/>
      </devices></domain>`);
    await dom.start({ paused: true });
    const qemu = await queryMemoryDevices(dom);
    const xml = await dom.getXML();
    // no guest driver: QEMU has plugged nothing of the 16 MiB asked, and says so
    expect(qemu.get('virtiomem0')?.size).toBe(0);
    expect(deviceOf(xml, 'virtiomem0')).toMatch(currentAfterRequested(qemu.get('virtiomem0')));
    // libvirt (9.0's daemon, seen by hand) writes a memory device's alias after its <target>
    for (const alias of ['virtiomem0', 'dimm0'])
      expect(deviceOf(xml, alias)).toMatch(new RegExp(`</target>\\s*<alias name='${alias}'/>`));
    expect(qemu.get('dimm0')?.addr).toBeGreaterThan(0);
    expect(deviceOf(xml, 'dimm0')).toContain(dimmAddress(qemu.get('dimm0')));
    // a live fact only: the persistent definition has neither
    const inactive = await dom.getXML({ inactive: true });
    expect(inactive).not.toContain('<current unit');
    expect(inactive).not.toContain('base=');
  }, 120_000);

  it('a DIMM plugged live gets QEMU’s slot and base; the others keep theirs', async () => {
    await dom.attachDevice(
      "<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>",
    );
    const qemu = await queryMemoryDevices(dom);
    const xml = await dom.getXML();
    expect(qemu.get('dimm1')?.addr).toBeGreaterThan(qemu.get('dimm0')?.addr ?? 0);
    expect(deviceOf(xml, 'dimm1')).toContain(dimmAddress(qemu.get('dimm1')));
    expect(deviceOf(xml, 'dimm0')).toContain(dimmAddress(qemu.get('dimm0')));
  }, 60_000);

  it('a process that re-attaches shows QEMU’s facts, even where its status file is behind', async () => {
    const before = await dom.getXML();
    await conn.close();
    // a size change nobody listened to: the status file still says 2 MiB, QEMU says 0
    const status = join(roots.path, 'state', 'qemu', 'vk-mem-facts.xml');
    const recorded = readFileSync(status, 'utf8');
    expect(recorded).toContain("<current unit='KiB'>0</current>");
    writeFileSync(
      status,
      recorded.replace("<current unit='KiB'>0</current>", "<current unit='KiB'>2048</current>"),
    );
    const again = await open();
    const back = await again.lookupDomain('vk-mem-facts');
    const qemu = await queryMemoryDevices(back);
    const xml = await back.getXML();
    expect(deviceOf(xml, 'virtiomem0')).toMatch(currentAfterRequested(qemu.get('virtiomem0')));
    for (const alias of ['dimm0', 'dimm1'])
      expect(deviceOf(xml, alias)).toContain(dimmAddress(qemu.get(alias)));
    expect(xml).toBe(before);
  }, 60_000);
});

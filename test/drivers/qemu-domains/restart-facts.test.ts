/**
 * What a process that takes over running guests (the connection closed and
 * opened again on the same roots, as after a restart) must still know from
 * the status file: the adjustment a variable clock started with, so the next
 * RTC change is reported from it; the CPU the definition asked for when
 * QEMU's differs (the migratable XML shows it); and the block node numbers of a disk
 * plugged before the restart, so an event naming a node names the right
 * disk. Real QEMU (TCG): a boot sector that sets the RTC's year, and QEMU's
 * own write threshold fired by a write through the monitor's `qemu-io`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import type { AnyDomainEvent } from '../../../src/domain-events.js';
import type { EventStream } from '../../../src/event-stream.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE } from '../qemu-lifecycle/helpers.js';
import { rootsEachTest } from '../real-guest.js';

const each = rootsEachTest('vk-facts-');
const open = (): Promise<Connection> => each.connect();

/**
 * A boot sector (16-bit real mode) that writes 0x50 (BCD) to the RTC's year
 * register, CMOS index 9, through ports 0x70/0x71, then halts: the guest's
 * clock jumps to 2050, QEMU sends RTC_CHANGE. Run again after a reset it
 * writes the same year: the offset stays what it was.
 */
const SET_YEAR = [0xfa, 0xb0, 0x09, 0xe6, 0x70, 0xb0, 0x50, 0xe6, 0x71, 0xf4, 0xeb, 0xfd];

function bootImage(path: string, program?: number[]): string {
  const img = Buffer.alloc(64 << 10);
  if (program) {
    Buffer.from(program).copy(img);
    img[510] = 0x55;
    img[511] = 0xaa;
  }
  writeFileSync(path, img);
  return path;
}

function guestXml(name: string, image: string, extra = '', target = 'vda'): string {
  const bus = target.startsWith('hd') ? 'ide' : 'virtio';
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os>${extra}<devices><emulator>${QEMU_BINARY}</emulator>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${image}'/><target dev='${target}' bus='${bus}'/></disk>
  </devices></domain>`;
}

async function next<T extends AnyDomainEvent>(events: EventStream<AnyDomainEvent>, what: string): Promise<T> {
  const timer = setTimeout(() => events.end(), 60_000);
  try {
    for await (const e of events) return e as T;
  } finally {
    clearTimeout(timer);
  }
  throw new Error(`no ${what} event within 60 s`);
}

describe.skipIf(!HAS_QEMU)(`a restarted process keeps what the status file knows${QEMU_NOTE}`, () => {
  it("RTC changes after a restart count from the clock's start adjustment, as before it", async () => {
    const image = bootImage(join(each.path, 'year.img'), SET_YEAR);
    const conn = await open();
    const dom = await conn.defineDomain(
      // SeaBIOS boots the IDE disk's sector
      guestXml('vk-rtc', image, "<clock offset='variable' adjustment='3600' basis='utc'/>", 'hda'),
    );
    const events = conn.events({ ids: ['rtc-change'] }) as EventStream<AnyDomainEvent>;
    await dom.start();
    const first = await next<AnyDomainEvent & { utcoffset: number }>(events, 'rtc-change');
    events.end();
    // 2050 is decades ahead of any host this runs on
    const decades = (Date.UTC(2050, 0, 1) - Date.now()) / 1000;
    expect(first.utcoffset).toBeGreaterThan(decades - 366 * 86400);
    expect(await dom.getXML()).toContain(
      `<clock offset='variable' adjustment='${first.utcoffset}' basis='utc'/>`,
    );

    await conn.close();
    const again = await open();
    const back = await again.lookupDomain('vk-rtc');
    expect(await back.getXML()).toContain(`adjustment='${first.utcoffset}'`);
    const events2 = again.events({ ids: ['rtc-change'] }) as EventStream<AnyDomainEvent>;
    // the same year written again: the guest's clock is where it was
    await back.reset();
    const second = await next<AnyDomainEvent & { utcoffset: number }>(events2, 'rtc-change');
    events2.end();
    expect(Math.abs(second.utcoffset - first.utcoffset)).toBeLessThan(60);
    expect(await back.getXML()).toContain(
      `<clock offset='variable' adjustment='${second.utcoffset}' basis='utc'/>`,
    );
    await back.destroy();
  }, 120_000);

  it('the CPU the definition asked for is in the migratable XML, before and after a restart', async () => {
    const image = bootImage(join(each.path, 'cpu.img'));
    const conn = await open();
    const asked =
      "<cpu mode='custom' match='exact' check='none'><model fallback='forbid'>qemu64</model></cpu>";
    const dom = await conn.defineDomain(guestXml('vk-origcpu', image, asked));
    await dom.start();
    const cpuOf = (xml: string) => /<cpu[\s\S]*?<\/cpu>/.exec(xml)?.[0] ?? '';
    // QEMU's qemu64 under TCG has more than the model (libvirt's live XML lists them, check='full')
    const live = cpuOf(await dom.getXML());
    expect(live).toContain("check='full'");
    expect(live).toContain("<feature policy='require' name='hypervisor'/>");
    const wanted =
      "<cpu mode='custom' match='exact' check='none'>\n    <model fallback='forbid'>qemu64</model>\n  </cpu>";
    expect(cpuOf(await dom.getXML({ migratable: true }))).toBe(wanted);
    await conn.close();
    const again = await open();
    const back = await again.lookupDomain('vk-origcpu');
    expect(cpuOf(await back.getXML())).toBe(live);
    expect(cpuOf(await back.getXML({ migratable: true }))).toBe(wanted);
    await back.destroy();
  }, 120_000);

  it('a disk plugged before the restart keeps its nodes: an event on the first disk names the first disk', async () => {
    const image = bootImage(join(each.path, 'vda.img'));
    const plugged = bootImage(join(each.path, 'vdb.img'));
    const conn = await open();
    // ACPI: the PCI bus takes hot-plugged devices
    const dom = await conn.createDomain(guestXml('vk-nodes', image, '<features><acpi/></features>'));
    await dom.attachDevice(
      `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${plugged}'/><target dev='vdb' bus='virtio'/></disk>`,
    );
    await conn.close();

    const again = await open();
    const back = await again.lookupDomain('vk-nodes');
    const blocks = (await back.qemuMonitorCommand({ execute: 'query-block' })) as {
      return: { qdev: string; inserted?: { 'node-name': string; file: string } }[];
    };
    const vda = blocks.return.find((b) => b.inserted?.file === image);
    const node = vda?.inserted?.['node-name'];
    expect(node).toMatch(/^libvirt-\d+-(format|storage)$/);
    const events = again.events({ ids: ['block-threshold'] }) as EventStream<AnyDomainEvent>;
    await back.qemuMonitorCommand({
      execute: 'block-set-write-threshold',
      arguments: { 'node-name': node, 'write-threshold': 512 },
    });
    // a write past the threshold, through the disk's own device
    await back.qemuMonitorCommand(`qemu-io -d ${vda?.qdev} "write 0 4096"`, { hmp: true });
    const ev = await next<AnyDomainEvent>(events, 'block-threshold');
    events.end();
    expect(ev).toMatchObject({ type: 'block-threshold', dev: 'vda', path: image, threshold: 512n });
    await back.destroy();
  }, 120_000);
});

/**
 * Memory devices of a booted Linux guest (scripts/tiny-linux.ts in its
 * `shell` mode, virtio_mem loaded, hot-added memory onlined movable by the
 * kernel's `memhp_default_state=online_movable`): a virtio-mem device
 * resized with `updateDevice` grows and shrinks the guest's MemTotal, QEMU's
 * size report arrives as `memory-device-size-change` and is the live XML's
 * `<current>` (from the start on: QEMU's plugged size as its monitor
 * reports it); a DIMM plugged and unplugged changes MemTotal and the live
 * `<memory>` total; a guest that refuses the unplug (ACPI memory eject
 * disabled in its sysfs) makes the detach fail and the DIMM stays; a saved
 * and restored guest keeps the plugged size (QEMU has plugged nothing before
 * the state loads, so the start's read-back must not take its 0).
 *
 * The expected figures are libvirt's (9.0, private libvirtd, same XML): the
 * total is boot memory plus every memory device's size, the balloon size
 * without a balloon device is the total, only `<requested>` of a virtio-mem
 * device may change (CONFIG_UNSUPPORTED naming the field), a requested size
 * off the block size or above `<size>` is XML_DETAIL, and a live update
 * names the device by its alias and address.
 *
 * KVM when /dev/kvm opens, TCG otherwise (the bounded waits allow for it).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildTinyLinux,
  findKernel,
  hasBusybox,
  REPORT_END,
  type TinyLinux,
} from '../../../scripts/tiny-linux.js';
import type { Connection } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import type { AnyDomainEvent, ConsoleStream } from '../../../src/driver.js';
import { VirError } from '../../../src/errors.js';
import type { EventStream } from '../../../src/event-stream.js';
import { HAS_QEMU, QEMU_BINARY, type TestRoots } from '../qemu-lifecycle/helpers.js';
import { leftoversAfterAll } from '../real-guest.js';

const KERNEL = findKernel();
/** KVM only when it gives the guest the CPU asked for (a nested /dev/kvm may miss CPUID bits). */
const KVM = (() => {
  if (process.env.VIRTKIT_TEST_ACCEL === 'qemu') return false;
  try {
    closeSync(openSync('/dev/kvm', constants.O_RDWR));
    // biome-ignore format: one QEMU invocation
    execFileSync(QEMU_BINARY, ['-accel', 'kvm', '-machine', 'q35', '-cpu', 'qemu64,ssse3=on,sse4.1=on,sse4.2=on,enforce', '-display', 'none', '-nodefaults', '-S', '-qmp', 'stdio'], {
      input: '{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n',
      stdio: ['pipe', 'ignore', 'ignore'],
      timeout: 15_000,
    });
    return true;
  } catch {
    return false;
  }
})();
const SKIP = !HAS_QEMU
  ? `${QEMU_BINARY} not installed`
  : !KERNEL
    ? 'no readable /boot/vmlinuz-<version> with /lib/modules/<version> (linux-image-amd64)'
    : !hasBusybox()
      ? 'no /bin/busybox (busybox-static)'
      : '';
const BOOT_MS = KVM ? 60_000 : 180_000;

let roots: TestRoots;
let conn: Connection;
let dom: Domain;
let tiny: TinyLinux;
let consoleStream: ConsoleStream;
let transcript = '';
let asked = 0;

async function until(test: () => boolean, what: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!test()) {
    if (Date.now() > end)
      throw new Error(`no ${what} within ${ms} ms; transcript:\n${transcript.slice(-4000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Runs `cmd` in the guest's shell; its `VK <tag> ...` line's words. */
async function guest(cmd: string): Promise<string[]> {
  const tag = `m${++asked}`;
  consoleStream.write(`echo "VK ${tag} $( (${cmd}) | tr '\\n' ' ')"\n`);
  const line = () =>
    transcript
      .split(/\r?\n/)
      .map((l) => l.trim())
      .find((l) => l.startsWith(`VK ${tag} `) || l === `VK ${tag}`);
  await until(() => line() !== undefined, `answer ${tag}`, 30_000);
  return (line() ?? '').split(/\s+/).slice(2);
}

/** The guest's MemTotal in KiB. */
async function memTotal(): Promise<number> {
  return Number((await guest("grep MemTotal /proc/meminfo | tr -s ' ' | cut -d' ' -f2"))[0]);
}

/** Polls MemTotal until `ok` holds (the guest onlines and offlines memory on its own time). */
async function memTotalUntil(ok: (kib: number) => boolean, what: string): Promise<number> {
  let kib = await memTotal();
  const end = Date.now() + 60_000;
  while (!ok(kib)) {
    if (Date.now() > end) throw new Error(`MemTotal ${kib} KiB: no ${what}`);
    await new Promise((r) => setTimeout(r, 500));
    kib = await memTotal();
  }
  return kib;
}

async function nextOf<T>(it: AsyncIterator<T>, ms = 60_000): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no event within ${ms} ms`)), ms);
  });
  try {
    const r = await Promise.race([it.next(), timeout]);
    if (r.done) throw new Error('stream ended');
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

async function failure(p: Promise<unknown>): Promise<VirError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof VirError) return err;
    throw err;
  }
  throw new Error('expected a VirError');
}

/** An element's size in KiB (the live XML writes KiB; a definition keeps the unit it was given). */
const kibOf = (xml: string, el: string) => {
  const m = new RegExp(`<${el} unit='(KiB|MiB)'>(\\d+)</${el}>`).exec(xml);
  return m ? Number(m[2]) * (m[1] === 'MiB' ? 1024 : 1) : Number.NaN;
};
const virtioMem = (xml: string) => /<memory model='virtio-mem'[\s\S]*?<\/memory>/.exec(xml)?.[0] ?? '';
/** QEMU's own `query-memory-devices`, by id. */
async function qemuMemoryDevices(): Promise<Map<string, { size: number; addr?: number; slot?: number }>> {
  const reply = (await dom.qemuMonitorCommand({ execute: 'query-memory-devices' })) as {
    return: { data: { id: string; size: number; addr?: number; slot?: number } }[];
  };
  return new Map(reply.return.map((d) => [d.data.id, d.data]));
}
const withRequested = (dev: string, kib: number) =>
  dev.replace(/<requested unit='(\w+)'>\d+<\/requested>/, `<requested unit='KiB'>${kib}</requested>`);

const leftovers = leftoversAfterAll();

describe.skipIf(SKIP !== '')(
  `memory devices inside a Linux guest${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    beforeAll(async () => {
      roots = leftovers.roots('vk-memd-');
      if (!KERNEL) throw new Error('unreachable: no kernel');
      tiny = buildTinyLinux(KERNEL, { shell: true, cacheDir: join(roots.path, 'cache') });
      conn = await leftovers.connect(roots.path);
      const ports = [1, 2, 3]
        .map((i) => `<controller type='pci' index='${i}' model='pcie-root-port'/>`)
        .join('');
      dom = await conn.defineDomain(`<domain type='${KVM ? 'kvm' : 'qemu'}'>
  <name>vk-memory-devices</name>
  <maxMemory slots='4' unit='MiB'>2048</maxMemory>
  <memory unit='MiB'>512</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='q35'>hvm</type>
    <kernel>${tiny.kernel.image}</kernel>
    <initrd>${tiny.initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/init memhp_default_state=online_movable</cmdline>
  </os>
  <features><acpi/></features>
  <cpu mode='custom' match='exact' check='partial'>
    <model fallback='forbid'>qemu64</model>
    <feature policy='require' name='ssse3'/>
    <feature policy='require' name='sse4.1'/>
    <feature policy='require' name='sse4.2'/>
    <numa><cell id='0' cpus='0' memory='256' unit='MiB'/></numa>
  </cpu>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    ${ports}
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
    <memory model='virtio-mem'>
      <target><size unit='MiB'>256</size><node>0</node><block unit='MiB'>2</block><requested unit='MiB'>0</requested></target>
    </memory>
  </devices>
</domain>`);
      await dom.start({ paused: true });
      consoleStream = await dom.openConsole();
      consoleStream.on('data', (chunk: Buffer | string) => {
        transcript += chunk.toString();
      });
      await dom.resume();
      await until(() => transcript.includes(REPORT_END), 'boot report', BOOT_MS);
    }, BOOT_MS + 30_000);

    // before the guests go with the file's leftovers

    afterAll(() => consoleStream?.destroy());

    it('from the start the live XML has the virtio-mem device’s <current>, the size QEMU reports', async () => {
      const qemu = (await qemuMemoryDevices()).get('virtiomem0');
      expect(qemu?.size).toBeDefined();
      expect(kibOf(virtioMem(await dom.getXML()), 'current')).toBe((qemu?.size ?? Number.NaN) / 1024);
    });

    it('virtio_mem is loaded in the guest (else the resize below cannot be seen)', async () => {
      expect(transcript).not.toContain('VK insmod-failed virtio_mem');
      expect(await guest('ls /sys/bus/virtio/drivers')).toContain('virtio_mem');
    });

    it('updateDevice resizes a virtio-mem device: the guest grows and shrinks, the event and <current> follow', async () => {
      const events = conn.events({ ids: ['memory-device-size-change'] }) as EventStream<AnyDomainEvent>;
      const before = await memTotal();
      const dev = virtioMem(await dom.getXML());
      expect(dev).toContain("<alias name='virtiomem0'/>");
      await dom.updateDevice(withRequested(dev, 128 * 1024));
      // the guest plugs what was asked; QEMU reports each step, the last is the size asked
      let ev = await nextOf(events);
      while (ev.type === 'memory-device-size-change' && ev.size !== 131072) ev = await nextOf(events);
      expect(ev).toMatchObject({ type: 'memory-device-size-change', alias: 'virtiomem0', size: 131072 });
      const grown = await memTotalUntil((k) => k - before >= 120 * 1024, 'growth by 128 MiB');
      expect(grown - before).toBeLessThanOrEqual(131072);
      let live = virtioMem(await dom.getXML());
      expect(kibOf(live, 'requested')).toBe(131072);
      expect(kibOf(live, 'current')).toBe(131072);
      // libvirt 9.0 without a balloon device: the current size stays the total (virtio-mem counts whole)
      const whole = await dom.getXML();
      expect(kibOf(whole, 'currentMemory')).toBe(
        kibOf(whole.replace(/<memory model[\s\S]*?<\/memory>/g, ''), 'memory'),
      );

      await dom.updateDevice(withRequested(live, 64 * 1024));
      ev = await nextOf(events);
      while (ev.type === 'memory-device-size-change' && ev.size !== 65536) ev = await nextOf(events);
      expect(ev).toMatchObject({ alias: 'virtiomem0', size: 65536 });
      const shrunk = await memTotalUntil((k) => grown - k >= 60 * 1024, 'shrink by 64 MiB');
      expect(grown - shrunk).toBeLessThanOrEqual(65536);
      live = virtioMem(await dom.getXML());
      expect(kibOf(live, 'current')).toBe(65536);
      // the persistent definition keeps its own request
      expect(kibOf(virtioMem(await dom.getXML({ inactive: true })), 'requested')).toBe(0);
      events.end();
    }, 180_000);

    it('bad updates are refused with the field named; live and persistent XML stay as they were', async () => {
      const liveXml = await dom.getXML();
      const inactiveXml = await dom.getXML({ inactive: true });
      const dev = virtioMem(liveXml);
      const odd = await failure(dom.updateDevice(withRequested(dev, 3072)));
      expect([odd.code, odd.message]).toEqual([
        'XML_DETAIL',
        'requested size must be an integer multiple of block size',
      ]);
      expect(odd.field).toMatch(/target\/requested$/);
      const above = await failure(dom.updateDevice(withRequested(dev, 512 * 1024)));
      expect([above.code, above.message]).toEqual([
        'XML_DETAIL',
        'requested size must be smaller than or equal to @size (262144KiB)',
      ]);
      const size = await failure(
        dom.updateDevice(dev.replace(/<size unit='\w+'>\d+<\/size>/, "<size unit='KiB'>524288</size>")),
      );
      expect([size.code, size.message]).toEqual([
        'CONFIG_UNSUPPORTED',
        "cannot modify memory size from '262144' to '524288'",
      ]);
      expect(size.field).toMatch(/target\/size$/);
      const block = await failure(
        dom.updateDevice(dev.replace(/<block unit='\w+'>\d+<\/block>/, "<block unit='KiB'>4096</block>")),
      );
      expect([block.code, block.message]).toEqual([
        'CONFIG_UNSUPPORTED',
        "cannot modify memory block size from '2048' to '4096'",
      ]);
      const access = await failure(
        dom.updateDevice(dev.replace("model='virtio-mem'", "model='virtio-mem' access='shared'")),
      );
      expect([access.code, access.message]).toEqual([
        'CONFIG_UNSUPPORTED',
        "cannot modify memory access from 'default' to 'shared'",
      ]);
      const gone = await failure(dom.updateDevice(dev.replace('virtiomem0', 'virtiomem7')));
      expect([gone.code, gone.message]).toEqual(['CONFIG_UNSUPPORTED', "memory 'virtiomem7' not found"]);
      // the persistent definition has no aliases: a live device's XML names nothing there
      const cfg = await failure(dom.updateDevice(withRequested(dev, 4096), { config: true }));
      expect([cfg.code, cfg.message]).toEqual(['INVALID_ARG', 'memory not found']);
      expect(await dom.getXML()).toBe(liveXml);
      expect(await dom.getXML({ inactive: true })).toBe(inactiveXml);
    });

    it('a persistent update changes the next boot’s <requested> only', async () => {
      const dev = virtioMem(await dom.getXML({ inactive: true }));
      const liveBefore = await dom.getXML();
      await dom.updateDevice(withRequested(dev, 32 * 1024), { config: true });
      expect(kibOf(virtioMem(await dom.getXML({ inactive: true })), 'requested')).toBe(32768);
      expect(await dom.getXML()).toBe(liveBefore);
    });

    it('a DIMM plugged live: the guest has it, <memory> grows by its size; its unplug gives it back', async () => {
      const xml0 = await dom.getXML();
      const total0 = kibOf(xml0.replace(/<memory model[\s\S]*?<\/memory>/g, ''), 'memory');
      const info0 = await dom.getInfo();
      expect(info0.maxMem).toBe(total0);
      const before = await memTotal();
      const dimm = "<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>";
      await dom.attachDevice(dimm);
      const grown = await memTotalUntil((k) => k - before >= 120 * 1024, 'DIMM onlined');
      expect(grown - before).toBeLessThanOrEqual(131072);
      const xml1 = await dom.getXML();
      const total1 = kibOf(xml1.replace(/<memory model[\s\S]*?<\/memory>/g, ''), 'memory');
      // libvirt: the total grows by the module's size; without a balloon the current size is the total
      expect(total1).toBe(total0 + 131072);
      expect(kibOf(xml1, 'currentMemory')).toBe(total1);
      expect(await dom.getInfo()).toMatchObject({ maxMem: total1, memory: total1 });
      expect(xml1).toContain("<alias name='dimm0'/>");
      // libvirt's live address of the module: QEMU's slot and guest-physical base
      const placed = (await qemuMemoryDevices()).get('dimm0');
      expect(placed?.addr).toBeGreaterThan(0);
      expect(/<memory model='dimm'[\s\S]*?<\/memory>/.exec(xml1)?.[0]).toContain(
        `<address type='dimm' slot='${placed?.slot}' base='0x${placed?.addr?.toString(16)}'/>`,
      );

      await dom.detachDevice(/<memory model='dimm'[\s\S]*?<\/memory>/.exec(xml1)?.[0] ?? dimm);
      const xml2 = await dom.getXML();
      expect(xml2).not.toContain("model='dimm'");
      expect(kibOf(xml2.replace(/<memory model[\s\S]*?<\/memory>/g, ''), 'memory')).toBe(total0);
      expect((await dom.getInfo()).maxMem).toBe(total0);
      await memTotalUntil((k) => k <= before, 'DIMM gone');
    }, 180_000);

    it('a guest that refuses the unplug: OPERATION_FAILED, the DIMM stays in the live XML and the guest', async () => {
      // the guest's ACPI memory hotplug, eject side: off (Linux answers the eject request with a failure)
      expect(
        await guest(
          'echo 0 > /sys/firmware/acpi/hotplug/memory/enabled; cat /sys/firmware/acpi/hotplug/memory/enabled',
        ),
      ).toEqual(['0']);
      const before = await memTotal();
      await dom.attachDevice(
        "<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>",
      );
      await memTotalUntil((k) => k - before >= 120 * 1024, 'DIMM onlined');
      const xml1 = await dom.getXML();
      const dimm = /<memory model='dimm'[\s\S]*?<\/memory>/.exec(xml1)?.[0] ?? '';
      const aliasOfDimm = /<alias name='(dimm\d+)'\/>/.exec(dimm)?.[1];
      const removal = conn.events({ ids: ['device-removal-failed'] }) as EventStream<AnyDomainEvent>;
      const err = await failure(dom.detachDevice(dimm));
      // libvirt tells of the refusal too (its ACPI _OST handling)
      expect(await nextOf(removal)).toMatchObject({ type: 'device-removal-failed', devAlias: aliasOfDimm });
      removal.end();
      expect([err.code, err.message]).toEqual([
        'OPERATION_FAILED',
        'unplug of device was rejected by the guest',
      ]);
      expect(await dom.getXML()).toBe(xml1);
      expect(await memTotal()).toBeGreaterThanOrEqual(before + 120 * 1024);
    }, 180_000);

    it('a restored guest shows the plugged virtio-mem size it was saved with, as QEMU has it', async () => {
      const saved = kibOf(virtioMem(await dom.getXML()), 'current');
      expect(saved).toBe(65536);
      const file = join(roots.path, 'memory.save');
      await dom.save(file);
      dom = await conn.restoreDomain(file);
      const qemu = (await qemuMemoryDevices()).get('virtiomem0');
      expect((qemu?.size ?? Number.NaN) / 1024).toBe(saved);
      expect(kibOf(virtioMem(await dom.getXML()), 'current')).toBe(saved);
    }, 120_000);
  },
);

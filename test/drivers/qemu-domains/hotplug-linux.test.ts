/**
 * Hotplug seen from inside a booted Linux guest (scripts/tiny-linux.ts with
 * its `hotplug` report: each line typed on the console answers with the
 * guest's /sys/block, /sys/class/net and carrier states). A virtio disk and
 * a virtio NIC plugged into spare PCIe root ports appear in the guest; the
 * NIC's carrier follows `updateDevice` link state; a detach completes on the
 * guest's acknowledgement (QEMU's DEVICE_DELETED), well before libvirt's 5 s.
 *
 * KVM when /dev/kvm opens, TCG otherwise (the bounded waits allow for it).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTinyLinux, type TinyLinux } from '../../../scripts/tiny-linux.js';
import type { Connection } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import { waitFor } from '../../wait-for.js';
import { QEMU_BINARY, type TestRoots } from '../qemu-lifecycle/helpers.js';
import {
  bootToReport,
  type GuestConsole,
  kernel,
  kvmRuns,
  leftoversAfterAll,
  realGuestSkip,
  SSE42_CPU,
  sse42CpuXml,
  tinyLinuxOs,
} from '../real-guest.js';

/** KVM only when it gives the guest the CPU asked for (a nested /dev/kvm may miss CPUID bits). */
const KVM = kvmRuns(SSE42_CPU);
const SKIP = realGuestSkip();
const BOOT_MS = KVM ? 60_000 : 120_000;

const leftovers = leftoversAfterAll();
let roots: TestRoots;
let conn: Connection;
let dom: Domain;
let tiny: TinyLinux;
let guest: GuestConsole;

/** Types a line on the console and returns the guest's answer: block devices, interfaces, carriers. */
function ask(): Promise<Answer> {
  return guest.ask(['block', 'net', 'hwrng', 'vport', 'carrier']);
}

type Answer = Record<'block' | 'net' | 'hwrng' | 'vport' | 'carrier', string[]>;

/** Asks until `done` holds of the answer: a plugged device shows once the guest has probed it. */
async function askUntil(done: (a: Answer) => boolean, what: string): Promise<Answer> {
  let last: Answer | undefined;
  const asked = async () => {
    last = await ask();
    return done(last) && last;
  };
  return await waitFor(asked, { what, withinMs: 60_000, seen: () => JSON.stringify(last) });
}

describe.skipIf(SKIP !== '')(`hotplug inside a Linux guest${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    roots = leftovers.roots('vk-hpl-');
    tiny = buildTinyLinux(kernel(), { hotplug: true, cacheDir: join(roots.path, 'cache') });
    conn = await leftovers.connect(roots.path);
    const ports = [1, 2, 3, 4, 5]
      .map((i) => `<controller type='pci' index='${i}' model='pcie-root-port'/>`)
      .join('');
    dom = await conn.defineDomain(`<domain type='${KVM ? 'kvm' : 'qemu'}'>
  <name>vk-hotplug-linux</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  ${tinyLinuxOs(tiny)}
  <features><acpi/></features>
  ${sse42CpuXml('partial')}
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    ${ports}
    <controller type='virtio-serial' index='0'/>
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`);
    guest = await bootToReport(dom, BOOT_MS, leftovers);
  }, BOOT_MS + 30_000);

  it('a virtio disk attached live appears in the guest, and is gone from it and the live XML after detach', async () => {
    const before = await ask();
    expect(before.block.filter((b) => b.startsWith('vd'))).toEqual([]);
    const img = join(roots.path, 'hot.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', img, '16M']);
    await dom.attachDevice(
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${img}'/><target dev='vdb' bus='virtio'/></disk>`,
    );
    const seen = (await askUntil((a) => a.block.includes('vda'), 'vda in the guest')).block;
    expect(seen).toContain('vda');
    const t0 = Date.now();
    await dom.detachDevice("<disk type='file' device='disk'><target dev='vdb'/></disk>");
    // the guest acknowledged the unplug: DEVICE_DELETED came before the 5 s wait ran out
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await dom.getXML()).not.toContain("dev='vdb'");
    expect((await ask()).block).not.toContain('vda');
  }, 120_000);

  it('a user NIC attached live is an interface in the guest; its carrier follows the link state', async () => {
    await dom.attachDevice(
      "<interface type='user'><mac address='52:54:00:0b:0b:01'/><model type='virtio'/></interface>",
    );
    // the guest brings the new interface up on the next line it reads: its carrier shows then
    const seen = await askUntil((a) => a.net.includes('eth0') && a.carrier.length > 0, 'eth0 with a carrier');
    expect(seen.net).toContain('eth0');
    expect(seen.carrier).toEqual(['1']);
    await dom.updateDevice(
      "<interface type='user'><mac address='52:54:00:0b:0b:01'/><model type='virtio'/><link state='down'/></interface>",
    );
    expect((await ask()).carrier).toEqual(['0']);
    await dom.updateDevice(
      "<interface type='user'><mac address='52:54:00:0b:0b:01'/><model type='virtio'/><link state='up'/></interface>",
    );
    expect((await ask()).carrier).toEqual(['1']);
    await dom.detachDevice("<interface type='user'><mac address='52:54:00:0b:0b:01'/></interface>");
    expect(await dom.getXML()).not.toContain('52:54:00:0b:0b:01');
    expect((await ask()).net).not.toContain('eth0');
  }, 120_000);

  it("an RNG attached live is a hardware RNG in the guest; its detach completes on the guest's release", async () => {
    expect((await ask()).hwrng).toEqual([]);
    await dom.attachDevice("<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>");
    const seen = (await askUntil((a) => a.hwrng.length > 0, 'a hardware RNG in the guest')).hwrng;
    expect(seen.join(' ')).toMatch(/virtio_rng/);
    const t0 = Date.now();
    await dom.detachDevice("<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>");
    // DEVICE_DELETED came before libvirt's 5 s: the device and its backend are gone from the live XML
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await dom.getXML()).not.toContain('<rng');
    expect((await ask()).hwrng).toEqual([]);
  }, 120_000);

  it('a virtio-serial channel attached live is a named port in the guest, gone after detach', async () => {
    const sock = join(roots.path, 'vk-hotplug2-port.sock');
    const chan = `<channel type='unix'><source mode='bind' path='${sock}'/><target type='virtio' name='org.virtkit.hot.0'/></channel>`;
    await dom.attachDevice(chan);
    const seen = (await askUntil((a) => a.vport.includes('org.virtkit.hot.0'), 'the port in the guest'))
      .vport;
    expect(seen).toContain('org.virtkit.hot.0');
    await dom.detachDevice(chan);
    expect(await dom.getXML()).not.toContain('org.virtkit.hot.0');
    expect((await ask()).vport).not.toContain('org.virtkit.hot.0');
  }, 120_000);
});

/**
 * Interfaces with a host end plugged into a running Linux guest (the
 * scripts/tiny-linux.ts guest with its `hotplug` report): `type='bridge'`
 * on a real bridge made for the test, `type='network'` on a virtual network
 * of the same connection (`forward mode='bridge'` on that bridge), and
 * `type='ethernet'`. Each appears as a NIC inside the guest; its tap exists
 * on the host (on the bridge, or alone) while it is plugged; after detach
 * the guest has no NIC, the tap is gone and the network port given back.
 *
 * Root only (taps need CAP_NET_ADMIN; the unprivileged path runs
 * qemu-bridge-helper, which needs a setuid install and an ACL).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
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
  leftoversAfterAll,
  realGuestSkip,
  sse42CpuXml,
  tinyLinuxOs,
} from '../real-guest.js';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
/** A bridge of this test's own; the name says whose it is. */
const BR = 'vk-hp3br0';
const bridgeSupport = (() => {
  if (!IP || process.getuid?.() !== 0) return false;
  try {
    execFileSync(IP, ['link', 'add', 'vk-hp3probe', 'type', 'bridge'], { stdio: 'ignore' });
    execFileSync(IP, ['link', 'del', 'vk-hp3probe'], { stdio: 'ignore' });
    return existsSync('/dev/net/tun');
  } catch {
    return false;
  }
})();
const SKIP = realGuestSkip([
  !bridgeSupport,
  'not root, or no ip/bridge/tun support: taps and bridges cannot be made',
]);
const BOOT_MS = 120_000;

let roots: TestRoots;
let conn: Connection;
let dom: Domain;
let tiny: TinyLinux;
let guest: GuestConsole;
const leftovers = leftoversAfterAll(async (c) => {
  for (const n of await c.networks.list()) await n.destroy().catch(() => {});
});
leftovers.lastly(() => {
  if (IP && existsSync(`/sys/class/net/${BR}`)) execFileSync(IP, ['link', 'del', BR]);
});

/** Types a line on the console; the guest answers with its network interfaces. */
async function guestNics(): Promise<string[]> {
  return (await guest.ask(['net'], 30_000, 3000)).net;
}

/** The guest's interfaces once `nic` is among them: it shows once the guest has probed it. */
async function seenInGuest(nic: string): Promise<string[]> {
  let seen: string[] = [];
  const asked = async () => {
    seen = await guestNics();
    return seen.includes(nic) && seen;
  };
  return await waitFor(asked, { what: `${nic} in the guest`, withinMs: 60_000, seen: () => `${seen}` });
}

/** The host interface the live XML names as the interface's tap. */
async function liveTap(mac: string): Promise<string> {
  const xml = await dom.getXML();
  const nic = xml.split('<interface').find((s) => s.includes(mac)) ?? '';
  const dev = /<target dev='([^']+)'/.exec(nic)?.[1];
  if (!dev) throw new Error(`no <target dev> in the live XML of ${mac}:\n${nic}`);
  return dev;
}

function tcText(what: 'qdisc' | 'class', ifname: string): string {
  return execFileSync('tc', [what, 'show', 'dev', ifname], { encoding: 'utf8' });
}

/** Whether this kernel polices ingress traffic (cls_u32 + act_police), which outbound shaping needs. */
function canPolice(): boolean {
  const t = 'vk-hp3pol0';
  try {
    execFileSync(IP as string, ['tuntap', 'add', 'dev', t, 'mode', 'tap'], { stdio: 'ignore' });
    execFileSync('tc', ['qdisc', 'add', 'dev', t, 'ingress'], { stdio: 'ignore' });
    // biome-ignore format: one tc filter
    execFileSync('tc', ['filter', 'add', 'dev', t, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u32', '0', '0', 'police', 'rate', '1kbps', 'burst', '1kb', 'drop'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    execFileSync(IP as string, ['link', 'del', t], { stdio: 'ignore' });
  }
}

function masterOf(ifname: string): string | undefined {
  const link = `/sys/class/net/${ifname}/master`;
  return existsSync(link) ? basename(readlinkSync(link)) : undefined;
}

describe.skipIf(SKIP !== '')(`NICs with a host end plugged live${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    roots = leftovers.roots('vk-hp3-');
    if (!IP) throw new Error('unreachable');
    execFileSync(IP, ['link', 'add', BR, 'type', 'bridge']);
    execFileSync(IP, ['link', 'set', BR, 'up']);
    tiny = buildTinyLinux(kernel(), { hotplug: true, cacheDir: join(roots.path, 'cache') });
    conn = await leftovers.connect(roots.path);
    const ports = [1, 2, 3, 4]
      .map((i) => `<controller type='pci' index='${i}' model='pcie-root-port'/>`)
      .join('');
    dom = await conn.defineDomain(`<domain type='qemu'>
  <name>vk-hotplug3-nics</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  ${tinyLinuxOs(tiny)}
  <features><acpi/></features>
  ${sse42CpuXml('partial')}
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    ${ports}
    <serial type='pty'/>
    <console type='pty'/>
    <memballoon model='none'/>
  </devices>
</domain>`);
    guest = await bootToReport(dom, BOOT_MS, leftovers);
  }, BOOT_MS + 30_000);

  it('a bridge NIC: a tap on the bridge while plugged, a NIC in the guest; both gone after detach', async () => {
    const mac = '52:54:00:0c:03:01';
    expect(await guestNics()).not.toContain('eth0');
    await dom.attachDevice(
      `<interface type='bridge'><mac address='${mac}'/><source bridge='${BR}'/><model type='virtio'/></interface>`,
    );
    const tap = await liveTap(mac);
    expect(masterOf(tap)).toBe(BR);
    // libvirt's rule for the host end: the guest MAC with its first byte 0xfe
    expect(execFileSync(IP as string, ['-j', 'link', 'show', tap], { encoding: 'utf8' })).toContain(
      '"address":"fe:54:00:0c:03:01"',
    );
    expect(await seenInGuest('eth0')).toContain('eth0');
    const t0 = Date.now();
    await dom.detachDevice(`<interface type='bridge'><mac address='${mac}'/></interface>`);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await dom.getXML()).not.toContain(mac);
    expect(existsSync(`/sys/class/net/${tap}`)).toBe(false);
    expect(await guestNics()).not.toContain('eth0');
  }, 120_000);

  it('a network NIC takes a port of the virtual network, given back on detach', async () => {
    const net = await conn.networks.create(
      `<network><name>vk-hotplug3-net</name><forward mode='bridge'/><bridge name='${BR}'/></network>`,
    );
    const mac = '52:54:00:0c:03:02';
    await dom.attachDevice(
      `<interface type='network'><mac address='${mac}'/><source network='vk-hotplug3-net'/><model type='virtio'/></interface>`,
    );
    const ports = await net.listPorts();
    expect(ports).toHaveLength(1);
    const port = (await ports[0]?.getXML()) ?? '';
    expect(port).toContain(`<mac address='${mac}'/>`);
    expect(port).toContain(`bridge='${BR}'`);
    const live = await dom.getXML();
    expect(live).toContain(`portid='${ports[0]?.uuid}'`);
    const tap = await liveTap(mac);
    expect(masterOf(tap)).toBe(BR);
    // the persistent definition is unchanged: a live attach of a running guest
    expect(await dom.getXML({ inactive: true })).not.toContain(mac);
    expect(await seenInGuest('eth0')).toContain('eth0');
    await dom.detachDevice(`<interface type='network'><mac address='${mac}'/></interface>`);
    expect(await net.listPorts()).toEqual([]);
    expect(existsSync(`/sys/class/net/${tap}`)).toBe(false);
    expect(await guestNics()).not.toContain('eth0');
    await net.destroy();
  }, 120_000);

  it('an ethernet NIC gets a tap of its own (named by <target dev>), deleted on detach', async () => {
    const mac = '52:54:00:0c:03:03';
    const tap = 'vk-hp3tap0';
    await dom.attachDevice(
      `<interface type='ethernet'><mac address='${mac}'/><target dev='${tap}'/><model type='virtio'/></interface>`,
    );
    expect(existsSync(`/sys/class/net/${tap}/tun_flags`)).toBe(true);
    expect(masterOf(tap)).toBeUndefined();
    expect(await seenInGuest('eth0')).toContain('eth0');
    await dom.detachDevice(`<interface type='ethernet'><mac address='${mac}'/></interface>`);
    expect(existsSync(`/sys/class/net/${tap}`)).toBe(false);
    expect(await guestNics()).not.toContain('eth0');
  }, 120_000);

  it('refuses a bridge that does not exist and a network that does not exist, leaving nothing behind', async () => {
    const before = await dom.getXML();
    await expect(
      dom.attachDevice(
        "<interface type='bridge'><mac address='52:54:00:0c:03:04'/><source bridge='vk-hp3none'/><model type='virtio'/></interface>",
      ),
    ).rejects.toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: '/domain/devices/interface[1]/source/@bridge',
    });
    await expect(
      dom.attachDevice(
        "<interface type='network'><mac address='52:54:00:0c:03:05'/><source network='vk-hotplug3-none'/><model type='virtio'/></interface>",
      ),
    ).rejects.toMatchObject({ code: 'NO_NETWORK' });
    expect(await dom.getXML()).toBe(before);
  }, 60_000);

  it('<bandwidth> on a bridge NIC is tc on its tap: set at attach, changed and cleared by updateDevice', async () => {
    const mac = '52:54:00:0c:03:06';
    const base = `<mac address='${mac}'/><source bridge='${BR}'/><model type='virtio'/>`;
    await dom.attachDevice(
      `<interface type='bridge'>${base}<bandwidth><inbound average='1000' peak='4000' burst='1024'/></bandwidth></interface>`,
    );
    const tap = await liveTap(mac);
    // libvirt's units are kilobytes: 1000 KB/s is 8 Mbit/s for tc, 4000 its ceiling, 1024 KB the burst
    expect(tcText('qdisc', tap)).toMatch(/qdisc htb 1: root .*default 0x1/);
    expect(tcText('class', tap)).toMatch(/class htb 1:1 root .*rate 8Mbit ceil 32Mbit burst 1Mb/);
    expect(await dom.getXML()).toContain("<inbound average='1000' peak='4000' burst='1024'/>");
    await dom.updateDevice(
      `<interface type='bridge'>${base}<bandwidth><inbound average='2000'/></bandwidth></interface>`,
    );
    expect(tcText('class', tap)).toMatch(/class htb 1:1 root .*rate 16Mbit ceil 16Mbit/);
    expect(await dom.getXML()).toContain("<inbound average='2000'/>");
    await dom.updateDevice(`<interface type='bridge'>${base}</interface>`);
    expect(tcText('qdisc', tap)).not.toContain('htb');
    expect(await dom.getXML()).not.toContain('<bandwidth');
    await dom.detachDevice(`<interface type='bridge'><mac address='${mac}'/></interface>`);
    expect(existsSync(`/sys/class/net/${tap}`)).toBe(false);
  }, 60_000);

  it('outbound shaping is an ingress policer on the tap, or a typed refusal leaving nothing where the kernel cannot police', async () => {
    const mac = '52:54:00:0c:03:07';
    const tap = 'vk-hp3tap1';
    const nic = `<interface type='bridge'><mac address='${mac}'/><source bridge='${BR}'/><target dev='${tap}'/><model type='virtio'/><bandwidth><outbound average='128' burst='256'/></bandwidth></interface>`;
    const before = await dom.getXML();
    if (canPolice()) {
      await dom.attachDevice(nic);
      expect(tcText('qdisc', tap)).toMatch(/qdisc ingress ffff:/);
      expect(
        execFileSync('tc', ['filter', 'show', 'dev', tap, 'parent', 'ffff:'], { encoding: 'utf8' }),
      ).toMatch(/police .*rate 1024Kbit burst 256Kb/);
      await dom.detachDevice(`<interface type='bridge'><mac address='${mac}'/></interface>`);
    } else {
      console.log('this kernel has no u32 classifier or police action: outbound shaping must be refused');
      await expect(dom.attachDevice(nic)).rejects.toMatchObject({
        code: 'OPERATION_FAILED',
        field: expect.stringMatching(/^\/domain\/devices\/interface\[\d+\]\/bandwidth\/outbound$/),
      });
      expect(await dom.getXML()).toBe(before);
    }
    expect(existsSync(`/sys/class/net/${tap}`)).toBe(false);
  }, 60_000);

  it('<bandwidth> on a user NIC (no tap) is refused naming it, at attach and at update', async () => {
    const mac = '52:54:00:0c:03:08';
    await expect(
      dom.attachDevice(
        `<interface type='user'><mac address='${mac}'/><model type='virtio'/><bandwidth><inbound average='100'/></bandwidth></interface>`,
      ),
    ).rejects.toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: expect.stringMatching(/^\/domain\/devices\/interface\[\d+\]\/bandwidth$/),
    });
    await dom.attachDevice(
      `<interface type='user'><mac address='${mac}'/><model type='virtio'/></interface>`,
    );
    const before = await dom.getXML();
    await expect(
      dom.updateDevice(
        `<interface type='user'><mac address='${mac}'/><model type='virtio'/><bandwidth><inbound average='100'/></bandwidth></interface>`,
      ),
    ).rejects.toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: expect.stringMatching(/^\/domain\/devices\/interface\[\d+\]\/bandwidth$/),
    });
    expect(await dom.getXML()).toBe(before);
    await dom.detachDevice(`<interface type='user'><mac address='${mac}'/></interface>`);
  }, 60_000);

  it('a guest started with an ethernet NIC and <bandwidth> has its tap shaped from the start, removed at stop', async () => {
    const tap = 'vk-hp3tap2';
    const other = await conn.createDomain(
      `<domain type='qemu'>
  <name>vk-hotplug3-start</name>
  <memory unit='MiB'>64</memory>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <interface type='ethernet'><mac address='52:54:00:0c:03:09'/><target dev='${tap}'/><model type='virtio'/>
      <bandwidth><inbound average='500' burst='64'/></bandwidth></interface>
    <memballoon model='none'/>
  </devices>
</domain>`,
      { paused: true },
    );
    try {
      expect(existsSync(`/sys/class/net/${tap}/tun_flags`)).toBe(true);
      expect(tcText('class', tap)).toMatch(/class htb 1:1 root .*rate 4Mbit ceil 4Mbit burst 64Kb/);
    } finally {
      await other.destroy();
    }
    // the guest's helpers (its taps) are stopped once QEMU is gone
    await guest.until(() => !existsSync(`/sys/class/net/${tap}`), 10_000, `${tap} removed`, 3000);
  }, 60_000);
});

/**
 * qemu:///system virtual networks on the real host, as root: a NAT network
 * (or, without nft, an isolated one) with its own bridge, address, nftables
 * table and a real dnsmasq; the tiny Linux guest joined to it through
 * `<interface type='network'>` asks for a lease with udhcpc and the lease
 * is read back through the API; the guest's live `<source>` names its port
 * and bridge as libvirt writes them. Bad input (a bridge already there, a
 * subnet a host route covers, a missing host bridge, a network that does
 * not run) is refused with typed errors and nothing made. After each test
 * no bridge, dnsmasq or firewall table of ours is left.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyLinux, findKernel, hasBusybox, REPORT_END } from '../../../scripts/tiny-linux.js';
import type { Connection } from '../../../src/connection.js';
import { VirError } from '../../../src/errors.js';
import { waitFor } from '../../wait-for.js';
import { HAS_QEMU, QEMU_BINARY, type TestRoots, tempRoots } from '../qemu-lifecycle/helpers.js';
import { connectUnder, GuestConsole } from '../real-guest.js';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
const NFT = ['/usr/sbin/nft', '/sbin/nft'].find((p) => existsSync(p));
const DNSMASQ = ['/usr/sbin/dnsmasq', '/sbin/dnsmasq'].find((p) => existsSync(p));
const BR = 'vk-qnet0';

/** Whether the kernel lets this process make a bridge (root, not a restricted container). */
function canMakeBridge(): boolean {
  if (process.getuid?.() !== 0 || !IP) return false;
  try {
    execFileSync(IP, ['link', 'add', 'vk-qnet9', 'type', 'bridge'], { stdio: 'ignore' });
    execFileSync(IP, ['link', 'del', 'vk-qnet9'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const forwarding = () => readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim() === '1';
const SKIP = !canMakeBridge()
  ? 'not root, or the kernel refuses `ip link add type bridge`'
  : !DNSMASQ
    ? 'dnsmasq not installed (dnsmasq-base)'
    : !NFT && forwarding()
      ? 'no nft, and the host forwards IPv4: no kind of virtual network can start'
      : '';
/** NAT when nftables can masquerade; otherwise an isolated network, which needs no rules here. */
const FORWARD = NFT ? "<forward mode='nat'/>" : '';
const KERNEL = findKernel();
const GUEST_SKIP = !HAS_QEMU
  ? `${QEMU_BINARY} not installed`
  : !KERNEL
    ? 'no readable /boot/vmlinuz-<version> (linux-image-amd64)'
    : !hasBusybox()
      ? 'no /bin/busybox (busybox-static)'
      : '';

let roots: TestRoots;
let conn: Connection;

function netXml(name: string, bridge = BR, subnet = '10.213.7'): string {
  return `<network><name>${name}</name>${FORWARD}<bridge name='${bridge}'/>
  <domain name='qnet.test'/>
  <ip address='${subnet}.1' netmask='255.255.255.0'><dhcp>
    <range start='${subnet}.10' end='${subnet}.50'/>
    <host mac='52:54:00:71:00:02' name='fixed' ip='${subnet}.5'/>
  </dhcp></ip></network>`;
}

function ours(): { links: string[]; dnsmasq: string[]; tables: string[] } {
  const links = ['vk-qnet0', 'vk-qnet1'].filter((l) => existsSync(`/sys/class/net/${l}`));
  const dnsmasq = execFileSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(roots.path) && !l.trim().startsWith('Z'));
  const tables = NFT
    ? execFileSync(NFT, ['list', 'tables'], { encoding: 'utf8' })
        .split('\n')
        .filter((l) => l.includes('virtkit_vk_qnet'))
    : [];
  return { links, dnsmasq, tables };
}

async function refusal(p: Promise<unknown>): Promise<VirError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof VirError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe.skipIf(SKIP !== '')(`virtual networks on qemu:///system${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    roots = tempRoots('vk-qnet-');
    conn = await connectUnder(roots.path, 'qemu:///system');
  });

  afterEach(async () => {
    for (const d of await conn.listDomains({ active: true })) await d.destroy();
    for (const n of await conn.networks.list({ active: true })) await n.destroy();
    for (const n of await conn.networks.list()) await n.undefine();
    expect(ours()).toEqual({ links: [], dnsmasq: [], tables: [] });
  });

  afterAll(async () => {
    await conn?.close();
    for (const l of ['vk-qnet0', 'vk-qnet1'])
      if (IP && existsSync(`/sys/class/net/${l}`)) execFileSync(IP, ['link', 'del', l]);
    roots?.remove();
  });

  it("defines with libvirt's defaults, starts a bridge, address, dnsmasq and rules, and stops them all", async () => {
    const events: string[] = [];
    const sub = conn.networks.events();
    const reader = (async () => {
      for await (const e of sub) events.push(`${e.network.name}:${e.event}`);
    })();
    const net = await conn.networks.define(netXml('qnet-a'));
    const def = await net.getDefinition();
    // libvirt's define-time defaults for a network with a bridge of its own
    expect(def.uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(def.mac).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(def.bridge).toMatchObject({ name: BR, stp: true, delay: 0 });
    expect(await net.isActive()).toBe(false);
    expect(await net.isPersistent()).toBe(true);
    await net.setAutostart(true);
    expect(await net.getAutostart()).toBe(true);
    await net.start();
    expect(await net.isActive()).toBe(true);
    expect(await net.getBridgeName()).toBe(BR);
    // the host as `ip` reports it
    const addr = JSON.parse(
      execFileSync(IP as string, ['-j', 'addr', 'show', 'dev', BR], { encoding: 'utf8' }),
    );
    expect(addr[0].address).toBe(def.mac);
    expect(addr[0].addr_info).toContainEqual(expect.objectContaining({ local: '10.213.7.1', prefixlen: 24 }));
    expect(readFileSync(`/sys/class/net/${BR}/bridge/stp_state`, 'utf8').trim()).toBe('1');
    const running = ours();
    expect(running.dnsmasq.length).toBe(1);
    expect(running.tables.length).toBe(NFT ? 1 : 0);
    if (NFT) {
      const rules = execFileSync(NFT, ['list', 'table', 'ip', 'virtkit_vk_qnet0'], { encoding: 'utf8' });
      expect(rules).toMatch(/ip saddr 10\.213\.7\.0\/24 ip daddr != 10\.213\.7\.0\/24 masquerade/);
      expect(forwarding()).toBe(true);
    }
    // a second network on the same subnet collides with the first one's route
    const clash = await refusal(conn.networks.create(netXml('qnet-b', 'vk-qnet1')));
    expect(clash).toMatchObject({ code: 'OPERATION_FAILED', field: '/network/ip[1]/@address' });
    expect(clash.message).toMatch(/in use by interface vk-qnet0/);
    expect(existsSync('/sys/class/net/vk-qnet1')).toBe(false);
    // the same bridge name as a defined network is refused at define
    const dup = await refusal(conn.networks.define(netXml('qnet-c', BR, '10.213.8')));
    expect(dup).toMatchObject({ code: 'OPERATION_FAILED', field: '/network/bridge/@name' });
    await net.destroy();
    expect(existsSync(`/sys/class/net/${BR}`)).toBe(false);
    expect(ours()).toEqual({ links: [], dnsmasq: [], tables: [] });
    await net.setAutostart(false);
    await waitFor(() => events.includes('qnet-a:stopped'), {
      what: 'stopped event',
      seen: () => `${events}`,
    });
    sub.return?.();
    await Promise.race([reader, new Promise((r) => setTimeout(r, 100))]);
    expect(events).toEqual(['qnet-a:defined', 'qnet-a:started', 'qnet-a:stopped']);
  });

  it('refuses a bridge that exists already, a missing host bridge and an unsupported field, making nothing', async () => {
    execFileSync(IP as string, ['link', 'add', BR, 'type', 'bridge']);
    try {
      const net = await conn.networks.define(netXml('qnet-d'));
      const busy = await refusal(net.start());
      expect(busy).toMatchObject({ code: 'OPERATION_FAILED', field: '/network/bridge/@name' });
      expect(await net.isActive()).toBe(false);
      expect(ours().dnsmasq).toEqual([]);
    } finally {
      execFileSync(IP as string, ['link', 'del', BR]);
    }
    const missing = await refusal(
      conn.networks.create(
        "<network><name>qnet-e</name><forward mode='bridge'/><bridge name='vk-qnet1'/></network>",
      ),
    );
    expect(missing).toMatchObject({ code: 'OPERATION_FAILED', field: '/network/bridge/@name' });
    expect((await conn.networks.list()).map((n) => n.name)).toEqual(['qnet-d']);
    const v6 = await refusal(
      conn.networks.create(
        `<network><name>qnet-f</name><bridge name='vk-qnet1'/><ip family='ipv6' address='fd00:7::1' prefix='64'/></network>`,
      ),
    );
    expect(v6).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: '/network/ip[1]/@address' });
  });

  it.skipIf(GUEST_SKIP !== '')(
    `a guest on the network gets a DHCP lease seen through the API${GUEST_SKIP ? ` (skipped: ${GUEST_SKIP})` : ''}`,
    async () => {
      const tiny = buildTinyLinux(KERNEL!, { dhcp: true, cacheDir: join(roots.path, 'cache') });
      const net = await conn.networks.create(netXml('qnet-g'));
      const mac = '52:54:00:71:00:09';
      const dom = await conn.defineDomain(`<domain type='qemu'>
  <name>vk-qnet-guest</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>${tiny.kernel.image}</kernel>
    <initrd>${tiny.initrd}</initrd><cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline></os>
  <cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>qemu64</model>
    <feature policy='require' name='ssse3'/><feature policy='require' name='sse4.1'/><feature policy='require' name='sse4.2'/></cpu>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <interface type='network'><mac address='${mac}'/><source network='qnet-g'/><model type='virtio'/></interface>
    <serial type='pty'/><console type='pty'/><memballoon model='none'/>
  </devices>
</domain>`);
      await dom.start({ paused: true });
      const con = await GuestConsole.open(dom);
      // the live interface names its port and bridge, as libvirt's does
      const live = await dom.getXML();
      const ports = await net.listPorts();
      expect(ports.length).toBe(1);
      expect(live).toContain(`<source network='qnet-g' portid='${ports[0]!.uuid}' bridge='${BR}'/>`);
      const portXml = await ports[0]!.getXML();
      expect(portXml).toContain(`<plug type='bridge' bridge='${BR}'`);
      expect(portXml).toContain(`<mac address='${mac}'/>`);
      await dom.resume();
      await con.until(REPORT_END, 150_000, 'boot report');
      const transcript = con.text;
      expect(transcript, transcript).toMatch(/VK dhcp .*lease of 10\.213\.7\.\d+ obtained/);
      const leased = /lease of (10\.213\.7\.\d+) obtained/.exec(transcript)![1];
      const leases = await net.getDhcpLeases({ mac });
      expect(leases).toEqual([
        expect.objectContaining({
          iface: BR,
          type: 'ipv4',
          mac,
          ipaddr: leased,
          prefix: 24,
          hostname: 'vkguest',
        }),
      ]);
      con.destroy();
      if ((await dom.getState()).state !== 'shutoff') await dom.destroy();
      // the guest's port is given back when it stops
      expect(await net.listPorts()).toEqual([]);
      await dom.undefine();
    },
    200_000,
  );

  it('a guest on a network that does not run is refused, nothing started', async () => {
    await conn.networks.define(netXml('qnet-h'));
    const dom =
      await conn.defineDomain(`<domain type='qemu'><name>vk-qnet-off</name><memory unit='MiB'>64</memory>
  <os><type arch='x86_64'>hvm</type></os><devices><emulator>${QEMU_BINARY}</emulator>
  <interface type='network'><source network='qnet-h'/></interface></devices></domain>`);
    const err = await refusal(dom.start());
    expect(err).toMatchObject({
      code: 'OPERATION_INVALID',
      field: '/domain/devices/interface[1]/source/@network',
    });
    expect((await dom.getState()).state).toBe('shutoff');
    await dom.undefine();
  });
});

/**
 * The issue's end-to-end target on the real host, as root: a `dir` pool in
 * a fresh directory, a qcow2 volume made in it by qemu-img, a NAT network
 * with its own bridge, nftables table and dnsmasq, and the tiny Linux guest
 * defined with `<disk type='volume'>` and `<interface type='network'>`.
 * The booted guest (kept running by its shell mode) lists the volume as its virtio disk and gets a DHCP
 * lease (busybox udhcpc) that the network's `getDhcpLeases()` and the
 * domain's `interfaceAddresses({ source: 'lease' })` both report. After
 * dnsmasq runs as the host's dnsmasq account (else nobody). After
 * the stops nothing of ours is left: no bridge, tap, dnsmasq or table.
 *
 * Bad input: a subnet overlapping a running network's, and a start that
 * fails late (dnsmasq refuses an option, after the bridge and the table
 * were made), are typed errors leaving nothing behind.
 *
 * The `qemu:///session` variant: a session connection's own pool and
 * volume, and a `forward mode='bridge'` network over the system network's
 * bridge, the way a session user reaches a host bridge. As root the driver
 * makes the guest's tap itself; an unprivileged session uses
 * qemu-bridge-helper instead, which session-network.test.ts tests as
 * nobody (docs/drivers.md, "Virtual networks").
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTinyLinux, findKernel, hasBusybox } from '../../../scripts/tiny-linux.js';
import type { Connection } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import { hostRoutes, ipv4Number, subnetsOverlap } from '../../../src/drivers/qemu/network/host-net.js';
import { VirError } from '../../../src/errors.js';
import { HAS_QEMU, QEMU_BINARY, type TestRoots, tempRoots } from '../qemu-lifecycle/helpers.js';
import { bootToReport, connectUnder } from '../real-guest.js';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
const NFT = ['/usr/sbin/nft', '/sbin/nft'].find((p) => existsSync(p));
const DNSMASQ = ['/usr/sbin/dnsmasq', '/sbin/dnsmasq'].find((p) => existsSync(p));
const HAS_IMG = existsSync('/usr/bin/qemu-img');
const KERNEL = findKernel();
const BR = 'vk-combo0';
const BR3 = 'vk-combo3';

const SKIP =
  process.getuid?.() !== 0
    ? 'not root: a NAT network makes a bridge'
    : !IP
      ? 'no ip command (iproute2)'
      : !NFT
        ? 'no nft (nftables): a NAT network needs it'
        : !DNSMASQ
          ? 'no dnsmasq (dnsmasq-base)'
          : !HAS_QEMU
            ? `${QEMU_BINARY} not installed`
            : !HAS_IMG
              ? 'no qemu-img (qemu-utils)'
              : !KERNEL
                ? 'no readable /boot/vmlinuz-<version> (linux-image-amd64)'
                : !hasBusybox()
                  ? 'no /bin/busybox (busybox-static)'
                  : '';

/** A private /24 under 10.213.0.0/16 that no host route covers (checked against the kernel's table). */
function freeSubnet(from = 140): string {
  const routes = hostRoutes();
  for (let n = from; n < 250; n++) {
    const s = { dest: ipv4Number(`10.213.${n}.0`), mask: 0xffffff00 };
    if (!routes.some((r) => subnetsOverlap(r, s))) return `10.213.${n}`;
  }
  throw new Error('no free 10.213.x.0/24 on this host');
}

let roots: TestRoots;
let conn: Connection;
let subnet: string;

const MAC_SYSTEM = '52:54:00:c0:b0:01';
const MAC_SESSION = '52:54:00:c0:b0:02';

function guestXml(name: string, kernel: string, initrd: string, mac: string, network: string): string {
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>256</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type><kernel>${kernel}</kernel>
    <initrd>${initrd}</initrd><cmdline>console=ttyS0 panic=-1 rdinit=/init</cmdline></os>
  <cpu mode='custom' match='exact' check='partial'><model fallback='forbid'>qemu64</model>
    <feature policy='require' name='ssse3'/><feature policy='require' name='sse4.1'/><feature policy='require' name='sse4.2'/></cpu>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source pool='combo-pool' volume='data.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'><mac address='${mac}'/><source network='${network}'/><model type='virtio'/></interface>
    <serial type='pty'/><console type='pty'/><memballoon model='none'/>
  </devices>
</domain>`;
}

/** Everything of ours on the host: links (the bridge, the taps seen while guests ran), dnsmasq processes, nft tables. */
function leftovers(taps: readonly string[]): { links: string[]; dnsmasq: string[]; tables: string[] } {
  const links = readdirNet().filter((l) => l === BR || l === BR3 || taps.includes(l));
  const dnsmasq = execFileSync('ps', ['-eo', 'stat=,args='], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(roots.path) && !l.trim().startsWith('Z'));
  const tables = execFileSync(NFT as string, ['list', 'tables'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes('virtkit_vk_combo'));
  return { links, dnsmasq, tables };
}

function readdirNet(): string[] {
  return execFileSync(IP as string, ['-o', 'link', 'show'], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1] ?? '')
    .filter(Boolean);
}

/** The real uid of a process (`/proc/<pid>/status`). */
function dnsmasqUid(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}

/** The uid of `dnsmasq` in /etc/passwd, else of `nobody`. */
function expectedDnsmasqUid(): number | undefined {
  const users = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((l) => l.split(':'));
  const u = users.find((f) => f[0] === 'dnsmasq') ?? users.find((f) => f[0] === 'nobody');
  return u ? Number(u[2]) : undefined;
}

/** The links enslaved to our bridge: the guests' taps. */
function bridgePorts(): string[] {
  return existsSync(`/sys/class/net/${BR}/brif`) ? readdirSync(`/sys/class/net/${BR}/brif`) : [];
}

/** Boots `dom` and returns its console transcript up to the tiny guest's report end. */
async function bootAndReport(dom: Domain): Promise<string> {
  const guest = await bootToReport(dom, 150_000);
  guest.destroy();
  return guest.text;
}

/** The value of the guest's `VK <key> ...` report line. */
function report(transcript: string, key: string): string {
  const line = transcript
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l.startsWith(`VK ${key} `));
  return line?.slice(`VK ${key}`.length).trim() ?? '';
}

describe.skipIf(SKIP !== '')(
  `a guest on a pool volume and a NAT network${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    let tiny: ReturnType<typeof buildTinyLinux>;

    beforeAll(async () => {
      roots = tempRoots('vk-combo-');
      subnet = freeSubnet();
      tiny = buildTinyLinux(KERNEL!, { dhcp: true, shell: true, cacheDir: join(roots.path, 'cache') });
      conn = await connectUnder(roots.path, 'qemu:///system');
    });

    afterAll(async () => {
      if (conn) {
        for (const d of await conn.listDomains({ active: true })) await d.destroy();
        for (const n of await conn.networks.list({ active: true })) await n.destroy();
        for (const p of await conn.storagePools.list({ active: true })) await p.destroy();
        await conn.close();
      }
      if (IP && existsSync(`/sys/class/net/${BR}`)) execFileSync(IP, ['link', 'del', BR]);
      roots?.remove();
    });

    it('qemu:///system: the guest sees the volume and gets a lease the API reports; nothing is left after', async () => {
      const dir = join(roots.path, 'images');
      mkdirSync(dir);
      const pool = await conn.storagePools.define(
        `<pool type='dir'><name>combo-pool</name><target><path>${dir}</path></target></pool>`,
      );
      await pool.start();
      const vol = await pool.createVolume(
        "<volume><name>data.qcow2</name><capacity unit='M'>64</capacity><target><format type='qcow2'/></target></volume>",
      );
      const volPath = await vol.getPath();
      // qemu-img says what was made
      const info = JSON.parse(
        execFileSync('/usr/bin/qemu-img', ['info', '--output=json', volPath], { encoding: 'utf8' }),
      );
      expect(info).toMatchObject({ format: 'qcow2', 'virtual-size': 64 * 1024 * 1024 });

      const net = await conn.networks.define(`<network><name>combo-nat</name><forward mode='nat'/>
  <bridge name='${BR}'/>
  <ip address='${subnet}.1' netmask='255.255.255.0'><dhcp><range start='${subnet}.100' end='${subnet}.120'/></dhcp></ip>
</network>`);
      await net.start();
      // dnsmasq runs as the host's unprivileged dnsmasq account (Debian's dnsmasq-base), else nobody
      const pid = Number(readFileSync(join(roots.path, 'rundir', 'networks', 'combo-nat.pid'), 'utf8'));
      expect(dnsmasqUid(pid)).toBe(expectedDnsmasqUid());
      expect(dnsmasqUid(pid)).not.toBe(0);
      const dom = await conn.defineDomain(
        guestXml('vk-combo-sys', tiny.kernel.image, tiny.initrd, MAC_SYSTEM, 'combo-nat'),
      );
      const transcript = await bootAndReport(dom);
      // the volume is the guest's virtio disk
      expect(report(transcript, 'block').split(/\s+/), transcript).toContain('vda');
      expect(transcript).toMatch(
        new RegExp(`VK dhcp .*lease of ${subnet.replace(/\./g, '\\.')}\\.\\d+ obtained`),
      );
      const leased = new RegExp(`lease of (${subnet.replace(/\./g, '\\.')}\\.\\d+) obtained`).exec(
        transcript,
      )![1]!;
      const n = Number(leased.split('.')[3]);
      expect(n).toBeGreaterThanOrEqual(100);
      expect(n).toBeLessThanOrEqual(120);

      const leases = await net.getDhcpLeases();
      expect(leases).toEqual([
        expect.objectContaining({
          iface: BR,
          type: 'ipv4',
          mac: MAC_SYSTEM,
          ipaddr: leased,
          prefix: 24,
          hostname: 'vkguest',
        }),
      ]);
      // the lease source names the guest's host-side device: its tap on the bridge
      const [port] = await net.listPorts();
      expect(port).toBeDefined();
      const taps = bridgePorts();
      expect(taps.length).toBe(1);
      const ifaces = await dom.interfaceAddresses({ source: 'lease' });
      expect(ifaces).toEqual([
        { name: taps[0], hwaddr: MAC_SYSTEM, addrs: [{ type: 'ipv4', addr: leased, prefix: 24 }] },
      ]);
      expect(await dom.getHostname({ source: 'lease' })).toBe('vkguest');

      if ((await dom.getState()).state !== 'shutoff') await dom.destroy();
      expect(await net.listPorts()).toEqual([]);
      await net.destroy();
      await pool.destroy();
      expect(leftovers(taps)).toEqual({ links: [], dnsmasq: [], tables: [] });
      expect(existsSync(volPath)).toBe(true);
      await dom.undefine();
      await net.undefine();
    }, 200_000);

    it('qemu:///session: a session pool volume and a bridge network over a host bridge', async () => {
      const host = await conn.networks.create(`<network><name>combo-nat</name><forward mode='nat'/>
  <bridge name='${BR}'/>
  <ip address='${subnet}.1' netmask='255.255.255.0'><dhcp><range start='${subnet}.100' end='${subnet}.120'/></dhcp></ip>
</network>`);
      let taps: string[] = [];
      const base = join(roots.path, 'session');
      const session = await connectUnder(base, 'qemu:///session', { storagePoolRoots: [base] });
      try {
        const dir = join(base, 'images');
        mkdirSync(dir, { recursive: true });
        const pool = await session.storagePools.create(
          `<pool type='dir'><name>combo-pool</name><target><path>${dir}</path></target></pool>`,
        );
        await pool.createVolume(
          "<volume><name>data.qcow2</name><capacity unit='M'>32</capacity><target><format type='qcow2'/></target></volume>",
        );
        const net = await session.networks.create(
          `<network><name>combo-br</name><forward mode='bridge'/><bridge name='${BR}'/></network>`,
        );
        const dom = await session.defineDomain(
          guestXml('vk-combo-ses', tiny.kernel.image, tiny.initrd, MAC_SESSION, 'combo-br'),
        );
        const transcript = await bootAndReport(dom);
        taps = bridgePorts();
        expect(taps.length).toBe(1);
        expect(report(transcript, 'block').split(/\s+/), transcript).toContain('vda');
        const leased = new RegExp(`lease of (${subnet.replace(/\./g, '\\.')}\\.\\d+) obtained`).exec(
          transcript,
        )?.[1];
        expect(leased, transcript).toBeDefined();
        // the lease is the system network's (its dnsmasq serves the bridge); the session's bridge network has none
        expect(await host.getDhcpLeases({ mac: MAC_SESSION })).toEqual([
          expect.objectContaining({ mac: MAC_SESSION, ipaddr: leased }),
        ]);
        expect(await net.getDhcpLeases()).toEqual([]);
        if ((await dom.getState()).state !== 'shutoff') await dom.destroy();
        await dom.undefine();
        await net.destroy();
        await pool.destroy();
      } finally {
        await session.close();
      }
      await host.destroy();
      expect(leftovers(taps)).toEqual({ links: [], dnsmasq: [], tables: [] });
    }, 200_000);

    it('bad input: a subnet overlapping a running network, a dnsmasq that fails; nothing is left half-made', async () => {
      const good = await conn.networks.create(`<network><name>combo-nat</name><forward mode='nat'/>
  <bridge name='${BR}'/><ip address='${subnet}.1' prefix='24'/></network>`);
      // a /16 holding the running network's /24: its bridge route collides
      const wide = await conn.networks
        .create(`<network><name>combo-wide</name><forward mode='nat'/><bridge name='${BR3}'/>
  <ip address='10.213.0.1' prefix='16'/></network>`)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(wide).toBeInstanceOf(VirError);
      expect(wide).toMatchObject({ code: 'OPERATION_FAILED', field: '/network/ip[1]/@address' });
      expect((wide as VirError).message).toContain(`in use by interface ${BR}`);
      expect(existsSync(`/sys/class/net/${BR3}`)).toBe(false);
      // dnsmasq refuses an option it does not know: the bridge and table made before it are undone
      const other = freeSubnet(Number(subnet.split('.')[2]) + 1);
      const bad = await conn.networks
        .create(`<network xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'><name>combo-bad</name>
  <forward mode='nat'/><bridge name='${BR3}'/>
  <ip address='${other}.1' prefix='24'><dhcp><range start='${other}.10' end='${other}.20'/></dhcp></ip>
  <dnsmasq:options><dnsmasq:option value='no-such-dnsmasq-option=1'/></dnsmasq:options></network>`)
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(bad).toBeInstanceOf(VirError);
      expect(bad).toMatchObject({ code: 'OPERATION_FAILED' });
      expect((bad as VirError).message).toMatch(/dnsmasq did not start/);
      expect((await conn.networks.list()).map((n) => n.name)).toEqual(['combo-nat']);
      const netDir = join(roots.path, 'rundir', 'networks');
      expect(readdirSync(netDir).filter((f) => f.startsWith('combo-bad'))).toEqual([]);
      expect(existsSync(`/sys/class/net/${BR3}`)).toBe(false);
      await good.destroy();
      expect(leftovers([])).toEqual({ links: [], dnsmasq: [], tables: [] });
    }, 60_000);
  },
);

/**
 * Hot-plugging beside an `<interface type='network'>` (as root, on a real
 * host bridge behind a `forward mode='bridge'` network): a second interface
 * and a disk are plugged into the running guest. The network interface keeps
 * its port (the live `<source portid>`, and the network still lists that
 * port) and its tap; the new interface gets a tap of its own on the bridge;
 * both ports and both taps are gone once the guest stops.
 *
 * Before, the hot-plug's define-time pass dropped the running interface's
 * portid, so the existing interface was taken for the new one (a tap name in
 * use, or QEMU refusing a PCI slot in use) and a plug of any other device
 * was refused as needing a changed interface.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';
import { connectUnder } from '../real-guest.js';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
const QEMU_IMG = ['/usr/bin/qemu-img'].find((p) => existsSync(p));
const BR = 'vk-hpbeside';
const SKIP =
  process.getuid?.() !== 0
    ? ' (skipped: not root: the taps and the bridge take root)'
    : !IP
      ? ' (skipped: no ip command)'
      : !QEMU_IMG
        ? ' (skipped: no qemu-img)'
        : '';

let roots: ReturnType<typeof tempRoots>;
let conn: Connection | undefined;
const brif = () => readdirSync(`/sys/class/net/${BR}/brif`).sort();

beforeAll(() => {
  roots = tempRoots('vk-hpbeside-');
  if (SKIP === '' && HAS_QEMU) execFileSync(IP as string, ['link', 'add', BR, 'type', 'bridge']);
});
afterAll(async () => {
  await conn?.close();
  for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
  if (IP && existsSync(`/sys/class/net/${BR}`)) execFileSync(IP, ['link', 'del', BR]);
  roots.remove();
});

describe.skipIf(!HAS_QEMU || SKIP !== '')(`hot-plug beside a network interface${QEMU_NOTE}${SKIP}`, () => {
  it('keeps the running interface its port and tap, and gives the new one its own', async () => {
    conn = await connectUnder(roots.path, 'qemu:///system');
    const net = await conn.networks.create(
      `<network><name>hpbeside</name><forward mode='bridge'/><bridge name='${BR}'/></network>`,
    );
    const disk = join(roots.path, 'extra.qcow2');
    execFileSync(QEMU_IMG as string, ['create', '-q', '-f', 'qcow2', disk, '16M']);
    const dom = await conn.defineDomain(`<domain type='qemu'><name>vk-hpbeside</name>
  <memory unit='MiB'>64</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>
    <controller type='pci' index='0' model='pcie-root'/><controller type='pci' index='5' model='pcie-root-port'/><controller type='pci' index='6' model='pcie-root-port'/><controller type='pci' index='7' model='pcie-root-port'/>
    <interface type='network'><mac address='52:54:00:5b:01:01'/><source network='hpbeside'/><model type='virtio'/></interface>
  </devices></domain>`);
    await dom.start({ paused: true });
    const before = await dom.getXML();
    const portid = /<source network='hpbeside' portid='([0-9a-f-]{36})'/.exec(before)?.[1];
    const firstTap = /<target dev='([^']+)'\/>/.exec(before)?.[1];
    expect(portid).toBeDefined();
    expect(brif()).toEqual([firstTap]);

    await dom.attachDevice(
      `<interface type='bridge'><mac address='52:54:00:5b:01:02'/><source bridge='${BR}'/><model type='virtio'/></interface>`,
      { live: true },
    );
    await dom.attachDevice(
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${disk}'/><target dev='vdb' bus='virtio'/></disk>`,
      { live: true },
    );
    const after = await dom.getXML();
    // the network interface as it was: same port (still the network's), same tap
    expect(after).toContain(`<source network='hpbeside' portid='${portid}' bridge='${BR}'/>`);
    expect((await net.listPorts()).map((p) => p.uuid)).toEqual([portid]);
    const taps = [...after.matchAll(/<target dev='([^']+)'\/>/g)].map((m) => m[1]);
    expect(taps).toHaveLength(2);
    expect(taps[0]).toBe(firstTap);
    // the kernel's view: both taps on the bridge
    expect(brif()).toEqual([...taps].sort());
    // QEMU's view: both NICs are devices of their own (a paused guest's buses are not numbered
    // yet, so query-pci does not list what sits behind a root port; the device tree does)
    const reply = (await dom.qemuMonitorCommand({
      execute: 'qom-list',
      arguments: { path: '/machine/peripheral' },
    })) as { return: { name: string }[] };
    const ids = reply.return.map((p) => p.name);
    expect(ids).toEqual(expect.arrayContaining(['net0', 'net1']));
    expect(after).toMatch(/<target dev='vdb' bus='virtio'\/>/);

    await dom.destroy();
    // the host ends are taken down once QEMU has gone (after destroy returns)
    for (let i = 0; i < 600 && brif().length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(brif()).toEqual([]);
    expect(await net.listPorts()).toEqual([]);
    await dom.undefine();
    await net.destroy();
  }, 120_000);
});

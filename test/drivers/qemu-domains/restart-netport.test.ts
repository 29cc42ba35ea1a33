/**
 * A network port taken by a hot-plugged `<interface type='network'>` is
 * given back when the guest stops, also when the process that plugged it
 * is gone and a new one re-attached the guest from its status file (as
 * libvirt releases every interface's port at stop). As root: an isolated
 * network with a bridge of its own, real QEMU (TCG).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { waitFor } from '../../wait-for.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

const IP = ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'].find((p) => existsSync(p));
const BR = 'vk-evport1';
const SKIP =
  process.getuid?.() !== 0
    ? ' (skipped: not root: the network makes a bridge)'
    : !IP
      ? ' (skipped: no ip command)'
      : '';

let roots: ReturnType<typeof tempRoots>;
const open = (): Promise<Connection> =>
  connect('qemu:///system', {
    driverOptions: {
      cacheDir: null,
      runDir: join(roots.path, 'rundir'),
      stateDir: join(roots.path, 'state'),
      configDir: join(roots.path, 'config'),
      logDir: join(roots.path, 'log'),
      emulators: [QEMU_BINARY],
    },
  });
const portsDir = () => join(roots.path, 'rundir', 'networks', 'evport-iso', 'ports');
const portFiles = () => (existsSync(portsDir()) ? readdirSync(portsDir()).sort() : []);

beforeAll(() => {
  roots = tempRoots('vk-evport-');
});
afterAll(() => {
  for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
  if (IP && existsSync(`/sys/class/net/${BR}`)) execFileSync(IP, ['link', 'del', BR]);
  roots.remove();
});

describe.skipIf(!HAS_QEMU || SKIP !== '')(
  `a hot-plugged NIC's port across a restart${QEMU_NOTE}${SKIP}`,
  () => {
    it('the port a hot-plug took is released at stop by the process that re-attached the guest', async () => {
      const image = join(roots.path, 'disk.img');
      writeFileSync(image, Buffer.alloc(1 << 20));
      const mac = '52:54:00:e2:00:01';
      const conn1 = await open();
      const net1 = await conn1.networks.create(
        `<network><name>evport-iso</name><bridge name='${BR}'/></network>`,
      );
      const dom1 = await conn1.createDomain(`<domain type='qemu'><name>vk-evport</name>
  <memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
  <features><acpi/></features><devices><emulator>${QEMU_BINARY}</emulator>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${image}'/><target dev='vda' bus='virtio'/></disk>
  </devices></domain>`);
      await dom1.attachDevice(
        `<interface type='network'><mac address='${mac}'/><source network='evport-iso'/><model type='virtio'/></interface>`,
      );
      const [port] = await net1.listPorts();
      expect(await port?.getXML()).toContain(`<mac address='${mac}'/>`);
      expect(portFiles()).toEqual([`${port?.uuid}.xml`]);
      await conn1.close();

      const conn2 = await open();
      try {
        const net2 = await conn2.networks.lookup('evport-iso');
        expect((await net2.listPorts()).map((p) => p.uuid)).toEqual([port?.uuid]);
        const dom2 = await conn2.lookupDomain('vk-evport');
        expect(await dom2.getXML()).toContain(`portid='${port?.uuid}'`);
        await dom2.destroy();
        // gone with the stop itself (given back as the stop is handled), before anything looks at
        // the network again: a listing would also drop a port whose owner no longer runs
        await waitFor(() => portFiles().length === 0, {
          what: 'removal of the port files',
          seen: () => `${portFiles()}`,
        });
        expect(portFiles()).toEqual([]);
        expect(await net2.listPorts()).toEqual([]);
        await net2.destroy();
      } finally {
        await conn2.close();
      }
      expect(qemuProcessesMentioning(roots.path)).toEqual([]);
    }, 90_000);
  },
);

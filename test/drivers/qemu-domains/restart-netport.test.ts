/**
 * A network port taken by a hot-plugged `<interface type='network'>` is
 * given back when the guest stops, also when the process that plugged it
 * is gone and a new one re-attached the guest from its status file (as
 * libvirt releases every interface's port at stop). As root: an isolated
 * network with a bridge of its own, real QEMU (TCG).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../../wait-for.js';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import { PORTS_SKIP, portsFixture } from '../qemu-network/ports-fixture.js';

const BR = 'vk-evport1';
const SKIP = PORTS_SKIP;
const fixture = portsFixture('vk-evport-', 'evport-iso', BR);
const { open, portFiles } = fixture;

describe.skipIf(!HAS_QEMU || SKIP !== '')(
  `a hot-plugged NIC's port across a restart${QEMU_NOTE}${SKIP}`,
  () => {
    it('the port a hot-plug took is released at stop by the process that re-attached the guest', async () => {
      const image = join(fixture.path, 'disk.img');
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
      expect(qemuProcessesMentioning(fixture.path)).toEqual([]);
    }, 90_000);
  },
);

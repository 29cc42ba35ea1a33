/**
 * Network ports outlive the connection that made them, as libvirt keeps
 * them in the network's state directory: as root, an isolated network
 * with a bridge of its own, a port made through the API and one a running
 * QEMU guest's `<interface type='network'>` took. After every connection
 * on the roots closed (the guest runs on) and a new one opened, the
 * guest's port is there with the same document; the API port, whose owner
 * is no running guest, is dropped with its file, as is the guest's port
 * once the re-attached guest stops. A network stop removes the port files.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAS_QEMU, QEMU_BINARY, QEMU_NOTE, qemuProcessesMentioning } from '../qemu-lifecycle/helpers.js';
import { PORTS_SKIP, portsFixture } from './ports-fixture.js';

const BR = 'vk-combo1';
const SKIP = PORTS_SKIP;
const fixture = portsFixture('vk-combo-ports-', 'combo-iso', BR);
const { open, portFiles, portsDir } = fixture;

describe.skipIf(!HAS_QEMU || SKIP !== '')(`network ports across a reopen${QEMU_NOTE}${SKIP}`, () => {
  it("keeps a running guest's port, drops ports whose owner does not run, and removes the files at stop", async () => {
    const guestMac = '52:54:00:c0:b1:01';
    const apiOwner = '0b8f5c3e-5a0c-4d2b-9e3d-6a1f2c4b7d01';
    const conn1 = await open();
    const net1 = await conn1.networks.create(
      `<network><name>combo-iso</name><bridge name='${BR}'/></network>`,
    );
    const apiPort = await net1.createPort(`<networkport><uuid>6f1d7e2a-3b4c-4d5e-8f90-a1b2c3d4e5f6</uuid>
  <owner><name>elsewhere</name><uuid>${apiOwner}</uuid></owner><mac address='52:54:00:c0:b1:02'/></networkport>`);
    const dom1 = await conn1.defineDomain(`<domain type='qemu'><name>vk-combo-ports</name>
  <memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>
  <interface type='network'><mac address='${guestMac}'/><source network='combo-iso'/><model type='virtio'/></interface>
  </devices></domain>`);
    await dom1.start();
    const ports1 = await net1.listPorts();
    expect(ports1.length).toBe(2);
    const guestPort = ports1.find((p) => p.uuid !== apiPort.uuid)!;
    const guestPortXml = await guestPort.getXML();
    expect(guestPortXml).toContain(`<mac address='${guestMac}'/>`);
    // each port is a file named by its UUID, holding its document
    expect(portFiles()).toEqual([`${apiPort.uuid}.xml`, `${guestPort.uuid}.xml`].sort());
    expect(readFileSync(join(portsDir(), `${guestPort.uuid}.xml`), 'utf8')).toBe(guestPortXml);
    const [pid] = qemuProcessesMentioning(fixture.path);
    expect(pid).toBeDefined();
    await conn1.close();

    // a new program's view: the guest still runs, its port is there; the API port's owner is no guest here
    const conn2 = await open();
    try {
      expect(qemuProcessesMentioning(fixture.path)).toEqual([pid]);
      const net2 = await conn2.networks.lookup('combo-iso');
      expect(await net2.isActive()).toBe(true);
      const ports2 = await net2.listPorts();
      expect(ports2.map((p) => p.uuid)).toEqual([guestPort.uuid]);
      expect(await ports2[0]!.getXML()).toBe(guestPortXml);
      expect(portFiles()).toEqual([`${guestPort.uuid}.xml`]);
      const dom2 = await conn2.lookupDomain('vk-combo-ports');
      expect((await dom2.getState()).state).toBe('running');
      expect(await dom2.getXML()).toContain(`portid='${guestPort.uuid}'`);
      // the re-attached guest stops: its port goes
      await dom2.destroy();
      expect(await net2.listPorts()).toEqual([]);
      expect(portFiles()).toEqual([]);
      // a new start takes a new port, and a network stop removes the files
      await dom2.start();
      expect((await net2.listPorts()).length).toBe(1);
      expect(portFiles().length).toBe(1);
      await dom2.destroy();
      expect(portFiles()).toEqual([]);
      await net2.createPort(`<networkport><uuid>6f1d7e2a-3b4c-4d5e-8f90-a1b2c3d4e5f7</uuid>
  <owner><name>elsewhere</name><uuid>${apiOwner}</uuid></owner><mac address='52:54:00:c0:b1:03'/></networkport>`);
      expect(portFiles().length).toBe(1);
      await net2.destroy();
      expect(existsSync(join(fixture.path, 'rundir', 'networks', 'combo-iso'))).toBe(false);
      expect(existsSync(`/sys/class/net/${BR}`)).toBe(false);
      await dom2.undefine();
    } finally {
      await conn2.close();
    }
    expect(qemuProcessesMentioning(fixture.path)).toEqual([]);
  }, 90_000);
});

/**
 * What a refused hot-plug says: the interface it was about (its alias, MAC,
 * place in the guest) when its network port cannot be had, and which
 * devices a plug would need that the running guest lacks. Real QEMU (TCG).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  QEMU_NOTE,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

let roots: TestRoots;
let conn: Connection;
let dom: Domain<Connection>;

beforeAll(async () => {
  if (!HAS_QEMU) return;
  roots = tempRoots('vk-hpmsg-');
  writeFileSync(join(roots.path, 'boot.img'), Buffer.alloc(1 << 20));
  conn = await connect('qemu:///session', {
    driverOptions: {
      cacheDir: null,
      runDir: join(roots.path, 'rundir'),
      stateDir: join(roots.path, 'state'),
      configDir: join(roots.path, 'config'),
      logDir: join(roots.path, 'log'),
      emulators: [QEMU_BINARY],
    },
  });
  dom =
    await conn.createDomain(`<domain type='qemu'><name>vk-hpmsg</name><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type></os><devices><emulator>${QEMU_BINARY}</emulator>
  <disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${roots.path}/boot.img'/><target dev='vda' bus='virtio'/></disk>
  <interface type='user'><mac address='52:54:00:aa:00:01'/><model type='virtio'/></interface>
  </devices></domain>`);
}, 60_000);

afterAll(async () => {
  if (!HAS_QEMU) return;
  await dom?.destroy().catch(() => {});
  await conn.close();
  for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
  roots.remove();
});

describe.skipIf(!HAS_QEMU)(`hot-plug refusals name what they are about${QEMU_NOTE}`, () => {
  it("a network NIC whose network does not exist: the guest's second interface, by alias and MAC", async () => {
    const before = await dom.getXML();
    const err = await dom
      .attachDevice(
        "<interface type='network'><mac address='52:54:00:aa:00:02'/><source network='vk-hpmsg-none'/><model type='virtio'/></interface>",
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'NO_NETWORK', field: '/domain/devices/interface[2]/source/@network' });
    expect((err as Error).message).toBe(
      "no network with matching name 'vk-hpmsg-none' (interface net1, MAC 52:54:00:aa:00:02)",
    );
    expect(await dom.getXML()).toBe(before);
  });

  it('a device that needs another one the running guest lacks: the message names it', async () => {
    // a SCSI disk on a guest without a SCSI controller: the define pass adds the controller
    writeFileSync(join(roots.path, 'sd.img'), Buffer.alloc(1 << 20));
    const err = await dom
      .attachDevice(
        `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${roots.path}/sd.img'/><target dev='sda' bus='scsi'/></disk>`,
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: '/domain/devices/disk[2]' });
    expect((err as Error).message).toMatch(
      /^the disk needs devices the running guest does not have: <controller type='scsi' index='0'[^>]*>$/,
    );
  });
});

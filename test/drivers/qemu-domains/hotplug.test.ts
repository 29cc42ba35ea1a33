/**
 * Device hotplug on real QEMU under qemu:///session: attach, detach and
 * update of disks and NICs on a running guest, checked through a second QMP
 * monitor of the same QEMU (`-qmp` through `<qemu:commandline>`): what QEMU
 * itself reports (`query-block`, `query-pci`, `query-named-block-nodes`),
 * not what virtkit says it did. The flags follow libvirt's
 * `virDomainAttachDeviceFlags`; bad input leaves both definitions as they
 * were. The guest here has no OS (so an unplug is never acknowledged):
 * `hotplug-linux.test.ts` boots one that sees the devices come and go.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp/index.js';
import { VirError } from '../../../src/errors.js';
import { waitFor } from '../../wait-for.js';
import { HAS_QEMU, QEMU_BINARY, qemuProcessesMentioning, type TestRoots } from '../qemu-lifecycle/helpers.js';
import { leftoversAfterAll } from '../real-guest.js';

const HAS_QEMU_IMG = (() => {
  try {
    execFileSync('qemu-img', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const SKIP = !HAS_QEMU ? `${QEMU_BINARY} not installed` : !HAS_QEMU_IMG ? 'no qemu-img (qemu-utils)' : '';

let roots: TestRoots;
let conn: Connection;

export function hotplugGuestXml(name: string, extraQmp: string, devices = ''): string {
  const ports = [1, 2, 3, 4, 5]
    .map((i) => `<controller type='pci' index='${i}' model='pcie-root-port'/>`)
    .join('');
  return `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    ${ports}
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <disk type='file' device='cdrom'><driver name='qemu' type='raw'/><target dev='sda' bus='sata'/><readonly/></disk>
    ${devices}
    <memballoon model='none'/>
  </devices>
  <qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:${extraQmp},server=on,wait=off'/></qemu:commandline>
</domain>`;
}

function image(name: string, format = 'qcow2'): string {
  const path = join(roots.path, name);
  execFileSync('qemu-img', ['create', '-q', '-f', format, path, '8M']);
  return path;
}

const disk = (path: string, dev: string, bus = 'virtio', extra = '') =>
  `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${path}'/><target dev='${dev}' bus='${bus}'/>${extra}</disk>`;

type Block = { qdev?: string; inserted?: { file?: string; 'node-name'?: string } };
type PciDev = { qdev_id: string; bus: number; slot: number; pci_bridge?: { devices: PciDev[] } };

function pciIds(buses: Array<{ devices: PciDev[] }>): string[] {
  const out: string[] = [];
  const walk = (ds: PciDev[]) => {
    for (const d of ds) {
      if (d.qdev_id) out.push(d.qdev_id);
      if (d.pci_bridge) walk(d.pci_bridge.devices);
    }
  };
  for (const b of buses) walk(b.devices);
  return out;
}

async function codeOf(p: Promise<unknown>): Promise<{ code: string; field?: string | undefined }> {
  try {
    await p;
  } catch (err) {
    if (err instanceof VirError) return { code: err.code, field: err.field };
    throw err;
  }
  throw new Error('expected a VirError');
}

const leftovers = leftoversAfterAll();

describe.skipIf(SKIP !== '')(`hotplug on a running QEMU guest${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  let dom: Domain;
  let qmp: QmpClient;

  beforeAll(async () => {
    roots = leftovers.roots('vk-hp-');
    conn = await leftovers.connect(roots.path);
    const extra = join(roots.path, 'x.qmp');
    dom = await conn.defineDomain(hotplugGuestXml('vk-hp', extra));
    await dom.start();
    qmp = await QmpClient.connect(extra);
  }, 60_000);

  // before the guests go with the file's leftovers

  afterAll(() => qmp?.close());

  it('a virtio disk attached live and config is in QEMU (query-block, query-pci) and in both definitions', async () => {
    const path = image('vdb.qcow2');
    const added = conn.events({ ids: ['device-added'] });
    await dom.attachDevice(disk(path, 'vdb'), { live: true, config: true });
    // libvirt's device-added, with the alias QEMU knows the device by (its qdev id, checked below)
    const ev = await added.next();
    expect(ev.value).toMatchObject({
      type: 'device-added',
      domain: { name: 'vk-hp' },
      devAlias: 'virtio-disk1',
    });
    added.end();
    const blocks = await qmp.execute<Block[]>('query-block');
    const vdb = blocks.find((b) => b.qdev?.includes('virtio-disk1'));
    expect(vdb?.inserted?.file).toBe(path);
    expect(pciIds(await qmp.execute('query-pci'))).toContain('virtio-disk1');
    // the address is assigned as at define: a free root port's slot
    const live = await dom.getDefinition();
    const d = live.devices?.disks?.find((x) => x.target.dev === 'vdb');
    expect(d?.address).toMatchObject({ type: 'pci', slot: 0 });
    const persistent = await dom.getDefinition({ inactive: true });
    expect(persistent.devices?.disks?.map((x) => x.target.dev)).toContain('vdb');
  });

  it('a user-mode NIC attached live only is a PCI device with its netdev, absent from the persistent XML', async () => {
    const added = conn.events({ ids: ['device-added'] });
    // an attach to the definition only is no device-added (libvirt emits it for live attaches only)
    await dom.attachDevice(disk(image('cfg.qcow2'), 'vdy'), { config: true });
    await dom.attachDevice(
      "<interface type='user'><mac address='52:54:00:aa:00:01'/><model type='virtio'/></interface>",
      {
        live: true,
      },
    );
    expect(pciIds(await qmp.execute('query-pci'))).toContain('net0');
    expect((await added.next()).value).toMatchObject({ type: 'device-added', devAlias: 'net0' });
    added.end();
    const live = await dom.getXML();
    expect(live).toContain("<mac address='52:54:00:aa:00:01'/>");
    expect(live).toContain("<alias name='net0'/>");
    expect(await dom.getXML({ inactive: true })).not.toContain('52:54:00:aa:00:01');
  });

  it('a SCSI disk goes on the existing controller, a USB disk on the USB bus', async () => {
    await dom.attachDevice(disk(image('sdb.qcow2'), 'sdb', 'scsi'), { live: true });
    await dom.attachDevice(disk(image('sdc.qcow2'), 'sdc', 'usb'), { live: true });
    const blocks = await qmp.execute<Block[]>('query-block');
    expect(blocks.map((b) => b.qdev)).toEqual(
      expect.arrayContaining([expect.stringContaining('scsi0-0-0-1'), expect.stringContaining('usb-disk2')]),
    );
  });

  it('a duplicate target, an address in use, an unknown bus: typed errors, nothing changes', async () => {
    const before = [await dom.getXML(), await dom.getXML({ inactive: true })];
    const nodes = (await qmp.execute<unknown[]>('query-named-block-nodes')).length;
    // libvirt 9 (remote/hotplug-daemon.test.ts compares): XML_ERROR, live and config alike
    expect(await codeOf(dom.attachDevice(disk(image('dup.qcow2'), 'vdb'), { live: true }))).toEqual({
      code: 'XML_ERROR',
      field: '/disk/target/@dev',
    });
    expect(await codeOf(dom.attachDevice(disk(image('dup2.qcow2'), 'vdb'), { config: true }))).toMatchObject({
      code: 'XML_ERROR',
    });
    const vdb = (await dom.getDefinition()).devices?.disks?.find((x) => x.target.dev === 'vdb');
    const a = vdb?.address as { bus: number; slot: number };
    const taken = `<address type='pci' domain='0x0000' bus='${a.bus}' slot='${a.slot}' function='0x0'/>`;
    const inUse = await codeOf(
      dom.attachDevice(disk(image('vdx.qcow2'), 'vdx', 'virtio', taken), { live: true }),
    );
    // the define-time check: one PCI address, two devices
    expect(inUse).toEqual({ code: 'XML_DETAIL', field: '/domain/devices' });
    const bus = await codeOf(dom.attachDevice(disk(image('vdy.qcow2'), 'vdy', 'floppybus'), { live: true }));
    expect(bus).toEqual({ code: 'XML_DETAIL', field: '/disk/target/@bus' });
    // libvirt: "disk bus 'sata' cannot be hotplugged."
    const ide = await codeOf(dom.attachDevice(disk(image('sdz.qcow2'), 'sdz', 'sata'), { live: true }));
    expect(ide).toMatchObject({ code: 'OPERATION_UNSUPPORTED', field: expect.stringContaining('@bus') });
    // never silently dropped: XML the model does not know is refused, naming it
    const unknown = await codeOf(
      dom.attachDevice(disk(image('vdu.qcow2'), 'vdu', 'virtio', '<frobnicate/>'), { live: true }),
    );
    expect(unknown).toMatchObject({
      code: 'CONFIG_UNSUPPORTED',
      field: expect.stringContaining('frobnicate'),
    });
    expect([await dom.getXML(), await dom.getXML({ inactive: true })]).toEqual(before);
    expect((await qmp.execute<unknown[]>('query-named-block-nodes')).length).toBe(nodes);
  });

  it('a device_add QEMU refuses after blockdev-add succeeded leaves no node behind', async () => {
    const nodes = await qmp.execute<Array<{ 'node-name': string }>>('query-named-block-nodes');
    // a SCSI target number virtio-scsi does not have: QEMU refuses it at device_add
    const addr = "<address type='drive' controller='0' bus='0' target='300' unit='0'/>";
    const e = await codeOf(dom.attachDevice(disk(image('sdq.qcow2'), 'sdq', 'scsi', addr), { live: true }));
    expect(e.code).toBe('OPERATION_FAILED');
    const after = await qmp.execute<Array<{ 'node-name': string }>>('query-named-block-nodes');
    expect(after.map((n) => n['node-name']).sort()).toEqual(nodes.map((n) => n['node-name']).sort());
    expect(await dom.getXML()).not.toContain("dev='sdq'");
  });

  it('detaching what is not there is DEVICE_MISSING; an unacknowledged unplug keeps the device listed', async () => {
    expect(
      await codeOf(dom.detachDevice("<disk type='file' device='disk'><target dev='vdz'/></disk>")),
    ).toEqual({
      code: 'DEVICE_MISSING',
      field: '/disk/target/@dev',
    });
    expect(
      await codeOf(dom.detachDevice("<interface type='user'><mac address='52:54:00:ff:ff:ff'/></interface>")),
    ).toMatchObject({ code: 'DEVICE_MISSING' });
    // no guest OS answers the unplug request: after libvirt's 5 s the call returns, the device stays
    const t0 = Date.now();
    await dom.detachDevice("<disk type='file' device='disk'><target dev='vdb'/></disk>", { live: true });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4_500);
    expect(await dom.getXML()).toContain("dev='vdb'");
    // config only: the persistent definition loses it at once
    await dom.detachDevice("<disk type='file' device='disk'><target dev='vdb'/></disk>", { config: true });
    expect(await dom.getXML({ inactive: true })).not.toContain("dev='vdb'");
  }, 20_000);

  it('updateDevice changes the CD-ROM medium and the NIC link state', async () => {
    const iso = image('cd.iso', 'raw');
    await dom.updateDevice(
      `<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='${iso}'/><target dev='sda' bus='sata'/><readonly/></disk>`,
      { live: true },
    );
    const cd = (await qmp.execute<Block[]>('query-block')).find((b) => b.qdev?.includes('sata0-0-0'));
    expect(cd?.inserted?.file).toBe(iso);
    // the new medium is numbered and its (raw) chain ended, as libvirt's live XML has it
    // (test/stats/qemu-hotplug-chain.test.ts checks the numbers against libvirtd)
    expect(await dom.getXML()).toMatch(new RegExp(`<source file='${iso}' index='\\d+'/>\\s*<backingStore/>`));
    await dom.updateDevice(
      "<interface type='user'><mac address='52:54:00:aa:00:01'/><model type='virtio'/><link state='down'/></interface>",
    );
    // (the guest's carrier going down is checked in hotplug-linux.test.ts)
    expect(await dom.getXML()).toContain("<link state='down'/>");
    // anything else about an interface cannot change live (libvirt: OPERATION_UNSUPPORTED)
    const other = await codeOf(
      dom.updateDevice(
        "<interface type='user'><mac address='52:54:00:aa:00:01'/><model type='e1000'/></interface>",
      ),
    );
    expect(other.code).toBe('OPERATION_UNSUPPORTED');
  });

  it('live on an inactive domain is OPERATION_INVALID; current on it changes the definition', async () => {
    const off = await conn.defineDomain(hotplugGuestXml('vk-hp-off', join(roots.path, 'off.qmp')));
    expect(await codeOf(off.attachDevice(disk(image('o.qcow2'), 'vdb'), { live: true }))).toEqual({
      code: 'OPERATION_INVALID',
      field: undefined,
    });
    await off.attachDevice(disk(image('o2.qcow2'), 'vdb'));
    expect(await off.getXML({ inactive: true })).toContain("dev='vdb'");
    await off.detachDevice("<disk type='file' device='disk'><target dev='vdb'/></disk>");
    expect(await off.getXML({ inactive: true })).not.toContain("dev='vdb'");
    await off.undefine();
  });

  it('a guest whose QEMU dies mid-attach: a typed error, both definitions unchanged', async () => {
    const extra = join(roots.path, 'die.qmp');
    const d = await conn.defineDomain(hotplugGuestXml('vk-hp-die', extra));
    await d.start();
    const before = await d.getXML({ inactive: true });
    const pid = qemuProcessesMentioning(extra)[0];
    if (pid === undefined) throw new Error('no QEMU process found');
    // stopped, QEMU cannot answer: the attach waits on the monitor until QEMU is killed
    process.kill(pid, 'SIGSTOP');
    const attach = codeOf(d.attachDevice(disk(image('die.qcow2'), 'vdb'), { live: true, config: true }));
    await new Promise((r) => setTimeout(r, 300));
    process.kill(pid, 'SIGKILL');
    // the monitor closed under the command (OPERATION_FAILED), or the exit was seen first
    expect((await attach).code).toMatch(/^(OPERATION_FAILED|OPERATION_INVALID)$/);
    expect(await d.getXML({ inactive: true })).toBe(before);
    await waitFor(async () => (await d.getState()).state === 'shutoff', { what: 'shutoff after the kill' });
    expect((await d.getState()).state).toBe('shutoff');
    expect(await d.getXML()).toBe(before);
  }, 30_000);
});

/**
 * Live hotplug of controllers, RNGs, watchdogs, virtio-serial channels and
 * memory modules on real QEMU under qemu:///session, checked through a
 * second QMP monitor of the same QEMU (`query-pci`, `qom-list /objects`,
 * `query-chardev`, `query-memory-devices`): what QEMU reports, not what
 * virtkit says it did. Which kinds plug live and the errors otherwise are
 * libvirt's (`qemuDomainAttachControllerDevice`: SCSI only;
 * `qemuDomainDetachPrepWatchdog`: i6300esb only; a busy controller stays).
 * The guest has no OS, so a PCI unplug is never acknowledged; a
 * virtio-serial port needs no guest to go (QEMU deletes it at once).
 * `hotplug-linux.test.ts` sees an RNG come and go inside a booted guest.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import { QmpClient } from '../../../src/drivers/qemu/qmp/index.js';
import { VirError } from '../../../src/errors.js';
import { HAS_QEMU, QEMU_BINARY, type TestRoots } from '../qemu-lifecycle/helpers.js';
import { leftoversAfterAll } from '../real-guest.js';

const SKIP = !HAS_QEMU ? `${QEMU_BINARY} not installed` : '';

let roots: TestRoots;
let conn: Connection;

function guestXml(name: string, extraQmp: string): string {
  const ports = [1, 2, 3, 4, 5, 6]
    .map((i) => `<controller type='pci' index='${i}' model='pcie-root-port'/>`)
    .join('');
  // memory hotplug needs a maximum with slots and a NUMA cell (libvirt's rules)
  return `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${name}</name>
  <maxMemory slots='4' unit='MiB'>1024</maxMemory>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <features><acpi/></features>
  <cpu><numa><cell id='0' cpus='0' memory='128' unit='MiB'/></numa></cpu>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    ${ports}
    <controller type='pci' index='7' model='pcie-root-port'/>
    <controller type='pci' index='8' model='pcie-to-pci-bridge'/>
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <controller type='virtio-serial' index='0'/>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:${extraQmp},server=on,wait=off'/></qemu:commandline>
</domain>`;
}

type PciDev = { qdev_id: string; pci_bridge?: { devices: PciDev[] } };

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

describe.skipIf(SKIP !== '')(`hotplug of more device kinds${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  let dom: Domain;
  let qmp: QmpClient;
  const objects = async () =>
    (await qmp.execute<Array<{ name: string }>>('qom-list', { path: '/objects' })).map((o) => o.name);
  const chardevs = async () => qmp.execute<Array<{ label: string; filename: string }>>('query-chardev');

  beforeAll(async () => {
    roots = leftovers.roots('vk-hpk-');
    conn = await leftovers.connect(roots.path);
    const extra = join(roots.path, 'x.qmp');
    dom = await conn.defineDomain(guestXml('vk-hotplug2-kinds', extra));
    await dom.start();
    qmp = await QmpClient.connect(extra);
  }, 60_000);

  // before the guests go with the file's leftovers

  afterAll(() => qmp?.close());

  it('an RNG attached live and config is a virtio-rng PCI device on its backend object, alias in the live XML only', async () => {
    await dom.attachDevice("<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>", {
      live: true,
      config: true,
    });
    expect(pciIds(await qmp.execute('query-pci'))).toContain('rng0');
    expect(await objects()).toContain('objrng0');
    const filename = await qmp.execute('qom-get', { path: '/objects/objrng0', property: 'filename' });
    expect(filename).toBe('/dev/urandom');
    const live = await dom.getXML();
    // after the device's own children, before its address, as libvirt 9.0's live XML has it
    // (a private libvirtd's dumpxml of a running guest with an RNG)
    expect(live).toMatch(
      /<rng model='virtio'>\s*<backend model='random'>\/dev\/urandom<\/backend>\s*<alias name='rng0'\/>\s*<address /,
    );
    // its address is assigned as at define: a free root port
    expect((await dom.getDefinition()).devices?.rngs?.[0]?.address).toMatchObject({ type: 'pci', slot: 0 });
    const persistent = await dom.getXML({ inactive: true });
    expect(persistent).toContain('/dev/urandom');
    expect(persistent).not.toContain("<alias name='rng0'/>");
    // a second one, builtin, takes the next free id
    await dom.attachDevice("<rng model='virtio'><backend model='builtin'/></rng>", { live: true });
    expect(pciIds(await qmp.execute('query-pci'))).toContain('rng1');
    expect(await objects()).toContain('objrng1');
  });

  it('a SCSI controller plugs live; other controller types, a duplicate index, a busy controller are refused', async () => {
    await dom.attachDevice("<controller type='scsi' index='1' model='virtio-scsi'/>", { live: true });
    expect(pciIds(await qmp.execute('query-pci'))).toContain('scsi1');
    expect(await dom.getXML()).toContain("<controller type='scsi' index='1' model='virtio-scsi'>");
    const before = [await dom.getXML(), await dom.getXML({ inactive: true })];
    // libvirt: "target scsi:1 already exists" (OPERATION_FAILED)
    expect(await codeOf(dom.attachDevice("<controller type='scsi' index='1' model='virtio-scsi'/>"))).toEqual(
      {
        code: 'OPERATION_FAILED',
        field: '/controller/@index',
      },
    );
    // libvirt: "'usb' controller cannot be hot plugged." / "... hot unplugged."
    expect(
      await codeOf(dom.attachDevice("<controller type='usb' index='5' model='qemu-xhci'/>", { live: true })),
    ).toMatchObject({ code: 'OPERATION_UNSUPPORTED', field: expect.stringContaining('@type') });
    expect(
      await codeOf(dom.detachDevice("<controller type='virtio-serial' index='0'/>", { live: true })),
    ).toMatchObject({ code: 'OPERATION_UNSUPPORTED' });
    expect(
      await codeOf(dom.detachDevice("<controller type='scsi' index='7'/>", { live: true })),
    ).toMatchObject({
      code: 'DEVICE_MISSING',
    });
    expect([await dom.getXML(), await dom.getXML({ inactive: true })]).toEqual(before);
  });

  it('a disk on the new SCSI controller makes it busy: libvirt refuses to detach it', async () => {
    const img = join(roots.path, 'sd.raw');
    const { execFileSync } = await import('node:child_process');
    execFileSync('qemu-img', ['create', '-q', '-f', 'raw', img, '4M']);
    await dom.attachDevice(
      `<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='${img}'/><target dev='sdb' bus='scsi'/><address type='drive' controller='1' bus='0' target='0' unit='0'/></disk>`,
      { live: true },
    );
    expect(
      await codeOf(dom.detachDevice("<controller type='scsi' index='1'/>", { live: true })),
    ).toMatchObject({
      code: 'OPERATION_FAILED',
    });
    expect(pciIds(await qmp.execute('query-pci'))).toContain('scsi1');
  });

  // i6300esb is conventional PCI: on q35 it goes on the pcie-to-pci-bridge (libvirt's address rules)
  it("an i6300esb watchdog plugs live next to q35's implicit iTCO; ib700 and a second action are refused as libvirt does", async () => {
    await dom.attachDevice("<watchdog model='i6300esb' action='reset'/>", { live: true });
    const def = await dom.getDefinition();
    // libvirt gives q35 an iTCO watchdog at define: the new one comes after it
    expect(def.devices?.watchdogs?.map((w) => w.model)).toEqual(['itco', 'i6300esb']);
    const alias = /<watchdog model='i6300esb'[^>]*>\s*<alias name='(watchdog\d+)'\/>/.exec(
      await dom.getXML(),
    )?.[1];
    expect(alias).toBe('watchdog1');
    expect(pciIds(await qmp.execute('query-pci'))).toContain(alias);
    expect(
      await codeOf(dom.attachDevice("<watchdog model='ib700' action='reset'/>", { live: true })),
    ).toEqual({
      code: 'OPERATION_UNSUPPORTED',
      field: '/domain/devices/watchdog[3]/@model',
    });
    // QEMU has one action for all watchdogs
    expect(
      await codeOf(dom.attachDevice("<watchdog model='i6300esb' action='poweroff'/>", { live: true })),
    ).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: expect.stringContaining('@action') });
    // libvirt: "hot unplug of watchdog of model itco is not supported"
    expect(await codeOf(dom.detachDevice("<watchdog model='itco' action='reset'/>", { live: true }))).toEqual(
      {
        code: 'OPERATION_UNSUPPORTED',
        field: '/domain/devices/watchdog[1]/@model',
      },
    );
  });

  it('a unix virtio channel plugs as chardev + virtserialport and unplugs at once (no guest needed)', async () => {
    const sock = join(roots.path, 'vk-hotplug2.chan');
    await dom.attachDevice(
      `<channel type='unix'><source mode='bind' path='${sock}'/><target type='virtio' name='org.virtkit.test.0'/></channel>`,
      { live: true, config: true },
    );
    const chr = (await chardevs()).find((c) => c.label === 'charchannel0');
    expect(chr?.filename).toContain(sock);
    expect(existsSync(sock)).toBe(true);
    const port = await qmp.execute('qom-get', { path: '/machine/peripheral/channel0', property: 'name' });
    expect(port).toBe('org.virtkit.test.0');
    // the address is assigned as at define: a port of the existing virtio-serial controller
    const def = await dom.getDefinition();
    expect(def.devices?.channels?.[0]?.address).toMatchObject({ type: 'virtio-serial', controller: 0 });
    // the alias after <target>, before <address>, as libvirt 9.0 writes a channel's
    expect(await dom.getXML()).toMatch(
      /<target type='virtio' name='org.virtkit.test.0'[^>]*\/>\s*<alias name='channel0'\/>\s*<address type='virtio-serial'/,
    );
    expect(await dom.getXML({ inactive: true })).toContain('org.virtkit.test.0');
    const t0 = Date.now();
    await dom.detachDevice(
      "<channel type='unix'><target type='virtio' name='org.virtkit.test.0'/></channel>".replace(
        "type='unix'>",
        `type='unix'><source mode='bind' path='${sock}'/>`,
      ),
      { live: true },
    );
    // DEVICE_DELETED came before libvirt's 5 s: the port is gone, and so is its chardev
    expect(Date.now() - t0).toBeLessThan(4_000);
    expect((await chardevs()).map((c) => c.label)).not.toContain('charchannel0');
    expect(await dom.getXML()).not.toContain('org.virtkit.test.0');
    // live only: the persistent definition keeps it
    expect(await dom.getXML({ inactive: true })).toContain('org.virtkit.test.0');
  });

  it("a unix channel without a path listens in this run's directory, beside the monitor socket", async () => {
    await dom.attachDevice(
      "<channel type='unix'><target type='virtio' name='org.virtkit.nopath.0'/></channel>",
      {
        live: true,
      },
    );
    const all = await chardevs();
    const monitor = all.find((c) => c.label === 'charmonitor')?.filename ?? '';
    const chan = all.find((c) => c.filename.includes('org.virtkit.nopath.0'))?.filename ?? '';
    const dirOf = (f: string) => /unix:(.*)\/[^/,]+(,|$)/.exec(f)?.[1];
    expect(dirOf(monitor)).toBeDefined();
    expect(dirOf(chan)).toBe(dirOf(monitor));
    expect(existsSync(`${dirOf(chan)}/org.virtkit.nopath.0`)).toBe(true);
    // the live XML names the socket, as libvirt's; a live detach names it too (libvirt compares sources)
    const source = `<source mode='bind' path='${dirOf(chan)}/org.virtkit.nopath.0'/>`;
    expect(await dom.getXML()).toContain(source);
    await dom.detachDevice(
      `<channel type='unix'>${source}<target type='virtio' name='org.virtkit.nopath.0'/></channel>`,
      { live: true },
    );
    expect(await dom.getXML()).not.toContain('org.virtkit.nopath.0');
  });

  it('a pty channel gets its /dev/pts path in the live XML, as at start', async () => {
    await dom.attachDevice("<channel type='pty'><target type='virtio' name='org.virtkit.pty.0'/></channel>", {
      live: true,
    });
    const chr = (await chardevs()).find((c) => c.label === 'charchannel0');
    expect(chr?.filename).toMatch(/^pty:\/dev\/pts\/\d+$/);
    expect(await dom.getXML()).toContain(`<source path='${chr?.filename.slice(4)}'/>`);
  });

  it('a DIMM plugs live with its memory backend (query-memory-devices)', async () => {
    await dom.attachDevice(
      "<memory model='dimm'><target><size unit='MiB'>128</size><node>0</node></target></memory>",
      { live: true },
    );
    const mems =
      await qmp.execute<Array<{ type: string; data: { id?: string; size: number; memdev: string } }>>(
        'query-memory-devices',
      );
    expect(mems).toHaveLength(1);
    expect(mems[0]?.type).toBe('dimm');
    expect(mems[0]?.data.size).toBe(128 * 1024 * 1024);
    expect(mems[0]?.data.memdev).toMatch(/^\/objects\/memdimm\d+$/);
    expect(await objects()).toContain(mems[0]?.data.memdev.slice('/objects/'.length));
    expect(await dom.getXML()).toContain(`<alias name='${mems[0]?.data.id}'/>`);
  });

  it('detaching what is not there is DEVICE_MISSING; both definitions unchanged', async () => {
    const before = [await dom.getXML(), await dom.getXML({ inactive: true })];
    expect(
      await codeOf(
        dom.detachDevice("<rng model='virtio'><backend model='random'>/dev/hwrng</backend></rng>"),
      ),
    ).toMatchObject({ code: 'DEVICE_MISSING' });
    expect(
      await codeOf(
        dom.detachDevice("<channel type='pty'><target type='virtio' name='org.nowhere.0'/></channel>"),
      ),
    ).toMatchObject({ code: 'DEVICE_MISSING' });
    // a channel whose chardev QEMU cannot open (no such directory to listen in) is undone: nothing stays behind
    const labels = (await chardevs()).map((c) => c.label).sort();
    const bad = await codeOf(
      dom.attachDevice(
        `<channel type='unix'><source mode='bind' path='${join(roots.path, 'no-such-dir', 'x.sock')}'/><target type='virtio' name='org.virtkit.bad.0'/></channel>`,
        { live: true },
      ),
    );
    expect(bad.code).toBe('OPERATION_FAILED');
    expect((await chardevs()).map((c) => c.label).sort()).toEqual(labels);
    expect([await dom.getXML(), await dom.getXML({ inactive: true })]).toEqual(before);
  });

  it('detaching throttled disks leaves none of their nodes; the domain-level throttle group stays (libvirt)', async () => {
    const { execFileSync } = await import('node:child_process');
    const img = (n: string) => {
      const path = join(roots.path, n);
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path, '4M']);
      return path;
    };
    const extra = join(roots.path, 'thr.qmp');
    // SCSI disks: QEMU unplugs them from the bus at once, no guest needed
    const xml = guestXml('vk-hotplug2-thr', extra)
      .replace(
        '<memballoon',
        `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${img('f.qcow2')}'/><target dev='sda' bus='scsi'/><throttlefilters><throttlefilter group='g1'/></throttlefilters></disk>
    <disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${img('i.qcow2')}'/><target dev='sdb' bus='scsi'/><iotune><total_bytes_sec>1000000</total_bytes_sec><group_name>legacy</group_name></iotune></disk>
    <memballoon`,
      )
      .replace(
        '<devices>',
        '<throttlegroups><throttlegroup><total_bytes_sec>2000000</total_bytes_sec><group_name>g1</group_name></throttlegroup></throttlegroups>\n  <devices>',
      );
    const d = await conn.defineDomain(xml);
    await d.start();
    const q = await QmpClient.connect(extra);
    try {
      const names = async () =>
        (await q.execute<Array<{ 'node-name': string }>>('query-named-block-nodes')).map(
          (n) => n['node-name'],
        );
      const at = await names();
      expect(at.filter((n) => n.endsWith('-filter'))).toHaveLength(1);
      await d.detachDevice("<disk type='file' device='disk'><target dev='sda'/></disk>", { live: true });
      await d.detachDevice("<disk type='file' device='disk'><target dev='sdb'/></disk>", { live: true });
      expect(await d.getXML()).not.toContain('<disk');
      // every libvirt-N-* node of both chains is gone: filter, format and file nodes
      expect((await names()).filter((n) => n.startsWith('libvirt-'))).toEqual([]);
      const objs = (await q.execute<Array<{ name: string }>>('qom-list', { path: '/objects' })).map(
        (o) => o.name,
      );
      expect(objs).toContain('throttle-g1');
    } finally {
      q.close();
      await d.destroy();
    }
  }, 60_000);

  it('a pcie-root-port without an index: refused when it would be controller 0 (libvirt 9), else the next index on pcie.0', async () => {
    const q35 = (ctrls: string) =>
      `<domain type='qemu'><name>vk-hotplug2-pci</name><memory unit='MiB'>64</memory><os><type arch='x86_64' machine='q35'>hvm</type></os><devices><emulator>${QEMU_BINARY}</emulator>${ctrls}<rng model='virtio'><backend model='random'>/dev/urandom</backend></rng></devices></domain>`;
    // libvirt 9.0's words (checked with its qemu driver): the lowest free index is 0, which must be the root
    expect(await codeOf(conn.defineDomain(q35("<controller type='pci' model='pcie-root-port'/>")))).toEqual({
      code: 'XML_ERROR',
      field: "/domain/devices/controller[@type='pci'][@index=0]/@model",
    });
    expect((await conn.listDomains()).map((d) => d.name)).not.toContain('vk-hotplug2-pci');
    const d = await conn.defineDomain(
      q35(
        "<controller type='pci' index='0' model='pcie-root'/><controller type='pci' model='pcie-root-port'/>",
      ),
    );
    const ctrls = (await d.getDefinition({ inactive: true })).devices?.controllers ?? [];
    const port = ctrls.find((c) => c.model === 'pcie-root-port');
    expect(port?.index).toBe(1);
    // as libvirt 9.0 lays it out: the port at 00:01.0, the xHCI behind it, the RNG behind an implied port 3
    expect(port?.address).toMatchObject({ type: 'pci', bus: 0, slot: 1, function: 0 });
    expect(ctrls.find((c) => c.type === 'usb')?.address).toMatchObject({ type: 'pci', bus: 1, slot: 0 });
    const rng = (await d.getDefinition({ inactive: true })).devices?.rngs?.[0];
    expect(rng?.address).toMatchObject({ type: 'pci', bus: 3, slot: 0 });
    await d.undefine();
  });
});

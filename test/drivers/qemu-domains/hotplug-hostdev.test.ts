/**
 * Live hotplug of host devices and the vsock on real QEMU under
 * qemu:///session, checked through a second QMP monitor of the same QEMU
 * (`qom-list /machine/peripheral`, `query-named-block-nodes`,
 * `device-list-properties`): what QEMU reports, not what virtkit says.
 *
 * What runs on any host: QEMU refusing a host device the host does not
 * have (its reason in the typed error, what was added before removed, both
 * definitions unchanged, a second attempt the same), the SCSI backend node
 * removed when QEMU refuses the `scsi-generic` on it (a copy of sysfs whose
 * LUN's generic device is `/dev/null`: a real character device QEMU opens
 * and then finds is no SG device), libvirt's refusals (mode, type, a
 * device already there, an unknown bus, a vsock without
 * `/dev/vhost-vsock`). The plugs that need the host's hardware (a PCI
 * function bound to vfio-pci, a `/dev/sgN`, `/dev/vhost-vsock`) run where
 * the host has it and are skipped, visibly, where not.
 */
import { execFileSync } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addedDevice, parseDeviceElement, xmlWithDevice } from '../../../src/conf/domain/device-edit.js';
import type { HostdevDef } from '../../../src/conf/domain/devices/index.js';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { type Connection, connect } from '../../../src/connection.js';
import type { Domain } from '../../../src/domain.js';
import {
  hostdevSteps,
  nextHostdevAlias,
  refuseHostdevPlug,
  stampHostdevAliases,
} from '../../../src/drivers/qemu/domains/hotplug-hostdev.js';
import { QmpClient, QmpError } from '../../../src/drivers/qemu/qmp/index.js';
import { VirError } from '../../../src/errors.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';
import { connectUnder } from '../real-guest.js';

/** What `device_add` itself takes (qdev_device_add), not properties of the device's class. */
const DEVICE_ADD_OWN = new Set(['driver', 'id', 'bus']);

const SKIP = !HAS_QEMU ? `${QEMU_BINARY} not installed` : '';

/** A PCI function of this host bound to vfio-pci, with /dev/vfio present: the success path needs one. */
const VFIO_PCI = (() => {
  if (!existsSync('/dev/vfio')) return undefined;
  for (const d of readdirSync('/sys/bus/pci/devices')) {
    try {
      if (realpathSync(`/sys/bus/pci/devices/${d}/driver`).endsWith('/vfio-pci')) return d;
    } catch {}
  }
  return undefined;
})();
/** A SCSI LUN of this host with its generic device (`H:B:T:U`). */
const SG_LUN = (() => {
  try {
    for (const lun of readdirSync('/sys/bus/scsi/devices'))
      if (/^\d+:\d+:\d+:\d+$/.test(lun) && existsSync(`/sys/bus/scsi/devices/${lun}/scsi_generic`))
        return lun;
  } catch {}
  return undefined;
})();
const VHOST_VSOCK = (() => {
  try {
    accessSync('/dev/vhost-vsock', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
})();

const ABSENT_PCI = (() => {
  // a PCI address no host has in practice; checked, not assumed
  const name = '0000:ff:1f.7';
  return existsSync(`/sys/bus/pci/devices/${name}`) ? undefined : name;
})();

function pciHostdev(name: string, extra = '', managed = 'no'): string {
  const [dom, bus, sf] = name.split(':') as [string, string, string];
  const [slot, fn] = sf.split('.') as [string, string];
  return `<hostdev mode='subsystem' type='pci' managed='${managed}'><source><address domain='0x${dom}' bus='0x${bus}' slot='0x${slot}' function='0x${fn}'/></source>${extra}</hostdev>`;
}

function guestXml(name: string, extraQmp: string): string {
  const ports = [1, 2, 3, 4]
    .map((i) => `<controller type='pci' index='${i}' model='pcie-root-port'/>`)
    .join('');
  return `<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>${name}</name>
  <memory unit='MiB'>128</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices>
    <emulator>${QEMU_BINARY}</emulator>
    ${ports}
    <controller type='scsi' index='0' model='virtio-scsi'/>
    <controller type='usb' index='0' model='qemu-xhci'/>
    <memballoon model='none'/>
  </devices>
  <qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:${extraQmp},server=on,wait=off'/></qemu:commandline>
</domain>`;
}

async function failure(p: Promise<unknown>): Promise<VirError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof VirError) return err;
    throw err;
  }
  throw new Error('expected a VirError');
}

describe('host device rules on definitions (libvirt: alias one above the highest, one user per host device)', () => {
  const def = (devices: string) =>
    DomainDef.fromXML(
      `<domain type='kvm'><name>a</name><memory>1024</memory><os><type>hvm</type></os><devices>${devices}</devices></domain>`,
    );
  it('aliases: the start numbering stamped, a new device one above the highest hostdevN', () => {
    const d = def(
      `${pciHostdev('0000:01:00.0')}${pciHostdev('0000:02:00.0', "<alias name='ua-x'/>")}${pciHostdev('0000:03:00.0')}`,
    );
    stampHostdevAliases(d);
    const xml = d.toXML();
    // a user alias takes no number (hostdevs.ts at start)
    expect(xml).toMatch(
      /0x01'[\s\S]*<\/source>\s*<alias name='hostdev0'\/>[\s\S]*ua-x[\s\S]*<alias name='hostdev1'\/>/,
    );
    expect(nextHostdevAlias(d)).toBe('hostdev2');
  });
  it('a host device another running guest (or this one) has is refused, naming the guest', () => {
    const other = def(pciHostdev('0000:01:00.0'));
    const h = def(pciHostdev('0000:01:00.0')).devices?.hostdevs?.[0] as HostdevDef;
    let err: unknown;
    try {
      refuseHostdevPlug(
        [
          { name: 'me', live: def('') },
          { name: 'peer', live: other },
        ],
        h,
        '/hostdev',
      );
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'OPERATION_INVALID', field: '/hostdev/source' });
    expect((err as Error).message).toBe('PCI device 0000:01:00.0 is in use by driver QEMU, domain peer');
    const free = def(pciHostdev('0000:02:00.0')).devices?.hostdevs?.[0] as HostdevDef;
    expect(() => refuseHostdevPlug([{ name: 'peer', live: other }], free, '/hostdev')).not.toThrow();
  });
});

describe("the test driver, as libvirt's: no device calls", () => {
  it('attachDevice and detachDevice are NO_SUPPORT (python3-libvirt on test:///default agrees)', async () => {
    const c = await connect('test:///default');
    const d = await c.lookupDomain({ name: 'test' });
    const x = pciHostdev('0000:00:05.0');
    expect((await failure(d.attachDevice(x))).code).toBe('NO_SUPPORT');
    expect((await failure(d.detachDevice("<vsock model='virtio'><cid auto='yes'/></vsock>"))).code).toBe(
      'NO_SUPPORT',
    );
    await c.close();
    const peer = existsSync('/usr/bin/python3')
      ? execFileSync(
          '/usr/bin/python3',
          [
            '-c',
            `import libvirt,sys
libvirt.registerErrorHandler(lambda *a: None, None)
d=libvirt.open('test:///default').lookupByName('test')
try:
    d.attachDeviceFlags(sys.argv[1], 0)
    print('ok')
except libvirt.libvirtError as e:
    print(e.get_error_code() == libvirt.VIR_ERR_NO_SUPPORT)`,
            x,
          ],
          { encoding: 'utf8' },
        ).trim()
      : 'True';
    expect(peer).toBe('True');
  });
});

describe.skipIf(SKIP !== '')(
  `host device and vsock hotplug on real QEMU${SKIP ? ` (skipped: ${SKIP})` : ''}`,
  () => {
    let roots: TestRoots;
    let conn: Connection;
    let dom: Domain;
    let qmp: QmpClient;
    const peripherals = async () =>
      (await qmp.execute<Array<{ name: string }>>('qom-list', { path: '/machine/peripheral' })).map(
        (o) => o.name,
      );
    const nodes = async () =>
      (await qmp.execute<Array<{ 'node-name': string; file: string }>>('query-named-block-nodes')).map(
        (n) => `${n['node-name']}=${n.file}`,
      );
    const both = async () => [await dom.getXML(), await dom.getXML({ inactive: true })];

    beforeAll(async () => {
      roots = tempRoots('vk-hphd-');
      // a copy of sysfs: one SCSI LUN whose generic device is /dev/null
      const sys = join(roots.path, 'sys');
      mkdirSync(join(sys, 'bus/scsi/devices/7:0:0:0/scsi_generic/null'), { recursive: true });
      conn = await connectUnder(roots.path, undefined, {
        sysRoot: sys,
        vhostVsock: join(roots.path, 'no-vhost-vsock'),
      });
      const extra = join(roots.path, 'x.qmp');
      dom = await conn.defineDomain(guestXml('vk-hotplug-hostdev', extra));
      await dom.start();
      qmp = await QmpClient.connect(extra);
    }, 60_000);

    afterAll(async () => {
      try {
        qmp?.close();
        if (conn && !conn.isClosed) {
          for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
          await conn.close();
        }
      } finally {
        for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
        roots.remove();
      }
    }, 30_000);

    it.skipIf(!ABSENT_PCI)(
      'a PCI function the host lacks: QEMU refuses it, nothing changes, twice alike',
      async () => {
        const before = await both();
        const ids = await peripherals();
        const first = await failure(dom.attachDevice(pciHostdev(ABSENT_PCI as string), { live: true }));
        expect(first).toBeInstanceOf(QmpError);
        expect(first.code).toBe('OPERATION_FAILED');
        expect((first as QmpError).command).toBe('device_add');
        // QEMU's reason: vfio looked for the host device in sysfs
        expect(first.message).toContain(`vfio /sys/bus/pci/devices/${ABSENT_PCI}`);
        expect(await both()).toEqual(before);
        expect(await peripherals()).toEqual(ids);
        const second = await failure(dom.attachDevice(pciHostdev(ABSENT_PCI as string), { live: true }));
        expect(second.message).toBe(first.message);
        expect(await both()).toEqual(before);
      },
    );

    it.skipIf(!ABSENT_PCI)(
      "managed='yes': the PCI function is handed to vfio-pci in sysfs and given back when QEMU refuses it",
      async () => {
        // the copy of sysfs holds the function, already bound to vfio-pci (the kernel is not there to rebind it)
        const sys = join(roots.path, 'sys');
        const dev = join(sys, 'devices/pci0000:ff', ABSENT_PCI as string);
        mkdirSync(join(sys, 'bus/pci/drivers/vfio-pci'), { recursive: true });
        mkdirSync(join(sys, 'bus/pci/devices'), { recursive: true });
        mkdirSync(join(sys, 'kernel/iommu_groups/9'), { recursive: true });
        mkdirSync(dev, { recursive: true });
        symlinkSync(join(sys, 'bus/pci/drivers/vfio-pci'), join(dev, 'driver'));
        symlinkSync(join(sys, 'kernel/iommu_groups/9'), join(dev, 'iommu_group'));
        symlinkSync(dev, join(sys, 'bus/pci/devices', ABSENT_PCI as string));
        const before = await both();
        const err = await failure(
          dom.attachDevice(pciHostdev(ABSENT_PCI as string, '', 'yes'), { live: true }),
        );
        // QEMU looks at the real host, which has no such function
        expect((err as QmpError).command).toBe('device_add');
        // given back: driver_override cleared and the kernel asked to probe the function again
        expect(readFileSync(join(dev, 'driver_override'), 'utf8')).toBe('\n');
        expect(readFileSync(join(sys, 'bus/pci/drivers_probe'), 'utf8')).toBe(ABSENT_PCI);
        expect(await both()).toEqual(before);
      },
    );

    it('a mediated device and a USB device the host lacks: QEMU says which file it did not find', async () => {
      const before = await both();
      const uuid = 'c2177883-f1bb-47f0-914d-32a22e3a8804';
      if (!existsSync(`/sys/bus/mdev/devices/${uuid}`)) {
        const m = await failure(
          dom.attachDevice(
            `<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='${uuid}'/></source></hostdev>`,
            { live: true },
          ),
        );
        expect(m.message).toContain(`/sys/bus/mdev/devices/${uuid}`);
      }
      if (!existsSync('/dev/bus/usb/250/250')) {
        const u = await failure(
          dom.attachDevice(
            "<hostdev mode='subsystem' type='usb'><source><address bus='250' device='250'/></source></hostdev>",
            { live: true },
          ),
        );
        expect((u as QmpError).command).toBe('device_add');
        expect(u.message).toContain('/dev/bus/usb/250/250');
      }
      // by vendor and product: looked up in (the copy of) sysfs first, as libvirt does
      const v = await failure(
        dom.attachDevice(
          "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1234'/><product id='0x5678'/></source></hostdev>",
          { live: true },
        ),
      );
      expect(v).toMatchObject({ code: 'OPERATION_FAILED', message: 'Did not find USB device 1234:5678' });
      expect(await both()).toEqual(before);
    });

    it('a SCSI LUN: its backend node is made, QEMU refuses the scsi-generic on it, the node is removed', async () => {
      const before = await both();
      const nodesBefore = await nodes();
      const x =
        "<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host7'/><address bus='0' target='0' unit='0'/></source></hostdev>";
      const err = await failure(dom.attachDevice(x, { live: true }));
      expect((err as QmpError).command).toBe('device_add');
      // QEMU opened /dev/null as the backend and found it is no SCSI generic device
      expect(err.message).toMatch(/SG_IO|scsi generic/i);
      expect(await nodes()).toEqual(nodesBefore);
      expect(await both()).toEqual(before);
      // a LUN the host has no generic device for: refused before anything is sent
      const none = await failure(dom.attachDevice(x.replace('scsi_host7', 'scsi_host8'), { live: true }));
      expect(none).toMatchObject({
        code: 'OPERATION_FAILED',
        field: '/domain/devices/hostdev[1]/source/adapter',
      });
      expect(none.message).toContain('scsi_host8:0:0:0');
    });

    it("libvirt's refusals: mode, type, ramfb, an unknown bus, a device already in the definition", async () => {
      const before = await both();
      const caps = await failure(
        dom.attachDevice(
          "<hostdev mode='capabilities' type='storage'><source><block>/dev/sdf1</block></source></hostdev>",
          { live: true },
        ),
      );
      expect(caps).toMatchObject({
        code: 'CONFIG_UNSUPPORTED',
        message: "hotplug is not supported for hostdev mode 'capabilities'",
      });
      const vhost = await failure(
        dom.attachDevice(
          "<hostdev mode='subsystem' type='scsi_host'><source protocol='vhost' wwpn='naa.5123456789abcde0'/></hostdev>",
          { live: true },
        ),
      );
      expect(vhost.message).toBe("hotplug is not supported for hostdev subsys type 'scsi_host'");
      const ramfb = await failure(
        dom.attachDevice(
          "<hostdev mode='subsystem' type='mdev' model='vfio-pci' display='on' ramfb='on'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>",
          { live: true },
        ),
      );
      expect(ramfb).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: '/domain/devices/hostdev[1]/@ramfb' });
      const bus = await failure(
        dom.attachDevice(
          pciHostdev('0000:ff:1f.6', "<address type='pci' domain='0' bus='0x30' slot='0' function='0'/>"),
          {
            live: true,
          },
        ),
      );
      expect(bus).toMatchObject({ code: 'XML_ERROR', field: '/domain/devices/hostdev[1]/address/@bus' });
      const used = await failure(
        dom.attachDevice(
          pciHostdev('0000:ff:1f.6', "<address type='pci' domain='0' bus='0' slot='1' function='0'/>"),
          {
            live: true,
          },
        ),
      );
      expect(used.code).toBe('XML_DETAIL');
      expect(used.message).toContain('used by more than one device');
      expect(await both()).toEqual(before);
      // the persistent definition takes it once; the second time libvirt's words
      await dom.attachDevice(pciHostdev('0000:ff:1f.6', '', 'yes'), { config: true });
      const again = await failure(dom.attachDevice(pciHostdev('0000:ff:1f.6'), { config: true }));
      expect(again).toMatchObject({
        code: 'OPERATION_INVALID',
        message: 'device is already in the domain configuration',
      });
      // a detach names it by its source alone, whatever else the fragment says
      await dom.detachDevice(
        "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0xff' slot='0x1f' function='6'/></source></hostdev>",
        { config: true },
      );
      expect(await dom.getXML({ inactive: true })).toBe(before[1]);
      const missing = await failure(dom.detachDevice(pciHostdev('0000:ff:1f.6'), { live: true }));
      expect(missing).toMatchObject({
        code: 'DEVICE_MISSING',
        message: 'host pci device 0000:ff:1f.6 not found',
      });
    });

    it('a vsock without /dev/vhost-vsock: CONFIG_UNSUPPORTED naming it; detaching none is DEVICE_MISSING', async () => {
      const before = await both();
      const err = await failure(
        dom.attachDevice("<vsock model='virtio'><cid auto='yes'/></vsock>", { live: true }),
      );
      expect(err.code).toBe('CONFIG_UNSUPPORTED');
      expect(err.message).toContain(join(roots.path, 'no-vhost-vsock'));
      expect(err.message).toContain('ENOENT');
      expect(await peripherals()).not.toContain('vsock0');
      expect(await both()).toEqual(before);
      const none = await failure(
        dom.detachDevice("<vsock model='virtio'><cid auto='yes'/></vsock>", { live: true }),
      );
      expect(none).toMatchObject({ code: 'DEVICE_MISSING', message: 'matching vsock device not found' });
      // the persistent definition takes one, refuses a second, and a detach names it by model and CID
      await dom.attachDevice("<vsock model='virtio'><cid auto='no' address='42'/></vsock>", { config: true });
      expect(await dom.getXML({ inactive: true })).toContain("address='42'");
      const second = await failure(
        dom.attachDevice("<vsock model='virtio'><cid auto='yes'/></vsock>", { config: true }),
      );
      expect(second).toMatchObject({
        code: 'OPERATION_INVALID',
        message: 'domain already has a vsock device',
      });
      const other = await failure(
        dom.detachDevice("<vsock model='virtio'><cid auto='no' address='43'/></vsock>", { config: true }),
      );
      expect(other.code).toBe('DEVICE_MISSING');
      await dom.detachDevice("<vsock model='virtio'><cid auto='no' address='42'/></vsock>", { config: true });
      expect(await dom.getXML({ inactive: true })).toBe(before[1]);
    });

    it("the device_add options are properties of QEMU's own devices (device-list-properties)", async () => {
      const live = DomainDef.fromXML(await dom.getXML());
      const cases = [
        pciHostdev('0000:ff:1f.5'),
        "<hostdev mode='subsystem' type='mdev' model='vfio-pci' display='off'><source><address uuid='c2177883-f1bb-47f0-914d-32a22e3a8804'/></source></hostdev>",
        "<hostdev mode='subsystem' type='usb'><source><address bus='1' device='2'/></source></hostdev>",
        "<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host7'/><address bus='0' target='0' unit='0'/></source><readonly/></hostdev>",
      ];
      for (const x of cases) {
        const { el } = parseDeviceElement(x);
        const next = DomainDef.fromXML(xmlWithDevice(live, el));
        const added = addedDevice(live, next, 'hostdev');
        const steps = await hostdevSteps(
          qmp,
          next,
          added.device as HostdevDef,
          'hostdev9',
          added.field,
          join(roots.path, 'sys'),
        );
        const dev = steps.find((s) => s.command === 'device_add')?.args as Record<string, unknown>;
        expect(dev.id).toBe('hostdev9');
        const props = (
          await qmp.execute<Array<{ name: string }>>('device-list-properties', { typename: dev.driver })
        ).map((p) => p.name);
        for (const k of Object.keys(dev))
          if (!DEVICE_ADD_OWN.has(k)) expect(props, `${dev.driver}.${k}`).toContain(k);
      }
    });

    it.skipIf(!VFIO_PCI)(
      `a PCI function bound to vfio-pci plugs as hostdevN${VFIO_PCI ? '' : ' (skipped: no PCI device bound to vfio-pci, or no /dev/vfio, on this host)'}`,
      async () => {
        await dom.attachDevice(pciHostdev(VFIO_PCI as string), { live: true });
        expect(await peripherals()).toContain('hostdev0');
        expect(await dom.getXML()).toMatch(/<alias name='hostdev0'\/>/);
      },
    );

    it.skipIf(!SG_LUN)(
      `a host SCSI LUN plugs as scsi-generic on its /dev/sgN${SG_LUN ? '' : ' (skipped: this host has no SCSI device with a generic device)'}`,
      async () => {
        const [h, b, t, u] = (SG_LUN as string).split(':');
        const c2 = await connectUnder(roots.path);
        try {
          const d = await c2.lookupDomain({ name: 'vk-hotplug-hostdev' });
          await d.attachDevice(
            `<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host${h}'/><address bus='${b}' target='${t}' unit='${u}'/></source></hostdev>`,
            { live: true },
          );
          expect(await peripherals()).toContain(nextFree(await d.getXML()));
        } finally {
          await c2.close();
        }
      },
    );

    it.skipIf(!VHOST_VSOCK)(
      `a vsock with an automatic CID plugs as vsock0 with a CID of 3 or more${VHOST_VSOCK ? '' : ' (skipped: this host has no usable /dev/vhost-vsock)'}`,
      async () => {
        const c2 = await connectUnder(roots.path);
        try {
          const d = await c2.lookupDomain({ name: 'vk-hotplug-hostdev' });
          await d.attachDevice("<vsock model='virtio'><cid auto='yes'/></vsock>", { live: true });
          expect(await peripherals()).toContain('vsock0');
          const cid = Number(/<cid auto='yes' address='(\d+)'\/>/.exec(await d.getXML())?.[1]);
          expect(cid).toBeGreaterThanOrEqual(3);
          expect(
            await qmp.execute('qom-get', { path: '/machine/peripheral/vsock0', property: 'guest-cid' }),
          ).toBe(cid);
        } finally {
          await c2.close();
        }
      },
    );
  },
);

/** The alias of the last host device of a live definition. */
function nextFree(xml: string): string {
  const all = [...xml.matchAll(/<alias name='(hostdev\d+)'\/>/g)].map((m) => m[1] as string);
  return all[all.length - 1] ?? 'hostdev0';
}

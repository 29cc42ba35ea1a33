/**
 * What a start takes of the host's devices: the vsock's `/dev/vhost-vsock`
 * descriptor and CID, managed PCI functions bound to vfio-pci, SCSI LUNs'
 * generic devices (`host-devices-start.ts`), on real files and real QEMU.
 *
 * What runs on any host: the refusals when a device node is absent (the
 * field at fault, and nothing left behind: no run directory, no status
 * file, no CID reserved, no device left bound), the CID allocation, the
 * managed bind and give-back in a copy of sysfs made here, and the
 * descriptor and paths reaching QEMU, shown by QEMU's own refusal of a
 * stand-in (`/dev/null` as vhost-vsock: QEMU's vhost ioctl on the passed
 * descriptor fails, where without it QEMU would find no descriptor at all;
 * `/dev/null` as a LUN's generic device: QEMU's SG_IO probe fails). The
 * starts that need the host's hardware run where it has it and are
 * skipped, visibly, where not.
 */
import {
  accessSync,
  constants,
  existsSync,
  fstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DomainDef } from '../../../src/conf/domain/domain-def.js';
import { type Connection, connect } from '../../../src/connection.js';
import {
  releaseLiveHostDevices,
  startingCids,
  takeHostDevices,
} from '../../../src/drivers/qemu/domains/host-devices-start.js';
import { formatStatus } from '../../../src/drivers/qemu/lifecycle/status-file.js';
import { VirError } from '../../../src/errors.js';
import {
  HAS_QEMU,
  QEMU_BINARY,
  qemuProcessesMentioning,
  type TestRoots,
  tempRoots,
} from '../qemu-lifecycle/helpers.js';

const SKIP = !HAS_QEMU ? `${QEMU_BINARY} not installed` : '';

const VHOST_VSOCK = (() => {
  try {
    accessSync('/dev/vhost-vsock', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
})();
/** A SCSI LUN of this host with its generic device node (`H:B:T:U`). */
const SG_LUN = (() => {
  try {
    for (const lun of readdirSync('/sys/bus/scsi/devices')) {
      if (!/^\d+:\d+:\d+:\d+$/.test(lun)) continue;
      const sg = readdirSync(`/sys/bus/scsi/devices/${lun}/scsi_generic`)[0];
      if (sg && existsSync(`/dev/${sg}`)) return lun;
    }
  } catch {}
  return undefined;
})();
/**
 * A PCI function the tester gives up for the managed start (it is unbound
 * from its host driver): never chosen here, only taken from the environment.
 */
const VFIO_PCI = (() => {
  const name = process.env.VIRTKIT_TEST_VFIO_PCI;
  if (!name || !existsSync('/dev/vfio') || !existsSync(`/sys/bus/pci/devices/${name}/iommu_group`))
    return undefined;
  return name;
})();
/** PCI addresses no host has in practice; checked, not assumed. */
const ABSENT_PCI = ['0000:ff:1f.7', '0000:ff:1f.6'].filter((n) => !existsSync(`/sys/bus/pci/devices/${n}`));
/** A node name under /dev no host has: a LUN's generic device that is not there. */
const ABSENT_SG = existsSync('/dev/sgvk404') ? undefined : 'sgvk404';

function pciHostdev(name: string, managed = 'yes'): string {
  const [dom, bus, sf] = name.split(':') as [string, string, string];
  const [slot, fn] = sf.split('.') as [string, string];
  return `<hostdev mode='subsystem' type='pci' managed='${managed}'><source><address domain='0x${dom}' bus='0x${bus}' slot='0x${slot}' function='0x${fn}'/></source></hostdev>`;
}
const scsiHostdev = (host: number) =>
  `<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host${host}'/><address bus='0' target='0' unit='0'/></source><address type='drive' controller='0' bus='0' target='0' unit='0'/></hostdev>`;
const vsock = (cid: string) => `<vsock model='virtio'><cid ${cid}/></vsock>`;

function domainXml(name: string, devices: string): string {
  return `<domain type='qemu'><name>${name}</name><memory unit='MiB'>128</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='q35'>hvm</type></os>
  <devices><emulator>${QEMU_BINARY}</emulator>
    <controller type='pci' index='1' model='pcie-root-port'/><controller type='pci' index='2' model='pcie-root-port'/>
    <controller type='pci' index='3' model='pcie-root-port'/><controller type='scsi' index='0' model='virtio-scsi'/>
    <memballoon model='none'/>${devices}</devices></domain>`;
}

function file(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}

/** A copy of sysfs: `name` a PCI function bound to a host driver `e1000e`, in IOMMU group 9, vfio-pci loaded. */
function pciInCopy(sys: string, name: string): string {
  const dev = join(sys, 'devices/pci0000:ff', name);
  file(join(dev, 'driver_override'), '(null)\n');
  file(join(sys, 'bus/pci/drivers/e1000e/unbind'), '');
  file(join(sys, 'bus/pci/drivers_probe'), '');
  mkdirSync(join(sys, 'bus/pci/drivers/vfio-pci'), { recursive: true });
  mkdirSync(join(sys, 'bus/pci/devices'), { recursive: true });
  mkdirSync(join(sys, 'kernel/iommu_groups/9'), { recursive: true });
  symlinkSync(join(sys, 'bus/pci/drivers/e1000e'), join(dev, 'driver'));
  symlinkSync(join(sys, 'kernel/iommu_groups/9'), join(dev, 'iommu_group'));
  symlinkSync(dev, join(sys, 'bus/pci/devices', name));
  return dev;
}

/** A LUN `H:0:0:0` in a copy of sysfs whose generic device is `sg` (a node under /dev). */
function lunInCopy(sys: string, host: number, sg: string): void {
  mkdirSync(join(sys, `bus/scsi/devices/${host}:0:0:0/scsi_generic`, sg), { recursive: true });
}

/** A USB device `name` (`3-1`) in the copy of sysfs, as the kernel lists one: ids in hex, numbers in decimal. */
function usbInCopy(sys: string, name: string, ids: [string, string], bus: number, device: number): void {
  const dir = join(sys, 'bus/usb/devices', name);
  file(join(dir, 'idVendor'), `${ids[0]}\n`);
  file(join(dir, 'idProduct'), `${ids[1]}\n`);
  file(join(dir, 'busnum'), `${bus}\n`);
  file(join(dir, 'devnum'), `${device}\n`);
}

const usbHostdev = (vendor: string, product: string) =>
  `<hostdev mode='subsystem' type='usb'><source><vendor id='0x${vendor}'/><product id='0x${product}'/></source></hostdev>`;

async function failure(p: Promise<unknown>): Promise<VirError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof VirError) return err;
    throw err;
  }
  throw new Error('expected a VirError');
}

const fdOpen = (fd: number) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

describe('the host side of a start, on real files (no QEMU)', () => {
  let roots: TestRoots;
  let sys: string;
  beforeAll(() => {
    roots = tempRoots('vk-hds-');
    sys = join(roots.path, 'sys');
    lunInCopy(sys, 7, 'null');
    if (ABSENT_SG) lunInCopy(sys, 9, ABSENT_SG);
  });
  afterAll(() => roots.remove());
  const def = (devices: string) => DomainDef.fromXML(domainXml('t', devices));

  it('an automatic CID: the lowest from 3 no other guest has or is starting with; given back once released', async () => {
    expect(startingCids().size).toBe(0);
    const other = def(vsock("auto='no' address='3'"));
    const ctx = {
      roots: { vhostVsock: '/dev/null' },
      lives: [{ name: 'o', live: other }],
      takenCids: new Set([3]),
    };
    const a = def(vsock("auto='yes'"));
    const ta = await takeHostDevices(a, ctx);
    expect(ta.cid).toBe(4);
    // written into the live definition as libvirt's live XML has it
    expect(a.toXML()).toContain("<cid auto='yes' address='4'/>");
    expect(ta.passFds).toHaveLength(1);
    expect(ta.paths.vhostVsock?.({ auto: true, cid: 4 })).toEqual({ fd: 3, cid: 4 });
    const b = def(vsock("auto='yes'"));
    const tb = await takeHostDevices(b, ctx);
    expect(tb.cid).toBe(5);
    // a fixed CID another start holds is refused before QEMU, naming it
    const fixed = await failure(takeHostDevices(def(vsock("auto='no' address='4'")), ctx));
    expect(fixed).toMatchObject({ code: 'OPERATION_FAILED', field: '/domain/devices/vsock/cid/@address' });
    const fd = ta.passFds[0] as number;
    expect(fdOpen(fd)).toBe(true);
    ta.closeFds();
    expect(fdOpen(fd)).toBe(false);
    await ta.release();
    await tb.release();
    expect(startingCids().size).toBe(0);
    const again = await takeHostDevices(def(vsock("auto='yes'")), ctx);
    expect(again.cid).toBe(4);
    await again.release();
  });

  it('no /dev/vhost-vsock: CONFIG_UNSUPPORTED naming the vsock, no CID kept, no descriptor', async () => {
    const absent = join(roots.path, 'no-vhost-vsock');
    const live = def(vsock("auto='yes'"));
    const err = await failure(
      takeHostDevices(live, { roots: { vhostVsock: absent }, lives: [], takenCids: new Set() }),
    );
    expect(err).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: '/domain/devices/vsock' });
    expect(err.message).toBe(`unable to open vhost-vsock device ${absent}: ENOENT`);
    expect(startingCids().size).toBe(0);
  });

  it.skipIf(ABSENT_PCI.length < 2)(
    "managed='yes': bound to vfio-pci in the copy; a start refused later gives it back",
    async () => {
      const [a, b] = ABSENT_PCI as [string, string];
      const copy = join(roots.path, 'sys-pci');
      const dev = pciInCopy(copy, a);
      const live = def(`${pciHostdev(a)}${pciHostdev(b)}`);
      // b is in neither sysfs: refused naming it, after a was bound
      const err = await failure(
        takeHostDevices(live, { roots: { sysRoot: copy }, lives: [], takenCids: new Set() }),
      );
      expect(err).toMatchObject({
        code: 'OPERATION_FAILED',
        field: '/domain/devices/hostdev[2]/source/address',
        message: `PCI device ${b} not found on this host`,
      });
      // a was handed to vfio-pci (override set, unbound from its host driver, probed) ...
      expect(readFileSync(join(copy, 'bus/pci/drivers/e1000e/unbind'), 'utf8')).toBe(a);
      expect(readFileSync(join(copy, 'bus/pci/drivers_probe'), 'utf8')).toBe(a);
      // ... and given back: the override cleared (the copy's driver link is still e1000e, no kernel rebinds it)
      expect(readFileSync(join(dev, 'driver_override'), 'utf8')).toBe('\n');
    },
  );

  it('a device another running guest has is refused, naming that guest; nothing is taken', async () => {
    const peer = def(scsiHostdev(7));
    const err = await failure(
      takeHostDevices(def(`${vsock("auto='yes'")}${scsiHostdev(7)}`), {
        roots: { sysRoot: sys, vhostVsock: '/dev/null' },
        lives: [{ name: 'peer', live: peer }],
        takenCids: new Set(),
      }),
    );
    expect(err).toMatchObject({ code: 'OPERATION_INVALID', field: '/domain/devices/hostdev[1]/source' });
    expect(err.message).toContain('domain peer');
    expect(startingCids().size).toBe(0);
  });

  it('a SCSI LUN: its generic device from sysfs for the builder; none, or no node, refused naming the adapter', async () => {
    const t = await takeHostDevices(def(scsiHostdev(7)), {
      roots: { sysRoot: sys },
      lives: [],
      takenCids: new Set(),
    });
    expect(t.paths.scsiHostDevice?.({ adapter: 'scsi_host7', bus: 0, target: 0, unit: 0 })).toBe('/dev/null');
    await t.release();
    const none = await failure(
      takeHostDevices(def(scsiHostdev(8)), { roots: { sysRoot: sys }, lives: [], takenCids: new Set() }),
    );
    expect(none).toMatchObject({
      code: 'OPERATION_FAILED',
      field: '/domain/devices/hostdev[1]/source/adapter',
    });
    expect(none.message).toContain('scsi_host8:0:0:0');
    if (!ABSENT_SG) return;
    const node = await failure(
      takeHostDevices(def(scsiHostdev(9)), { roots: { sysRoot: sys }, lives: [], takenCids: new Set() }),
    );
    expect(node).toMatchObject({
      code: 'OPERATION_FAILED',
      field: '/domain/devices/hostdev[1]/source/adapter',
    });
    expect(node.message).toBe(
      `cannot open /dev/${ABSENT_SG}, the SCSI generic device of host SCSI device scsi_host9:0:0:0: ENOENT`,
    );
  });

  it.skipIf(ABSENT_PCI.length < 1)(
    'the status file keeps what a re-attach needs: the CID (taken) and the managed devices (given back at stop)',
    async () => {
      const a = ABSENT_PCI[0] as string;
      const copy = join(roots.path, 'sys-status');
      const dev = pciInCopy(copy, a);
      const live = def(`${vsock("auto='yes'")}${pciHostdev(a)}`);
      const t = await takeHostDevices(live, {
        roots: { sysRoot: copy, vhostVsock: '/dev/null' },
        lives: [],
        takenCids: new Set(),
      });
      expect(readFileSync(join(dev, 'driver_override'), 'utf8')).toBe('vfio-pci');
      const status = formatStatus({
        state: 'running',
        reason: 'booted',
        id: 1,
        pid: 1,
        pidStart: '0',
        monitorPath: '/nonexistent',
        emulator: QEMU_BINARY,
        gotShutdown: false,
        fakeReboot: false,
        balloonKiB: 131072,
        guest: { name: 't', uuid: '', memoryKiB: 131072, vcpus: 1, domainXml: live.toXML() } as never,
      });
      // what a process re-attaching reads back
      const back = DomainDef.fromXML(/<domain[\s\S]*<\/domain>/.exec(status)?.[0] ?? '');
      expect(back.devices?.vsock?.cid).toEqual({ auto: true, address: t.cid });
      expect(back.devices?.hostdevs?.[0]?.managed).toBe(true);
      t.releaseCid();
      t.closeFds();
      // the stop of a re-attached guest gives back its managed devices from that definition
      await releaseLiveHostDevices(back, { sysRoot: copy });
      expect(readFileSync(join(dev, 'driver_override'), 'utf8')).toBe('\n');
      expect(startingCids().size).toBe(0);
    },
  );
});

describe.skipIf(SKIP !== '')(`starts on real QEMU${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  let roots: TestRoots;
  let conn: Connection;
  let sys: string;
  // each connection its own roots: connections on the same roots share one domain list and its host options
  const opts = (key: string, extra: Record<string, string>) => ({
    driverOptions: {
      cacheDir: null,
      runDir: join(roots.path, key, 'rundir'),
      stateDir: join(roots.path, key, 'state'),
      configDir: join(roots.path, key, 'config'),
      logDir: join(roots.path, key, 'log'),
      emulators: [QEMU_BINARY],
      ...extra,
    },
  });
  /** What a stopped guest must not leave: a run directory or a status file. */
  const leftovers = (key: string) => {
    const dir = join(roots.path, key, 'state/qemu');
    return existsSync(dir)
      ? readdirSync(dir).filter((n) => n.startsWith('domain-') || n.endsWith('.xml'))
      : [];
  };
  const log = (key: string, name: string) =>
    readFileSync(join(roots.path, key, 'log/qemu', `${name}.log`), 'utf8');

  beforeAll(async () => {
    roots = tempRoots('vk-hdsq-');
    sys = join(roots.path, 'sys');
    lunInCopy(sys, 7, 'null');
    // one device of 1234:5678 on bus 250 (no host has that bus), two of abcd:0001
    usbInCopy(sys, '250-1', ['1234', '5678'], 250, 250);
    usbInCopy(sys, '251-1', ['abcd', '0001'], 251, 2);
    usbInCopy(sys, '251-2', ['abcd', '0001'], 251, 3);
    conn = await connect(
      'qemu:///session',
      opts('main', { sysRoot: sys, vhostVsock: join(roots.path, 'no-vhost-vsock') }),
    );
  }, 60_000);

  afterAll(async () => {
    try {
      if (conn && !conn.isClosed) {
        for (const d of await conn.listDomains({ active: true })) await d.destroy().catch(() => {});
        await conn.close();
      }
    } finally {
      for (const pid of qemuProcessesMentioning(roots.path)) process.kill(pid, 'SIGKILL');
      roots.remove();
    }
  }, 30_000);

  it('a vsock without /dev/vhost-vsock: refused naming it, nothing left behind, twice alike', async () => {
    const dom = await conn.defineDomain(domainXml('vk-vsock-none', vsock("auto='yes'")));
    const first = await failure(dom.start());
    expect(first).toMatchObject({ code: 'CONFIG_UNSUPPORTED', field: '/domain/devices/vsock' });
    expect(first.message).toContain('ENOENT');
    expect((await dom.getState()).state).toBe('shutoff');
    expect(leftovers('main')).toEqual([]);
    expect(startingCids().size).toBe(0);
    const second = await failure(dom.start());
    expect(second.message).toBe(first.message);
    await dom.undefine();
  });

  it('the vsock descriptor reaches QEMU as vhostfd with the CID: /dev/null in its place, QEMU refuses it', async () => {
    const c2 = await connect('qemu:///session', opts('null', { vhostVsock: '/dev/null' }));
    try {
      const dom = await c2.defineDomain(domainXml('vk-vsock-null', vsock("auto='yes'")));
      const err = await failure(dom.start());
      // QEMU's vhost ioctl on the descriptor it was given: /dev/null is no vhost device
      expect(err.code).toBe('OPERATION_FAILED');
      expect(err.message).toContain('vhost_set_owner failed');
      expect(log('null', 'vk-vsock-null')).toMatch(/vhost-vsock-pci[^\n]*"guest-cid":3,"vhostfd":"3"/);
      // not started again: QEMU did not say the CID was taken. One start, one QEMU refusal (the
      // log's "start failed" line may quote QEMU's words too, depending on who saw the exit first)
      expect(log('null', 'vk-vsock-null').match(/: starting up$/gm)).toHaveLength(1);
      expect(
        log('null', 'vk-vsock-null').match(
          /^[\d:.T-]+Z qemu-system-x86_64: -device [^\n]*vhost_set_owner failed/gm,
        ),
      ).toHaveLength(1);
      expect(leftovers('null')).toEqual([]);
      expect(startingCids().size).toBe(0);
      // the persistent definition keeps asking for an automatic CID
      expect(await dom.getXML({ inactive: true })).toContain("<cid auto='yes'/>");
      await dom.undefine();
    } finally {
      await c2.close();
    }
  });

  it('a USB device by vendor and product: looked up in sysfs, its bus and device reach QEMU; none or two refused', async () => {
    const dom = await conn.defineDomain(domainXml('vk-usb-found', usbHostdev('1234', '5678')));
    if (!existsSync('/dev/bus/usb/250/250')) {
      // QEMU opens the device the lookup found, which this host does not have
      const err = await failure(dom.start());
      expect(err.code).toBe('OPERATION_FAILED');
      expect(log('main', 'vk-usb-found')).toMatch(
        /"driver":"usb-host","hostdevice":"\/dev\/bus\/usb\/250\/250"/,
      );
      expect(leftovers('main')).toEqual([]);
    }
    // the persistent definition still names the vendor and product only
    expect(await dom.getXML({ inactive: true })).not.toContain("bus='250'");
    await dom.undefine();
    // libvirt's words when no device, or more than one, matches
    const none = await conn.defineDomain(domainXml('vk-usb-none', usbHostdev('1234', '9999')));
    expect(await failure(none.start())).toMatchObject({
      code: 'OPERATION_FAILED',
      message: 'Did not find USB device 1234:9999',
      field: '/domain/devices/hostdev[1]/source',
    });
    await none.undefine();
    const two = await conn.defineDomain(domainXml('vk-usb-two', usbHostdev('abcd', '0001')));
    expect((await failure(two.start())).message).toBe(
      'Multiple USB devices for abcd:0001, use <address> to specify one',
    );
    expect((await two.getState()).state).toBe('shutoff');
    await two.undefine();
  });

  it('a SCSI LUN: its generic device reaches QEMU (/dev/null in the copy: QEMU finds no SG device); none refused', async () => {
    const dom = await conn.defineDomain(domainXml('vk-scsi-null', scsiHostdev(7)));
    const err = await failure(dom.start());
    expect(err.message).toMatch(/SG_IO/);
    expect(log('main', 'vk-scsi-null')).toMatch(/"driver":"host_device","filename":"\/dev\/null"/);
    expect(leftovers('main')).toEqual([]);
    await dom.undefine();
    const none = await conn.defineDomain(domainXml('vk-scsi-none', scsiHostdev(8)));
    const refused = await failure(none.start());
    expect(refused).toMatchObject({
      code: 'OPERATION_FAILED',
      field: '/domain/devices/hostdev[1]/source/adapter',
    });
    expect(leftovers('main')).toEqual([]);
    await none.undefine();
  });

  it.skipIf(ABSENT_PCI.length < 1)(
    "managed='yes': bound before QEMU (the copy's files), given back when QEMU fails",
    async () => {
      const a = ABSENT_PCI[0] as string;
      const copy = join(roots.path, 'sys-pci');
      const dev = pciInCopy(copy, a);
      const c2 = await connect('qemu:///session', opts('pci', { sysRoot: copy }));
      try {
        const dom = await c2.defineDomain(domainXml('vk-managed', pciHostdev(a)));
        const err = await failure(dom.start());
        // QEMU looks at the real host, which has no such function
        expect(err.message).toContain(a);
        expect(readFileSync(join(copy, 'bus/pci/drivers/e1000e/unbind'), 'utf8')).toBe(a);
        expect(readFileSync(join(dev, 'driver_override'), 'utf8')).toBe('\n');
        expect(leftovers('pci')).toEqual([]);
        await dom.undefine();
      } finally {
        await c2.close();
      }
    },
  );

  it.skipIf(!VHOST_VSOCK)(
    `a vsock with an automatic CID starts; QEMU has the CID the live XML and status file say${VHOST_VSOCK ? '' : ' (skipped: this host has no usable /dev/vhost-vsock)'}`,
    async () => {
      const c2 = await connect('qemu:///session', opts('host', {}));
      try {
        const a = await c2.defineDomain(domainXml('vk-vsock-a', vsock("auto='yes'")));
        const b = await c2.defineDomain(domainXml('vk-vsock-b', vsock("auto='yes'")));
        await a.start();
        await b.start();
        const cid = async (d: typeof a) =>
          Number(/<cid auto='yes' address='(\d+)'\/>/.exec(await d.getXML())?.[1]);
        const [ca, cb] = [await cid(a), await cid(b)];
        expect(ca).toBeGreaterThanOrEqual(3);
        expect(cb).not.toBe(ca);
        const reply = await a.qemuMonitorCommand({
          execute: 'qom-get',
          arguments: { path: '/machine/peripheral/vsock0', property: 'guest-cid' },
        });
        expect(reply).toEqual({ return: ca });
        const status = readFileSync(join(roots.path, 'state/qemu/vk-vsock-a.xml'), 'utf8');
        expect(status).toContain(`<cid auto='yes' address='${ca}'/>`);
        await a.destroy();
        await b.destroy();
        expect(startingCids().size).toBe(0);
      } finally {
        await c2.close();
      }
    },
  );

  it.skipIf(!SG_LUN)(
    `a host SCSI LUN starts on its /dev/sgN${SG_LUN ? '' : ' (skipped: this host has no SCSI device with a generic device node)'}`,
    async () => {
      const [h, b, t, u] = (SG_LUN as string).split(':');
      const c2 = await connect('qemu:///session', opts('host', {}));
      try {
        const dom = await c2.defineDomain(
          domainXml(
            'vk-scsi-real',
            `<hostdev mode='subsystem' type='scsi'><source><adapter name='scsi_host${h}'/><address bus='${b}' target='${t}' unit='${u}'/></source></hostdev>`,
          ),
        );
        await dom.start();
        expect(await dom.getXML()).toContain("<alias name='hostdev0'/>");
        await dom.destroy();
      } finally {
        await c2.close();
      }
    },
  );

  it.skipIf(!VFIO_PCI)(
    `a managed PCI function is bound to vfio-pci for the guest and given back at stop${VFIO_PCI ? '' : ' (skipped: no PCI function given up for it in VIRTKIT_TEST_VFIO_PCI, or no /dev/vfio)'}`,
    async () => {
      const name = VFIO_PCI as string;
      const driver = () => realpathSync(`/sys/bus/pci/devices/${name}/driver`).split('/').pop();
      const before = driver();
      const c2 = await connect('qemu:///session', opts('host', {}));
      try {
        const dom = await c2.defineDomain(domainXml('vk-managed-real', pciHostdev(name)));
        await dom.start();
        expect(driver()).toBe('vfio-pci');
        await dom.destroy();
        await dom.undefine();
        expect(driver()).toBe(before);
      } finally {
        await c2.close();
      }
    },
  );
});

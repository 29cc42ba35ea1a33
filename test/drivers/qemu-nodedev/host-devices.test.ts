/**
 * The QEMU driver's host devices against libvirt's node device driver on
 * the same host (a private libvirtd's udev backend, read with
 * python3-libvirt): the same PCI and network device names, parents and XML.
 * Known differences, checked as such rather than ignored: libvirt lists a
 * network interface's offload `<feature>`s (ethtool ioctls), which virtkit
 * does not. USB, SCSI, SCSI generic and mediated devices are compared by
 * name and XML wherever the host has them (this machine may have none: the
 * fixture tree of sysfs-caps.test.ts covers their XML); `computer` is
 * compared where libvirt does not make up a random UUID (DMI without a
 * readable `product_uuid`).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, connect } from '../../../src/connection.js';
import { LIBVIRT_ERROR_NAMES } from '../../../src/drivers/remote/libvirt-errors.js';
import type { VirError } from '../../../src/errors.js';
import { type Daemon, LIBVIRTD, PYTHON_LIBVIRT, startLibvirtd } from '../remote/libvirtd.js';

const NODEDEV_DRIVER = (() => {
  try {
    return readdirSync('/usr/lib').some((d) =>
      existsSync(join('/usr/lib', d, 'libvirt/connection-driver/libvirt_driver_nodedev.so')),
    );
  } catch {
    return false;
  }
})();
/** Whether libvirt can read the host's DMI UUID (else it makes up a random one per start). */
const DMI_UUID = (() => {
  try {
    return readFileSync('/sys/devices/virtual/dmi/id/product_uuid', 'utf8').trim() !== '';
  } catch {
    return false;
  }
})();
const ready = Boolean(LIBVIRTD && PYTHON_LIBVIRT && NODEDEV_DRIVER);
if (!ready)
  console.warn(
    'skipping the node device differential: it needs libvirtd with its node device driver ' +
      '(libvirt-daemon-driver-nodedev) and python3-libvirt',
  );

interface Theirs {
  devices: { name: string; parent: string | null; caps: string[]; xml: string }[];
  pci: string[];
  missing: number;
  detach: number | null;
}

const PY = `import json, sys, libvirt
libvirt.registerErrorHandler(lambda *a: None, None)
c = libvirt.open(sys.argv[1]); out = {'devices': []}
for d in c.listAllDevices(0):
    out['devices'].append({'name': d.name(), 'parent': d.parent(), 'caps': d.listCaps(), 'xml': d.XMLDesc(0)})
out['pci'] = [d.name() for d in c.listAllDevices(libvirt.VIR_CONNECT_LIST_NODE_DEVICES_CAP_PCI_DEV)]
try:
    c.nodeDeviceLookupByName('pci_dead_00_00_0')
except libvirt.libvirtError as e:
    out['missing'] = e.get_error_code()
try:
    c.nodeDeviceLookupByName(out['pci'][0]).detachFlags(None, 0); out['detach'] = None
except libvirt.libvirtError as e:
    out['detach'] = e.get_error_code()
print(json.dumps(out))`;

/** libvirt's XML without the offload features virtkit does not read. */
const withoutFeatures = (xml: string) => xml.replace(/\n\s*<feature name='[^']*'\/>/g, '');

async function errorOf(p: Promise<unknown>): Promise<VirError> {
  return (await p.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  )) as VirError;
}

describe.skipIf(!ready)("host devices beside libvirt's node device driver", () => {
  let daemon: Daemon;
  let conn: Connection;
  let theirs: Theirs;
  let ours1: string[];
  let ours2: string[];

  beforeAll(async () => {
    daemon = await startLibvirtd();
    conn = await connect('qemu:///session', { driverOptions: { cacheDir: null } });
    ours1 = (await conn.nodeDevices.list()).map((d) => d.name);
    theirs = JSON.parse(
      execFileSync(PYTHON_LIBVIRT!, ['-c', PY, `nodedev+unix:///session?socket=${daemon.socket}`], {
        encoding: 'utf8',
        timeout: 60_000,
      }),
    ) as Theirs;
    ours2 = (await conn.nodeDevices.list()).map((d) => d.name);
  }, 90_000);

  afterAll(async () => {
    await conn?.close();
    await daemon?.stop();
  });

  it('names the same PCI devices, with the same XML (class, ids, names, driver, parent)', async () => {
    const pci = theirs.devices.filter((d) => d.name.startsWith('pci_'));
    expect(pci.length).toBeGreaterThan(0);
    expect(ours1.filter((n) => n.startsWith('pci_')).sort()).toEqual(pci.map((d) => d.name).sort());
    expect((await conn.nodeDevices.list({ cap: ['pci'] })).map((d) => d.name).sort()).toEqual(
      [...theirs.pci].sort(),
    );
    for (const d of pci) {
      const dev = await conn.nodeDevices.lookup(d.name);
      expect(await dev.getXML(), d.name).toBe(d.xml);
      expect(await dev.getParent()).toBe(d.parent ?? undefined);
      expect(await dev.listCaps()).toEqual(d.caps);
    }
  });

  it('names the same network interfaces; XML equal but for the offload features', async () => {
    // interfaces other programs add or remove meanwhile are the ones not in both of our reads
    const stable = ours1.filter((n) => n.startsWith('net_') && ours2.includes(n));
    const theirNet = theirs.devices.filter((d) => d.name.startsWith('net_'));
    expect(stable.length).toBeGreaterThan(0);
    expect(theirNet.map((d) => d.name)).toEqual(expect.arrayContaining(stable));
    for (const d of theirNet) expect([...ours1, ...ours2]).toContain(d.name);
    for (const d of theirNet.filter((x) => stable.includes(x.name))) {
      const dev = await conn.nodeDevices.lookup(d.name);
      expect(await dev.getXML(), d.name).toBe(withoutFeatures(d.xml));
      expect(await dev.getParent()).toBe(d.parent ?? undefined);
    }
    // the known difference is real: libvirt does list features where the interface has them
    expect(theirNet.some((d) => d.xml.includes('<feature '))).toBe(true);
  });

  it('names the same disks (block_<name>), with the same XML (device node, size, blocks, parent)', async () => {
    const disks = theirs.devices.filter((d) => d.name.startsWith('block_'));
    expect(ours1.filter((n) => n.startsWith('block_')).sort()).toEqual(disks.map((d) => d.name).sort());
    expect((await conn.nodeDevices.list({ cap: ['storage'] })).map((d) => d.name).sort()).toEqual(
      disks.map((d) => d.name).sort(),
    );
    for (const d of disks) {
      const dev = await conn.nodeDevices.lookup(d.name);
      expect(await dev.getXML(), d.name).toBe(d.xml);
      expect(await dev.getParent()).toBe(d.parent ?? undefined);
    }
  });

  it('names the same USB, SCSI and mdev devices as libvirt, with the same XML', async () => {
    const kinds = /^(usb|scsi|mdev)_/;
    const theirDevs = theirs.devices.filter((d) => kinds.test(d.name));
    const stable = ours1.filter((n) => kinds.test(n) && ours2.includes(n));
    console.info(
      `USB/SCSI/mdev devices on this host: ${theirDevs.length} (libvirt), ${stable.length} (ours)`,
    );
    expect(stable.sort()).toEqual(theirDevs.map((d) => d.name).sort());
    for (const d of theirDevs) {
      const dev = await conn.nodeDevices.lookup(d.name);
      expect(await dev.getXML(), d.name).toBe(d.xml);
      expect(await dev.getParent()).toBe(d.parent ?? undefined);
      expect(await dev.listCaps()).toEqual(d.caps);
    }
  });

  it.skipIf(existsSync('/sys/devices/virtual/dmi/id/product_name') && !DMI_UUID)(
    "describes computer as libvirt does (DMI, or libvirt's all-zero UUID without it)",
    async () => {
      const computer = theirs.devices.find((d) => d.name === 'computer')!;
      expect(await (await conn.nodeDevices.lookup('computer')).getXML()).toBe(computer.xml);
    },
  );

  it('lists no device (present in both our reads) that libvirt does not list', () => {
    const theirNames = new Set(theirs.devices.map((d) => d.name));
    expect(ours1.filter((n) => !theirNames.has(n) && ours2.includes(n))).toEqual([]);
  });

  it('has a computer root, and refuses an unknown name as libvirt does', async () => {
    expect(ours1[0]).toBe('computer');
    expect(theirs.devices.map((d) => d.name)).toContain('computer');
    expect(await (await conn.nodeDevices.lookup('computer')).getParent()).toBeUndefined();
    const err = await errorOf(conn.nodeDevices.lookup('pci_dead_00_00_0'));
    expect(err.code).toBe(LIBVIRT_ERROR_NAMES[theirs.missing]);
  });

  it('sends detach through the remote driver: the daemon answers as it answers python3-libvirt', async () => {
    const remote = await connect(`nodedev+unix:///session?socket=${daemon.socket}`);
    try {
      const there = await remote.nodeDevices.lookup(theirs.pci[0]!);
      // a node-device-only connection has no hypervisor driver to detach with: the daemon refuses
      expect(theirs.detach).not.toBeNull();
      const err = await errorOf(there.detach());
      expect(err.libvirtCode).toBe(theirs.detach);
    } finally {
      await remote.close();
    }
  });
});

/** The PCI device (`pci_DDDD_BB_SS_F`) whose sysfs directory holds `path`. */
function pciAncestor(path: string): string | undefined {
  for (let p = path; p !== '/'; p = dirname(p)) {
    const m = /^([0-9a-f]{4,}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/.exec(basename(p));
    if (m) return `pci_${m[1]}_${m[2]}_${m[3]}_${m[4]}`;
  }
  return undefined;
}

/** The host's boot disk's PCI device, from /proc/self/mountinfo and /sys/dev/block. */
function bootDiskPci(): string | undefined {
  const root = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .find((f) => f[4] === '/');
  if (!root) return undefined;
  try {
    return pciAncestor(realpathSync(`/sys/dev/block/${root[2]}`));
  } catch {
    return undefined;
  }
}

/** A PCI device whose network interface is up, from /sys/class/net. */
function upInterfacePci(): { pci: string; ifname: string } | undefined {
  for (const ifname of readdirSync('/sys/class/net')) {
    const flags = Number.parseInt(readFileSync(`/sys/class/net/${ifname}/flags`, 'utf8'), 16);
    const pci = pciAncestor(realpathSync(`/sys/class/net/${ifname}`));
    if (pci && flags & 1) return { pci, ifname };
  }
  return undefined;
}

describe("detach refuses this host's devices in use (nothing is detached)", () => {
  const root = process.getuid?.() === 0;
  const boot = bootDiskPci();
  const up = upInterfacePci();
  const system = () =>
    connect('qemu:///system', {
      driverOptions: {
        cacheDir: null,
        configDir: '/tmp/vk-remnode-nodedev-unused/config',
        stateDir: '/tmp/vk-remnode-nodedev-unused/state',
        runDir: '/tmp/vk-remnode-nodedev-unused/run',
        logDir: '/tmp/vk-remnode-nodedev-unused/log',
      },
    });

  it.skipIf(!root || !boot)(`refuses the boot disk's PCI device (${boot ?? 'none found'})`, async () => {
    const conn = await system();
    try {
      const err = await errorOf((await conn.nodeDevices.lookup(boot!)).detach());
      expect(err.code).toBe('OPERATION_INVALID');
      expect(err.message).toContain('boot disk');
    } finally {
      await conn.close();
    }
  });

  it.skipIf(!root || !up)(
    `refuses a PCI device whose interface is up (${up?.ifname ?? 'none found'})`,
    async () => {
      const conn = await system();
      try {
        const err = await errorOf((await conn.nodeDevices.lookup(up!.pci)).detach());
        expect(err.code).toBe('OPERATION_INVALID');
        expect(err.message).toContain(`'${up!.ifname}' is up`);
      } finally {
        await conn.close();
      }
    },
  );

  it('refuses what is not PCI, a bad driver name, and any change from qemu:///session', async () => {
    const conn = await connect('qemu:///session', { driverOptions: { cacheDir: null } });
    try {
      const net = (await conn.nodeDevices.list({ cap: ['net'] }))[0]!;
      expect(await errorOf(net.detach())).toMatchObject({ code: 'INVALID_ARG', field: 'name' });
      const pci = (await conn.nodeDevices.list({ cap: ['pci'] }))[0]!;
      expect((await errorOf(pci.detach())).code).toBe('OPERATION_DENIED');
      expect((await errorOf(pci.reattach())).code).toBe('OPERATION_DENIED');
      expect((await errorOf(pci.reset())).code).toBe('OPERATION_DENIED');
      expect(await errorOf(pci.detach({ driverName: '' }))).toMatchObject({
        code: 'INVALID_ARG',
        field: 'driverName',
      });
    } finally {
      await conn.close();
    }
  });

  it('is NO_SUPPORT on the test driver', async () => {
    const conn = await connect('test:///default');
    try {
      expect((await errorOf((await conn.nodeDevices.lookup('computer')).detach())).code).toBe('NO_SUPPORT');
    } finally {
      await conn.close();
    }
  });
});

/**
 * Passthrough of a PCI device (`virNodeDeviceDetachFlags`, `ReAttach`,
 * `Reset`): bound to vfio-pci through `driver_override`, given back to its
 * host driver by clearing it. Refused, before anything is written, for a
 * device the host uses: a network interface under it that is up or has an
 * address, a block device under it (or a partition, or a holder) that is
 * mounted or swapped on, and any device holding the boot disk (the
 * filesystem at `/`). libvirt leaves those checks to the administrator; a
 * library that can detach the host's own disk at a typo should not.
 *
 * @module
 */
import { readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { networkInterfaces } from 'node:os';
import { basename, join } from 'node:path';
import { VirError } from '../../../errors.js';
import type { HostDevice } from './host-devices.js';

/** Where the host facts are: tests point them at copies. */
export interface DetachSources {
  readonly sysRoot: string;
  /** `/proc/self/mountinfo`. */
  readonly mountinfo: string;
  /** `/proc/swaps`. */
  readonly swaps: string;
  /** The addresses of each interface (default: Node's `networkInterfaces()`). */
  readonly addresses?: () => Record<string, readonly unknown[] | undefined>;
}

const IFF_UP = 0x1;
const VFIO = 'vfio-pci';

const refuse = (dev: string, why: string) =>
  new VirError(
    'OPERATION_INVALID',
    'nodedev',
    `device '${dev}' is in use by the host: ${why}; not detaching it`,
  );

async function read(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

async function subdirs(path: string): Promise<string[]> {
  try {
    return (await readdir(path, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return [];
  }
}

/** Every `net/<if>` and `block/<disk>` directory under a device's sysfs directory, at any depth. */
async function classDevices(dir: string, depth = 0): Promise<{ net: string[]; block: string[] }> {
  const out = { net: [] as string[], block: [] as string[] };
  if (depth > 6) return out;
  for (const name of await subdirs(dir)) {
    const sub = join(dir, name);
    if (name === 'net') out.net.push(...(await subdirs(sub)).map((n) => join(sub, n)));
    else if (name === 'block') out.block.push(...(await subdirs(sub)).map((n) => join(sub, n)));
    else if (!['driver', 'subsystem', 'firmware_node', 'iommu_group', 'power'].includes(name)) {
      const deeper = await classDevices(sub, depth + 1);
      out.net.push(...deeper.net);
      out.block.push(...deeper.block);
    }
  }
  return out;
}

/** `major:minor` of every mount, and of the filesystem at `/`. */
async function mounts(src: DetachSources): Promise<{ all: Map<string, string>; root: string | undefined }> {
  const all = new Map<string, string>();
  let root: string | undefined;
  for (const line of ((await read(src.mountinfo)) ?? '').split('\n')) {
    const f = line.split(' ');
    if (f.length < 5) continue;
    const dev = f[2]!;
    all.set(dev, f[4]!);
    if (f[4] === '/') root = dev;
  }
  return { all, root };
}

/** Refuses when the host uses `dev` (see the module comment); resolves when it may be detached. */
export async function checkUnused(dev: HostDevice, src: DetachSources): Promise<void> {
  const dir = dev.sysfsPath!;
  const { net, block } = await classDevices(dir);
  const addrs = (src.addresses ?? networkInterfaces)();
  for (const n of net) {
    const ifname = basename(n);
    const flags = Number.parseInt((await read(join(n, 'flags'))) ?? '0', 16);
    if (flags & IFF_UP) throw refuse(dev.name, `its network interface '${ifname}' is up`);
    if ((addrs[ifname]?.length ?? 0) > 0)
      throw refuse(dev.name, `its network interface '${ifname}' has addresses`);
  }
  const { all, root } = await mounts(src);
  const rootDisk = root
    ? await realpath(join(src.sysRoot, 'dev/block', root)).catch(() => undefined)
    : undefined;
  if (rootDisk?.startsWith(`${dir}/`))
    throw refuse(dev.name, `it holds the boot disk (the filesystem at '/', device ${root})`);
  const swaps = ((await read(src.swaps)) ?? '')
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0]);
  for (const b of block) {
    const parts = [b, ...(await subdirs(b)).filter((p) => p.startsWith(basename(b))).map((p) => join(b, p))];
    for (const p of parts) {
      const majmin = await read(join(p, 'dev'));
      const where = majmin === undefined ? undefined : all.get(majmin);
      if (where !== undefined)
        throw refuse(dev.name, `its block device '${basename(p)}' is mounted at '${where}'`);
      if (swaps.includes(`/dev/${basename(p)}`))
        throw refuse(dev.name, `its block device '${basename(p)}' is swap`);
      // a device-mapper or md device built on it
      const held = await readdir(join(p, 'holders')).catch(() => [] as string[]);
      if (held.length > 0)
        throw refuse(dev.name, `its block device '${basename(p)}' is held by '${held[0]}'`);
    }
  }
}

/** The PCI device's address (`0000:00:02.0`) from its sysfs directory. */
const address = (dev: HostDevice) => basename(dev.sysfsPath!);

/** libvirt's detach: to vfio-pci (the only `driverName` libvirt's QEMU driver takes), after the checks. */
export async function detachPci(dev: HostDevice, driverName: string, src: DetachSources): Promise<void> {
  if (driverName !== VFIO)
    throw new VirError('INVALID_ARG', 'nodedev', `unknown driver name '${driverName}'`, {
      field: 'driverName',
    });
  if (dev.driver === VFIO) return;
  await checkUnused(dev, src);
  const group = await realpath(join(dev.sysfsPath!, 'iommu_group')).catch(() => undefined);
  if (!group)
    throw new VirError(
      'OPERATION_FAILED',
      'nodedev',
      `device '${dev.name}' has no IOMMU group: the host has no IOMMU enabled, VFIO cannot take it`,
    );
  const bus = await readdir(join(sysBus(dev), 'drivers')).catch(() => [] as string[]);
  if (!bus.includes(VFIO))
    throw new VirError(
      'OPERATION_FAILED',
      'nodedev',
      'the vfio-pci driver is not loaded (modprobe vfio-pci)',
    );
  await bind(dev, VFIO);
}

/** Back to the host's own driver: `driver_override` cleared, the kernel probes again. */
export async function reattachPci(dev: HostDevice): Promise<void> {
  if (dev.driver !== VFIO && dev.driver !== 'pci-stub')
    throw new VirError('OPERATION_INVALID', 'nodedev', `device '${dev.name}' is not detached`);
  await bind(dev, '');
}

/**
 * Gives back a device handed to vfio-pci for a guest (a managed host
 * device), whatever it is bound to now: `driver_override` cleared, and
 * unbound from the stub and probed again when the stub has it or nothing
 * does. One some other driver took meanwhile is left with that driver.
 */
export async function giveBackPci(dev: HostDevice): Promise<void> {
  await sysWrite(join(dev.sysfsPath!, 'driver_override'), '\n');
  const onStub = dev.driver === VFIO || dev.driver === 'pci-stub';
  if (onStub) await sysWrite(join(dev.sysfsPath!, 'driver/unbind'), address(dev));
  if (onStub || !dev.driver) await sysWrite(join(sysBus(dev), 'drivers_probe'), address(dev));
}

/** A function-level reset through sysfs, only of a detached device (the host's driver owns the others). */
export async function resetPci(dev: HostDevice): Promise<void> {
  if (dev.driver !== VFIO && dev.driver !== 'pci-stub')
    throw new VirError(
      'OPERATION_INVALID',
      'nodedev',
      `device '${dev.name}' is bound to its host driver; not resetting it`,
    );
  await sysWrite(join(dev.sysfsPath!, 'reset'), '1');
}

function sysBus(dev: HostDevice): string {
  const i = dev.sysfsPath!.indexOf('/devices/');
  return join(dev.sysfsPath!.slice(0, i), 'bus/pci');
}

async function bind(dev: HostDevice, override: string): Promise<void> {
  await sysWrite(join(dev.sysfsPath!, 'driver_override'), override === '' ? '\n' : override);
  if (dev.driver) await sysWrite(join(dev.sysfsPath!, 'driver/unbind'), address(dev));
  await sysWrite(join(sysBus(dev), 'drivers_probe'), address(dev));
}

async function sysWrite(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch (err) {
    throw new VirError('SYSTEM_ERROR', 'nodedev', `cannot write '${path}': ${(err as Error).message}`, {
      cause: err,
    });
  }
}

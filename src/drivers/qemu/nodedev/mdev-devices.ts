/**
 * Mediated devices: the types a parent offers (`mdev_supported_types/`
 * under a PCI device, libvirt's nested `<capability type='mdev_types'>`)
 * and the devices made from them (`/sys/bus/mdev/devices/<uuid>`), named as
 * libvirt names them, `mdev_<uuid>_<parent address>` with every
 * non-alphanumeric character made `_`; and making and removing one through
 * the kernel's `create` and `remove` files (libvirt goes through mdevctl,
 * which writes the same files; persistent definitions are mdevctl's and
 * not made here).
 *
 * @module
 */
import { realpath, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { VirError } from '../../../errors.js';
import type { XmlElement } from '../../../xml/tree.js';
import {
  deviceName,
  driverEl,
  driverOf,
  el,
  type FoundDevice,
  type HostDeviceSources,
  linkName,
  list,
  read,
  readInt,
  textEl,
  uevent,
} from './sysfs.js';

/** One type a parent offers. */
export interface MdevTypeInfo {
  /** The type's directory name (`i915-GVTg_V5_4`, `nvidia-63`). */
  readonly id: string;
  readonly name: string | undefined;
  readonly deviceApi: string;
  readonly availableInstances: number;
}

/** The types under `dir/mdev_supported_types`, sorted by id; a type whose attributes cannot be read is left out. */
export async function mdevTypes(dir: string): Promise<MdevTypeInfo[]> {
  const root = join(dir, 'mdev_supported_types');
  const out: MdevTypeInfo[] = [];
  for (const id of await list(root)) {
    const deviceApi = (await read(join(root, id, 'device_api')))?.trim();
    const available = await readInt(join(root, id, 'available_instances'), 10);
    if (!deviceApi || available === undefined) continue;
    const name = (await read(join(root, id, 'name')))?.trim() || undefined;
    out.push({ id, name, deviceApi, availableInstances: available });
  }
  return out;
}

/** `<capability type='mdev_types'>` for a parent with types; undefined for one without. */
export async function mdevTypesCap(dir: string): Promise<XmlElement | undefined> {
  const types = await mdevTypes(dir);
  if (types.length === 0) return undefined;
  return el(
    'capability',
    { type: 'mdev_types' },
    types.map((t) =>
      el('type', { id: t.id }, [
        ...(t.name ? [textEl('name', t.name)] : []),
        textEl('deviceAPI', t.deviceApi),
        textEl('availableInstances', String(t.availableInstances)),
      ]),
    ),
  );
}

/** libvirt's name of the mdev `uuid` under the parent whose sysfs directory is `parentDir`. */
export const mdevName = (uuid: string, parentDir: string) => deviceName('mdev', uuid, basename(parentDir));

/**
 * Every mediated device. libvirt leaves out one without an IOMMU group
 * (it cannot be assigned), and so does this.
 */
export async function mdevDevices(src: HostDeviceSources): Promise<FoundDevice[]> {
  const bus = join(src.sysRoot, 'bus/mdev/devices');
  const out: FoundDevice[] = [];
  for (const uuid of await list(bus)) {
    const dir = await realpath(join(bus, uuid)).catch(() => undefined);
    if (!dir) continue;
    const type = await realpath(join(dir, 'mdev_type')).catch(() => undefined);
    const group = await linkName(join(dir, 'iommu_group'));
    if (!type || group === undefined) continue;
    const driver = (await uevent(dir)).get('DRIVER') ?? (await driverOf(dir));
    out.push({
      name: mdevName(uuid, dirname(dir)),
      sysfsPath: dir,
      caps: ['mdev'],
      driver,
      body: [
        ...driverEl(driver),
        el('capability', { type: 'mdev' }, [
          el('type', { id: basename(type) }),
          textEl('uuid', uuid),
          el('iommuGroup', { number: group }),
        ]),
      ],
    });
  }
  return out;
}

/** How long a create waits for the kernel to show the new device (libvirt waits likewise). */
const CREATE_WAIT_MS = 5000;

/**
 * Makes the mediated device `uuid` of type `typeId` under the parent at
 * `parentDir` (named `parentName`): the uuid written to the type's `create`
 * file, then a wait for the kernel to list it. Refused before anything is
 * written: `NO_SUPPORT` for a parent without `mdev_supported_types`,
 * `INVALID_ARG` for a type it does not offer, `OPERATION_FAILED` when the
 * type has no instance left, `OPERATION_INVALID` for a uuid in use.
 */
export async function createMdev(
  src: HostDeviceSources,
  parentName: string,
  parentDir: string,
  typeId: string,
  uuid: string,
): Promise<string> {
  const types = await mdevTypes(parentDir);
  if (types.length === 0)
    throw new VirError(
      'NO_SUPPORT',
      'nodedev',
      `device '${parentName}' offers no mediated device types (it has no mdev_supported_types)`,
      { field: '/device/parent' },
    );
  const type = types.find((t) => t.id === typeId);
  if (!type)
    throw new VirError(
      'INVALID_ARG',
      'nodedev',
      `device '${parentName}' has no mediated device type '${typeId}' (it offers ${types.map((t) => `'${t.id}'`).join(', ')})`,
      { field: '/device/capability/type/@id' },
    );
  if (type.availableInstances <= 0)
    throw new VirError(
      'OPERATION_FAILED',
      'nodedev',
      `no instance of type '${typeId}' is left on '${parentName}'`,
    );
  const bus = join(src.sysRoot, 'bus/mdev/devices', uuid);
  if ((await realpath(bus).catch(() => undefined)) !== undefined)
    throw new VirError('OPERATION_INVALID', 'nodedev', `a mediated device with UUID ${uuid} exists already`, {
      field: '/device/capability/uuid',
    });
  await sysWrite(join(parentDir, 'mdev_supported_types', typeId, 'create'), uuid);
  for (const end = Date.now() + CREATE_WAIT_MS; Date.now() < end; ) {
    if ((await realpath(bus).catch(() => undefined)) !== undefined) return mdevName(uuid, parentDir);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new VirError(
    'OPERATION_FAILED',
    'nodedev',
    `the kernel did not list mediated device ${uuid} within ${CREATE_WAIT_MS / 1000} s`,
  );
}

/** Removes a mediated device (its `remove` file), as `virNodeDeviceDestroy` does through mdevctl. */
export async function removeMdev(dir: string): Promise<void> {
  await sysWrite(join(dir, 'remove'), '1');
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

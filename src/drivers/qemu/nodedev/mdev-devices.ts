/**
 * Mediated devices: the types a parent offers (`mdev_supported_types/`
 * under a PCI device, libvirt's nested `<capability type='mdev_types'>`)
 * and the devices made from them (`/sys/bus/mdev/devices/<uuid>`), named as
 * libvirt names them, `mdev_<uuid>_<parent address>` with every
 * non-alphanumeric character made `_`.
 *
 * @module
 */
import { realpath } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
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

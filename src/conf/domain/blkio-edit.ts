/**
 * `<blkiotune>` as libvirt's block I/O parameter calls name it: the weight
 * and, per kind, the list `"path,value,..."` of the devices with a value of
 * that kind (in `<device>` order), and the definition with new values
 * merged in: a device named gets the value, one not yet there is appended,
 * a value of 0 clears that kind and a device left with nothing goes (libvirt
 * keeps it, unwritten, where a later set would find it again).
 *
 * @module
 */
import { setUnknownContent, unknownContent } from '../binding.js';
import type { DomainDef } from './domain-def.js';
import type { BlkioDevice, Blkiotune } from './resources.js';

/** The `<device>` field of each per-device parameter. */
export const BLKIO_DEVICE_FIELDS = {
  device_weight: 'weight',
  device_read_iops_sec: 'readIopsSec',
  device_write_iops_sec: 'writeIopsSec',
  device_read_bytes_sec: 'readBytesSec',
  device_write_bytes_sec: 'writeBytesSec',
} as const satisfies Record<string, keyof BlkioDevice>;

/** A per-device parameter's name. */
export type BlkioDeviceParam = keyof typeof BLKIO_DEVICE_FIELDS;

/** The weight (0 when unset) and every per-device list of the definition, libvirt's order. */
export function blkioValues(def: DomainDef): { weight: number } & Record<BlkioDeviceParam, string> {
  const devices = def.blkiotune?.devices ?? [];
  const list = (field: keyof BlkioDevice) =>
    devices
      .filter((d) => typeof d[field] === 'number' && d[field] !== 0)
      .map((d) => `${d.path},${d[field]}`)
      .join(',');
  return {
    weight: def.blkiotune?.weight ?? 0,
    device_weight: list('weight'),
    device_read_iops_sec: list('readIopsSec'),
    device_write_iops_sec: list('writeIopsSec'),
    device_read_bytes_sec: list('readBytesSec'),
    device_write_bytes_sec: list('writeBytesSec'),
  };
}

/** New block I/O values: the weight, and per kind the devices' values. */
export interface BlkioChanges {
  readonly weight?: number;
  readonly devices?: Partial<Record<BlkioDeviceParam, readonly { path: string; value: number }[]>>;
}

/** The definition with these values merged into `<blkiotune>`; a weight of 0 removes it. */
export function withBlkio(def: DomainDef, changes: BlkioChanges): DomainDef {
  const bt = copied(def.blkiotune ?? ({} as Blkiotune));
  if (changes.weight !== undefined) {
    if (changes.weight === 0) delete bt.weight;
    else bt.weight = changes.weight;
  }
  const devices = (bt.devices ?? []).map((d) => copied(d));
  for (const [name, values] of Object.entries(changes.devices ?? {})) {
    const field = BLKIO_DEVICE_FIELDS[name as BlkioDeviceParam];
    for (const { path, value } of values ?? []) {
      let d = devices.find((x) => x.path === path);
      if (!d) {
        if (value === 0) continue;
        d = { path } as BlkioDevice;
        devices.push(d);
      }
      if (value === 0) delete d[field];
      else d[field] = value;
    }
  }
  const kept = devices.filter(
    (d) =>
      Object.values(BLKIO_DEVICE_FIELDS).some((f) => (d[f] ?? 0) !== 0) || unknownContent(d) !== undefined,
  );
  if (kept.length > 0) bt.devices = kept;
  else delete bt.devices;
  const out = copied(def);
  if (bt.weight === undefined && bt.devices === undefined && unknownContent(bt) === undefined)
    delete out.blkiotune;
  else out.blkiotune = bt;
  return out;
}

/** A shallow copy keeping the prototype and the unknown XML the object carries. */
function copied<T extends object>(v: T): T {
  const out = Object.assign(Object.create(Object.getPrototypeOf(v) as object) as T, v);
  setUnknownContent(out, unknownContent(v));
  return out;
}

/**
 * A disk's `<iotune>` as libvirt's `virDomainGetBlockIoTune` /
 * `virDomainSetBlockIoTune` name its values (`total_bytes_sec`, ...,
 * `group_name`), and the disk such a call means (by target or source path,
 * as libvirt's `virDomainDiskByName`).
 *
 * @module
 */
import { VirError } from '../../errors.js';
import { setUnknownContent, unknownContent } from '../binding.js';
import type { DiskDef, DiskIotune } from './devices/disk.js';
import type { DomainDef } from './domain-def.js';

/** The model's field of each numeric parameter, by libvirt's typed parameter name. */
export const IOTUNE_FIELDS = {
  total_bytes_sec: 'totalBytesSec',
  read_bytes_sec: 'readBytesSec',
  write_bytes_sec: 'writeBytesSec',
  total_iops_sec: 'totalIopsSec',
  read_iops_sec: 'readIopsSec',
  write_iops_sec: 'writeIopsSec',
  total_bytes_sec_max: 'totalBytesSecMax',
  read_bytes_sec_max: 'readBytesSecMax',
  write_bytes_sec_max: 'writeBytesSecMax',
  total_iops_sec_max: 'totalIopsSecMax',
  read_iops_sec_max: 'readIopsSecMax',
  write_iops_sec_max: 'writeIopsSecMax',
  size_iops_sec: 'sizeIopsSec',
  total_bytes_sec_max_length: 'totalBytesSecMaxLength',
  read_bytes_sec_max_length: 'readBytesSecMaxLength',
  write_bytes_sec_max_length: 'writeBytesSecMaxLength',
  total_iops_sec_max_length: 'totalIopsSecMaxLength',
  read_iops_sec_max_length: 'readIopsSecMaxLength',
  write_iops_sec_max_length: 'writeIopsSecMaxLength',
} as const satisfies Record<string, keyof DiskIotune>;

/** A numeric parameter's name. */
export type IotuneParamName = keyof typeof IOTUNE_FIELDS;

/** Every parameter with its value (0 and '' where unset), in libvirt's order. */
export type IotuneValues = { [K in IotuneParamName]: number } & { group_name: string };

/** The values `<iotune>` holds, every parameter present, as `virDomainGetBlockIoTune` lists them. */
export function iotuneValues(iotune: DiskIotune | undefined): IotuneValues {
  const out: Record<string, number | string> = {};
  for (const [name, field] of Object.entries(IOTUNE_FIELDS)) {
    out[name] = iotune?.[field] ?? 0;
    // libvirt lists the group between the I/O size and the burst lengths
    if (name === 'size_iops_sec') out.group_name = iotune?.groupName ?? '';
  }
  return out as IotuneValues;
}

/** `<iotune>` for the values: only what limits something (or names a group); undefined when nothing does. */
export function iotuneOf(values: IotuneValues): DiskIotune | undefined {
  const out: DiskIotune = {};
  for (const [name, field] of Object.entries(IOTUNE_FIELDS)) {
    const v = values[name as IotuneParamName];
    if (v > 0) out[field] = v;
  }
  if (values.group_name !== '') out.groupName = values.group_name;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * The disk `name` means: its target (`vda`), or its source path, as libvirt
 * finds it. `INVALID_ARG` naming it when there is none.
 */
export function diskByName(
  def: DomainDef,
  name: string,
  domain: 'test' | 'qemu',
): { disk: DiskDef; index: number } {
  const disks = def.devices?.disks ?? [];
  let index = disks.findIndex((d) => d.target?.dev === name);
  if (index < 0) index = disks.findIndex((d) => sourcePath(d) === name);
  const disk = disks[index];
  if (!disk)
    throw new VirError('INVALID_ARG', domain, `disk '${name}' was not found in the domain config`, {
      field: 'disk',
    });
  return { disk, index };
}

function sourcePath(d: DiskDef): string | undefined {
  const s = d.source;
  return s?.file ?? s?.dev ?? s?.dir;
}

/** A copy of `def` whose disk `index` has `iotune` (the rest shared). */
export function withDiskIotune(def: DomainDef, index: number, iotune: DiskIotune | undefined): DomainDef {
  const disks = [...(def.devices?.disks ?? [])];
  const disk = copied(disks[index] as DiskDef);
  if (iotune) disk.iotune = iotune;
  else delete disk.iotune;
  disks[index] = disk;
  const out = copied(def);
  out.devices = copied(def.devices ?? {});
  out.devices.disks = disks;
  return out;
}

/** A shallow copy keeping the prototype and the unknown XML the object carries. */
function copied<T extends object>(v: T): T {
  const out = Object.assign(Object.create(Object.getPrototypeOf(v) as object) as T, v);
  setUnknownContent(out, unknownContent(v));
  return out;
}

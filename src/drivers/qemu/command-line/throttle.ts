/**
 * Disk I/O limits, the two ways libvirt applies them:
 *
 * - `<throttlegroups>` become `-object throttle-group` (QOM id
 *   `throttle-<name>`, written after the I/O threads), and a disk's
 *   `<throttlefilters>` stack `throttle` block nodes on its top node
 *   (above copy-on-read), the device reading the last one;
 * - a disk's `<iotune>` is not on the command line at all: libvirt sets it
 *   with `block_set_io_throttle` once QEMU runs, before the guest's CPUs
 *   start, so it goes to {@link CommandLine.monitorCommands}.
 *
 * @module
 */

import type { DiskDef, DiskIotune, ThrottleGroup } from '../../../conf/domain/devices/disk.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';

/** QEMU refuses limits above 10^15 (libvirt checks the same bound before starting). */
const LIMIT_MAX = 1e15;

type Limits = Omit<ThrottleGroup, 'groupName'>;

/** Field name in the model → [QOM `limits` key, `block_set_io_throttle` argument], in libvirt's order. */
const RATES: Array<[keyof Limits, string, string]> = [
  ['totalBytesSec', 'bps-total', 'bps'],
  ['readBytesSec', 'bps-read', 'bps_rd'],
  ['writeBytesSec', 'bps-write', 'bps_wr'],
  ['totalIopsSec', 'iops-total', 'iops'],
  ['readIopsSec', 'iops-read', 'iops_rd'],
  ['writeIopsSec', 'iops-write', 'iops_wr'],
  ['totalBytesSecMax', 'bps-total-max', 'bps_max'],
  ['readBytesSecMax', 'bps-read-max', 'bps_rd_max'],
  ['writeBytesSecMax', 'bps-write-max', 'bps_wr_max'],
  ['totalIopsSecMax', 'iops-total-max', 'iops_max'],
  ['readIopsSecMax', 'iops-read-max', 'iops_rd_max'],
  ['writeIopsSecMax', 'iops-write-max', 'iops_wr_max'],
  ['sizeIopsSec', 'iops-size', 'iops_size'],
];
/** Burst lengths: written only when positive. */
const LENGTHS: Array<[keyof Limits, string, string]> = [
  ['totalBytesSecMaxLength', 'bps-total-max-length', 'bps_max_length'],
  ['readBytesSecMaxLength', 'bps-read-max-length', 'bps_rd_max_length'],
  ['writeBytesSecMaxLength', 'bps-write-max-length', 'bps_wr_max_length'],
  ['totalIopsSecMaxLength', 'iops-total-max-length', 'iops_max_length'],
  ['readIopsSecMaxLength', 'iops-read-max-length', 'iops_rd_max_length'],
  ['writeIopsSecMaxLength', 'iops-write-max-length', 'iops_wr_max_length'],
];

function hasAny(l: Limits): boolean {
  return [...RATES, ...LENGTHS].some(([k]) => (l[k] ?? 0) > 0);
}

/** The limits as QEMU names them (`which` 1: QOM throttle-group, 2: block_set_io_throttle). */
function limitProps(l: Limits, which: 1 | 2, field: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const row of RATES) {
    const v = l[row[0]] ?? 0;
    if (v > LIMIT_MAX)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `block I/O limits must be at most ${LIMIT_MAX}`, {
        field: `${field}/${snake(row[0])}`,
      });
    out[row[which]] = v;
  }
  for (const row of LENGTHS) {
    const v = l[row[0]] ?? 0;
    if (v > 0) out[row[which]] = v;
  }
  return out;
}

function snake(k: string): string {
  return k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** `-object throttle-group` for every named group that limits something. */
export function buildThrottleGroups(b: ArgvBuilder, def: DomainDef): void {
  for (const [i, g] of (def.throttleGroups?.groups ?? []).entries()) {
    const field = `/domain/throttlegroups/throttlegroup[${i + 1}]`;
    if (g.groupName === undefined || g.groupName === '')
      throw new VirError('XML_DETAIL', 'qemu', 'a throttle group needs a <group_name>', {
        field: `${field}/group_name`,
      });
    if (!hasAny(g)) continue;
    b.props(
      '-object',
      { 'qom-type': 'throttle-group', id: `throttle-${g.groupName}`, limits: limitProps(g, 1, field) },
      field,
    );
  }
}

/** How many block node numbers a disk's throttle filters take. */
export function throttleFilterCount(d: DiskDef): number {
  return d.throttleFilters?.filters?.length ?? 0;
}

/**
 * Stacks a disk's throttle filters on `top` (numbered from `first`) and
 * returns the node the device reads. Each filter must name a group the
 * domain defines; a disk takes filters or `<iotune>`, not both.
 */
export function buildThrottleFilters(
  b: ArgvBuilder,
  def: DomainDef,
  d: DiskDef,
  top: string,
  first: number,
  field: string,
): string {
  const filters = d.throttleFilters?.filters ?? [];
  if (filters.length === 0) return top;
  const at = `${field}/throttlefilters`;
  if (d.iotune)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'a disk takes <throttlefilters> or <iotune>, not both', {
      field: at,
    });
  if (d.device === 'cdrom')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'a CD-ROM cannot have throttle filters', { field: at });
  const groups = def.throttleGroups?.groups ?? [];
  let parent = top;
  for (const [i, f] of filters.entries()) {
    const where = `${at}/throttlefilter[${i + 1}]/@group`;
    const group = groups.find((g) => g.groupName === f.group);
    if (!group)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `throttle group '${f.group}' not found`, {
        field: where,
      });
    const node = `libvirt-${first + i}-filter`;
    b.props(
      '-blockdev',
      { driver: 'throttle', 'node-name': node, 'throttle-group': `throttle-${f.group}`, file: parent },
      where,
    );
    parent = node;
  }
  return parent;
}

/**
 * Where QMP finds a disk's block backend, from its device alias: the alias
 * itself for IDE, SATA, SCSI and floppy devices, the inner virtio-blk
 * device for virtio, the storage device's legacy SCSI disk for USB.
 */
export function diskQomName(bus: string, alias: string): string | undefined {
  switch (bus) {
    case 'ide':
    case 'sata':
    case 'scsi':
    case 'fdc':
      return alias;
    case 'virtio':
      return `/machine/peripheral/${alias}/virtio-backend`;
    case 'usb':
      return `/machine/peripheral/${alias}/${alias}.0/legacy[0]`;
    default:
      return undefined;
  }
}

/** The `block_set_io_throttle` a disk's `<iotune>` asks for, against the backend's QOM name. */
export function iotuneCommand(
  iotune: DiskIotune | undefined,
  bus: string,
  alias: string,
  field: string,
  /** Also when nothing is limited: a live change to no limits lifts those QEMU holds. */
  always = false,
): { execute: string; arguments: Record<string, unknown> } | undefined {
  if (!iotune) return undefined;
  const group = iotune.groupName;
  if (group === undefined && !hasAny(iotune) && !always) return undefined;
  const at = `${field}/iotune`;
  const qomId = diskQomName(bus, alias);
  if (qomId === undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `I/O limits cannot be set on a ${bus} disk`, {
      field: at,
    });
  const rates = limitProps(iotune, 2, at);
  const lengths: Record<string, number> = {};
  for (const k of LENGTHS.map((r) => r[2])) {
    const v = rates[k];
    if (v !== undefined) {
      lengths[k] = v;
      delete rates[k];
    }
  }
  return {
    execute: 'block_set_io_throttle',
    arguments: { id: qomId, ...rates, ...(group !== undefined ? { group } : {}), ...lengths },
  };
}

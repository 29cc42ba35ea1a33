/**
 * A guest's v1 blkio group, as libvirt's QEMU driver writes it: the weight
 * in `blkio.bfq.weight` (BFQ) or `blkio.weight` (CFQ, kernels before 5.0),
 * per-device weights in `blkio.weight_device` (CFQ only: libvirt does not
 * write BFQ's), throttles in `blkio.throttle.{read,write}_{iops,bps}_device`
 * as `major:minor value` lines. Which weight files a group has depends on
 * the I/O schedulers the kernel has; without them the call is refused with
 * libvirt's words.
 *
 * @module
 */
import { type BigIntStats, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { BlkioDeviceParam } from '../../../conf/domain/blkio-edit.js';
import { VirError } from '../../../errors.js';
import { writeValue } from './cgroup.js';

/** The group's weight file; undefined when no I/O scheduler of the kernel has one. */
function weightFile(dir: string): string | undefined {
  for (const f of ['blkio.bfq.weight', 'blkio.weight']) if (existsSync(join(dir, f))) return f;
  return undefined;
}

const NO_WEIGHT = 'blkio device weight is valid only for bfq or cfq scheduler';
const NO_DEVICE_WEIGHT = 'blkio device weight is valid only for cfq scheduler';

/** The file a per-device parameter is written to. */
const DEVICE_FILES: Record<BlkioDeviceParam, string> = {
  device_weight: 'blkio.weight_device',
  device_read_iops_sec: 'blkio.throttle.read_iops_device',
  device_write_iops_sec: 'blkio.throttle.write_iops_device',
  device_read_bytes_sec: 'blkio.throttle.read_bps_device',
  device_write_bytes_sec: 'blkio.throttle.write_bps_device',
};

/** Refuses, before anything is written, what this group cannot take. */
export function checkBlkioGroup(dir: string, weight: boolean, kinds: readonly BlkioDeviceParam[]): void {
  if (weight && weightFile(dir) === undefined) throw new VirError('OPERATION_INVALID', 'qemu', NO_WEIGHT);
  for (const k of kinds)
    if (!existsSync(join(dir, DEVICE_FILES[k])))
      throw new VirError(
        'OPERATION_INVALID',
        'qemu',
        k === 'device_weight' ? NO_DEVICE_WEIGHT : `blkio cgroup has no ${DEVICE_FILES[k]}`,
        { field: k },
      );
}

/** The group's weight; refused as libvirt refuses it without a weight file. */
export function readBlkioWeight(dir: string): number {
  const f = weightFile(dir);
  if (f === undefined) throw new VirError('OPERATION_INVALID', 'qemu', NO_WEIGHT);
  // BFQ writes "default N" on some kernels
  const text = readFileSync(join(dir, f), 'utf8').trim();
  return Number(/(\d+)\s*$/.exec(text)?.[1] ?? 0);
}

/** Sets the weight and answers what the kernel took. */
export function setBlkioWeight(dir: string, weight: number): number {
  const f = weightFile(dir);
  if (f === undefined) throw new VirError('OPERATION_INVALID', 'qemu', NO_WEIGHT);
  writeValue(dir, f, weight);
  return readBlkioWeight(dir);
}

/**
 * A block device's `major:minor`, as libvirt's `virCgroupGetBlockDevString`
 * makes it: the path must name a block device (SYSTEM_ERROR otherwise).
 */
export function blockDeviceNumber(path: string): string {
  let st: BigIntStats;
  try {
    st = statSync(path, { bigint: true });
  } catch (err) {
    throw new VirError('SYSTEM_ERROR', 'qemu', `Path '${path}' is not accessible: ${(err as Error).message}`);
  }
  if (!st.isBlockDevice())
    throw new VirError('SYSTEM_ERROR', 'qemu', `Path '${path}' must be a block device: Invalid argument`);
  // glibc's dev_t layout: 12 + 20 bits of major, 8 + 24 bits of minor
  const d = st.rdev;
  const major = ((d >> 8n) & 0xfffn) | ((d >> 32n) & ~0xfffn);
  const minor = (d & 0xffn) | ((d >> 12n) & ~0xffn);
  return `${major}:${minor}`;
}

/** A device's value in a `major:minor value` file; 0 when it has none. */
function deviceValue(dir: string, file: string, dev: string): number {
  for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
    const [d, v] = line.trim().split(/\s+/);
    if (d === dev && v !== undefined) return Number(v);
  }
  return 0;
}

/**
 * Writes one device's value of one kind (0 removes the rule) and answers
 * what the kernel kept, as libvirt reads it back into the live definition.
 */
export function setBlkioDevice(dir: string, kind: BlkioDeviceParam, path: string, value: number): number {
  const dev = blockDeviceNumber(path);
  const file = DEVICE_FILES[kind];
  if (!existsSync(join(dir, file)))
    throw new VirError('OPERATION_INVALID', 'qemu', kind === 'device_weight' ? NO_DEVICE_WEIGHT : file, {
      field: kind,
    });
  writeValue(dir, file, `${dev} ${value}`);
  return deviceValue(dir, file, dev);
}

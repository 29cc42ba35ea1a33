/**
 * The argument types and checks of `Domain.getBlkioParameters` /
 * `setBlkioParameters`: libvirt's typed parameter names
 * (`VIR_DOMAIN_BLKIO_*`), a `uint` weight and per-device lists as strings
 * (`"path,value,path,value"`), and the parse libvirt's drivers make of those
 * strings, with libvirt's messages.
 *
 * @module
 */
import type { BlkioChanges } from './conf/domain/blkio-edit.js';
import { VirError } from './errors.js';

/**
 * Block I/O parameters by libvirt's names. The per-device ones are lists
 * `"path,value[,path,value...]"` of block devices; a read answers every
 * device with a value of that kind (`""` for none), a set changes the
 * devices it names (a value of 0 removes one) and keeps the others.
 */
export interface BlkioParameters {
  /** The guest's I/O weight (`<blkiotune><weight>`; 0: none set). */
  weight?: number;
  /** Per-device weights (`<device><weight>`). */
  device_weight?: string;
  /** Per-device read limits, operations per second (`<read_iops_sec>`). */
  device_read_iops_sec?: string;
  /** Per-device write limits, operations per second (`<write_iops_sec>`). */
  device_write_iops_sec?: string;
  /** Per-device read limits, bytes per second (`<read_bytes_sec>`). */
  device_read_bytes_sec?: string;
  /** Per-device write limits, bytes per second (`<write_bytes_sec>`). */
  device_write_bytes_sec?: string;
}

/** One block I/O parameter's name. */
export type BlkioParameterName = keyof BlkioParameters;

/** A per-device block I/O parameter's name. */
export type BlkioDeviceParameterName = Exclude<BlkioParameterName, 'weight'>;

/** Each block I/O parameter's typed-parameter type, in libvirt's order. */
export const BLKIO_PARAMS: Readonly<Record<BlkioParameterName, 'uint' | 'string'>> = {
  weight: 'uint',
  device_weight: 'string',
  device_read_iops_sec: 'string',
  device_write_iops_sec: 'string',
  device_read_bytes_sec: 'string',
  device_write_bytes_sec: 'string',
};

/** The per-device parameters, in libvirt's order. */
export const BLKIO_DEVICE_PARAMS: readonly BlkioDeviceParameterName[] = [
  'device_weight',
  'device_read_iops_sec',
  'device_write_iops_sec',
  'device_read_bytes_sec',
  'device_write_bytes_sec',
];

/** The parameters checked as libvirt's client and `virTypedParamsValidate` do: known names, their types. */
export function checkBlkioParameters(params: BlkioParameters): void {
  if (params === null || typeof params !== 'object' || Array.isArray(params))
    throw new VirError('INVALID_ARG', 'domain', 'parameters must be an object', { field: 'params' });
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const kind = (BLKIO_PARAMS as Record<string, string>)[name];
    if (kind === undefined)
      throw new VirError('ARGUMENT_UNSUPPORTED', 'domain', `parameter '${name}' not supported`, {
        field: name,
      });
    const ok =
      kind === 'uint'
        ? typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 0xffff_ffff
        : typeof value === 'string';
    if (!ok)
      throw new VirError('INVALID_ARG', 'domain', `invalid value for parameter '${name}' (${kind})`, {
        field: name,
      });
  }
}

/** One device of a per-device list. */
export interface BlkioDeviceValue {
  /** The device's path as written (a block device's, for the QEMU driver). */
  readonly path: string;
  /** The value for it; 0 removes it. */
  readonly value: number;
}

/** Weights and operation counts are unsigned 32-bit, byte rates unsigned 64-bit (here, up to 2^53 - 1). */
function maxOf(name: BlkioDeviceParameterName): number {
  return name.endsWith('_bytes_sec') ? Number.MAX_SAFE_INTEGER : 0xffff_ffff;
}

/**
 * A value field read as libvirt's `virStrToLong_uip`/`_ullp` read one:
 * leading white space and a `+` allowed, no `-`, decimal digits. What
 * follows the digits makes the whole list unparsable rather than the value
 * invalid, as in libvirt.
 */
function readValue(text: string, max: number): number | 'invalid' | 'unparsable' {
  const m = /^[ \t\n\v\f\r]*\+?([0-9]+)/.exec(text);
  if (!m) return 'invalid';
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n) || n > max) return 'invalid';
  return m[0].length === text.length ? n : 'unparsable';
}

/**
 * A per-device list parsed as libvirt's drivers do: `""` is no device;
 * otherwise pairs of a path (anything up to a comma) and a value, so an
 * odd number of commas. Refused with libvirt's messages (INVALID_ARG).
 */
export function parseBlkioDeviceList(name: BlkioDeviceParameterName, list: string): BlkioDeviceValue[] {
  if (list === '') return [];
  const fields = list.split(',');
  const unparsable = new VirError(
    'INVALID_ARG',
    'domain',
    `unable to parse blkio device '${name}' '${list}'`,
    {
      field: name,
    },
  );
  if (fields.length % 2 !== 0) throw unparsable;
  const out: BlkioDeviceValue[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const path = fields[i] as string;
    const value = readValue(fields[i + 1] as string, maxOf(name));
    if (value === 'unparsable') throw unparsable;
    if (value === 'invalid')
      // libvirt quotes the rest of the list from this value on
      throw new VirError(
        'INVALID_ARG',
        'domain',
        `invalid value '${fields.slice(i + 1).join(',')}' for parameter '${name}' of device '${path}'`,
        { field: name },
      );
    out.push({ path, value });
  }
  return out;
}

/**
 * The parameters as changes to a definition, every list parsed first (so a
 * bad one changes nothing); the drivers' step.
 *
 * @internal
 */
export function blkioChanges(params: BlkioParameters): BlkioChanges {
  const devices: NonNullable<BlkioChanges['devices']> = {};
  for (const name of BLKIO_DEVICE_PARAMS) {
    const list = params[name];
    if (list !== undefined) devices[name] = parseBlkioDeviceList(name, list);
  }
  return { ...(params.weight !== undefined ? { weight: params.weight } : {}), devices };
}

/**
 * libvirt's scaled sizes: a number with a `unit` attribute, normalised to
 * KiB on output the way libvirt does for memory.
 *
 * @module
 */
import { VirError } from '../errors.js';

/** Every unit spelling libvirt accepts, lower-cased, with its size in bytes. */
const UNIT_BYTES: ReadonlyMap<string, bigint> = new Map([
  ['b', 1n],
  ['bytes', 1n],
  ['k', 1024n],
  ['kib', 1024n],
  ['kb', 1000n],
  ['m', 1024n ** 2n],
  ['mib', 1024n ** 2n],
  ['mb', 1000n ** 2n],
  ['g', 1024n ** 3n],
  ['gib', 1024n ** 3n],
  ['gb', 1000n ** 3n],
  ['t', 1024n ** 4n],
  ['tib', 1024n ** 4n],
  ['tb', 1000n ** 4n],
  ['p', 1024n ** 5n],
  ['pib', 1024n ** 5n],
  ['pb', 1000n ** 5n],
  ['e', 1024n ** 6n],
  ['eib', 1024n ** 6n],
  ['eb', 1000n ** 6n],
]);

/** True when `unit` is a unit libvirt accepts (case-insensitive). */
export function isSizeUnit(unit: string): boolean {
  return UNIT_BYTES.has(unit.toLowerCase());
}

/**
 * Converts `value` in `unit` (default KiB) to bytes. Throws `INVALID_ARG`
 * for an unknown unit or a result over 2^64 - 1.
 */
export function toBytes(value: bigint | number, unit = 'KiB'): bigint {
  const scale = UNIT_BYTES.get(unit.toLowerCase());
  if (scale === undefined) throw new VirError('INVALID_ARG', 'conf', `unknown unit '${unit}'`);
  const v = typeof value === 'bigint' ? value : BigInt(value);
  if (v < 0n) throw new VirError('INVALID_ARG', 'conf', `negative size ${v}`);
  const bytes = v * scale;
  if (bytes > 0xffffffffffffffffn) throw new VirError('INVALID_ARG', 'conf', `size ${v} ${unit} overflows`);
  return bytes;
}

/**
 * Converts to KiB, rounding up as libvirt does when a byte count is not a
 * whole number of KiB.
 */
export function toKiB(value: bigint | number, unit = 'KiB'): bigint {
  const bytes = toBytes(value, unit);
  return (bytes + 1023n) / 1024n;
}

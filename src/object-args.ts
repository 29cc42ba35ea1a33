/**
 * Argument checks shared by the object handles (pools, volumes, networks,
 * secrets, node devices): names, UUIDs, sizes, optional driver calls.
 * Everything here fails before a driver is asked, with `INVALID_ARG` and the
 * argument's name, so a bad value never reaches a daemon half-checked.
 *
 * @module
 */
import { canonicalUuid, looksLikeUuid } from './connection-args.js';
import type { ObjectKind } from './driver-objects.js';
import { VirError, type VirErrorDomain } from './errors.js';

/** The error domain of each object kind. */
export const KIND_DOMAIN: Record<ObjectKind, VirErrorDomain> = {
  storage: 'storage',
  networks: 'network',
  secrets: 'secret',
  nodeDevices: 'nodedev',
};

/** Human names of the sub-drivers, for `NO_SUPPORT` messages. */
export const KIND_NAME: Record<ObjectKind, string> = {
  storage: 'storage',
  networks: 'network',
  secrets: 'secret',
  nodeDevices: 'node device',
};

/** A non-empty string argument (a name, a key, a path). */
export function checkName(value: unknown, field: string, domain: VirErrorDomain): string {
  if (typeof value !== 'string' || value === '' || value.includes('\0')) {
    throw new VirError('INVALID_ARG', domain, `${field} must be a non-empty string`, { field });
  }
  return value;
}

/** A UUID with or without dashes, in its canonical form. */
export function checkUuid(value: unknown, field: string, domain: VirErrorDomain): string {
  if (typeof value !== 'string' || !looksLikeUuid(value)) {
    throw new VirError('INVALID_ARG', domain, `invalid UUID '${String(value)}'`, { field });
  }
  return canonicalUuid(value);
}

const U64_MAX = (1n << 64n) - 1n;

/** A size in bytes that fits libvirt's `unsigned long long`: a safe integer or a bigint, not negative. */
export function checkBytes(value: unknown, field: string, domain: VirErrorDomain): bigint {
  let n: bigint | undefined;
  if (typeof value === 'bigint') n = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) n = BigInt(value);
  if (n === undefined || n < 0n || n > U64_MAX) {
    throw new VirError('INVALID_ARG', domain, `${field} must be a whole number of bytes from 0 to 2^64-1`, {
      field,
    });
  }
  return n;
}

/** The optional call `method` of a sub-driver, or `NO_SUPPORT`. */
export function needCall<D extends object, K extends keyof D>(
  driver: D,
  method: K,
  kind: ObjectKind,
): NonNullable<D[K]> {
  const fn = driver[method];
  if (typeof fn !== 'function') {
    throw new VirError(
      'NO_SUPPORT',
      KIND_DOMAIN[kind],
      `this ${KIND_NAME[kind]} driver does not support ${String(method)}`,
    );
  }
  return (fn as (...a: unknown[]) => unknown).bind(driver) as NonNullable<D[K]>;
}

/**
 * A lookup string: a UUID-looking string is a UUID (tried first, then as a
 * name, as virsh does), anything else a name.
 */
export function uuidOrName(key: string): string | undefined {
  return looksLikeUuid(key) ? canonicalUuid(key) : undefined;
}

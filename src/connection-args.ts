/**
 * The argument checks and small conversions of the public facade
 * (`Connection`, `Domain`): a missing driver method as `NO_SUPPORT`, XML
 * sources, domain lookups, UUIDs, abort reasons and start timeouts.
 *
 * @module
 */

import { whenAborted } from './abort-listeners.js';
import type { CallOptions, DomainLookup, DomainRef, DriverConnection, StartCallOptions } from './driver.js';
import { throwIfAborted, toVirError, VirError } from './errors.js';

/** Anything with a `toXML()` (a `DomainDef`, say) or an XML string. */
/** A definition as XML text or as a model (`DomainDef`, `CpuDef`, ...) that formats itself. */
export type XmlSource =
  | string
  | {
      /** The definition as XML. */
      toXML(): string;
    };

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

/** Whether a string has the form of a UUID, with or without dashes. */
export function looksLikeUuid(s: string): boolean {
  return UUID_RE.test(s);
}

export function abortReason(signal: AbortSignal): VirError {
  const r: unknown = signal.reason;
  if (r instanceof VirError) return r;
  return new VirError('OPERATION_ABORTED', 'connect', 'operation aborted', { cause: r });
}

export function need<K extends keyof DriverConnection>(
  driver: DriverConnection,
  method: K,
): NonNullable<DriverConnection[K]> {
  const fn = driver[method];
  if (typeof fn !== 'function') {
    throw new VirError('NO_SUPPORT', 'connect', `${driver.type} driver does not support ${String(method)}`);
  }
  return fn as NonNullable<DriverConnection[K]>;
}

export function toXml(src: XmlSource): string {
  if (typeof src === 'string') return src;
  if (src && typeof (src as { toXML?: unknown }).toXML === 'function') return src.toXML();
  throw new VirError('INVALID_ARG', 'connect', 'expected an XML string or an object with toXML()');
}

export function toLookup(key: string | number | DomainLookup): DomainLookup {
  if (typeof key === 'number') {
    if (!Number.isInteger(key) || key < 0)
      throw new VirError('INVALID_ARG', 'connect', `invalid domain id ${key}`);
    return { id: key };
  }
  if (typeof key === 'string') {
    if (key === '') throw new VirError('INVALID_ARG', 'connect', 'empty domain name');
    return { name: key };
  }
  if (key && typeof key === 'object' && ('name' in key || 'uuid' in key || 'id' in key)) {
    if ('uuid' in key) {
      if (typeof key.uuid !== 'string' || !UUID_RE.test(key.uuid)) {
        throw new VirError('INVALID_ARG', 'connect', `invalid UUID '${String(key.uuid)}'`);
      }
      return { uuid: canonicalUuid(key.uuid) };
    }
    return key;
  }
  throw new VirError('INVALID_ARG', 'connect', 'lookupDomain needs a name, UUID or id');
}

/** Lower-case, dashed form of a UUID given with or without dashes. */
export function canonicalUuid(uuid: string): string {
  const hex = uuid.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A start's `timeout`: whole milliseconds, at least 1. */
export function checkStartTimeout(timeout: unknown): number | undefined {
  if (timeout === undefined) return undefined;
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout < 1) {
    throw new VirError('INVALID_ARG', 'connect', `invalid start timeout ${String(timeout)} ms`, {
      field: 'timeout',
    });
  }
  return timeout;
}

/** `NO_SUPPORT` for a domain call the driver does not implement, naming the call and the domain. */
export function unsupportedDomainCall(type: string, method: string, dom: DomainRef): VirError {
  return new VirError(
    'NO_SUPPORT',
    'connect',
    `${type} driver does not support ${method.slice(6)} (${dom.name})`,
  );
}

/**
 * Runs one driver call: gives the driver a signal that fires on the
 * caller's abort or when the connection closes (`closing`), and makes sure
 * the caller sees a VirError and is never left waiting on a closed
 * connection even if the driver ignores its signal.
 */
export async function guardedCall<T>(
  what: string,
  opts: CallOptions,
  closing: AbortSignal,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  throwIfAborted(opts.signal, 'connect');
  const timeout = callTimeout(opts.timeout);
  const sources = opts.signal ? [opts.signal, closing] : [closing];
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (timeout !== undefined) {
    const deadline = new AbortController();
    timer = setTimeout(
      () =>
        deadline.abort(
          new VirError('OPERATION_TIMEOUT', 'connect', `${what}: no answer within ${timeout} ms`),
        ),
      timeout,
    );
    sources.push(deadline.signal);
  }
  // Every call gets a signal of its own, even when it has no source but the
  // connection's: a driver adds listeners to the signal it is given (job
  // queues, QMP waits, timeouts), and twenty concurrent starts handed the one
  // closing signal would add twenty to it. The call's signal listens to its
  // sources through abort-listeners.ts, one listener per source.
  const own = new AbortController();
  const fired = sources.find((s) => s.aborted);
  if (fired) own.abort(fired.reason); // at once, as the source itself is, not a microtask later
  const unlink = sources.map((s) => whenAborted(s, () => own.abort(s.reason)));
  const signal = own.signal;
  let stop: (() => void) | undefined;
  const aborted = new Promise<never>((_, reject) => {
    // one listener per signal however many calls share it (see abort-listeners.ts)
    stop = whenAborted(signal, () => reject(abortReason(signal)));
  });
  try {
    return await Promise.race([run(signal), aborted]);
  } catch (err) {
    throw toVirError(err, 'INTERNAL_ERROR', 'connect', what);
  } finally {
    stop?.();
    for (const u of unlink) u();
    if (timer) clearTimeout(timer);
    // The race's loser must not surface as an unhandled rejection.
    aborted.catch(() => {});
  }
}

/** `Connection.restoreDomain`'s driver call: `path` must be absolute (`INVALID_ARG` naming it). */
export function restoreCall(
  driver: DriverConnection,
  path: string,
  opts: StartCallOptions,
): (signal: AbortSignal) => Promise<DomainRef> {
  const run = need(driver, 'restoreDomain');
  return async (signal) => {
    if (typeof path !== 'string' || !path.startsWith('/'))
      throw new VirError('INVALID_ARG', 'connect', `save path must be absolute, got '${path}'`, {
        field: 'path',
      });
    return run.call(driver, path, { signal, ...(opts.paused ? { paused: true } : {}) });
  };
}

/** A call's `timeout` option: a positive number of milliseconds, or none. */
function callTimeout(timeout: unknown): number | undefined {
  if (timeout === undefined) return undefined;
  if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
    throw new VirError('INVALID_ARG', 'connect', `invalid call timeout ${String(timeout)} ms`, {
      field: 'timeout',
    });
  }
  return timeout;
}

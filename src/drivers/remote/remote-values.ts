/**
 * Values between our types and the remote protocol's: domain references
 * (with the daemon's UUID bytes remembered), fixed char arrays, flag words,
 * CPU comparison results, and the hypervisor target of a query.
 *
 * @module
 */
import type { BaselineOptions, CpuCompareResult, DomainCapabilitiesQuery, DomainRef } from '../../driver.js';
import { VirError } from '../../errors.js';
import type { RemoteNonnullDomain } from './gen/remote-protocol.js';

const AFFECT_LIVE = 1;
const AFFECT_CONFIG = 2;

export function uuidToBytes(uuid: string): Uint8Array {
  const hex = uuid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new VirError('INVALID_ARG', 'remote', `invalid UUID '${uuid}'`);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function uuidFromBytes(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += b.toString(16).padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The daemon's own UUID bytes of the refs we made, so a call on them need not parse the string. */
const uuidBytes = new WeakMap<DomainRef, Uint8Array>();

export function toRef(d: RemoteNonnullDomain): DomainRef {
  const ref = { name: d.name, uuid: uuidFromBytes(d.uuid), id: d.id };
  uuidBytes.set(ref, d.uuid);
  return ref;
}

export function toRemote(d: DomainRef): RemoteNonnullDomain {
  return { name: d.name, uuid: uuidBytes.get(d) ?? uuidToBytes(d.uuid), id: d.id };
}

/** Reads a fixed `char model[32]` (one XDR int per char) up to its NUL. */
export function charArrayToString(chars: readonly number[]): string {
  let s = '';
  for (const c of chars) {
    if (c === 0) break;
    s += String.fromCharCode(c & 0xff);
  }
  return s;
}

export function nonNegative(n: number | bigint): number {
  return typeof n === 'bigint' ? Number(n) : n;
}

/** Promise.all that leaves no rejection unhandled when it fails early on another. */
export function allOf<T extends readonly unknown[]>(
  promises: readonly [...{ [K in keyof T]: Promise<T[K]> }],
): Promise<T> {
  for (const p of promises) p.catch(() => {});
  return Promise.all(promises) as Promise<T>;
}

export function compareResult(n: number): CpuCompareResult {
  switch (n) {
    case 0:
      return 'incompatible';
    case 1:
      return 'identical';
    case 2:
      return 'superset';
    default:
      throw new VirError('INTERNAL_ERROR', 'remote', `unexpected CPU comparison result ${n}`);
  }
}

export function baselineFlags(opts: BaselineOptions): number {
  // VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES = 1, MIGRATABLE = 2
  return (opts.expandFeatures ? 1 : 0) | (opts.migratable ? 2 : 0);
}

export function affectFlags(opts: { config?: boolean; live?: boolean }): number {
  return (opts.live ? AFFECT_LIVE : 0) | (opts.config ? AFFECT_CONFIG : 0);
}

export function hypervisorTarget(query: DomainCapabilitiesQuery): {
  emulator: string | null;
  arch: string | null;
  machine: string | null;
  virttype: string | null;
} {
  return {
    emulator: query.emulator ?? null,
    arch: query.arch ?? null,
    machine: query.machine ?? null,
    virttype: query.virttype ?? null,
  };
}

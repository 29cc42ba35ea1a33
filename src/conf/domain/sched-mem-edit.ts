/**
 * `<cputune>`'s shares, periods and quotas and `<memtune>`'s limits as
 * libvirt's scheduler and memory parameter calls name them (`cpu_shares`,
 * `vcpu_period`, ..., `hard_limit`), and the definition with new values:
 * 0 (scheduler) or "unlimited" (memory) is no setting and is not written.
 *
 * A memory limit set above "unlimited" is not written either, yet libvirt's
 * drivers keep the number in the definition object and read it back as
 * given until the definition next goes through XML (a copy, a restart):
 * {@link withMemtune} remembers it beside the definition, for as long as
 * that object lives.
 *
 * @module
 */
import { setUnknownContent, unknownContent } from '../binding.js';
import type { DomainDef } from './domain-def.js';
import type { Cputune, Memtune } from './resources.js';

/** The `<cputune>` field of each scheduler parameter. */
export const CPUTUNE_FIELDS = {
  cpu_shares: 'shares',
  vcpu_period: 'period',
  vcpu_quota: 'quota',
  emulator_period: 'emulatorPeriod',
  emulator_quota: 'emulatorQuota',
  global_period: 'globalPeriod',
  global_quota: 'globalQuota',
  iothread_period: 'iothreadPeriod',
  iothread_quota: 'iothreadQuota',
} as const satisfies Record<string, keyof Cputune>;

/** A scheduler parameter with a `<cputune>` field. */
export type CputuneParamName = keyof typeof CPUTUNE_FIELDS;

/** Every `<cputune>` scheduler value, 0 where unset, in libvirt's order. */
export type CputuneValues = Record<CputuneParamName, number>;

/** The `<memtune>` field of each memory parameter. */
export const MEMTUNE_FIELDS = {
  hard_limit: 'hardLimit',
  soft_limit: 'softLimit',
  swap_hard_limit: 'swapHardLimit',
  min_guarantee: 'minGuarantee',
} as const satisfies Record<string, keyof Memtune>;

/** A memory parameter's name. */
export type MemtuneParamName = keyof typeof MEMTUNE_FIELDS;

/** libvirt's "no limit": 2^53 - 1 KiB. */
const UNLIMITED = Number.MAX_SAFE_INTEGER;

/** The scheduler values of the definition. */
export function cputuneValues(def: DomainDef): CputuneValues {
  const out = {} as CputuneValues;
  for (const [name, field] of Object.entries(CPUTUNE_FIELDS))
    out[name as CputuneParamName] = def.cputune?.[field] ?? 0;
  return out;
}

/** Limits set above "unlimited", by definition object: in no XML, read back as set. */
const aboveUnlimited = new WeakMap<DomainDef, Partial<Record<MemtuneParamName, number>>>();

/** The memory limits of the definition, KiB; unset hard/soft/swap limits are "unlimited", min_guarantee 0. */
export function memtuneValues(def: DomainDef): Record<MemtuneParamName, number> {
  const out = {} as Record<MemtuneParamName, number>;
  const above = aboveUnlimited.get(def);
  for (const [name, field] of Object.entries(MEMTUNE_FIELDS)) {
    const v = def.memtune?.[field]?.value;
    const unsetIs = above?.[name as MemtuneParamName] ?? (name === 'min_guarantee' ? 0 : UNLIMITED);
    out[name as MemtuneParamName] = v === undefined || v < 0 ? unsetIs : v;
  }
  return out;
}

/** The definition with these scheduler values; 0 removes one. Pins and the rest of `<cputune>` stay. */
export function withCputune(def: DomainDef, values: Partial<CputuneValues>): DomainDef {
  const ct = copied(def.cputune ?? ({} as Cputune));
  for (const [name, v] of Object.entries(values)) {
    const field = CPUTUNE_FIELDS[name as CputuneParamName];
    if (field === undefined || v === undefined) continue;
    if (v === 0) delete ct[field];
    else ct[field] = v;
  }
  const out = copied(def);
  if (Object.values(ct).every((v) => v === undefined) && unknownContent(ct) === undefined) delete out.cputune;
  else out.cputune = ct;
  return out;
}

/** The definition with these limits (KiB); "unlimited" or more removes a limit, as does a 0 min_guarantee. */
export function withMemtune(def: DomainDef, values: Partial<Record<MemtuneParamName, number>>): DomainDef {
  const mt = copied(def.memtune ?? ({} as Memtune));
  const above = { ...aboveUnlimited.get(def) };
  for (const [name, v] of Object.entries(values)) {
    const field = MEMTUNE_FIELDS[name as MemtuneParamName];
    if (field === undefined || v === undefined) continue;
    delete above[name as MemtuneParamName];
    if (v > UNLIMITED) above[name as MemtuneParamName] = v;
    if (v >= UNLIMITED || (name === 'min_guarantee' && v === 0)) delete mt[field];
    else mt[field] = { unit: 'KiB', value: v };
  }
  const out = copied(def);
  if (Object.keys(above).length > 0) aboveUnlimited.set(out, above);
  if (Object.values(mt).every((v) => v === undefined) && unknownContent(mt) === undefined) delete out.memtune;
  else out.memtune = mt;
  return out;
}

/** A shallow copy keeping the prototype and the unknown XML the object carries. */
function copied<T extends object>(v: T): T {
  const out = Object.assign(Object.create(Object.getPrototypeOf(v) as object) as T, v);
  setUnknownContent(out, unknownContent(v));
  return out;
}

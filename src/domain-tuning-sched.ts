/**
 * The argument types and checks of `Domain.getSchedulerType` /
 * `getSchedulerParameters` / `setSchedulerParameters` and
 * `getMemoryParameters` / `setMemoryParameters`: libvirt's typed parameter
 * names (`VIR_DOMAIN_SCHEDULER_*`, `VIR_DOMAIN_MEMORY_*`), their types, and
 * the checks libvirt's client library and `virTypedParamsValidate` make
 * before a driver sees the call.
 *
 * @module
 */
import type { CallOptions } from './driver-objects.js';
import { VirError } from './errors.js';

/** What `getSchedulerType` answers: the scheduler's name and how many parameters it has. */
export interface SchedulerType {
  /** `posix` (QEMU with cgroups), `fair` (libvirt's test driver), ... */
  readonly type: string;
  /** The number of parameters `getSchedulerParameters` answers. */
  readonly nparams: number;
}

/**
 * Scheduler parameters by libvirt's names. The QEMU driver has the CPU
 * shares and the CFS periods (microseconds) and quotas (microseconds, -1
 * for none) of the vCPUs, the emulator threads, the whole guest and the I/O
 * threads; libvirt's test driver has one `weight`.
 */
export interface SchedulerParameters {
  /** Relative CPU weight (`<cputune><shares>`). */
  cpu_shares?: number;
  /** CFS period of each vCPU (`<period>`). */
  vcpu_period?: number;
  /** CFS quota of each vCPU (`<quota>`). */
  vcpu_quota?: number;
  /** CFS period of the emulator threads (`<emulator_period>`). */
  emulator_period?: number;
  /** CFS quota of the emulator threads (`<emulator_quota>`). */
  emulator_quota?: number;
  /** CFS period of the whole guest (`<global_period>`). */
  global_period?: number;
  /** CFS quota of the whole guest (`<global_quota>`). */
  global_quota?: number;
  /** CFS period of each I/O thread (`<iothread_period>`). */
  iothread_period?: number;
  /** CFS quota of each I/O thread (`<iothread_quota>`). */
  iothread_quota?: number;
  /** libvirt's test driver's single parameter. */
  weight?: number;
}

/** One scheduler parameter's name. */
export type SchedulerParameterName = keyof SchedulerParameters;

/** Options of the scheduler and memory parameter calls: the running guest and/or the persistent definition. */
export interface TuningParamsOptions extends CallOptions {
  /** The running guest. */
  live?: boolean;
  /** The persistent definition. */
  config?: boolean;
}

/** libvirt's typed parameter types: `ullong` unsigned 64-bit, `llong` signed, `uint` unsigned 32-bit. */
export type TypedParamKind = 'uint' | 'llong' | 'ullong';

/** Each scheduler parameter's typed-parameter type, in the QEMU driver's order, then the test driver's. */
export const SCHEDULER_PARAMS: Readonly<Record<SchedulerParameterName, TypedParamKind>> = {
  cpu_shares: 'ullong',
  vcpu_period: 'ullong',
  vcpu_quota: 'llong',
  emulator_period: 'ullong',
  emulator_quota: 'llong',
  global_period: 'ullong',
  global_quota: 'llong',
  iothread_period: 'ullong',
  iothread_quota: 'llong',
  weight: 'uint',
};

/** Memory limits in KiB by libvirt's names; {@link MEMORY_PARAM_UNLIMITED} for no limit. */
export interface MemoryParameters {
  /** The most the guest may use (`<memtune><hard_limit>`). */
  hard_limit?: number;
  /** What it is squeezed to under host memory pressure (`<soft_limit>`). */
  soft_limit?: number;
  /** Memory plus swap (`<swap_hard_limit>`). */
  swap_hard_limit?: number;
  /** Guaranteed memory (`<min_guarantee>`, not a QEMU or test driver parameter). */
  min_guarantee?: number;
}

/** One memory parameter's name. */
export type MemoryParameterName = keyof MemoryParameters;

/** The memory parameter names, in libvirt's order. */
export const MEMORY_PARAMS: readonly MemoryParameterName[] = [
  'hard_limit',
  'soft_limit',
  'swap_hard_limit',
  'min_guarantee',
];

/** libvirt's "no limit" (`VIR_DOMAIN_MEMORY_PARAM_UNLIMITED`): 2^53 - 1 KiB. */
export const MEMORY_PARAM_UNLIMITED = Number.MAX_SAFE_INTEGER;

const LIMITS: Record<TypedParamKind, [number, number]> = {
  uint: [0, 0xffff_ffff],
  // a JS number holds integers exactly up to 2^53; larger ones are not what the caller wrote
  llong: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  ullong: [0, Number.MAX_SAFE_INTEGER],
};

function checkObject(params: unknown): asserts params is Record<string, unknown> {
  if (params === null || typeof params !== 'object' || Array.isArray(params))
    throw new VirError('INVALID_ARG', 'domain', 'parameters must be an object', { field: 'params' });
}

/**
 * Memory limits are any `unsigned long long` below this, as libvirt takes them:
 * one above {@link MEMORY_PARAM_UNLIMITED} is the driver's to keep or refuse.
 * Past 2^53 a number is only as exact as a double (2^60 is; 2^53 + 1 is not).
 */
const ULLONG_END = 2 ** 64;

function checkValue(name: string, value: unknown, kind: TypedParamKind, end = LIMITS[kind][1] + 1): void {
  const min = LIMITS[kind][0];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value >= end)
    throw new VirError('INVALID_ARG', 'domain', `invalid value for parameter '${name}' (${kind})`, {
      field: name,
    });
}

/**
 * The scheduler parameters checked as libvirt's client does: a known name
 * and an integer of its type. Which names a driver takes, and their ranges,
 * the driver checks.
 */
export function checkSchedulerParameters(params: SchedulerParameters): void {
  checkObject(params);
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    const kind = (SCHEDULER_PARAMS as Record<string, TypedParamKind>)[name];
    if (kind === undefined)
      throw new VirError('ARGUMENT_UNSUPPORTED', 'domain', `parameter '${name}' not supported`, {
        field: name,
      });
    checkValue(name, value, kind);
  }
}

/** The memory parameters checked: known names, unsigned integers (KiB). */
export function checkMemoryParameters(params: MemoryParameters): void {
  checkObject(params);
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined) continue;
    if (!(MEMORY_PARAMS as readonly string[]).includes(name))
      throw new VirError('ARGUMENT_UNSUPPORTED', 'domain', `parameter '${name}' not supported`, {
        field: name,
      });
    checkValue(name, value, 'ullong', ULLONG_END);
  }
}

/** libvirt's `VIR_EXCLUSIVE_FLAGS` check of the read calls. */
export function checkOneOf(opts: TuningParamsOptions): void {
  if (opts.live && opts.config)
    throw new VirError(
      'INVALID_ARG',
      'domain',
      "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
      { field: 'flags' },
    );
}

/** Names a driver does not take refused as `virTypedParamsValidate` does, before anything changes. */
export function onlyParams(params: object, allowed: readonly string[]): void {
  for (const [name, value] of Object.entries(params))
    if (value !== undefined && !allowed.includes(name))
      throw new VirError('ARGUMENT_UNSUPPORTED', 'domain', `parameter '${name}' not supported`, {
        field: name,
      });
}

/**
 * The test driver's scheduler and memory parameter calls, as libvirt 9.0's
 * test driver has them (checked through python3-libvirt and a private
 * libvirtd): a `fair` scheduler with one `weight` that reads 50 and that a
 * set checks but does not keep, neither taking live or config flags; memory
 * limits kept in one definition at a time (`<memtune>`), a hard limit no
 * higher than the swap limit. No `tunable` event (libvirt's test driver
 * sends none).
 *
 * @module
 */
import { memtuneValues, withMemtune } from '../../conf/domain/sched-mem-edit.js';
import {
  type MemoryParameters,
  onlyParams,
  type SchedulerParameters,
  type SchedulerType,
  type TuningParamsOptions,
} from '../../domain-tuning-sched.js';
import { VirError } from '../../errors.js';
import type { TestDomain } from './test-host.js';

/** The weight libvirt's test driver answers, whatever was set. */
const WEIGHT = 50;
/** `VIR_TYPED_PARAM_STRING_OKAY`, which libvirt's client adds to every read's flags. */
const STRING_OKAY = 4;

function flagsOf(opts: TuningParamsOptions): number {
  return (opts.live ? 1 : 0) | (opts.config ? 2 : 0);
}

function unsupportedFlags(flags: number, fn: string): VirError {
  return new VirError(
    'INVALID_ARG',
    'test',
    `unsupported flags (0x${flags.toString(16)}) in function ${fn}`,
    {
      field: 'flags',
    },
  );
}

export function getSchedulerType(): SchedulerType {
  return { type: 'fair', nparams: 1 };
}

export function getSchedulerParameters(opts: TuningParamsOptions): SchedulerParameters {
  const flags = flagsOf(opts);
  if (flags !== 0) throw unsupportedFlags(flags | STRING_OKAY, 'testDomainGetSchedulerParametersFlags');
  return { weight: WEIGHT };
}

export function setSchedulerParameters(params: SchedulerParameters, opts: TuningParamsOptions): void {
  const flags = flagsOf(opts);
  if (flags !== 0) throw unsupportedFlags(flags, 'testDomainSetSchedulerParametersFlags');
  onlyParams(params, ['weight']);
  // libvirt's test driver checks the weight and keeps nothing
}

/** libvirt's `virDomainObjGetOneDef`: the live definition of a running domain by default. */
export function which(d: TestDomain, opts: TuningParamsOptions): 'live' | 'config' {
  if (opts.live && opts.config)
    throw new VirError(
      'INVALID_ARG',
      'test',
      "Flags 'VIR_DOMAIN_AFFECT_LIVE' and 'VIR_DOMAIN_AFFECT_CONFIG' are mutually exclusive",
      { field: 'flags' },
    );
  const live = opts.live === true || (!opts.config && d.live !== undefined);
  if (live && !d.live) throw new VirError('OPERATION_INVALID', 'test', 'domain is not running');
  if (!live && !d.persistent)
    throw new VirError('OPERATION_INVALID', 'test', 'transient domains do not have any persistent config');
  return live ? 'live' : 'config';
}

export function getMemoryParameters(d: TestDomain, opts: TuningParamsOptions): MemoryParameters {
  const def = which(d, opts) === 'live' && d.live ? d.live.def : d.config;
  const v = memtuneValues(def);
  return { hard_limit: v.hard_limit, soft_limit: v.soft_limit, swap_hard_limit: v.swap_hard_limit };
}

export function setMemoryParameters(
  d: TestDomain,
  params: MemoryParameters,
  opts: TuningParamsOptions,
): void {
  const target = which(d, opts);
  onlyParams(params, ['hard_limit', 'soft_limit', 'swap_hard_limit']);
  const def = target === 'live' && d.live ? d.live.def : d.config;
  // libvirt compares with the domain's current definition (the live one of a running
  // domain, whichever the flags change), numbers as they are: "unlimited" is 2^53 - 1
  const now = memtuneValues(d.live ? d.live.def : def);
  const hard = params.hard_limit ?? now.hard_limit;
  const swap = params.swap_hard_limit ?? now.swap_hard_limit;
  if ((params.hard_limit !== undefined || params.swap_hard_limit !== undefined) && hard > swap)
    throw new VirError(
      'INVALID_ARG',
      'test',
      'memory hard_limit tunable value must be lower than or equal to swap_hard_limit',
      { field: params.swap_hard_limit !== undefined ? 'swap_hard_limit' : 'hard_limit' },
    );
  const next = withMemtune(def, params);
  if (target === 'live' && d.live) d.live.def = next;
  else d.config = next;
}

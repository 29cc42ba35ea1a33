/**
 * `virDomainGetSchedulerType`, `Get/SetSchedulerParametersFlags` and
 * `Get/SetMemoryParameters` for the QEMU driver's table, as libvirt's QEMU
 * driver does them on a cgroup v1 host: the running guest's values in its
 * cgroups (`lifecycle/cgroup.ts`: `cpu.shares`, the CFS period and quota of
 * the vCPU, emulator, I/O thread groups and of the whole guest, the memory
 * limits), the persistent ones in `<cputune>` / `<memtune>`; a live
 * scheduler change emits `tunable` with the `cputune.*` values. Without
 * cgroups (the session instance, a host without the controller) the answers
 * are libvirt's refusals.
 *
 * @module
 */
import {
  cputuneValues,
  memtuneValues,
  withCputune,
  withMemtune,
} from '../../../conf/domain/sched-mem-edit.js';
import {
  MEMORY_PARAM_UNLIMITED,
  type MemoryParameters,
  onlyParams,
  type SchedulerParameters,
  type SchedulerType,
  type TuningParamsOptions,
} from '../../../domain-tuning-sched.js';
import type { CallOptions, DomainRef, TypedParamValue } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import {
  type CgroupHost,
  cgroupHost,
  cpuGroups,
  type GuestCgroup,
  guestCgroup,
  readKib,
  readNumber,
  SHARES_RANGE,
  setBandwidth,
  writeKib,
  writeValue,
} from '../lifecycle/cgroup.js';
import { cgroupV2Refusal } from '../lifecycle/cgroup-v2.js';
import { commitConfig, commitLive } from './commit-defs.js';
import { type Entry, isActive, refOf } from './domain-entry.js';
import type { DomainListAccess } from './migration.js';
import { targets } from './tuning.js';

/** libvirt's QEMU driver's scheduler parameters, in its order. */
const QEMU_SCHED = [
  'cpu_shares',
  'vcpu_period',
  'vcpu_quota',
  'emulator_period',
  'emulator_quota',
  'global_period',
  'global_quota',
  'iothread_period',
  'iothread_quota',
] as const;
type QemuSchedName = (typeof QEMU_SCHED)[number];

/** libvirt's ranges: CFS periods and quotas (µs; a quota below 0 is none); the shares' is cgroup.ts's. */
export const PERIOD_RANGE = [1000, 1_000_000] as const;
export const QUOTA_RANGE = [1000, 17_592_186_044_415] as const;

const MEMORY_NAMES = ['hard_limit', 'soft_limit', 'swap_hard_limit'] as const;

function sessionRefusal(what: 'CPU' | 'Memory'): VirError {
  return new VirError('OPERATION_INVALID', 'qemu', `${what} tuning is not available in session mode`);
}

function notMounted(controller: 'CPU' | 'memory'): VirError {
  return (
    cgroupV2Refusal(controller === 'CPU' ? 'cpu' : 'memory') ??
    new VirError('OPERATION_INVALID', 'qemu', `cgroup ${controller} controller is not mounted`)
  );
}

/** The host's cgroups, for the system instance; libvirt's refusal for the session one. */
function hostOf(side: DomainListAccess, what: 'CPU' | 'Memory'): CgroupHost | null {
  if (!side.runners.options.cgroups) throw sessionRefusal(what);
  return cgroupHost();
}

/** The running guest's group in a controller. */
function liveGroup(host: CgroupHost | null, e: Entry, controller: 'cpu' | 'memory'): GuestCgroup {
  const pid = e.runner?.pid;
  const g = host && pid !== undefined ? guestCgroup(host, pid) : undefined;
  if (!g?.[controller]) throw notMounted(controller === 'cpu' ? 'CPU' : 'memory');
  return g;
}

export async function getSchedulerType(
  side: DomainListAccess,
  dom: DomainRef,
  opts: CallOptions,
): Promise<SchedulerType> {
  const e = await side.owned(dom, opts, 'read the scheduler of');
  const host = hostOf(side, 'CPU');
  if (isActive(e)) liveGroup(host, e, 'cpu');
  else if (!host?.dirs.cpu) throw notMounted('CPU');
  return { type: 'posix', nparams: host?.bandwidth ? QEMU_SCHED.length : 1 };
}

export async function getSchedulerParameters(
  side: DomainListAccess,
  dom: DomainRef,
  opts: TuningParamsOptions,
): Promise<SchedulerParameters> {
  const e = await side.owned(dom, opts, 'read the scheduler parameters of');
  const host = hostOf(side, 'CPU');
  const { live } = targets(e, opts);
  if (!live) return { ...cputuneValues(e.config as NonNullable<Entry['config']>) };
  const g = liveGroup(host, e, 'cpu');
  const out: SchedulerParameters = { cpu_shares: readNumber(g.cpu as string, 'cpu.shares') };
  if (!host?.bandwidth) return out;
  for (const kind of ['vcpu', 'emulator', 'global', 'iothread'] as const) {
    // libvirt reads the first group of a kind (every vCPU gets the same); no I/O thread, zeros
    const dir = cpuGroups(g, kind)[0];
    out[`${kind}_period`] = dir ? readNumber(dir, 'cpu.cfs_period_us') : 0;
    out[`${kind}_quota`] = dir ? readNumber(dir, 'cpu.cfs_quota_us') : 0;
  }
  // libvirt's order, whatever order the kinds were read in
  return Object.fromEntries(QEMU_SCHED.map((k) => [k, out[k]]));
}

/** libvirt's range checks, before anything changes: 0 leaves a value as it is. */
function checkRanges(params: SchedulerParameters): void {
  for (const name of QEMU_SCHED) {
    const v = params[name];
    if (v === undefined) continue;
    if (name === 'cpu_shares') {
      if (v < SHARES_RANGE[0] || v > SHARES_RANGE[1])
        throw new VirError(
          'INVALID_ARG',
          'qemu',
          `shares '${v}' must be in range [${SHARES_RANGE[0]}, ${SHARES_RANGE[1]}]`,
          { field: name },
        );
      continue;
    }
    const [min, max] = name.endsWith('_period') ? PERIOD_RANGE : QUOTA_RANGE;
    if (name.endsWith('_period') && v < 0)
      throw new VirError('INVALID_ARG', 'qemu', `invalid value for parameter '${name}'`, { field: name });
    if ((v > 0 && v < min) || v > max)
      throw new VirError('INVALID_ARG', 'qemu', `value of '${name}' is out of range [${min}, ${max}]`, {
        field: name,
      });
  }
}

export async function setSchedulerParameters(
  side: DomainListAccess,
  dom: DomainRef,
  params: SchedulerParameters,
  opts: TuningParamsOptions,
): Promise<void> {
  const e = await side.owned(dom, opts, 'set the scheduler parameters of');
  await side.jobs.run(
    e.uuid,
    'set scheduler parameters',
    () => {
      onlyParams(params, QEMU_SCHED);
      checkRanges(params);
      const host = hostOf(side, 'CPU');
      const { live, config } = targets(e, opts);
      const given = QEMU_SCHED.filter((k) => params[k] !== undefined && params[k] !== 0);
      const g = live ? liveGroup(host, e, 'cpu') : undefined;
      if (g && !host?.bandwidth) {
        const bw = given.find((k) => k !== 'cpu_shares');
        if (bw)
          throw new VirError(
            'OPERATION_UNSUPPORTED',
            'qemu',
            'cgroup CPU bandwidth is not available on this host',
            {
              field: bw,
            },
          );
      }
      const values: Partial<Record<QemuSchedName, number>> = {};
      for (const k of given) {
        const v = params[k] as number;
        values[k] = k.endsWith('_quota') && v < 0 ? -1 : v;
      }
      if (g && e.live && e.runner) {
        const event: Record<string, TypedParamValue> = {};
        for (const k of given) {
          const v = values[k] as number;
          if (k === 'cpu_shares') {
            writeValue(g.cpu as string, 'cpu.shares', v);
            // libvirt 9.0 keeps the value given; within SHARES_RANGE a v1 kernel keeps it as
            // given too, so reading it back says the same and stays true on a kernel that differs
            values[k] = readNumber(g.cpu as string, 'cpu.shares');
          } else {
            const kind = k.slice(0, k.indexOf('_')) as 'vcpu' | 'emulator' | 'global' | 'iothread';
            for (const dir of cpuGroups(g, kind))
              k.endsWith('_period') ? setBandwidth(dir, v, 0) : setBandwidth(dir, 0, v);
          }
          event[`cputune.${k}`] = BigInt(values[k] as number);
        }
        commitLive(e, withCputune(e.live, values));
        if (given.length > 0)
          side.table.forward({ type: 'tunable', domain: refOf(e), timestamp: Date.now(), params: event });
      }
      if (config && e.config) commitConfig(side, e, withCputune(e.config, values));
    },
    opts.signal,
  );
}

export async function getMemoryParameters(
  side: DomainListAccess,
  dom: DomainRef,
  opts: TuningParamsOptions,
): Promise<MemoryParameters> {
  const e = await side.owned(dom, opts, 'read the memory parameters of');
  const host = hostOf(side, 'Memory');
  const { live } = targets(e, opts);
  if (!live) {
    const v = memtuneValues(e.config as NonNullable<Entry['config']>);
    return { hard_limit: v.hard_limit, soft_limit: v.soft_limit, swap_hard_limit: v.swap_hard_limit };
  }
  const dir = liveGroup(host, e, 'memory').memory as string;
  return {
    hard_limit: readKib(dir, 'memory.limit_in_bytes'),
    soft_limit: readKib(dir, 'memory.soft_limit_in_bytes'),
    swap_hard_limit: host?.swap ? readKib(dir, 'memory.memsw.limit_in_bytes') : MEMORY_PARAM_UNLIMITED,
  };
}

/**
 * libvirt's check: a hard limit above the swap limit is refused, both as numbers
 * ("unlimited" is 2^53 - 1, so a hard limit past it needs a swap limit as high).
 */
function checkSwap(now: { hard_limit: number; swap_hard_limit: number }, params: MemoryParameters): void {
  if (params.hard_limit === undefined && params.swap_hard_limit === undefined) return;
  const hard = params.hard_limit ?? now.hard_limit;
  const swap = params.swap_hard_limit ?? now.swap_hard_limit;
  if (hard > swap)
    throw new VirError(
      'INVALID_ARG',
      'qemu',
      'memory hard_limit tunable value must be lower than or equal to swap_hard_limit',
      { field: params.swap_hard_limit !== undefined ? 'swap_hard_limit' : 'hard_limit' },
    );
}

/** A cgroup takes no limit above "unlimited": libvirt's refusal, before anything is written. */
function refuseAboveUnlimited(params: MemoryParameters): void {
  for (const name of MEMORY_NAMES) {
    const v = params[name];
    if (v !== undefined && v > MEMORY_PARAM_UNLIMITED)
      throw new VirError(
        'INVALID_ARG',
        'qemu',
        `Memory '${BigInt(v)}' must be less than ${MEMORY_PARAM_UNLIMITED}`,
        {
          field: name,
        },
      );
  }
}

export async function setMemoryParameters(
  side: DomainListAccess,
  dom: DomainRef,
  params: MemoryParameters,
  opts: TuningParamsOptions,
): Promise<void> {
  const e = await side.owned(dom, opts, 'set the memory parameters of');
  await side.jobs.run(
    e.uuid,
    'set memory parameters',
    () => {
      const host = hostOf(side, 'Memory');
      onlyParams(params, MEMORY_NAMES);
      const { live, config } = targets(e, opts);
      const dir = live ? (liveGroup(host, e, 'memory').memory as string) : undefined;
      if (dir && params.swap_hard_limit !== undefined && !host?.swap)
        throw new VirError('OPERATION_UNSUPPORTED', 'qemu', 'swap accounting is not available on this host', {
          field: 'swap_hard_limit',
        });
      // against the domain's current definition, whichever the flags change (libvirt's vm->def)
      const current = isActive(e) && e.live ? e.live : e.config;
      if (current) checkSwap(memtuneValues(current), params);
      if (dir) refuseAboveUnlimited(params);
      if (dir && e.live && e.runner) {
        // the kernel keeps memory+swap at or above memory: raise the swap limit first, lower it last
        const swapFirst =
          params.swap_hard_limit !== undefined &&
          params.swap_hard_limit >= readKib(dir, 'memory.memsw.limit_in_bytes');
        if (swapFirst) writeKib(dir, 'memory.memsw.limit_in_bytes', params.swap_hard_limit as number);
        if (params.hard_limit !== undefined) writeKib(dir, 'memory.limit_in_bytes', params.hard_limit);
        if (params.soft_limit !== undefined) writeKib(dir, 'memory.soft_limit_in_bytes', params.soft_limit);
        if (!swapFirst && params.swap_hard_limit !== undefined)
          writeKib(dir, 'memory.memsw.limit_in_bytes', params.swap_hard_limit);
        commitLive(e, withMemtune(e.live, params));
      }
      if (config && e.config) commitConfig(side, e, withMemtune(e.config, params));
    },
    opts.signal,
  );
}

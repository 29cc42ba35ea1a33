/**
 * The facade's side of domain statistics: the checks of a stats query
 * (groups by name, filters) and the typed record derived from libvirt's
 * flat parameters.
 *
 * @module
 */
import { need } from './connection-args.js';
import {
  type AllDomainStatsOptions,
  type BlockStatsEntry,
  DOMAIN_STATS_GROUPS,
  type DomainStats,
  type DomainStatsGroup,
  type DomainStatsOptions,
  type DomainStatsParams,
  type DomainStatsQuery,
  type DomainStatsRecord,
  type DomainStatsValue,
  type NetStats,
  type VcpuStats,
} from './domain-stats.js';
import type { DomainOwner, DomainRef, DriverConnection } from './driver.js';
import { VirError } from './errors.js';

const GROUPS: ReadonlySet<string> = new Set(DOMAIN_STATS_GROUPS);
const STATE_FILTERS: ReadonlySet<string> = new Set(['running', 'paused', 'shutoff', 'other']);

/**
 * Checks the options of a stats call: every group is one of libvirt's
 * (`INVALID_ARG` naming the one that is not), filters only without a
 * domain list.
 */
export function statsQuery(opts: AllDomainStatsOptions, withList: boolean): DomainStatsQuery {
  const groups = opts.groups ?? [];
  if (!Array.isArray(groups)) {
    throw new VirError('INVALID_ARG', 'connect', 'stats groups must be an array of group names', {
      field: 'groups',
    });
  }
  for (const [i, g] of groups.entries()) {
    if (typeof g !== 'string' || !GROUPS.has(g)) {
      throw new VirError(
        'INVALID_ARG',
        'connect',
        `unknown stats group '${String(g)}' (libvirt's groups: ${DOMAIN_STATS_GROUPS.join(', ')})`,
        { field: `groups[${i}]` },
      );
    }
  }
  const q: { -readonly [K in keyof DomainStatsQuery]: DomainStatsQuery[K] } = {
    groups: [...new Set(groups)] as DomainStatsGroup[],
    enforce: opts.enforce === true,
    backing: opts.backing === true,
  };
  const filtered = opts.active !== undefined || opts.persistent !== undefined || opts.state !== undefined;
  if (withList && filtered) {
    throw new VirError(
      'INVALID_ARG',
      'connect',
      'active, persistent and state filter all domains; they do not apply to a list of domains',
      {
        field: opts.active !== undefined ? 'active' : opts.persistent !== undefined ? 'persistent' : 'state',
      },
    );
  }
  if (opts.active !== undefined) q.active = Boolean(opts.active);
  if (opts.persistent !== undefined) q.persistent = Boolean(opts.persistent);
  if (opts.state !== undefined) {
    if (!Array.isArray(opts.state)) {
      throw new VirError('INVALID_ARG', 'connect', 'state must be an array', { field: 'state' });
    }
    for (const [i, s] of opts.state.entries()) {
      if (typeof s !== 'string' || !STATE_FILTERS.has(s)) {
        throw new VirError('INVALID_ARG', 'connect', `unknown state filter '${String(s)}'`, {
          field: `state[${i}]`,
        });
      }
    }
    q.state = [...opts.state];
  }
  return q;
}

/** A disk or interface name given to a per-device call: a non-empty string. */
export function deviceName(value: unknown, field: string): string {
  if (typeof value !== 'string' || value === '') {
    throw new VirError('INVALID_ARG', 'connect', `${field} must be a non-empty string`, { field });
  }
  return value;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type Bag = Record<string, DomainStatsValue>;

const CAMEL: Readonly<Record<string, string>> = {
  'rx.bytes': 'rxBytes',
  'rx.pkts': 'rxPkts',
  'rx.errs': 'rxErrs',
  'rx.drop': 'rxDrop',
  'tx.bytes': 'txBytes',
  'tx.pkts': 'txPkts',
  'tx.errs': 'txErrs',
  'tx.drop': 'txDrop',
  'rd.reqs': 'rdReqs',
  'rd.bytes': 'rdBytes',
  'rd.times': 'rdTimes',
  'wr.reqs': 'wrReqs',
  'wr.bytes': 'wrBytes',
  'wr.times': 'wrTimes',
  'fl.reqs': 'flReqs',
  'fl.times': 'flTimes',
};

const OPEN_GROUPS = ['perf', 'iothread', 'memory', 'dirtyrate', 'vm'] as const;

/** The typed record of libvirt's flat parameters (keys it does not know stay in `params` only). */
export function typedStats(params: DomainStatsParams): DomainStats {
  const bags = new Map<string, Bag>();
  const net: Bag[] = [];
  const block: Bag[] = [];
  const vcpus = new Map<number, Bag>();
  for (const [key, value] of Object.entries(params)) {
    const dot = key.indexOf('.');
    if (dot < 0) continue;
    const prefix = key.slice(0, dot);
    const rest = key.slice(dot + 1);
    const m = /^(\d+)\.(.+)$/.exec(rest);
    if ((prefix === 'net' || prefix === 'block') && m) {
      const list = prefix === 'net' ? net : block;
      const i = Number(m[1]);
      const field = m[2] as string;
      list[i] = { ...list[i], [CAMEL[field] ?? field]: value };
    } else if (prefix === 'vcpu' && m) {
      const i = Number(m[1]);
      vcpus.set(i, { ...vcpus.get(i), [m[2] as string]: value });
    } else {
      bags.set(prefix, { ...bags.get(prefix), [rest]: value });
    }
  }
  const out: Mutable<DomainStats> = {};
  const state = bags.get('state');
  if (state) out.state = { state: Number(state.state ?? 0), reason: Number(state.reason ?? 0) };
  const cpu = bags.get('cpu');
  if (cpu) {
    const { time, user, system, ...other } = cpu;
    out['cpu-total'] = { ...nums({ time, user, system }), other };
  }
  const balloon = bags.get('balloon');
  if (balloon) {
    const { current, maximum, ...other } = balloon;
    out.balloon = { ...nums({ current, maximum }), other: nums(other) };
  }
  const vcpu = bags.get('vcpu');
  if (vcpu || vcpus.size > 0) {
    const sorted = [...vcpus.entries()].sort((a, b) => a[0] - b[0]);
    out.vcpu = { ...nums({ current: vcpu?.current, maximum: vcpu?.maximum }), vcpus: sorted.map(vcpuOf) };
  }
  if (bags.has('net') || net.length > 0) out.interface = dense(net, bags.get('net')?.count) as NetStats[];
  if (bags.has('block') || block.length > 0)
    out.block = dense(block, bags.get('block')?.count) as BlockStatsEntry[];
  for (const g of OPEN_GROUPS) {
    const bag = bags.get(g);
    if (bag) out[g] = bag;
  }
  return out;
}

/** The defined values as numbers. */
function nums(bag: Record<string, DomainStatsValue | undefined>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(bag)) if (v !== undefined) out[k] = Number(v);
  return out;
}

function vcpuOf([index, bag]: [number, Bag]): VcpuStats {
  const { state, time, wait, delay, halted, ...other } = bag;
  return {
    index,
    ...nums({ state, time, wait, delay }),
    ...(halted !== undefined ? { halted: halted === true || halted === 1 } : {}),
    other,
  };
}

/** One entry per index up to `count` (`net.count`, `block.count`): a device without figures is `{}`. */
function dense(list: Bag[], count: DomainStatsValue | undefined): Bag[] {
  // a daemon's count is not trusted with memory: libvirt's own limit on devices is far below this
  const n = Math.max(list.length, typeof count === 'number' ? Math.min(count, 65_536) : 0);
  return Array.from({ length: n }, (_, i) => list[i] ?? {});
}

/** `Domain.getStats`: one domain's record through the driver's `domainListGetStats`. */
export async function oneDomainStats<D>(
  owner: DomainOwner,
  ref: DomainRef,
  dom: D,
  opts: DomainStatsOptions,
): Promise<DomainStatsRecord<D>> {
  const query = statsQuery(opts, true);
  const got = await owner._domainCall('domainListGetStats', ref, opts, (d, signal) =>
    d.domainListGetStats!([ref], query, { signal }),
  );
  const params = got.find((r) => r.domain.uuid === ref.uuid)?.params ?? {};
  return { domain: dom, stats: typedStats(params), params };
}

/** `Connection.getAllDomainStats`: the driver's records, each with its handle and typed record. */
export async function allDomainStats<D>(
  driver: DriverConnection,
  refs: readonly DomainRef[] | undefined,
  opts: AllDomainStatsOptions,
  signal: AbortSignal,
  handle: (ref: DomainRef) => D,
): Promise<DomainStatsRecord<D>[]> {
  const query = statsQuery(opts, refs !== undefined);
  const got = await need(driver, 'domainListGetStats').call(driver, refs, query, { signal });
  return got.map((r) => ({ domain: handle(r.domain), stats: typedStats(r.params), params: r.params }));
}

/** The refs of the handles given to `getAllDomainStats`, checked. */
export function statsRefs(domains: readonly { toJSON(): DomainRef }[] | undefined): DomainRef[] | undefined {
  if (domains === undefined) return undefined;
  if (!Array.isArray(domains)) {
    throw new VirError('INVALID_ARG', 'connect', 'domains must be an array of Domain handles', {
      field: 'domains',
    });
  }
  return domains.map((d, i) => {
    if (!d || typeof d.toJSON !== 'function') {
      throw new VirError('INVALID_ARG', 'connect', 'not a Domain handle', { field: `domains[${i}]` });
    }
    return d.toJSON();
  });
}

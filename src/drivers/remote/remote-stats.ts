/**
 * Domain statistics over libvirt's remote program:
 * `REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS` (with a domain list, what
 * `virDomainListGetStats` sends), `DOMAIN_GET_BLOCK_INFO`,
 * `DOMAIN_BLOCK_STATS`, `DOMAIN_INTERFACE_STATS` and `DOMAIN_MEMORY_STATS`.
 * The daemon's typed parameters pass through under their own names.
 *
 * @module
 */
import {
  type BlockInfo,
  type BlockStats,
  DOMAIN_STATS_GROUPS,
  type DomainStatsQuery,
  type DomainStatsValue,
  type InterfaceStats,
  MEMORY_STAT_TAGS,
  type MemoryStats,
} from '../../domain-stats.js';
import type { CallOptions, DomainRef, DriverDomainStats } from '../../driver.js';
import { remoteProcedures as P, type RemoteTypedParamValue } from './gen/remote-protocol.js';
import type { RemoteCall } from './remote-object-values.js';
import { toRef, toRemote } from './remote-values.js';

/** `virConnectGetAllDomainStatsFlags` bits. */
const FILTER = { active: 1, inactive: 2, persistent: 4, transient: 8 } as const;
const STATE_FLAG = { running: 16, paused: 32, shutoff: 64, other: 128 } as const;
const BACKING = 1 << 30;
const ENFORCE = 2 ** 31;

/** The `stats` and `flags` words of a query. */
export function statsWords(q: DomainStatsQuery): { stats: number; flags: number } {
  let stats = 0;
  for (const g of q.groups) stats |= 1 << DOMAIN_STATS_GROUPS.indexOf(g);
  let flags = 0;
  if (q.active !== undefined) flags |= q.active ? FILTER.active : FILTER.inactive;
  if (q.persistent !== undefined) flags |= q.persistent ? FILTER.persistent : FILTER.transient;
  for (const s of q.state ?? []) flags |= STATE_FLAG[s];
  if (q.backing) flags |= BACKING;
  return { stats: stats >>> 0, flags: (flags >>> 0) + (q.enforce ? ENFORCE : 0) };
}

/** A typed parameter's value as a stats value (64-bit integers become numbers). */
export function paramValue(v: RemoteTypedParamValue): DomainStatsValue {
  switch (v.type) {
    case 1:
      return v.i;
    case 2:
      return v.ui;
    case 3:
      return Number(v.l);
    case 4:
      return Number(v.ul);
    case 5:
      return v.d;
    case 6:
      return v.b !== 0;
    case 7:
      return v.s;
  }
}

/** libvirt's -1 for a counter it cannot read becomes an absent field. */
function counters<K extends string>(
  names: readonly K[],
  values: readonly bigint[],
): Partial<Record<K, number>> {
  const out: Partial<Record<K, number>> = {};
  names.forEach((n, i) => {
    const v = values[i];
    if (v !== undefined && v >= 0n) out[n] = Number(v);
  });
  return out;
}

/** The stats calls of one remote connection. */
export class RemoteStats {
  readonly #call: RemoteCall;

  constructor(call: RemoteCall) {
    this.#call = call;
  }

  async listGetStats(
    doms: readonly DomainRef[] | undefined,
    q: DomainStatsQuery,
    opts?: CallOptions,
  ): Promise<DriverDomainStats[]> {
    const args = { doms: (doms ?? []).map(toRemote), ...statsWords(q) };
    const r = await this.#call(P.CONNECT_GET_ALL_DOMAIN_STATS, args, opts);
    return r.retStats.map((rec) => {
      const params: Record<string, DomainStatsValue> = {};
      for (const p of rec.params) params[p.field] = paramValue(p.value);
      return { domain: toRef(rec.dom), params };
    });
  }

  async blockInfo(dom: DomainRef, disk: string, opts?: CallOptions): Promise<BlockInfo> {
    const r = await this.#call(P.DOMAIN_GET_BLOCK_INFO, { dom: toRemote(dom), path: disk, flags: 0 }, opts);
    return { capacity: Number(r.capacity), allocation: Number(r.allocation), physical: Number(r.physical) };
  }

  async blockStats(dom: DomainRef, disk: string, opts?: CallOptions): Promise<BlockStats> {
    const r = await this.#call(P.DOMAIN_BLOCK_STATS, { dom: toRemote(dom), path: disk }, opts);
    return counters(
      ['rdReq', 'rdBytes', 'wrReq', 'wrBytes', 'errs'],
      [r.rd_req, r.rd_bytes, r.wr_req, r.wr_bytes, r.errs],
    );
  }

  async interfaceStats(dom: DomainRef, device: string, opts?: CallOptions): Promise<InterfaceStats> {
    const r = await this.#call(P.DOMAIN_INTERFACE_STATS, { dom: toRemote(dom), device }, opts);
    return counters(
      ['rxBytes', 'rxPackets', 'rxErrs', 'rxDrop', 'txBytes', 'txPackets', 'txErrs', 'txDrop'],
      [r.rx_bytes, r.rx_packets, r.rx_errs, r.rx_drop, r.tx_bytes, r.tx_packets, r.tx_errs, r.tx_drop],
    );
  }

  async memoryStats(dom: DomainRef, opts?: CallOptions): Promise<MemoryStats> {
    const args = { dom: toRemote(dom), maxStats: MEMORY_STAT_TAGS.length, flags: 0 };
    const r = await this.#call(P.DOMAIN_MEMORY_STATS, args, opts);
    const out: { -readonly [K in keyof MemoryStats]: number } = {};
    // a tag newer than ours is left out rather than guessed at
    for (const s of r.stats) {
      const name = MEMORY_STAT_TAGS[s.tag];
      if (name) out[name] = Number(s.val);
    }
    return out;
  }
}

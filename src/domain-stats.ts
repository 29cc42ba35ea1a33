/**
 * Domain statistics, as libvirt's `virConnectGetAllDomainStats` gives them:
 * groups of typed parameters under libvirt's own key names
 * (`state.state`, `cpu.time`, `vcpu.0.time`, `net.0.rx.bytes`,
 * `block.0.rd.bytes`, ...), and the smaller per-device calls
 * (`virDomainGetBlockInfo`, `virDomainBlockStats`,
 * `virDomainInterfaceStats`, `virDomainMemoryStats`).
 *
 * Drivers produce the flat `key → value` form only, exactly as libvirt's
 * drivers fill typed parameters; the facade derives the typed record from
 * it, so a remote daemon's answer and a local driver's read the same. A
 * field the driver cannot read is left out, never reported as zero (as
 * libvirt does).
 *
 * @module
 */
import type { CallOptions } from './driver-objects.js';

/** libvirt's stats groups (`VIR_DOMAIN_STATS_*`), in the order of their bits. */
export const DOMAIN_STATS_GROUPS = [
  'state',
  'cpu-total',
  'balloon',
  'vcpu',
  'interface',
  'block',
  'perf',
  'iothread',
  'memory',
  'dirtyrate',
  'vm',
] as const;

/** One of {@link DOMAIN_STATS_GROUPS}. */
export type DomainStatsGroup = (typeof DOMAIN_STATS_GROUPS)[number];

/**
 * One statistic: libvirt's typed parameter value. Integers (libvirt's
 * `int`, `uint`, `llong`, `ullong`) are numbers; a counter past 2^53 keeps
 * its magnitude but loses its lowest bits.
 */
export type DomainStatsValue = number | string | boolean;

/** The flat form: libvirt's key names, in the order the driver filled them. */
export type DomainStatsParams = Readonly<Record<string, DomainStatsValue>>;

/** Which statistics to gather, after `virConnectGetAllDomainStats`' `stats` and flags. */
export interface DomainStatsOptions extends CallOptions {
  /** The groups; absent or empty means every group the driver has (libvirt's `stats = 0`). */
  groups?: readonly DomainStatsGroup[];
  /**
   * Fail with `ARGUMENT_UNSUPPORTED` when the driver lacks a group asked for
   * (`VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS`); otherwise such a
   * group is left out.
   */
  enforce?: boolean;
  /** Also report the backing chain of each disk (`..._BACKING`). */
  backing?: boolean;
}

/** The domain states `getAllDomainStats` can filter on (`..._RUNNING`, `_PAUSED`, `_SHUTOFF`, `_OTHER`). */
export type DomainStatsStateFilter = 'running' | 'paused' | 'shutoff' | 'other';

/** `virConnectGetAllDomainStats` without a domain list: the filters of its flags. */
export interface AllDomainStatsOptions extends DomainStatsOptions {
  /** Only running (true) or only inactive (false) domains. */
  active?: boolean;
  /** Only persistent (true) or only transient (false) domains. */
  persistent?: boolean;
  /** Only domains in one of these states. */
  state?: readonly DomainStatsStateFilter[];
}

/** What a driver is asked for: the checked groups and flags. */
export interface DomainStatsQuery {
  /** Empty means every group the driver has. */
  readonly groups: readonly DomainStatsGroup[];
  /** `VIR_CONNECT_GET_ALL_DOMAINS_STATS_ENFORCE_STATS`: a group the driver lacks is `ARGUMENT_UNSUPPORTED` instead of left out. */
  readonly enforce: boolean;
  /** `VIR_CONNECT_GET_ALL_DOMAINS_STATS_BACKING`: also report each disk's backing images. */
  readonly backing: boolean;
  /** Filters (only without a domain list). */
  readonly active?: boolean;
  /** Only persistent (`true`) or only transient (`false`) domains. */
  readonly persistent?: boolean;
  /** Only domains in one of these states. */
  readonly state?: readonly DomainStatsStateFilter[];
}

/** The `state` group. */
export interface StateStats {
  /** `state.state`: the state as libvirt's `virDomainState` number (1 running, 3 paused, 5 shutoff, ...). */
  readonly state: number;
  /** `state.reason`: the reason, libvirt's `virDomain<State>Reason` number. */
  readonly reason: number;
}

/** The `cpu-total` group, in nanoseconds. */
export interface CpuStats {
  /** `cpu.time`: total CPU time of the domain's processes. */
  readonly time?: number;
  /** `cpu.user`: of which in user mode. */
  readonly user?: number;
  /** `cpu.system`: of which in kernel mode. */
  readonly system?: number;
  /** The other `cpu.*` keys (`haltpoll.success.time`, `cache.monitor.*`), without the prefix. */
  readonly other: Readonly<Record<string, DomainStatsValue>>;
}

/** The `balloon` group, in KiB (`last-update` in seconds since the epoch). */
export interface BalloonStats {
  /** `balloon.current`: the memory the guest has now. */
  readonly current?: number;
  /** `balloon.maximum`: the most it may have. */
  readonly maximum?: number;
  /**
   * The guest's own reports, by libvirt's key without the prefix (`swap_in`,
   * `swap_out`, `major_fault`, `minor_fault`, `unused`, `available`, `usable`,
   * `rss`, `last-update`, `disk_caches`, `hugetlb_pgalloc`, `hugetlb_pgfail`).
   */
  readonly other: Readonly<Record<string, number>>;
}

/** One vCPU of the `vcpu` group. */
export interface VcpuStats {
  /** The vCPU index (`vcpu.<n>`). */
  readonly index: number;
  /** `vcpu.<n>.state`: libvirt's `virVcpuState` (0 offline, 1 running, 2 blocked). */
  readonly state?: number;
  /** `vcpu.<n>.time`: CPU time in nanoseconds. */
  readonly time?: number;
  /** `vcpu.<n>.wait`: time waiting for a host CPU, nanoseconds. */
  readonly wait?: number;
  /** `vcpu.<n>.halted`: whether the vCPU is halted. */
  readonly halted?: boolean;
  /** `vcpu.<n>.delay`: time in the host's run queue, nanoseconds. */
  readonly delay?: number;
  /** The vCPU's other keys (QEMU's `query-stats` names), without the prefix. */
  readonly other: Readonly<Record<string, DomainStatsValue>>;
}

/** The `vcpu` group. */
export interface VcpuGroupStats {
  /** `vcpu.current`: vCPUs online. */
  readonly current?: number;
  /** `vcpu.maximum`: the most the domain may have. */
  readonly maximum?: number;
  /** One entry per `vcpu.<n>.*` index reported. */
  readonly vcpus: readonly VcpuStats[];
}

/** One interface of the `interface` group (`net.<n>.*`). */
export interface NetStats {
  /** `net.<n>.name`: the host-side device name (`vnet0`) or, without one, the MAC. */
  readonly name?: string;
  /** `net.<n>.rx.bytes`: bytes received. */
  readonly rxBytes?: number;
  /** `net.<n>.rx.pkts`: packets received. */
  readonly rxPkts?: number;
  /** `net.<n>.rx.errs`: receive errors. */
  readonly rxErrs?: number;
  /** `net.<n>.rx.drop`: received packets dropped. */
  readonly rxDrop?: number;
  /** `net.<n>.tx.bytes`: bytes sent. */
  readonly txBytes?: number;
  /** `net.<n>.tx.pkts`: packets sent. */
  readonly txPkts?: number;
  /** `net.<n>.tx.errs`: transmit errors. */
  readonly txErrs?: number;
  /** `net.<n>.tx.drop`: packets dropped on sending. */
  readonly txDrop?: number;
}

/** One disk (or backing image) of the `block` group (`block.<n>.*`). */
export interface BlockStatsEntry {
  /** `block.<n>.name`: the target (`vda`). */
  readonly name?: string;
  /** `block.<n>.backingIndex`: the image's index in the chain, with `backing`. */
  readonly backingIndex?: number;
  /** `block.<n>.path`: the host file or device. */
  readonly path?: string;
  /** `block.<n>.rd.reqs`: read requests. */
  readonly rdReqs?: number;
  /** `block.<n>.rd.bytes`: bytes read. */
  readonly rdBytes?: number;
  /** Nanoseconds spent reading. */
  readonly rdTimes?: number;
  /** `block.<n>.wr.reqs`: write requests. */
  readonly wrReqs?: number;
  /** `block.<n>.wr.bytes`: bytes written. */
  readonly wrBytes?: number;
  /** `block.<n>.wr.times`: nanoseconds spent writing. */
  readonly wrTimes?: number;
  /** `block.<n>.fl.reqs`: flush requests. */
  readonly flReqs?: number;
  /** `block.<n>.fl.times`: nanoseconds spent flushing. */
  readonly flTimes?: number;
  /** `block.<n>.errors`: failed requests (Xen only in libvirt; rarely present). */
  readonly errors?: number;
  /** Bytes of the image in use (highest written offset for qcow2). */
  readonly allocation?: number;
  /** Bytes the guest sees. */
  readonly capacity?: number;
  /** Bytes the image takes on the host. */
  readonly physical?: number;
  /** The write threshold, bytes. */
  readonly threshold?: number;
}

/** The typed record, keyed by group; a group the driver did not report is absent. */
export interface DomainStats {
  /** The `state` group. */
  readonly state?: StateStats;
  /** The `cpu-total` group. */
  readonly 'cpu-total'?: CpuStats;
  /** The `balloon` group. */
  readonly balloon?: BalloonStats;
  /** The `vcpu` group. */
  readonly vcpu?: VcpuGroupStats;
  /** `net.count` entries, by index. */
  readonly interface?: readonly NetStats[];
  /** `block.count` entries, by index. */
  readonly block?: readonly BlockStatsEntry[];
  /** `perf.*`, without the prefix. */
  readonly perf?: Readonly<Record<string, DomainStatsValue>>;
  /** `iothread.*`, without the prefix. */
  readonly iothread?: Readonly<Record<string, DomainStatsValue>>;
  /** `memory.*`, without the prefix. */
  readonly memory?: Readonly<Record<string, DomainStatsValue>>;
  /** `dirtyrate.*`, without the prefix. */
  readonly dirtyrate?: Readonly<Record<string, DomainStatsValue>>;
  /** `vm.*` (QEMU's `query-stats` of the VM), without the prefix. */
  readonly vm?: Readonly<Record<string, DomainStatsValue>>;
}

/** One domain's statistics: the domain, the typed record and libvirt's flat form. */
export interface DomainStatsRecord<D> {
  /** The domain they are about. */
  readonly domain: D;
  /** Typed, by group. */
  readonly stats: DomainStats;
  /** libvirt's `key → value` form, for tools that speak it. */
  readonly params: DomainStatsParams;
}

/** `virDomainGetBlockInfo`, in bytes. */
export interface BlockInfo {
  /** What the guest sees. */
  readonly capacity: number;
  /** What is in use of the image (its highest written offset for qcow2 on a block device). */
  readonly allocation: number;
  /** What the image takes on the host. */
  readonly physical: number;
}

/** `virDomainBlockStats`: a field the driver cannot read is absent (libvirt's -1). */
export interface BlockStats {
  /** Read requests. */
  readonly rdReq?: number;
  /** Bytes read. */
  readonly rdBytes?: number;
  /** Write requests. */
  readonly wrReq?: number;
  /** Bytes written. */
  readonly wrBytes?: number;
  /** Failed requests. */
  readonly errs?: number;
}

/** `virDomainInterfaceStats`: a field the driver cannot read is absent (libvirt's -1). */
export interface InterfaceStats {
  /** Bytes received. */
  readonly rxBytes?: number;
  /** Packets received. */
  readonly rxPackets?: number;
  /** Receive errors. */
  readonly rxErrs?: number;
  /** Received packets dropped. */
  readonly rxDrop?: number;
  /** Bytes sent. */
  readonly txBytes?: number;
  /** Packets sent. */
  readonly txPackets?: number;
  /** Transmit errors. */
  readonly txErrs?: number;
  /** Packets dropped on sending. */
  readonly txDrop?: number;
}

/**
 * `virDomainMemoryStats`, by libvirt's tag (`VIR_DOMAIN_MEMORY_STAT_*`):
 * KiB, except the fault and page counts and `lastUpdate` (seconds since the
 * epoch). Only what the guest and hypervisor report is present.
 */
export interface MemoryStats {
  /** `SWAP_IN`: memory swapped in, KiB. */
  readonly swapIn?: number;
  /** `SWAP_OUT`: memory swapped out, KiB. */
  readonly swapOut?: number;
  /** `MAJOR_FAULT`: page faults that needed disk I/O. */
  readonly majorFault?: number;
  /** `MINOR_FAULT`: page faults served without I/O. */
  readonly minorFault?: number;
  /** `UNUSED`: memory the guest leaves unused, KiB. */
  readonly unused?: number;
  /** `AVAILABLE`: memory the guest sees, KiB. */
  readonly available?: number;
  /** The balloon's current size (`actual`). */
  readonly actual?: number;
  /** `RSS`: the hypervisor process's resident set, KiB. */
  readonly rss?: number;
  /** `USABLE`: memory the guest could use without swapping, KiB. */
  readonly usable?: number;
  /** `LAST_UPDATE`: when the guest last reported, seconds since the epoch. */
  readonly lastUpdate?: number;
  /** `DISK_CACHES`: memory the guest can reclaim from its caches, KiB. */
  readonly diskCaches?: number;
  /** `HUGETLB_PGALLOC`: huge page allocations in the guest. */
  readonly hugetlbPgalloc?: number;
  /** `HUGETLB_PGFAIL`: failed huge page allocations in the guest. */
  readonly hugetlbPgfail?: number;
}

/** The {@link MemoryStats} fields in libvirt's tag order (`VIR_DOMAIN_MEMORY_STAT_*` = index). */
export const MEMORY_STAT_TAGS = [
  'swapIn',
  'swapOut',
  'majorFault',
  'minorFault',
  'unused',
  'available',
  'actual',
  'rss',
  'usable',
  'lastUpdate',
  'diskCaches',
  'hugetlbPgalloc',
  'hugetlbPgfail',
] as const satisfies readonly (keyof MemoryStats)[];

/**
 * Statistics of the test driver, as libvirt 9.0's test driver answers them
 * (checked through python3-libvirt on `test:///default`): the `state` group
 * only (other groups give an empty record, or `ARGUMENT_UNSUPPORTED` when
 * enforced), block and interface counters made from the time of day, fixed
 * block sizes, and memory figures derived from the current memory.
 *
 * @module
 */
import type { DomainDef } from '../../conf/domain/domain-def.js';
import type {
  BlockInfo,
  BlockStats,
  DomainStatsQuery,
  InterfaceStats,
  MemoryStats,
} from '../../domain-stats.js';
import type { DomainRef, DriverDomainStats } from '../../driver.js';
import { VirError } from '../../errors.js';
import { stateCodes } from '../state-codes.js';
import { needActive, statsDomains } from './domain-filter.js';
import { info } from './domain-ops.js';
import { ref, type TestDomain, type TestHost } from './test-host.js';

/** The groups libvirt 9.0's test driver fills. */
const SUPPORTED = new Set(['state']);

export type { DomainStatsQuery };

/** The domains of a stats call: a list of them, or undefined for all those the filters pass. */
export type DomainList = readonly DomainRef[] | undefined;

/** `virConnectGetAllDomainStats` / `virDomainListGetStats` on a test host. */
export function domainsStats(host: TestHost, doms: DomainList, query: DomainStatsQuery): DriverDomainStats[] {
  const domains = statsDomains(host, doms, query);
  const missing = query.groups.filter((g) => !SUPPORTED.has(g));
  if (query.enforce && missing.length > 0) {
    throw new VirError(
      'ARGUMENT_UNSUPPORTED',
      'test',
      `stats groups ${missing.join(', ')} are not supported by the test driver`,
      { field: 'groups' },
    );
  }
  const state = query.groups.length === 0 || query.groups.includes('state');
  return domains.map((d) => ({
    domain: ref(d),
    params: state ? stateCodes(d) : {},
  }));
}

function defOf(d: TestDomain): DomainDef {
  return d.live?.def ?? d.config;
}

function hasDisk(d: TestDomain, disk: string): boolean {
  return (defOf(d).devices?.disks ?? []).some(
    (x) => x.target.dev === disk || x.source?.file === disk || x.source?.dev === disk,
  );
}

/** `virDomainGetBlockInfo`: libvirt's test driver gives every disk the same sizes, running or not. */
export function blockInfo(d: TestDomain, disk: string): BlockInfo {
  if (!hasDisk(d, disk)) {
    throw new VirError('INVALID_ARG', 'test', `invalid path ${disk} not assigned to domain`, {
      field: 'disk',
    });
  }
  return { capacity: 1099506450432, allocation: 1099511627776, physical: 1099511627776 };
}

/** Microseconds and seconds of the time of day, the base of the test driver's counters. */
function now(): { base: number; sec: number } {
  const us = Math.floor((performance.timeOrigin + performance.now()) * 1000);
  return { base: us, sec: Math.floor(us / 1e6) };
}

/** `virDomainBlockStats`: counters that grow with the time of day, as libvirt's test driver makes them. */
export function blockStats(d: TestDomain, disk: string): BlockStats {
  needActive(d);
  if (!hasDisk(d, disk))
    throw new VirError('INVALID_ARG', 'test', `invalid path: ${disk}`, { field: 'disk' });
  const { base, sec } = now();
  return {
    rdReq: Math.floor(base / 10),
    rdBytes: Math.floor(base / 20),
    wrReq: Math.floor(base / 30),
    wrBytes: Math.floor(base / 40),
    errs: Math.floor(sec / 2),
  };
}

/** `virDomainInterfaceStats`, by target device name or MAC. */
export function interfaceStats(d: TestDomain, device: string): InterfaceStats {
  needActive(d);
  const mac = device.toLowerCase();
  const found = (defOf(d).devices?.interfaces ?? []).some(
    (n) => n.target?.dev === device || String(n.mac?.address ?? '').toLowerCase() === mac,
  );
  if (!found) {
    throw new VirError('INVALID_ARG', 'test', `'${device}' is not a known interface`, { field: 'device' });
  }
  const { base, sec } = now();
  return {
    rxBytes: Math.floor(base / 10),
    rxPackets: Math.floor(base / 100),
    rxErrs: sec,
    rxDrop: Math.floor(sec / 2),
    txBytes: Math.floor(base / 20),
    txPackets: Math.floor(base / 110),
    txErrs: Math.floor(sec / 3),
    txDrop: Math.floor(sec / 4),
  };
}

/** `virDomainMemoryStats`: libvirt's test driver derives its figures from the current memory. */
export function memoryStats(d: TestDomain): MemoryStats {
  needActive(d);
  const cur = info(d).memory;
  const half = Math.floor(cur / 2);
  return {
    swapIn: 0,
    swapOut: 0,
    majorFault: 0,
    minorFault: 0,
    unused: half,
    available: cur,
    actual: cur,
    rss: half,
    usable: half,
    lastUpdate: 627319920,
    diskCaches: Math.floor(cur / 8),
    hugetlbPgalloc: 0,
    hugetlbPgfail: 0,
  };
}

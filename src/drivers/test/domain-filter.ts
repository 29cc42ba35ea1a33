/**
 * Which domains of a test host a listing takes: the filters of
 * `virConnectListAllDomains` and those of `virConnectGetAllDomainStats`
 * (libvirt's flag groups: a filter given narrows the list), and the check
 * of calls that take only a running domain.
 *
 * @module
 */
import type { DomainStatsQuery } from '../../domain-stats.js';
import type { DomainRef, ListDomainsFilter } from '../../driver.js';
import { VirError } from '../../errors.js';
import { ref, type TestDomain, type TestHost } from './test-host.js';

/** Refuses an inactive domain as libvirt's test driver does (`OPERATION_INVALID`). */
export function needActive(d: TestDomain): void {
  if (d.id < 0) throw new VirError('OPERATION_INVALID', 'test', 'domain is not running');
}

/** The domains `listDomains` returns, in the host's order. */
export function listDomainRefs(host: TestHost, filter: ListDomainsFilter): DomainRef[] {
  const states = filter.state === undefined ? undefined : new Set<string>([filter.state].flat());
  const out: DomainRef[] = [];
  for (const d of host.byUuid.values()) {
    if (filter.active !== undefined && filter.active !== d.id >= 0) continue;
    if (filter.persistent !== undefined && filter.persistent !== d.persistent) continue;
    if (filter.autostart !== undefined && filter.autostart !== d.autostart) continue;
    if (states && !states.has(d.state)) continue;
    out.push(ref(d));
  }
  return out;
}

/** The domains a stats call is about: the list given (each must exist), else all that pass its filters. */
export function statsDomains(
  host: TestHost,
  doms: readonly DomainRef[] | undefined,
  q: DomainStatsQuery,
): TestDomain[] {
  if (doms) return doms.map((r) => host.find({ uuid: r.uuid }));
  return [...host.byUuid.values()].filter((d) => {
    if (q.active !== undefined && q.active !== d.id >= 0) return false;
    if (q.persistent !== undefined && q.persistent !== d.persistent) return false;
    if (q.state === undefined) return true;
    const kind = d.state === 'running' || d.state === 'paused' || d.state === 'shutoff' ? d.state : 'other';
    return q.state.includes(kind);
  });
}

/**
 * How a call that changed a domain's definitions keeps them: the live one
 * in the entry and the status file, the persistent one on disk. The device
 * calls (`hotplug-job.ts` re-exports these), the tuning, size and vCPU
 * calls, a migration's destination, a snapshot revert and the live XML's
 * own updates (a channel port's state, an RTC change, the start's CPU
 * read-back) share them; nothing else is imported here, so any of them can.
 * Define and rename write the file first, under a name the entry does not
 * have yet (a failed write leaves the domain as it was), so they do not.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { ConfigStore } from './config-store.js';
import type { Entry } from './domain-entry.js';
import { runFacts } from './run-facts.js';

/**
 * Keeps `next` as the live definition, in the status file too, with the
 * entry's run facts (block node numbers, the RTC's start): the entry always
 * has the latest of them, so writing them again keeps the file's as they were.
 */
export function commitLive(e: Entry, next: DomainDef): void {
  e.live = next;
  e.runner?.hotplug.setLiveXml(next.toXML(), runFacts(e));
}

/** Writes `next` (when there is one) as the persistent definition. */
export function commitConfig(
  side: { readonly store: ConfigStore },
  e: Entry,
  next: DomainDef | undefined,
): void {
  if (!next) return;
  side.store.write(e.name, next.toXML({ inactive: true }));
  e.config = next;
}

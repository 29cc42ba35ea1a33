/**
 * A finished migration's statistics as libvirt's `virDomainGetJobStats`
 * names them (`VIR_DOMAIN_JOB_*` parameters), from QEMU's last
 * `query-migrate`: what the `job-completed` event carries. Storage is shared
 * (no block migration), so the disk counters are zero, as libvirt reports
 * them then.
 *
 * @module
 */
import type { TypedParamValue } from '../../../domain-events.js';

/** The `query-migrate` members the statistics come from. */
export interface QmpMigrationStats {
  status?: string;
  'total-time'?: number;
  downtime?: number;
  'setup-time'?: number;
  ram?: {
    transferred?: number;
    remaining?: number;
    total?: number;
    duplicate?: number;
    normal?: number;
    'normal-bytes'?: number;
    'dirty-pages-rate'?: number;
    mbps?: number;
    'dirty-sync-count'?: number;
    'postcopy-requests'?: number;
    'page-size'?: number;
  };
}

/** `VIR_DOMAIN_JOB_OPERATION_SAVE`, `_MIGRATION_IN` and `_OUT`. */
export const JOB_OPERATION = { save: 2, migrationIn: 4, migrationOut: 5 } as const;

/** The parameters of a completed migration job, libvirt's names and types (counters `unsigned long long`). */
export function migrationJobParams(m: QmpMigrationStats, operation: number): Record<string, TypedParamValue> {
  const u = (n: number | undefined) => BigInt(Math.max(0, Math.round(n ?? 0)));
  const ram = m.ram ?? {};
  const out: Record<string, TypedParamValue> = {
    operation,
    time_elapsed: u(m['total-time']),
  };
  if (m.downtime !== undefined) out.downtime = u(m.downtime);
  if (m['setup-time'] !== undefined) out.setup_time = u(m['setup-time']);
  Object.assign(out, {
    data_total: u(ram.total),
    data_processed: u(ram.transferred),
    data_remaining: u(ram.remaining),
    memory_total: u(ram.total),
    memory_processed: u(ram.transferred),
    memory_remaining: u(ram.remaining),
    memory_constant: u(ram.duplicate),
    memory_normal: u(ram.normal),
    memory_normal_bytes: u(ram['normal-bytes']),
    // QEMU says megabits per second; libvirt reports bytes per second
    memory_bps: u(((ram.mbps ?? 0) * 1_000_000) / 8),
    memory_dirty_rate: u(ram['dirty-pages-rate']),
    memory_page_size: u(ram['page-size']),
    memory_iteration: u(ram['dirty-sync-count']),
    memory_postcopy_requests: u(ram['postcopy-requests']),
    disk_total: 0n,
    disk_processed: 0n,
    disk_remaining: 0n,
  });
  return out;
}

/**
 * The parameters of a completed save (or managed save) job: a migration to
 * the image file, reported as libvirt reports it, without the counters that
 * are zero for a save (no disks copied, no bandwidth figure when QEMU gave none).
 */
export function saveJobParams(m: QmpMigrationStats): Record<string, TypedParamValue> {
  const out = migrationJobParams(m, JOB_OPERATION.save);
  for (const k of ['disk_total', 'disk_processed', 'disk_remaining']) delete out[k];
  if (out.memory_bps === 0n) delete out.memory_bps;
  return out;
}

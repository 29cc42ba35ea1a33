/**
 * The `dirtyrate` statistics group from QEMU's `query-dirty-rate`: the last
 * calculation libvirt's `virDomainStartDirtyRateCalc` (QMP `calc-dirty-rate`)
 * asked for, under libvirt's names (`dirtyrate.calc_status` 0 unstarted,
 * 1 measuring, 2 measured; `calc_start_time`, `calc_period` in seconds,
 * `calc_mode`; `megabytes_per_second` once measured, per vCPU too in the
 * dirty-ring mode). Reading it starts nothing.
 *
 * @module
 */
import type { DomainStatsValue } from '../../../domain-stats.js';

const STATUS: Record<string, number> = { unstarted: 0, measuring: 1, measured: 2 };

/** Adds the group's figures for QEMU's `query-dirty-rate` reply `r` (nothing when QEMU gave none). */
export function dirtyrateGroup(p: Record<string, DomainStatsValue>, r: unknown): void {
  if (typeof r !== 'object' || r === null) return;
  const d = r as {
    status?: string;
    'start-time'?: number;
    'calc-time'?: number;
    mode?: string;
    'dirty-rate'?: number;
    'vcpu-dirty-rate'?: Array<{ id?: number; 'dirty-rate'?: number }>;
  };
  const status = STATUS[d.status ?? ''];
  if (status === undefined) return;
  p['dirtyrate.calc_status'] = status;
  p['dirtyrate.calc_start_time'] = d['start-time'] ?? 0;
  p['dirtyrate.calc_period'] = d['calc-time'] ?? 0;
  p['dirtyrate.calc_mode'] = d.mode ?? 'page-sampling';
  if (status !== STATUS.measured) return;
  if (d['dirty-rate'] !== undefined) p['dirtyrate.megabytes_per_second'] = d['dirty-rate'];
  if (d.mode === 'dirty-ring')
    for (const v of d['vcpu-dirty-rate'] ?? [])
      if (v.id !== undefined && v['dirty-rate'] !== undefined)
        p[`dirtyrate.vcpu.${v.id}.megabytes_per_second`] = v['dirty-rate'];
}

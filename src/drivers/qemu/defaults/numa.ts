/**
 * The QEMU driver's define-time rule for guest NUMA cells: vCPUs that no
 * cell lists go to cell 0 (QEMU used to do that on its own, and libvirt
 * writes it down so the guest keeps the same topology).
 *
 * @module
 */

import { formatIdSet, parseIdSet } from '../../../conf/domain/cpuset.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';

export function applyNumaDefaults(def: DomainDef): void {
  const cells = def.cpu?.numa?.cells ?? [];
  const first = cells[0];
  if (!first) return;
  const max = def.vcpu?.count ?? 1;
  const listed = cells.reduce((n, c) => n + (c.cpus === undefined ? 0 : parseIdSet(c.cpus).length), 0);
  if (listed >= max) return;
  const elsewhere = new Set(cells.slice(1).flatMap((c) => (c.cpus === undefined ? [] : parseIdSet(c.cpus))));
  const mine: number[] = [];
  for (let i = 0; i < max; i++) if (!elsewhere.has(i)) mine.push(i);
  first.cpus = formatIdSet(mine);
}

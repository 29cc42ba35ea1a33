/**
 * The QEMU driver's define-time rule for guest NUMA cells: vCPUs that no
 * cell lists go to cell 0 (QEMU used to do that on its own, and libvirt
 * writes it down so the guest keeps the same topology).
 *
 * @module
 */

import { formatIdSet, parseIdSet } from '../../../conf/domain/cpuset.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';

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

/**
 * Memory slots for DIMMs and NVDIMMs without an address: the lowest free
 * slot each, in device order, once the guest can hot-plug memory.
 */
export function assignMemorySlots(def: DomainDef): void {
  if (def.maxMemory === undefined) return;
  const mems = def.devices?.memories ?? [];
  const used = new Set<number>();
  for (const m of mems)
    if (m.address?.type === 'dimm' && m.address.slot !== undefined) used.add(m.address.slot);
  for (const m of mems) {
    if (m.model !== 'dimm' && m.model !== 'nvdimm') continue;
    if (m.address?.type === 'dimm') continue;
    let slot = 0;
    while (used.has(slot)) slot++;
    if (slot >= (def.maxMemory.slots ?? 0))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'no free memory slot left for a memory module', {
        field: '/domain/maxMemory/@slots',
      });
    used.add(slot);
    m.address = { type: 'dimm', slot };
  }
}

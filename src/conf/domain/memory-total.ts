/**
 * The one writer of `<memory>`'s total (KiB). libvirt's total is the
 * initial memory (the NUMA cells' sum, where there are cells) plus every
 * memory device's size: the parse sets it from the cells
 * (`normalize.ts`), a memory device's hot-plug or unplug moves it by the
 * device's size, `setMaxMemory` sets it. Each changes the size only: the
 * element's other attributes (`dumpCore`) stay, as libvirt sets the total
 * and not the element.
 *
 * @module
 */
import type { DomainDefData } from './domain-spec.js';

/** Sets the total to `kib`. */
export function setMemoryTotal(def: DomainDefData, kib: number): void {
  def.memory = { ...def.memory, unit: 'KiB', value: kib };
}

/** Moves the total by `deltaKiB` (a memory device's size, negative when it went); no `<memory>`, nothing. */
export function moveMemoryTotal(def: DomainDefData, deltaKiB: number): void {
  if (def.memory) setMemoryTotal(def, def.memory.value + deltaKiB);
}

/**
 * `virDomainSetMemoryFlags` for the QEMU driver's table: the balloon target
 * of the running guest (default), and/or the `<currentMemory>` of the next
 * boot with `config`, with libvirt's checks and codes.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import { commitConfig } from './commit-defs.js';
import type { ConfigStore } from './config-store.js';
import { cloneDef, type Entry, isActive, signalOpt, type WriteFlags } from './domain-entry.js';

export async function setEntryMemory(
  e: Entry,
  kib: number,
  opts: WriteFlags,
  store: ConfigStore,
): Promise<void> {
  const config = opts.config === true;
  const live = opts.live ?? !config;
  if (live && !isActive(e)) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
  if (config && !e.config) {
    throw new VirError('OPERATION_INVALID', 'qemu', 'cannot change persistent config of a transient domain');
  }
  for (const def of [live ? e.live : undefined, config ? e.config : undefined]) {
    const max = def?.memory?.value;
    if (max !== undefined && kib > max) {
      throw new VirError('INVALID_ARG', 'qemu', 'cannot set memory higher than max memory', {
        field: 'currentMemory',
      });
    }
  }
  if (live && e.runner) {
    await e.runner.setMemory(kib, signalOpt(opts));
    if (e.live) e.live.currentMemory = { unit: 'KiB', value: kib };
  }
  if (config && e.config) {
    const next = cloneDef(e.config);
    next.currentMemory = { unit: 'KiB', value: kib };
    commitConfig({ store }, e, next);
  }
}

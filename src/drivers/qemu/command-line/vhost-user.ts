/**
 * What the devices served by a vhost-user backend share (virtiofs, GPU,
 * block): the id of the socket chardev QEMU reaches the backend through,
 * and the rule that such a backend can only work on guest RAM it can map,
 * that is, shared memory.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';

/** The `-chardev` id of a device's vhost-user socket (`chr-vu-fs0`), as libvirt names it. */
export function vhostUserChardevId(alias: string): string {
  return `chr-vu-${alias}`;
}

/**
 * Refuses a vhost-user backend on private guest RAM: the backend process
 * maps the guest's memory, so every NUMA cell (or, without cells, the whole
 * guest) must be `<access mode='shared'/>`, by the cell's own setting or by
 * `<memoryBacking>`'s.
 */
export function requireSharedMemory(def: DomainDef, what: string, field: string): void {
  const whole = def.memoryBacking?.access?.mode;
  const cells = def.cpu?.numa?.cells ?? [];
  const refuse = (where: string) => {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${what} needs shared guest memory (<access mode='shared'/> in ${where})`,
      { field },
    );
  };
  if (cells.length === 0) {
    if (whole !== 'shared') refuse('<memoryBacking>');
    return;
  }
  for (const c of cells) if ((c.memAccess ?? whole) !== 'shared') refuse('<memoryBacking> or each NUMA cell');
}

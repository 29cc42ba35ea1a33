/**
 * `virDomainRename` for the QEMU driver's table: an inactive persistent
 * domain takes a new name, with libvirt's checks and codes (active,
 * transient, the name taken or the same, `/` in it, a managed save image
 * waiting) and its events (`undefined/renamed` under the old name, then
 * `defined/renamed` under the new one). The definition file and the
 * autostart mark move; an NVRAM file named after the domain is refused
 * rather than left under the old name.
 *
 * @module
 */
import type { DomainRef } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { cloneDef, type Entry, isActive, refOf } from './domain-entry.js';
import type { DomainListAccess } from './migration.js';
import { refuseManagedSave } from './save-restore.js';
import { refuseRenameWithSnapshots } from './snapshots.js';

/** `virDomainRename` as a job on the domain, then on the list (the name changes there). */
export async function renameDomain(
  side: DomainListAccess,
  dom: DomainRef,
  newName: string,
  opts: { signal?: AbortSignal },
): Promise<DomainRef> {
  const e = await side.owned(dom, opts, 'rename');
  return side.jobs.run(
    e.uuid,
    'rename',
    () => side.jobs.run(side.listKey, 'rename', async () => rename(side, e, newName), opts.signal),
    opts.signal,
  );
}

function rename(side: DomainListAccess, e: Entry, newName: string): DomainRef {
  if (isActive(e)) throw new VirError('OPERATION_INVALID', 'qemu', 'cannot rename active domain');
  if (!e.config) throw new VirError('OPERATION_INVALID', 'qemu', 'cannot rename a transient domain');
  if (newName === e.name) throw new VirError('OPERATION_INVALID', 'qemu', "Can't rename domain to itself");
  if (newName.includes('/')) throw new VirError('XML_ERROR', 'qemu', `name ${newName} cannot contain '/'`);
  if (/[\n]/.test(newName))
    throw new VirError('XML_ERROR', 'qemu', 'name contains illegal character', { field: 'name' });
  if (side.table.byName(newName))
    throw new VirError('OPERATION_INVALID', 'qemu', `domain with name '${newName}' already exists`);
  refuseManagedSave(side.runners.options.stateRoot, e, 'rename');
  refuseRenameWithSnapshots(side.runners.options.stateRoot, e);
  if (e.config.os?.nvram)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `cannot rename domain '${e.name}' with an NVRAM file`, {
      field: '/domain/os/nvram',
    });
  const next = cloneDef(e.config);
  next.name = newName;
  const autostart = side.store.isAutostart(e.name);
  // the new file first: a failure leaves the domain as it was
  side.store.write(newName, next.toXML({ inactive: true }));
  if (autostart) side.store.setAutostart(newName, true);
  side.store.remove(e.name);
  side.table.emit(e, 'undefined', 'renamed');
  e.name = newName;
  e.config = next;
  side.table.emit(e, 'defined', 'renamed');
  return refOf(e);
}

/**
 * What `<disk type='volume' pool='P' volume='V'>` is when a guest starts
 * (and in `domxml-to-native`): the volume's file or directory, looked up
 * in the storage pools of the same roots, as libvirt translates such a
 * disk at start. The pool must run and have the volume; a `mode` (iSCSI
 * pools only) is refused. Resolved before the command line is built, which
 * then reads the answers synchronously.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { ResolvedVolume, VolumeRequest } from '../command-line/index.js';
import type { PoolTable } from './pool-table.js';

/** The resolver for `def`'s volume disks, or undefined when it has none. */
export async function volumeResolver(
  table: PoolTable,
  def: DomainDef,
): Promise<((req: VolumeRequest) => ResolvedVolume) | undefined> {
  const disks = (def.devices?.disks ?? []).filter(
    (d) => d.type === 'volume' && d.source?.pool !== undefined && d.source.volume !== undefined,
  );
  if (disks.length === 0) return undefined;
  await table.ready;
  return (req) => {
    const field = req.field;
    const p = table.pools.get(req.pool);
    if (!p)
      throw new VirError('NO_STORAGE_POOL', 'storage', `no storage pool with matching name '${req.pool}'`, {
        field: `${field}/@pool`,
      });
    if (!p.active)
      throw new VirError(
        'OPERATION_INVALID',
        'storage',
        `storage pool '${req.pool}' containing volume '${req.volume}' is not active`,
        {
          field: `${field}/@pool`,
        },
      );
    if (req.mode !== undefined)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        'disk source mode is only valid when storage pool is of iscsi type',
        {
          field: `${field}/@mode`,
        },
      );
    const v = p.vols.get(req.volume);
    if (!v)
      throw new VirError('NO_STORAGE_VOL', 'storage', `no storage vol with matching name '${req.volume}'`, {
        field: `${field}/@volume`,
      });
    if (v.building)
      throw new VirError('OPERATION_INVALID', 'storage', `volume '${req.volume}' is still being allocated.`, {
        field: `${field}/@volume`,
      });
    return { type: v.def.type === 'dir' ? 'dir' : 'file', path: v.def.target!.path! };
  };
}

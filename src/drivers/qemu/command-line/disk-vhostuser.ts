/**
 * `<disk type='vhostuser'>`: a virtio disk served by another process (a
 * vhost-user-blk backend such as qemu-storage-daemon or SPDK) over a UNIX
 * socket. QEMU gets a socket chardev instead of a block node chain; the
 * frontend is vhost-user-blk. What only a block node could do (caching,
 * I/O modes, throttling, copy-on-read, backing chains, SCSI passthrough)
 * is refused, naming the field.
 *
 * @module
 */
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import { buildChardev } from './chardev-backend.js';
import type { CommandLinePaths } from './types.js';
import { requireSharedMemory, vhostUserChardevId } from './vhost-user.js';

/** `<driver>` attributes that configure a block node, which a vhost-user disk has none of. */
const NODE_ONLY: Array<[keyof NonNullable<DiskDef['driver']>, string]> = [
  ['cache', 'cache'],
  ['errorPolicy', 'error_policy'],
  ['rerrorPolicy', 'rerror_policy'],
  ['io', 'io'],
  ['copyOnRead', 'copy_on_read'],
  ['discard', 'discard'],
  ['discardNoUnref', 'discard_no_unref'],
  ['detectZeroes', 'detect_zeroes'],
];

/**
 * Writes the chardev of a vhost-user disk and returns its id, for the
 * frontend's `chardev` property; refuses what such a disk cannot do.
 */
export function buildVhostUserDisk(
  b: ArgvBuilder,
  def: DomainDef,
  d: DiskDef,
  alias: string,
  paths: CommandLinePaths,
  field: string,
): string {
  const refuse = (what: string, at: string): never => {
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: a vhost-user disk ${what}`, {
      field: `${field}${at}`,
    });
  };
  if (d.target.bus !== 'virtio') refuse('needs bus virtio', '/target/@bus');
  if ((d.device ?? 'disk') !== 'disk') refuse("must be device='disk'", '/@device');
  const s = d.source;
  const path = s?.path;
  if (path === undefined) return refuse('needs a source path', '/source/@path');
  if (s?.type !== 'unix') refuse("needs a source of type 'unix'", '/source/@type');
  if (s?.mode !== undefined && s.mode !== 'client') refuse('connects as a client only', '/source/@mode');
  for (const [key, name] of NODE_ONLY)
    if (d.driver?.[key] !== undefined) refuse(`has no block node for ${name}`, `/driver/@${name}`);
  if (d.driver?.type !== undefined && d.driver.type !== 'raw')
    refuse("has format 'raw' only", '/driver/@type');
  for (const [part, at] of [
    [d.backingStore, '/backingStore'],
    [d.iotune, '/iotune'],
    [d.throttleFilters, '/throttlefilters'],
    [d.readonly, '/readonly'],
    [d.shareable, '/shareable'],
  ] as const)
    if (part !== undefined) refuse(`cannot take ${at.slice(1)}`, at);
  requireSharedMemory(def, 'a vhost-user disk', field);
  const id = vhostUserChardevId(alias);
  buildChardev(
    { b, paths, qemuVersion: b.qemuVersion },
    {
      type: 'unix',
      sources: [{ mode: 'connect', path, ...(s?.reconnect ? { reconnect: s.reconnect } : {}) }],
    },
    id,
    alias,
    field,
  );
  return id;
}

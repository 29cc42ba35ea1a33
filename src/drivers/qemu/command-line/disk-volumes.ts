/**
 * `<disk type='volume'>`: a volume of a storage pool, which the command
 * line only knows through what the host's storage driver says it is
 * (`CommandLinePaths.resolveVolume`: a file, a block device or a
 * directory, and its path; or an iSCSI LUN reached directly), as libvirt translates such a disk to its
 * "actual type" before building the command line. The definition itself
 * keeps naming the pool and the volume (the live XML does too); only the
 * copy the command line is built from carries the path.
 *
 * The image format stays the `<driver type>` (raw when none; `fat` for a
 * directory, the only way QEMU reads one), as in libvirt: the volume's
 * format is not guessed into the guest's view.
 *
 * @module
 */

import { assignParsed } from '../../../conf/binding.js';
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { IscsiDirectVolume, ResolvedVolume, VolumeRequest } from './types.js';

function hasPoolVolume(d: DiskDef): boolean {
  return d.type === 'volume' && d.source?.pool !== undefined && d.source.volume !== undefined;
}

/** `<auth>` as the disk's older, disk-level element, which the command line reads like a source's. */
function authElement(a: NonNullable<IscsiDirectVolume['auth']>): XmlElement {
  const secretAttrs: XmlElement['attrs'] = [{ name: 'type', value: a.secret.type }];
  if (a.secret.usage !== undefined) secretAttrs.push({ name: 'usage', value: a.secret.usage });
  if (a.secret.uuid !== undefined) secretAttrs.push({ name: 'uuid', value: a.secret.uuid });
  return {
    type: 'element',
    name: 'auth',
    attrs: [{ name: 'username', value: a.username }],
    children: [{ type: 'element', name: 'secret', attrs: secretAttrs, children: [] }],
  };
}

/** The disk with its volume's actual type and path in place of the pool and volume names. */
function resolvedDisk(d: DiskDef, r: ResolvedVolume): DiskDef {
  const source = assignParsed({} as NonNullable<DiskDef['source']>, d.source ?? {});
  delete source.pool;
  delete source.volume;
  delete source.mode;
  if (r.type === 'network') {
    source.protocol = r.protocol;
    source.name = r.name;
    source.hosts = r.hosts.map((h) => ({ name: h.name, ...(h.port !== undefined ? { port: h.port } : {}) }));
    const out = assignParsed({} as DiskDef, d);
    out.type = 'network';
    out.source = source;
    delete out.auth;
    if (r.auth) out.auth = authElement(r.auth);
    return out;
  }
  if (r.type === 'file') source.file = r.path;
  else if (r.type === 'block') source.dev = r.path;
  else source.dir = r.path;
  const out = assignParsed({} as DiskDef, d);
  out.type = r.type;
  out.source = source;
  // QEMU reads a directory only as a FAT image (vvfat): libvirt's output has the format node
  if (r.type === 'dir' && d.driver?.type === undefined)
    out.driver = { ...assignParsed({} as NonNullable<DiskDef['driver']>, d.driver ?? {}), type: 'fat' };
  return out;
}

/**
 * A volume disk (the definition's `at`-th disk, for the field) as the command
 * line reads it: its volume's actual type and path; any other disk as it is.
 * Without a resolver a volume disk is refused.
 */
export function resolvedVolumeDisk(
  d: DiskDef,
  at: number,
  resolve: ((disk: VolumeRequest) => ResolvedVolume) | undefined,
): DiskDef {
  if (!hasPoolVolume(d)) return d;
  const field = `/domain/devices/disk[${at + 1}]/source`;
  if (!resolve)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `disk '${d.target?.dev ?? at}' names storage pool '${d.source?.pool}', and no storage driver was given to resolve it`,
      { field: `${field}/@pool` },
    );
  const src = d.source!;
  const req: VolumeRequest = { pool: src.pool!, volume: src.volume!, field };
  if (src.mode !== undefined) req.mode = src.mode;
  return resolvedDisk(d, resolve(req));
}

/**
 * `def` itself when it has no volume disk, else a copy whose volume disks
 * are resolved through `resolve`; without a resolver such a disk is refused.
 */
export function withResolvedVolumes(
  def: DomainDef,
  resolve: ((disk: VolumeRequest) => ResolvedVolume) | undefined,
): DomainDef {
  const disks = def.devices?.disks ?? [];
  if (!disks.some(hasPoolVolume)) return def;
  const mapped = disks.map((d, i) => resolvedVolumeDisk(d, i, resolve));
  const copy = Object.create(Object.getPrototypeOf(def) as object) as DomainDef;
  assignParsed(copy, def);
  copy.devices = assignParsed({} as NonNullable<DomainDef['devices']>, def.devices!);
  copy.devices.disks = mapped;
  return copy;
}

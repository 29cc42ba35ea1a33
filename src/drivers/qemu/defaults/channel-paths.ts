/**
 * Socket paths libvirt generated for virtio channels of an earlier run.
 * A `unix` virtio channel without a path gets one under the domain's
 * channel dir when the guest starts; in a definition (inactive XML) such
 * a path is dropped again so the next run makes its own. Every layout
 * libvirt ever used is recognised: `<dir>/[target/]<name>.<target>`,
 * `<dir>/[target/]domain-<name>/<target>` and `<dir>/[target/]<id>-<name>/<target>`,
 * where `<dir>` is the channel dir, or the state dir's `channel`.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';

export interface ChannelPathOptions {
  /** The driver's state dir (`/var/lib/libvirt/qemu`): `<libDir>/channel` is an old channel dir. */
  libDir?: string;
  /** The driver's channel dir (libvirt: `/var/run/libvirt/qemu/channel`). */
  channelDir?: string;
}

export function dropGeneratedChannelPaths(def: DomainDef, options: ChannelPathOptions): void {
  const dirs = [options.channelDir, options.libDir && `${options.libDir}/channel`].filter(
    (d): d is string => typeof d === 'string' && d !== '',
  );
  if (dirs.length === 0) return;
  for (const c of def.devices?.channels ?? []) {
    const src = c.sources?.[0];
    const name = c.target?.name;
    if (c.type !== 'unix' || c.target?.type !== 'virtio' || !src?.path || !name) continue;
    if (dirs.some((d) => generatedUnder(src.path ?? '', d, name))) delete c.sources;
  }
}

function generatedUnder(path: string, dir: string, target: string): boolean {
  if (!path.startsWith(`${dir}/`)) return false;
  let rest = path.slice(dir.length + 1);
  if (rest.startsWith('target/')) rest = rest.slice('target/'.length);
  if (!rest.endsWith(target)) return false;
  const head = rest.slice(0, rest.length - target.length);
  // `<name>.`, `domain-<name>/` or `<id>-<name>/`, with no further directory in <name>.
  return /^([^/]+\.|domain-[^/]+\/|\d+-[^/]+\/)$/.test(head);
}

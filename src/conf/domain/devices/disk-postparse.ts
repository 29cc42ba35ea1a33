/**
 * Parse-time rules of `<disk>` that libvirt applies to every driver: the
 * default source type, a closed tray not written, an iSCSI target without a
 * LUN meaning LUN 0, and each protocol's default port on TCP hosts.
 *
 * @module
 */
import type { DiskDef } from './disk.js';

/** libvirt's default TCP port of each network disk protocol; absent: none (rbd, nfs). */
const DEFAULT_PORTS: Record<string, string> = {
  http: '80',
  https: '443',
  ftp: '21',
  ftps: '990',
  tftp: '69',
  sheepdog: '7000',
  nbd: '10809',
  ssh: '22',
  iscsi: '3260',
  gluster: '24007',
  vxhs: '9999',
};

export function postParseDisk(d: DiskDef): void {
  d.type ??= 'file';
  // A closed tray is the default state and libvirt writes only an open one.
  if (d.target.tray === 'closed') delete d.target.tray;
  const s = d.source;
  if (d.type !== 'network' || s === undefined) return;
  if (s.protocol === 'iscsi' && s.name !== undefined && !s.name.includes('/')) s.name = `${s.name}/0`;
  const port = DEFAULT_PORTS[s.protocol ?? ''];
  if (port === undefined) return;
  for (const h of s.hosts ?? [])
    if ((h.transport ?? 'tcp') === 'tcp' && (h.port === undefined || h.port === '0')) h.port = port;
}

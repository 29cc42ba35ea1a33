/**
 * Values between the object API's types and the remote protocol's: object
 * references (pools, volumes, networks, ports, secrets), and libvirt's enum
 * numbers and flag bits for them (facts of libvirt's public headers).
 *
 * @module
 */
import { STORAGE_POOL_TYPES } from '../../conf/storage/pool-def.js';
import { STORAGE_VOL_TYPES, type StorageVolType } from '../../conf/storage/vol-def.js';
import {
  type CallOptions,
  type ListObjectsFilter,
  type ListPoolsFilter,
  type NetworkPortRef,
  type NetworkRef,
  NODE_DEVICE_CAPS,
  type NodeDeviceCapName,
  type SecretObjectRef,
  type SecretUsageName,
  type StoragePoolRef,
  type StoragePoolStateName,
  type StorageVolRef,
} from '../../driver-objects.js';
import { VirError } from '../../errors.js';
import type {
  RemoteNonnullNetwork,
  RemoteNonnullNetworkPort,
  RemoteNonnullSecret,
  RemoteNonnullStoragePool,
  RemoteNonnullStorageVol,
} from './gen/remote-protocol.js';
import type { Procedure } from './procedure.js';
import { uuidFromBytes, uuidToBytes } from './remote-values.js';

/** One call of the remote program, as `RemoteConnection` makes it (after its event barrier). */
export type RemoteCall = <A, R>(proc: Procedure<A, R, unknown>, args: A, opts?: CallOptions) => Promise<R>;

export const poolRef = (p: RemoteNonnullStoragePool): StoragePoolRef => ({
  name: p.name,
  uuid: uuidFromBytes(p.uuid),
});
export const toPool = (p: StoragePoolRef): RemoteNonnullStoragePool => ({
  name: p.name,
  uuid: uuidToBytes(p.uuid),
});
export const volRef = (v: RemoteNonnullStorageVol): StorageVolRef => ({
  pool: v.pool,
  name: v.name,
  key: v.key,
});
export const toVol = (v: StorageVolRef): RemoteNonnullStorageVol => ({
  pool: v.pool,
  name: v.name,
  key: v.key,
});
export const netRef = (n: RemoteNonnullNetwork): NetworkRef => ({
  name: n.name,
  uuid: uuidFromBytes(n.uuid),
});
export const toNet = (n: NetworkRef): RemoteNonnullNetwork => ({ name: n.name, uuid: uuidToBytes(n.uuid) });
export const portRef = (p: RemoteNonnullNetworkPort): NetworkPortRef => ({
  network: netRef(p.net),
  uuid: uuidFromBytes(p.uuid),
});
export const toPort = (p: NetworkPortRef): RemoteNonnullNetworkPort => ({
  net: toNet(p.network),
  uuid: uuidToBytes(p.uuid),
});

/** `virSecretUsageType` by number. */
export const SECRET_USAGES: readonly SecretUsageName[] = ['none', 'volume', 'ceph', 'iscsi', 'tls', 'vtpm'];

export function secretRef(s: RemoteNonnullSecret): SecretObjectRef {
  const usageType = SECRET_USAGES[s.usageType];
  if (usageType === undefined)
    throw new VirError('INTERNAL_ERROR', 'remote', `unknown secret usage type ${s.usageType}`);
  return { uuid: uuidFromBytes(s.uuid), usageType, usageId: s.usageID };
}

export const toSecret = (s: SecretObjectRef): RemoteNonnullSecret => ({
  uuid: uuidToBytes(s.uuid),
  usageType: SECRET_USAGES.indexOf(s.usageType),
  usageID: s.usageId,
});

const POOL_STATES: readonly StoragePoolStateName[] = [
  'inactive',
  'building',
  'running',
  'degraded',
  'inaccessible',
];

export function poolState(n: number): StoragePoolStateName {
  const s = POOL_STATES[n];
  if (s === undefined) throw new VirError('INTERNAL_ERROR', 'remote', `unknown storage pool state ${n}`);
  return s;
}

export function volType(n: number): StorageVolType {
  const t = STORAGE_VOL_TYPES[n];
  if (t === undefined) throw new VirError('INTERNAL_ERROR', 'remote', `unknown storage volume type ${n}`);
  return t;
}

/** `VIR_CONNECT_LIST_{STORAGE_POOLS,NETWORKS}_*`: the same six bits for both. */
export function listFlags(f: ListObjectsFilter): number {
  const pair = (v: boolean | undefined, yes: number, no: number) => (v === undefined ? 0 : v ? yes : no);
  return pair(f.active, 2, 1) | pair(f.persistent, 4, 8) | pair(f.autostart, 16, 32);
}

/** libvirt's pool type flag bits, from 1 << 6, in the order of its pool type enum. */
const POOL_TYPE_BITS = [
  'dir',
  'fs',
  'netfs',
  'logical',
  'disk',
  'iscsi',
  'scsi',
  'mpath',
  'rbd',
  'sheepdog',
  'gluster',
  'zfs',
  'vstorage',
  'iscsi-direct',
] as const;

export function poolListFlags(f: ListPoolsFilter): number {
  let flags = listFlags(f);
  for (const t of f.type === undefined ? [] : [f.type].flat()) {
    const i = (POOL_TYPE_BITS as readonly string[]).indexOf(t);
    if (i < 0 || !(STORAGE_POOL_TYPES as readonly string[]).includes(t))
      throw new VirError('INVALID_ARG', 'storage', `unknown storage pool type '${t}'`, { field: 'type' });
    flags |= 1 << (6 + i);
  }
  return flags;
}

/** `VIR_CONNECT_LIST_NODE_DEVICES_CAP_*`: bit i is `NODE_DEVICE_CAPS[i]`. */
export function nodeDeviceFlags(caps: readonly NodeDeviceCapName[]): number {
  let flags = 0;
  for (const c of caps) flags |= 1 << NODE_DEVICE_CAPS.indexOf(c);
  return flags >>> 0;
}

/**
 * The seam for libvirt's objects next to domains: storage pools and
 * volumes, virtual networks, secrets and node devices.
 *
 * libvirt splits a connection into a hypervisor driver and secondary
 * drivers (`virStorageDriver`, `virNetworkDriver`, `virSecretDriver`,
 * `virNodeDeviceDriver`), each present or not. A {@link DriverConnection}
 * mirrors that: it may carry a `storage`, `networks`, `secrets` and
 * `nodeDevices` sub-driver, and the facade answers `NO_SUPPORT` for a kind
 * whose sub-driver is missing. Within a sub-driver the methods marked `?` are
 * the calls only some backends have (libvirt's test driver has no volume
 * resize, DHCP leases or network ports).
 *
 * Kept apart from `driver.ts` so that file stays about domains; it imports
 * nothing of the facade, so both `driver.ts` and the handles can use it.
 *
 * @module
 */
import type { StoragePoolType } from './conf/storage/pool-def.js';
import type { StorageVolType } from './conf/storage/vol-def.js';

/** Options every call that can wait accepts. */
export interface CallOptions {
  /**
   * Aborts the call: it rejects with `OPERATION_ABORTED` and stops waiting as soon as the driver
   * can.
   */
  signal?: AbortSignal;
  /**
   * Milliseconds the call may take before it rejects with `OPERATION_TIMEOUT` (distinct from
   * the signal's `OPERATION_ABORTED`); default: no limit of its own (the remote driver bounds
   * every RPC by its `callTimeout` option). A migration is aborted at its timeout.
   */
  timeout?: number;
}

// --- storage -----------------------------------------------------------------

/** Identity of a storage pool (`virStoragePoolPtr`). */
export interface StoragePoolRef {
  readonly name: string;
  /** Lower-case canonical UUID. */
  readonly uuid: string;
}

/** Identity of a storage volume (`virStorageVolPtr`): its pool's name, its name and its key. */
export interface StorageVolRef {
  readonly pool: string;
  readonly name: string;
  readonly key: string;
}

/** `virStoragePoolState`, by name. */
export type StoragePoolStateName = 'inactive' | 'building' | 'running' | 'degraded' | 'inaccessible';

/** `virStoragePoolInfo`; sizes in bytes. */
export interface StoragePoolInfo {
  readonly state: StoragePoolStateName;
  readonly capacity: bigint;
  readonly allocation: bigint;
  readonly available: bigint;
}

/** `virStorageVolInfo`; sizes in bytes. */
export interface StorageVolInfo {
  readonly type: StorageVolType;
  readonly capacity: bigint;
  readonly allocation: bigint;
}

/** What `virConnectListAll*` filters on; a field left out does not filter. */
export interface ListObjectsFilter {
  active?: boolean;
  persistent?: boolean;
  autostart?: boolean;
}

export interface ListPoolsFilter extends ListObjectsFilter {
  /** Only pools of these types. */
  type?: StoragePoolType | readonly StoragePoolType[];
}

export type PoolLookup = { name: string } | { uuid: string } | { volume: StorageVolRef };

/** A volume is found in a pool by name, or anywhere by key or by path (libvirt's three lookups). */
export type VolLookup = { pool: StoragePoolRef; name: string } | { key: string } | { path: string };

export interface PoolXmlOptions extends CallOptions {
  /** The persistent definition rather than the live one (`VIR_STORAGE_XML_INACTIVE`). */
  inactive?: boolean;
}

export interface CreateVolOptions extends CallOptions {
  /** Copy the contents of this volume (`virStorageVolCreateXMLFrom`). */
  from?: StorageVolRef;
}

export interface ResizeVolOptions extends CallOptions {
  /** Add `capacity` to the current size instead of setting it (`VIR_STORAGE_VOL_RESIZE_DELTA`). */
  delta?: boolean;
  /** Allocate the new space too (`VIR_STORAGE_VOL_RESIZE_ALLOCATE`). */
  allocate?: boolean;
  /** Allow a smaller size (`VIR_STORAGE_VOL_RESIZE_SHRINK`). */
  shrink?: boolean;
}

/**
 * A volume's contents as bytes: a Node `Readable` (download) or `Writable`
 * (upload) at run time, declared by shape because this module imports no
 * `node:` module. An upload is complete when the stream emits `finish`
 * (the daemon confirmed it); a failed transfer emits `error` with a
 * `VirError`; destroying the stream early aborts the transfer.
 */
export type VolumeReadStream = NodeJS.ReadableStream & { destroy(error?: Error): unknown };
export type VolumeWriteStream = NodeJS.WritableStream & { destroy(error?: Error): unknown };

/** Which bytes of a volume a transfer covers; `length` 0 means to the end (as libvirt). */
export interface VolumeRange extends CallOptions {
  offset: bigint;
  length: bigint;
}

/**
 * A pool's lifecycle (`VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE`, its event
 * names in lower case), and `refreshed` (`VIR_STORAGE_POOL_EVENT_ID_REFRESH`).
 */
export interface StoragePoolEvent {
  readonly type: 'storagePool';
  readonly pool: StoragePoolRef;
  readonly event: 'defined' | 'undefined' | 'started' | 'stopped' | 'created' | 'deleted' | 'refreshed';
  /** Milliseconds since the epoch, when the driver saw it. */
  readonly timestamp: number;
}

/** A network's lifecycle (`VIR_NETWORK_EVENT_ID_LIFECYCLE`). */
export interface NetworkEvent {
  readonly type: 'network';
  readonly network: NetworkRef;
  readonly event: 'defined' | 'undefined' | 'started' | 'stopped';
  readonly timestamp: number;
}

/** A secret's lifecycle (`VIR_SECRET_EVENT_ID_LIFECYCLE`), and `valueChanged` (`..._VALUE_CHANGED`). */
export interface SecretEvent {
  readonly type: 'secret';
  readonly secret: SecretObjectRef;
  readonly event: 'defined' | 'undefined' | 'valueChanged';
  readonly timestamp: number;
}

export type ObjectEvent = StoragePoolEvent | NetworkEvent | SecretEvent;

export interface StorageDriver {
  /** Registers a listener for pool events; returns the function that removes it. */
  subscribe?(listener: (event: StoragePoolEvent) => void): () => void;
  listPools(filter: ListPoolsFilter, opts?: CallOptions): Promise<StoragePoolRef[]>;
  lookupPool(key: PoolLookup, opts?: CallOptions): Promise<StoragePoolRef>;
  definePool(xml: string, opts?: CallOptions): Promise<StoragePoolRef>;
  /** Creates and starts a transient pool (`virStoragePoolCreateXML`). */
  createPool(xml: string, opts?: CallOptions): Promise<StoragePoolRef>;
  poolBuild(pool: StoragePoolRef, opts?: CallOptions): Promise<void>;
  /** Starts an inactive pool (`virStoragePoolCreate`). */
  poolStart(pool: StoragePoolRef, opts?: CallOptions): Promise<void>;
  poolDestroy(pool: StoragePoolRef, opts?: CallOptions): Promise<void>;
  poolUndefine(pool: StoragePoolRef, opts?: CallOptions): Promise<void>;
  poolRefresh(pool: StoragePoolRef, opts?: CallOptions): Promise<void>;
  poolGetInfo(pool: StoragePoolRef, opts?: CallOptions): Promise<StoragePoolInfo>;
  poolGetXml(pool: StoragePoolRef, opts?: PoolXmlOptions): Promise<string>;
  poolGetAutostart(pool: StoragePoolRef, opts?: CallOptions): Promise<boolean>;
  poolSetAutostart(pool: StoragePoolRef, autostart: boolean, opts?: CallOptions): Promise<void>;
  poolIsActive(pool: StoragePoolRef, opts?: CallOptions): Promise<boolean>;
  poolIsPersistent(pool: StoragePoolRef, opts?: CallOptions): Promise<boolean>;
  poolListVolumes(pool: StoragePoolRef, opts?: CallOptions): Promise<StorageVolRef[]>;

  lookupVolume(key: VolLookup, opts?: CallOptions): Promise<StorageVolRef>;
  volCreate(pool: StoragePoolRef, xml: string, opts?: CreateVolOptions): Promise<StorageVolRef>;
  volDelete(vol: StorageVolRef, opts?: CallOptions): Promise<void>;
  volGetInfo(vol: StorageVolRef, opts?: CallOptions): Promise<StorageVolInfo>;
  volGetXml(vol: StorageVolRef, opts?: CallOptions): Promise<string>;
  volGetPath(vol: StorageVolRef, opts?: CallOptions): Promise<string>;
  /** `capacity` in bytes. */
  volResize?(vol: StorageVolRef, capacity: bigint, opts?: ResizeVolOptions): Promise<void>;
  volWipe?(vol: StorageVolRef, opts?: CallOptions): Promise<void>;
  volDownload?(vol: StorageVolRef, range: VolumeRange): Promise<VolumeReadStream>;
  volUpload?(vol: StorageVolRef, range: VolumeRange): Promise<VolumeWriteStream>;
}

// --- networks ----------------------------------------------------------------

/** Identity of a virtual network (`virNetworkPtr`). */
export interface NetworkRef {
  readonly name: string;
  readonly uuid: string;
}

export type NetworkLookup = { name: string } | { uuid: string };

export interface NetworkXmlOptions extends CallOptions {
  /** The persistent definition rather than the live one (`VIR_NETWORK_XML_INACTIVE`). */
  inactive?: boolean;
}

/** One DHCP lease of a network (`virNetworkDHCPLease`). */
export interface NetworkDhcpLease {
  /** The network's bridge the lease is on. */
  readonly iface: string;
  /** Seconds since the epoch when it expires; 0 for a lease that never does. */
  readonly expiryTime: number;
  readonly type: 'ipv4' | 'ipv6';
  readonly mac?: string;
  readonly iaid?: string;
  readonly ipaddr: string;
  readonly prefix: number;
  readonly hostname?: string;
  readonly clientId?: string;
}

/** Identity of a network port (`virNetworkPortPtr`): its network and UUID. */
export interface NetworkPortRef {
  readonly network: NetworkRef;
  readonly uuid: string;
}

export interface NetworkDriver {
  subscribe?(listener: (event: NetworkEvent) => void): () => void;
  listNetworks(filter: ListObjectsFilter, opts?: CallOptions): Promise<NetworkRef[]>;
  lookupNetwork(key: NetworkLookup, opts?: CallOptions): Promise<NetworkRef>;
  defineNetwork(xml: string, opts?: CallOptions): Promise<NetworkRef>;
  /** Creates and starts a transient network (`virNetworkCreateXML`). */
  createNetwork(xml: string, opts?: CallOptions): Promise<NetworkRef>;
  networkStart(net: NetworkRef, opts?: CallOptions): Promise<void>;
  networkDestroy(net: NetworkRef, opts?: CallOptions): Promise<void>;
  networkUndefine(net: NetworkRef, opts?: CallOptions): Promise<void>;
  networkGetXml(net: NetworkRef, opts?: NetworkXmlOptions): Promise<string>;
  networkGetAutostart(net: NetworkRef, opts?: CallOptions): Promise<boolean>;
  networkSetAutostart(net: NetworkRef, autostart: boolean, opts?: CallOptions): Promise<void>;
  networkIsActive(net: NetworkRef, opts?: CallOptions): Promise<boolean>;
  networkIsPersistent(net: NetworkRef, opts?: CallOptions): Promise<boolean>;
  networkGetBridgeName(net: NetworkRef, opts?: CallOptions): Promise<string>;
  /** Leases, all or those of one MAC address. */
  networkGetDhcpLeases?(
    net: NetworkRef,
    mac: string | undefined,
    opts?: CallOptions,
  ): Promise<NetworkDhcpLease[]>;
  networkListPorts?(net: NetworkRef, opts?: CallOptions): Promise<NetworkPortRef[]>;
  networkLookupPort?(net: NetworkRef, uuid: string, opts?: CallOptions): Promise<NetworkPortRef>;
  networkCreatePort?(net: NetworkRef, xml: string, opts?: CallOptions): Promise<NetworkPortRef>;
  portGetXml?(port: NetworkPortRef, opts?: CallOptions): Promise<string>;
  portDelete?(port: NetworkPortRef, opts?: CallOptions): Promise<void>;
}

// --- secrets -----------------------------------------------------------------

/** `virSecretUsageType`, by name. */
export type SecretUsageName = 'none' | 'volume' | 'ceph' | 'iscsi' | 'tls' | 'vtpm';

/** Identity of a secret (`virSecretPtr`): its UUID and usage. */
export interface SecretObjectRef {
  readonly uuid: string;
  readonly usageType: SecretUsageName;
  /** The volume path, Ceph/TLS/vTPM name or iSCSI target; empty for usage `none`. */
  readonly usageId: string;
}

export type SecretLookup = { uuid: string } | { usageType: SecretUsageName; usageId: string };

export interface SecretDriver {
  subscribe?(listener: (event: SecretEvent) => void): () => void;
  listSecrets(
    filter: { ephemeral?: boolean; private?: boolean },
    opts?: CallOptions,
  ): Promise<SecretObjectRef[]>;
  lookupSecret(key: SecretLookup, opts?: CallOptions): Promise<SecretObjectRef>;
  defineSecret(xml: string, opts?: CallOptions): Promise<SecretObjectRef>;
  secretGetXml(secret: SecretObjectRef, opts?: CallOptions): Promise<string>;
  /** The driver keeps its own copy: the caller may wipe `value` afterwards. */
  secretSetValue(secret: SecretObjectRef, value: Uint8Array, opts?: CallOptions): Promise<void>;
  secretGetValue(secret: SecretObjectRef, opts?: CallOptions): Promise<Uint8Array>;
  secretUndefine(secret: SecretObjectRef, opts?: CallOptions): Promise<void>;
}

// --- node devices ------------------------------------------------------------

/** Identity of a host device (`virNodeDevicePtr`). */
export interface NodeDeviceRef {
  readonly name: string;
}

/**
 * The capability names `virConnectListAllNodeDevices` filters on, as libvirt
 * spells them in XML (`<capability type='...'>`) and in `virsh nodedev-list --cap`.
 */
export const NODE_DEVICE_CAPS = [
  'system',
  'pci',
  'usb_device',
  'usb',
  'net',
  'scsi_host',
  'scsi_target',
  'scsi',
  'storage',
  'fc_host',
  'vports',
  'scsi_generic',
  'drm',
  'mdev_types',
  'mdev',
  'ccw',
  'css',
  'vdpa',
  'ap_card',
  'ap_queue',
  'ap_matrix',
  'vpd',
  'ccwgroup',
] as const;
export type NodeDeviceCapName = (typeof NODE_DEVICE_CAPS)[number];

export interface NodeDeviceDriver {
  /** Devices that have one of `caps` (every device when empty or left out). */
  listNodeDevices(
    filter: { caps?: readonly NodeDeviceCapName[] },
    opts?: CallOptions,
  ): Promise<NodeDeviceRef[]>;
  lookupNodeDevice(name: string, opts?: CallOptions): Promise<NodeDeviceRef>;
  nodeDeviceGetXml(dev: NodeDeviceRef, opts?: CallOptions): Promise<string>;
  /** The parent's name; undefined for the root (`computer`). */
  nodeDeviceGetParent(dev: NodeDeviceRef, opts?: CallOptions): Promise<string | undefined>;
  /** The device's top-level capability names, in its XML's order. */
  nodeDeviceListCaps(dev: NodeDeviceRef, opts?: CallOptions): Promise<string[]>;
}

/** The secondary drivers a {@link DriverConnection} may carry. */
export interface ObjectDrivers {
  readonly storage?: StorageDriver;
  readonly networks?: NetworkDriver;
  readonly secrets?: SecretDriver;
  readonly nodeDevices?: NodeDeviceDriver;
}

export type ObjectKind = keyof ObjectDrivers;

/** The kinds with events (node devices have none here yet). */
export type ObjectEventKind = 'storage' | 'networks' | 'secrets';

/**
 * What the object handles need of the connection that made them;
 * `Connection` implements it. Not for programs.
 */
export interface ObjectOwner {
  _objectCall<K extends ObjectKind, T>(
    kind: K,
    what: string,
    opts: CallOptions,
    run: (driver: NonNullable<ObjectDrivers[K]>, signal: AbortSignal) => Promise<T>,
  ): Promise<T>;
  /** Throws `OPERATION_DENIED` on a read-only connection. */
  _writable(what: string): void;
  /** An event stream of pools (`storage`), networks or secrets; `NO_SUPPORT` where the driver has none. */
  _objectEvents<E extends ObjectEvent>(
    kind: ObjectEventKind,
    options: ObjectEventOptions<E>,
  ): AsyncIterableIterator<E> & { readonly dropped: number; end(): void };
}

/** What an object kind's `events()` takes (the options of `EventStream`, by shape). */
export interface ObjectEventOptions<E extends ObjectEvent> {
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
  /** Only events for which this returns true are buffered. */
  filter?: (event: E) => boolean;
  /** Maximum buffered events before the oldest are dropped. Default 1024. */
  bufferSize?: number;
}

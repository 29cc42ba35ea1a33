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
  /** The pool's name, unique on its host. */
  readonly name: string;
  /** Lower-case canonical UUID. */
  readonly uuid: string;
}

/** Identity of a storage volume (`virStorageVolPtr`): its pool's name, its name and its key. */
export interface StorageVolRef {
  /** The name of the pool the volume is in. */
  readonly pool: string;
  /** The volume's name, unique in its pool. */
  readonly name: string;
  /** The volume's key, unique on its host (for a file volume, its path). */
  readonly key: string;
}

/** `virStoragePoolState`, by name. */
export type StoragePoolStateName = 'inactive' | 'building' | 'running' | 'degraded' | 'inaccessible';

/** `virStoragePoolInfo`; sizes in bytes. */
export interface StoragePoolInfo {
  /** Whether the pool runs (`running`), and if not why. */
  readonly state: StoragePoolStateName;
  /** The pool's size in bytes. */
  readonly capacity: bigint;
  /** Bytes its volumes take. */
  readonly allocation: bigint;
  /** Bytes free for new volumes. */
  readonly available: bigint;
}

/** `virStorageVolInfo`; sizes in bytes. */
export interface StorageVolInfo {
  /** What kind of storage the volume is (`virStorageVolType`, by name). */
  readonly type: StorageVolType;
  /** The size the guest sees, in bytes. */
  readonly capacity: bigint;
  /** Bytes actually used on the host (less than `capacity` for a sparse volume). */
  readonly allocation: bigint;
}

/** What `virConnectListAll*` filters on; a field left out does not filter. */
export interface ListObjectsFilter {
  /** Only running objects (`true`) or only inactive ones (`false`); `*_ACTIVE`/`*_INACTIVE`. */
  active?: boolean;
  /** Only persistent objects (`true`) or only transient ones (`false`); `*_PERSISTENT`/`*_TRANSIENT`. */
  persistent?: boolean;
  /** Only objects started with their host (`true`) or only the others; `*_AUTOSTART`/`*_NO_AUTOSTART`. */
  autostart?: boolean;
}

/** The filter of `virConnectListAllStoragePools`: {@link ListObjectsFilter} and the pool types. */
export interface ListPoolsFilter extends ListObjectsFilter {
  /** Only pools of these types. */
  type?: StoragePoolType | readonly StoragePoolType[];
}

/** A pool is found by name, by UUID, or as the pool holding a volume (libvirt's three lookups). */
export type PoolLookup =
  | {
      /** The pool's name. */
      name: string;
    }
  | {
      /** The pool's UUID, in any case. */
      uuid: string;
    }
  | {
      /** A volume of the pool (`virStoragePoolLookupByVolume`). */
      volume: StorageVolRef;
    };

/** A volume is found in a pool by name, or anywhere by key or by path (libvirt's three lookups). */
export type VolLookup =
  | {
      /** The pool to look in. */
      pool: StoragePoolRef;
      /** The volume's name in that pool (`virStorageVolLookupByName`). */
      name: string;
    }
  | {
      /** The volume's key (`virStorageVolLookupByKey`). */
      key: string;
    }
  | {
      /** The volume's path on the host (`virStorageVolLookupByPath`). */
      path: string;
    };

/** Options of `virStoragePoolGetXMLDesc`. */
export interface PoolXmlOptions extends CallOptions {
  /** The persistent definition rather than the live one (`VIR_STORAGE_XML_INACTIVE`). */
  inactive?: boolean;
}

/** Options of `virStoragePoolBuild`: how a pool with a source device treats what is on it. */
export interface PoolBuildOptions extends CallOptions {
  /** Format the device even when it holds a file system (`VIR_STORAGE_POOL_BUILD_OVERWRITE`). */
  overwrite?: boolean;
  /** Format the device only when blkid finds nothing on it (`VIR_STORAGE_POOL_BUILD_NO_OVERWRITE`). */
  noOverwrite?: boolean;
}

/** Options of `virStorageVolCreateXML`. */
export interface CreateVolOptions extends CallOptions {
  /** Copy the contents of this volume (`virStorageVolCreateXMLFrom`). */
  from?: StorageVolRef;
}

/** Options of `virStorageVolResize`, after its flags. */
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
export type VolumeReadStream = NodeJS.ReadableStream & {
  /** Ends the stream early and aborts the transfer; `error`, when given, is emitted. */
  destroy(error?: Error): unknown;
};
/** A volume's contents as a writable Node stream (upload); see {@link VolumeReadStream}. */
export type VolumeWriteStream = NodeJS.WritableStream & {
  /** Ends the stream early and aborts the upload; what was sent may be in the volume. */
  destroy(error?: Error): unknown;
};

/** Which bytes of a volume a transfer covers; `length` 0 means to the end (as libvirt). */
export interface VolumeRange extends CallOptions {
  /** The first byte, from the start of the volume. */
  offset: bigint;
  /** How many bytes; 0 for all bytes to the end. */
  length: bigint;
}

/**
 * A pool's lifecycle (`VIR_STORAGE_POOL_EVENT_ID_LIFECYCLE`, its event
 * names in lower case), and `refreshed` (`VIR_STORAGE_POOL_EVENT_ID_REFRESH`).
 */
export interface StoragePoolEvent {
  /** Which kind of object the event is about. */
  readonly type: 'storagePool';
  /** The pool the event is about. */
  readonly pool: StoragePoolRef;
  /** What happened. */
  readonly event: 'defined' | 'undefined' | 'started' | 'stopped' | 'created' | 'deleted' | 'refreshed';
  /** Milliseconds since the epoch, when the driver saw it. */
  readonly timestamp: number;
}

/** A network's lifecycle (`VIR_NETWORK_EVENT_ID_LIFECYCLE`). */
export interface NetworkEvent {
  /** Which kind of object the event is about. */
  readonly type: 'network';
  /** The network the event is about. */
  readonly network: NetworkRef;
  /** What happened. */
  readonly event: 'defined' | 'undefined' | 'started' | 'stopped';
  /** Milliseconds since the epoch, when the driver saw it. */
  readonly timestamp: number;
}

/** A secret's lifecycle (`VIR_SECRET_EVENT_ID_LIFECYCLE`), and `valueChanged` (`..._VALUE_CHANGED`). */
export interface SecretEvent {
  /** Which kind of object the event is about. */
  readonly type: 'secret';
  /** The secret the event is about. */
  readonly secret: SecretObjectRef;
  /** What happened (`valueChanged`: its value was set; the value is not in the event). */
  readonly event: 'defined' | 'undefined' | 'valueChanged';
  /** Milliseconds since the epoch, when the driver saw it. */
  readonly timestamp: number;
}

/**
 * A host device's lifecycle (`VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE`: `created`,
 * `deleted`, `defined`, `undefined`, libvirt's numbers 0–3) and `updated`
 * (`VIR_NODE_DEVICE_EVENT_ID_UPDATE`: its XML changed, e.g. the driver bound
 * to it after a detach or re-attach).
 */
export interface NodeDeviceEvent {
  /** Which kind of object the event is about. */
  readonly type: 'nodeDevice';
  /** The device the event is about. */
  readonly device: NodeDeviceRef;
  /** What happened. */
  readonly event: 'created' | 'deleted' | 'defined' | 'undefined' | 'updated';
  /** Milliseconds since the epoch, when the driver saw it. */
  readonly timestamp: number;
}

/** An event of a storage pool, network, secret or host device; `type` says which. */
export type ObjectEvent = StoragePoolEvent | NetworkEvent | SecretEvent | NodeDeviceEvent;

/** A driver's storage pools and volumes (libvirt's `virStorageDriver`); errors `NO_STORAGE_POOL`/`NO_STORAGE_VOL` for an unknown one. */
export interface StorageDriver {
  /** Registers a listener for pool events; returns the function that removes it. */
  subscribe?(listener: (event: StoragePoolEvent) => void): () => void;
  /** The pools that pass `filter` (`virConnectListAllStoragePools`). */
  listPools(filter: ListPoolsFilter, opts?: CallOptions): Promise<StoragePoolRef[]>;
  /** One pool by name, UUID or volume; `NO_STORAGE_POOL` when there is none. */
  lookupPool(key: PoolLookup, opts?: CallOptions): Promise<StoragePoolRef>;
  /** Defines a persistent, inactive pool from `<pool>` XML (`virStoragePoolDefineXML`). */
  definePool(xml: string, opts?: CallOptions): Promise<StoragePoolRef>;
  /** Creates and starts a transient pool (`virStoragePoolCreateXML`). */
  createPool(xml: string, opts?: CallOptions): Promise<StoragePoolRef>;
  /** Prepares the pool's target: makes the directory, formats the device (`virStoragePoolBuild`). */
  poolBuild(pool: StoragePoolRef, opts?: PoolBuildOptions): Promise<void>;
  /** Starts an inactive pool (`virStoragePoolCreate`). */
  poolStart(pool: StoragePoolRef, opts?: CallOptions): Promise<void>;
  /** Stops the pool, keeping its data (`virStoragePoolDestroy`); a transient pool is gone after it. */
  poolDestroy(pool: StoragePoolRef, opts?: CallOptions): Promise<void>;
  /** Removes the definition of an inactive pool (`virStoragePoolUndefine`). */
  poolUndefine(pool: StoragePoolRef, opts?: CallOptions): Promise<void>;
  /** Re-reads the pool's volumes and sizes from its target (`virStoragePoolRefresh`). */
  poolRefresh(pool: StoragePoolRef, opts?: CallOptions): Promise<void>;
  /** The pool's state and sizes (`virStoragePoolGetInfo`). */
  poolGetInfo(pool: StoragePoolRef, opts?: CallOptions): Promise<StoragePoolInfo>;
  /** The pool's `<pool>` XML, live or with `inactive` persistent (`virStoragePoolGetXMLDesc`). */
  poolGetXml(pool: StoragePoolRef, opts?: PoolXmlOptions): Promise<string>;
  /** Whether the pool starts with its host (`virStoragePoolGetAutostart`). */
  poolGetAutostart(pool: StoragePoolRef, opts?: CallOptions): Promise<boolean>;
  /** Sets whether a persistent pool starts with its host (`virStoragePoolSetAutostart`). */
  poolSetAutostart(pool: StoragePoolRef, autostart: boolean, opts?: CallOptions): Promise<void>;
  /** Whether the pool runs (`virStoragePoolIsActive`). */
  poolIsActive(pool: StoragePoolRef, opts?: CallOptions): Promise<boolean>;
  /** Whether the pool has a persistent definition (`virStoragePoolIsPersistent`). */
  poolIsPersistent(pool: StoragePoolRef, opts?: CallOptions): Promise<boolean>;
  /** The volumes of an active pool (`virStoragePoolListAllVolumes`). */
  poolListVolumes(pool: StoragePoolRef, opts?: CallOptions): Promise<StorageVolRef[]>;

  /** One volume by pool and name, key or path; `NO_STORAGE_VOL` when there is none. */
  lookupVolume(key: VolLookup, opts?: CallOptions): Promise<StorageVolRef>;
  /** Creates a volume from `<volume>` XML, or a copy of `from` (`virStorageVolCreateXML`, `...From`). */
  volCreate(pool: StoragePoolRef, xml: string, opts?: CreateVolOptions): Promise<StorageVolRef>;
  /** Deletes the volume and its data (`virStorageVolDelete`). */
  volDelete(vol: StorageVolRef, opts?: CallOptions): Promise<void>;
  /** The volume's type and sizes (`virStorageVolGetInfo`). */
  volGetInfo(vol: StorageVolRef, opts?: CallOptions): Promise<StorageVolInfo>;
  /** The volume's `<volume>` XML (`virStorageVolGetXMLDesc`). */
  volGetXml(vol: StorageVolRef, opts?: CallOptions): Promise<string>;
  /** The volume's path on the host (`virStorageVolGetPath`). */
  volGetPath(vol: StorageVolRef, opts?: CallOptions): Promise<string>;
  /** `capacity` in bytes. */
  volResize?(vol: StorageVolRef, capacity: bigint, opts?: ResizeVolOptions): Promise<void>;
  /** Overwrites the volume's data with zeros (`virStorageVolWipe`). */
  volWipe?(vol: StorageVolRef, opts?: CallOptions): Promise<void>;
  /** The volume's bytes in `range` as a stream (`virStorageVolDownload`). */
  volDownload?(vol: StorageVolRef, range: VolumeRange): Promise<VolumeReadStream>;
  /** A stream that writes `range` of the volume (`virStorageVolUpload`). */
  volUpload?(vol: StorageVolRef, range: VolumeRange): Promise<VolumeWriteStream>;
}

// --- networks ----------------------------------------------------------------

/** Identity of a virtual network (`virNetworkPtr`). */
export interface NetworkRef {
  /** The network's name, unique on its host. */
  readonly name: string;
  /** Lower-case canonical UUID. */
  readonly uuid: string;
}

/** A network is found by name or by UUID. */
export type NetworkLookup =
  | {
      /** The network's name (`virNetworkLookupByName`). */
      name: string;
    }
  | {
      /** The network's UUID, in any case (`virNetworkLookupByUUID`). */
      uuid: string;
    };

/** Options of `virNetworkGetXMLDesc`. */
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
  /** The address family of `ipaddr`. */
  readonly type: 'ipv4' | 'ipv6';
  /** The client's MAC address (IPv4 leases; IPv6 ones when the client sent it). */
  readonly mac?: string;
  /** The DHCPv6 identity association id (IPv6 leases). */
  readonly iaid?: string;
  /** The leased address. */
  readonly ipaddr: string;
  /** The prefix length of the subnet the address is in. */
  readonly prefix: number;
  /** The host name the client gave, if any. */
  readonly hostname?: string;
  /** The DHCP client id (IPv4) or DUID (IPv6), if any. */
  readonly clientId?: string;
}

/** Identity of a network port (`virNetworkPortPtr`): its network and UUID. */
export interface NetworkPortRef {
  /** The network the port is on. */
  readonly network: NetworkRef;
  /** The port's UUID, lower-case canonical. */
  readonly uuid: string;
}

/** A driver's virtual networks and their ports (libvirt's `virNetworkDriver`); `NO_NETWORK` for an unknown one. */
export interface NetworkDriver {
  /** Registers a listener for network events; returns the function that removes it. */
  subscribe?(listener: (event: NetworkEvent) => void): () => void;
  /** The networks that pass `filter` (`virConnectListAllNetworks`). */
  listNetworks(filter: ListObjectsFilter, opts?: CallOptions): Promise<NetworkRef[]>;
  /** One network by name or UUID; `NO_NETWORK` when there is none. */
  lookupNetwork(key: NetworkLookup, opts?: CallOptions): Promise<NetworkRef>;
  /** Defines a persistent, inactive network from `<network>` XML (`virNetworkDefineXML`). */
  defineNetwork(xml: string, opts?: CallOptions): Promise<NetworkRef>;
  /** Creates and starts a transient network (`virNetworkCreateXML`). */
  createNetwork(xml: string, opts?: CallOptions): Promise<NetworkRef>;
  /** Starts an inactive network (`virNetworkCreate`). */
  networkStart(net: NetworkRef, opts?: CallOptions): Promise<void>;
  /** Stops the network (`virNetworkDestroy`); a transient network is gone after it. */
  networkDestroy(net: NetworkRef, opts?: CallOptions): Promise<void>;
  /** Removes the persistent definition (`virNetworkUndefine`); a running network runs on, transient. */
  networkUndefine(net: NetworkRef, opts?: CallOptions): Promise<void>;
  /** The network's `<network>` XML, live or with `inactive` persistent (`virNetworkGetXMLDesc`). */
  networkGetXml(net: NetworkRef, opts?: NetworkXmlOptions): Promise<string>;
  /** Whether the network starts with its host (`virNetworkGetAutostart`). */
  networkGetAutostart(net: NetworkRef, opts?: CallOptions): Promise<boolean>;
  /** Sets whether a persistent network starts with its host (`virNetworkSetAutostart`). */
  networkSetAutostart(net: NetworkRef, autostart: boolean, opts?: CallOptions): Promise<void>;
  /** Whether the network runs (`virNetworkIsActive`). */
  networkIsActive(net: NetworkRef, opts?: CallOptions): Promise<boolean>;
  /** Whether the network has a persistent definition (`virNetworkIsPersistent`). */
  networkIsPersistent(net: NetworkRef, opts?: CallOptions): Promise<boolean>;
  /** The host bridge the network's guests are plugged into (`virNetworkGetBridgeName`). */
  networkGetBridgeName(net: NetworkRef, opts?: CallOptions): Promise<string>;
  /** Leases, all or those of one MAC address. */
  networkGetDhcpLeases?(
    net: NetworkRef,
    mac: string | undefined,
    opts?: CallOptions,
  ): Promise<NetworkDhcpLease[]>;
  /** The ports of a network (`virNetworkListAllPorts`). */
  networkListPorts?(net: NetworkRef, opts?: CallOptions): Promise<NetworkPortRef[]>;
  /** One port by UUID (`virNetworkPortLookupByUUID`); `NO_NETWORK_PORT` when there is none. */
  networkLookupPort?(net: NetworkRef, uuid: string, opts?: CallOptions): Promise<NetworkPortRef>;
  /** Creates a port from `<networkport>` XML (`virNetworkPortCreateXML`). */
  networkCreatePort?(net: NetworkRef, xml: string, opts?: CallOptions): Promise<NetworkPortRef>;
  /** The port's `<networkport>` XML (`virNetworkPortGetXMLDesc`). */
  portGetXml?(port: NetworkPortRef, opts?: CallOptions): Promise<string>;
  /** Deletes the port (`virNetworkPortDelete`). */
  portDelete?(port: NetworkPortRef, opts?: CallOptions): Promise<void>;
}

// --- secrets -----------------------------------------------------------------

/** `virSecretUsageType`, by name. */
export type SecretUsageName = 'none' | 'volume' | 'ceph' | 'iscsi' | 'tls' | 'vtpm';

/** Identity of a secret (`virSecretPtr`): its UUID and usage. */
export interface SecretObjectRef {
  /** Lower-case canonical UUID. */
  readonly uuid: string;
  /** What the secret is for (`<usage type>`). */
  readonly usageType: SecretUsageName;
  /** The volume path, Ceph/TLS/vTPM name or iSCSI target; empty for usage `none`. */
  readonly usageId: string;
}

/** A secret is found by UUID, or by its usage type and id (`virSecretLookupByUsage`). */
export type SecretLookup =
  | {
      /** The secret's UUID, in any case (`virSecretLookupByUUID`). */
      uuid: string;
    }
  | {
      /** The usage type to look for (`virSecretLookupByUsage`). */
      usageType: SecretUsageName;
      /** The usage id of that type: volume path, Ceph/TLS/vTPM name or iSCSI target. */
      usageId: string;
    };

/** A driver's secrets (libvirt's `virSecretDriver`); `NO_SECRET` for an unknown one. */
export interface SecretDriver {
  /** Registers a listener for secret events; returns the function that removes it. */
  subscribe?(listener: (event: SecretEvent) => void): () => void;
  /** The secrets that pass `filter`: `ephemeral` and `private` as in `<secret>` (`virConnectListAllSecrets`). */
  listSecrets(
    filter: { ephemeral?: boolean; private?: boolean },
    opts?: CallOptions,
  ): Promise<SecretObjectRef[]>;
  /** One secret by UUID or usage; `NO_SECRET` when there is none. */
  lookupSecret(key: SecretLookup, opts?: CallOptions): Promise<SecretObjectRef>;
  /** Defines or redefines a secret from `<secret>` XML (`virSecretDefineXML`). */
  defineSecret(xml: string, opts?: CallOptions): Promise<SecretObjectRef>;
  /** The secret's `<secret>` XML, never its value (`virSecretGetXMLDesc`). */
  secretGetXml(secret: SecretObjectRef, opts?: CallOptions): Promise<string>;
  /** The driver keeps its own copy: the caller may wipe `value` afterwards. */
  secretSetValue(secret: SecretObjectRef, value: Uint8Array, opts?: CallOptions): Promise<void>;
  /** The secret's value (`virSecretGetValue`): `NO_SECRET` when none is set, `INVALID_SECRET` for a private one. */
  secretGetValue(secret: SecretObjectRef, opts?: CallOptions): Promise<Uint8Array>;
  /** Removes the secret and its value (`virSecretUndefine`). */
  secretUndefine(secret: SecretObjectRef, opts?: CallOptions): Promise<void>;
}

// --- node devices ------------------------------------------------------------

/** Identity of a host device (`virNodeDevicePtr`). */
export interface NodeDeviceRef {
  /** The device's name, as libvirt makes it (`pci_0000_00_02_0`, `net_eth0_...`, `computer`). */
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
/** One of {@link NODE_DEVICE_CAPS}. */
export type NodeDeviceCapName = (typeof NODE_DEVICE_CAPS)[number];

/** A driver's host devices (libvirt's `virNodeDeviceDriver`); `NO_NODE_DEVICE` for an unknown one. */
export interface NodeDeviceDriver {
  /** Registers a listener for device events; returns the function that removes it. */
  subscribe?(listener: (event: NodeDeviceEvent) => void): () => void;
  /** Devices that have one of `caps` (every device when empty or left out). */
  listNodeDevices(
    filter: { caps?: readonly NodeDeviceCapName[] },
    opts?: CallOptions,
  ): Promise<NodeDeviceRef[]>;
  /** One device by name (`virNodeDeviceLookupByName`); `NO_NODE_DEVICE` when there is none. */
  lookupNodeDevice(name: string, opts?: CallOptions): Promise<NodeDeviceRef>;
  /** The device's `<device>` XML (`virNodeDeviceGetXMLDesc`). */
  nodeDeviceGetXml(dev: NodeDeviceRef, opts?: CallOptions): Promise<string>;
  /** The parent's name; undefined for the root (`computer`). */
  nodeDeviceGetParent(dev: NodeDeviceRef, opts?: CallOptions): Promise<string | undefined>;
  /** The device's top-level capability names, in its XML's order. */
  nodeDeviceListCaps(dev: NodeDeviceRef, opts?: CallOptions): Promise<string[]>;
  /**
   * Takes a PCI device from its host driver for passthrough (`virNodeDeviceDetachFlags`),
   * binding it to `driverName` (default `vfio-pci`).
   */
  nodeDeviceDetach?(dev: NodeDeviceRef, opts?: CallOptions & { driverName?: string }): Promise<void>;
  /** Gives a detached PCI device back to its host driver (`virNodeDeviceReAttach`). */
  nodeDeviceReAttach?(dev: NodeDeviceRef, opts?: CallOptions): Promise<void>;
  /** Resets a detached PCI device (`virNodeDeviceReset`). */
  nodeDeviceReset?(dev: NodeDeviceRef, opts?: CallOptions): Promise<void>;
  /** Makes a device from `<device>` XML (`virNodeDeviceCreateXML`): a mediated device under its parent. */
  createNodeDevice?(xml: string, opts?: CallOptions): Promise<NodeDeviceRef>;
  /** Removes a device made by {@link NodeDeviceDriver.createNodeDevice} (`virNodeDeviceDestroy`). */
  nodeDeviceDestroy?(dev: NodeDeviceRef, opts?: CallOptions): Promise<void>;
}

/** The secondary drivers a {@link DriverConnection} may carry. */
export interface ObjectDrivers {
  /** Storage pools and volumes; missing: the facade answers `NO_SUPPORT`. */
  readonly storage?: StorageDriver;
  /** Virtual networks; missing: the facade answers `NO_SUPPORT`. */
  readonly networks?: NetworkDriver;
  /** Secrets; missing: the facade answers `NO_SUPPORT`. */
  readonly secrets?: SecretDriver;
  /** Host devices; missing: the facade answers `NO_SUPPORT`. */
  readonly nodeDevices?: NodeDeviceDriver;
}

/** The name of a secondary driver on a {@link DriverConnection}. */
export type ObjectKind = keyof ObjectDrivers;

/** The kinds with events. */
export type ObjectEventKind = 'storage' | 'networks' | 'secrets' | 'nodeDevices';

/**
 * What the object handles need of the connection that made them;
 * `Connection` implements it. Not for programs.
 */
export interface ObjectOwner {
  /** Runs `run` on the connection's `kind` sub-driver with the call's timeout and abort signal: `NO_SUPPORT` naming `what` when there is none. */
  _objectCall<K extends ObjectKind, T>(
    kind: K,
    what: string,
    opts: CallOptions,
    run: (driver: NonNullable<ObjectDrivers[K]>, signal: AbortSignal) => Promise<T>,
  ): Promise<T>;
  /** Throws `OPERATION_DENIED` on a read-only connection. */
  _writable(what: string): void;
  /** An event stream of pools (`storage`), networks, secrets or node devices; `NO_SUPPORT` where the driver has none. */
  _objectEvents<E extends ObjectEvent>(
    kind: ObjectEventKind,
    options: ObjectEventOptions<E>,
  ): AsyncIterableIterator<E> & {
    /** Events dropped because the consumer fell more than `bufferSize` behind. */
    readonly dropped: number;
    /** Stops the stream; buffered events are discarded and a waiting `next()` resolves as done. */
    end(): void;
  };
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

/**
 * Storage pool and volume handles: {@link StoragePool} (libvirt's
 * `virStoragePoolPtr`) and {@link StorageVol} (`virStorageVolPtr`); the
 * collection `conn.storagePools` is in `storage-pools.ts`.
 *
 * Like `Domain`, a handle holds only the object's identity and asks the
 * driver on every call, so two handles on one pool always agree. The two
 * handle classes share this module because each makes the other (a pool
 * lists its volumes, a volume finds its pool).
 *
 * @module
 */

import { StoragePoolDef } from './conf/storage/pool-def.js';
import { StorageVolDef } from './conf/storage/vol-def.js';
import { toXml, type XmlSource } from './connection-args.js';
import type {
  CallOptions,
  ObjectOwner,
  PoolBuildOptions,
  PoolXmlOptions,
  ResizeVolOptions,
  StorageDriver,
  StoragePoolInfo,
  StoragePoolRef,
  StorageVolInfo,
  StorageVolRef,
  VolumeReadStream,
  VolumeWriteStream,
} from './driver-objects.js';
import { VirError } from './errors.js';
import { checkBytes, checkName, needCall } from './object-args.js';

type Run<T> = (d: StorageDriver, signal: AbortSignal) => Promise<T>;

/** @internal one storage call of an owner (for `storage-pools.ts`) */
export function call<T>(owner: ObjectOwner, what: string, opts: CallOptions, run: Run<T>): Promise<T> {
  return owner._objectCall('storage', what, opts, run);
}

/** @internal a storage call that changes state: refused on a read-only connection */
export function write<T>(owner: ObjectOwner, what: string, opts: CallOptions, run: Run<T>): Promise<T> {
  try {
    owner._writable(what);
  } catch (err) {
    return Promise.reject(err);
  }
  return call(owner, what, opts, run);
}

/** One storage pool (`virStoragePoolPtr`). */
export class StoragePool<C extends ObjectOwner = ObjectOwner> {
  readonly #conn: C;
  readonly #ref: StoragePoolRef;

  /** @internal handles come from `conn.storagePools` */
  constructor(conn: C, ref: StoragePoolRef) {
    this.#conn = conn;
    this.#ref = ref;
  }

  /** The pool's name, unique on its host. */
  get name(): string {
    return this.#ref.name;
  }

  /** The pool's UUID, lower-case canonical. */
  get uuid(): string {
    return this.#ref.uuid;
  }

  /** The connection the handle was made on. */
  get connection(): C {
    return this.#conn;
  }

  /** @internal the driver's identity of the pool */
  get ref(): StoragePoolRef {
    return this.#ref;
  }

  /**
   * Prepares the pool's target, as `virStoragePoolBuild`: makes the
   * directory; for a pool with a source device (`fs`), with `overwrite` or
   * `noOverwrite` formats the device too (`noOverwrite`: only when it holds
   * no file system yet).
   */
  build(opts: PoolBuildOptions = {}): Promise<void> {
    const flags = {
      ...(opts.overwrite === true ? { overwrite: true } : {}),
      ...(opts.noOverwrite === true ? { noOverwrite: true } : {}),
    };
    if (flags.overwrite && flags.noOverwrite)
      return Promise.reject(
        new VirError('INVALID_ARG', 'storage', "'overwrite' and 'noOverwrite' are mutually exclusive", {
          field: 'overwrite',
        }),
      );
    return write(this.#conn, 'buildStoragePool', opts, (d, signal) =>
      d.poolBuild(this.#ref, { signal, ...flags }),
    );
  }

  /** Starts an inactive pool (`virStoragePoolCreate`). */
  start(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'startStoragePool', opts, (d, signal) => d.poolStart(this.#ref, { signal }));
  }

  /** Stops the pool; its data stays (`virStoragePoolDestroy`). A transient pool is gone after it. */
  destroy(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'destroyStoragePool', opts, (d, signal) => d.poolDestroy(this.#ref, { signal }));
  }

  /** Removes the definition of an inactive pool (`virStoragePoolUndefine`). */
  undefine(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'undefineStoragePool', opts, (d, signal) =>
      d.poolUndefine(this.#ref, { signal }),
    );
  }

  /** Re-reads the pool's volumes and sizes from its target (`virStoragePoolRefresh`). */
  refresh(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'refreshStoragePool', opts, (d, signal) => d.poolRefresh(this.#ref, { signal }));
  }

  /** The pool's state and sizes in bytes (`virStoragePoolGetInfo`). */
  getInfo(opts: CallOptions = {}): Promise<StoragePoolInfo> {
    return call(this.#conn, 'getStoragePoolInfo', opts, (d, signal) => d.poolGetInfo(this.#ref, { signal }));
  }

  /** The pool's `<pool>` XML (`virStoragePoolGetXMLDesc`): live, or with `inactive` the persistent definition. */
  getXML(opts: PoolXmlOptions = {}): Promise<string> {
    return call(this.#conn, 'getStoragePoolXML', opts, (d, signal) =>
      d.poolGetXml(this.#ref, { signal, ...(opts.inactive ? { inactive: true } : {}) }),
    );
  }

  /** The definition, typed. */
  async getDefinition(opts: PoolXmlOptions = {}): Promise<StoragePoolDef> {
    return StoragePoolDef.fromXML(await this.getXML(opts));
  }

  /** Whether the pool starts when its host does (`virStoragePoolGetAutostart`). */
  getAutostart(opts: CallOptions = {}): Promise<boolean> {
    return call(this.#conn, 'getStoragePoolAutostart', opts, (d, signal) =>
      d.poolGetAutostart(this.#ref, { signal }),
    );
  }

  /** Sets whether a persistent pool starts when its host does (`virStoragePoolSetAutostart`). */
  setAutostart(autostart: boolean, opts: CallOptions = {}): Promise<void> {
    const on = autostart === true;
    return write(this.#conn, 'setStoragePoolAutostart', opts, (d, signal) =>
      d.poolSetAutostart(this.#ref, on, { signal }),
    );
  }

  /** Whether the pool is running (`virStoragePoolIsActive`). */
  isActive(opts: CallOptions = {}): Promise<boolean> {
    return call(this.#conn, 'isStoragePoolActive', opts, (d, signal) =>
      d.poolIsActive(this.#ref, { signal }),
    );
  }

  /** Whether the pool has a persistent definition (`virStoragePoolIsPersistent`); `false` for a transient one. */
  isPersistent(opts: CallOptions = {}): Promise<boolean> {
    return call(this.#conn, 'isStoragePoolPersistent', opts, (d, signal) =>
      d.poolIsPersistent(this.#ref, { signal }),
    );
  }

  /** The volumes of an active pool (`virStoragePoolListAllVolumes`). */
  async listVolumes(opts: CallOptions = {}): Promise<StorageVol<C>[]> {
    const refs = await call(this.#conn, 'listStorageVols', opts, (d, signal) =>
      d.poolListVolumes(this.#ref, { signal }),
    );
    return refs.map((r) => new StorageVol(this.#conn, r));
  }

  /** A volume of this pool by name (`virStorageVolLookupByName`). */
  async lookupVolume(name: string, opts: CallOptions = {}): Promise<StorageVol<C>> {
    const n = checkName(name, 'name', 'storage');
    const ref = await call(this.#conn, 'lookupStorageVol', opts, (d, signal) =>
      d.lookupVolume({ pool: this.#ref, name: n }, { signal }),
    );
    return new StorageVol(this.#conn, ref);
  }

  /**
   * Creates a volume from `<volume>` XML (`virStorageVolCreateXML`), or with
   * `from`, a copy of another volume's contents (`virStorageVolCreateXMLFrom`).
   */
  async createVolume(def: XmlSource, opts: CallOptions & { from?: StorageVol } = {}): Promise<StorageVol<C>> {
    const xml = toXml(def);
    if (opts.from !== undefined && !(opts.from instanceof StorageVol)) {
      throw new VirError('INVALID_ARG', 'storage', 'from must be a StorageVol', { field: 'from' });
    }
    const from = opts.from?.ref;
    const ref = await write(this.#conn, 'createStorageVol', opts, (d, signal) =>
      d.volCreate(this.#ref, xml, { signal, ...(from ? { from } : {}) }),
    );
    return new StorageVol(this.#conn, ref);
  }
}

/** One storage volume (`virStorageVolPtr`). */
export class StorageVol<C extends ObjectOwner = ObjectOwner> {
  readonly #conn: C;
  readonly #ref: StorageVolRef;

  /** @internal handles come from a pool or `conn.storagePools.lookupVolume` */
  constructor(conn: C, ref: StorageVolRef) {
    this.#conn = conn;
    this.#ref = ref;
  }

  /** The volume's name, unique in its pool. */
  get name(): string {
    return this.#ref.name;
  }

  /** The volume's key, unique on its host (for file volumes, its path). */
  get key(): string {
    return this.#ref.key;
  }

  /** The name of the pool the volume is in. */
  get poolName(): string {
    return this.#ref.pool;
  }

  /** The connection the handle was made on. */
  get connection(): C {
    return this.#conn;
  }

  /** @internal the driver's identity of the volume */
  get ref(): StorageVolRef {
    return this.#ref;
  }

  /** The pool the volume is in (`virStoragePoolLookupByVolume`). */
  async getPool(opts: CallOptions = {}): Promise<StoragePool<C>> {
    const ref = await call(this.#conn, 'lookupStoragePool', opts, (d, signal) =>
      d.lookupPool({ volume: this.#ref }, { signal }),
    );
    return new StoragePool(this.#conn, ref);
  }

  /** The volume's path on the host (`virStorageVolGetPath`), what a guest's `<disk>` names. */
  getPath(opts: CallOptions = {}): Promise<string> {
    return call(this.#conn, 'getStorageVolPath', opts, (d, signal) => d.volGetPath(this.#ref, { signal }));
  }

  /** The volume's type, capacity and allocation in bytes (`virStorageVolGetInfo`). */
  getInfo(opts: CallOptions = {}): Promise<StorageVolInfo> {
    return call(this.#conn, 'getStorageVolInfo', opts, (d, signal) => d.volGetInfo(this.#ref, { signal }));
  }

  /** The volume's `<volume>` XML (`virStorageVolGetXMLDesc`). */
  getXML(opts: CallOptions = {}): Promise<string> {
    return call(this.#conn, 'getStorageVolXML', opts, (d, signal) => d.volGetXml(this.#ref, { signal }));
  }

  /** The definition, typed, read for the type of the pool the volume is in. */
  async getDefinition(opts: CallOptions = {}): Promise<StorageVolDef> {
    const [xml, pool] = await Promise.all([
      this.getXML(opts),
      this.getPool(opts).then((p) => p.getXML(opts)),
    ]);
    return StorageVolDef.fromXML(xml, { pool: StoragePoolDef.fromXML(pool) });
  }

  /** Deletes the volume and its data (`virStorageVolDelete`). */
  delete(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'deleteStorageVol', opts, (d, signal) => d.volDelete(this.#ref, { signal }));
  }

  /** Overwrites the volume's data with zeros (`virStorageVolWipe`). */
  wipe(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'wipeStorageVol', opts, (d, signal) =>
      needCall(d, 'volWipe', 'storage')(this.#ref, { signal }),
    );
  }

  /**
   * The volume's bytes as a readable stream (`virStorageVolDownload`), from
   * `offset`, `length` bytes (0, the default: to the end). Resolves once
   * the transfer is accepted; a failure later ends the stream with an error.
   */
  download(
    opts: CallOptions & { offset?: bigint | number; length?: bigint | number } = {},
  ): Promise<VolumeReadStream> {
    return this.#transfer('download', opts, (d, range) =>
      needCall(d, 'volDownload', 'storage')(this.#ref, range),
    );
  }

  /**
   * A writable stream into the volume (`virStorageVolUpload`), from
   * `offset`, at most `length` bytes (0: no limit). The data is stored once
   * the stream emits `finish`.
   */
  upload(
    opts: CallOptions & { offset?: bigint | number; length?: bigint | number } = {},
  ): Promise<VolumeWriteStream> {
    return this.#transfer('upload', opts, (d, range) =>
      needCall(d, 'volUpload', 'storage')(this.#ref, range),
    );
  }

  #transfer<T>(
    what: 'download' | 'upload',
    opts: CallOptions & { offset?: bigint | number; length?: bigint | number },
    run: (d: StorageDriver, range: { offset: bigint; length: bigint; signal: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    let offset: bigint;
    let length: bigint;
    try {
      offset = checkBytes(opts.offset ?? 0, 'offset', 'storage');
      length = checkBytes(opts.length ?? 0, 'length', 'storage');
    } catch (err) {
      return Promise.reject(err);
    }
    // as in libvirt, a download is refused read-only too: a volume's bytes may be secret
    const name = what === 'upload' ? 'uploadStorageVol' : 'downloadStorageVol';
    return write(this.#conn, name, opts, (d, signal) => run(d, { offset, length, signal }));
  }

  /**
   * Sets the capacity to `capacity` bytes (`virStorageVolResize`); with
   * `delta`, grows it by that much. Shrinking needs `shrink`.
   */
  resize(capacity: bigint | number, opts: ResizeVolOptions = {}): Promise<void> {
    let bytes: bigint;
    try {
      bytes = checkBytes(capacity, 'capacity', 'storage');
    } catch (err) {
      return Promise.reject(err);
    }
    const flags = {
      ...(opts.delta ? { delta: true } : {}),
      ...(opts.allocate ? { allocate: true } : {}),
      ...(opts.shrink ? { shrink: true } : {}),
    };
    return write(this.#conn, 'resizeStorageVol', opts, (d, signal) =>
      needCall(d, 'volResize', 'storage')(this.#ref, bytes, { signal, ...flags }),
    );
  }
}

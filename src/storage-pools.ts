/**
 * `conn.storagePools`: a connection's storage pools (list, lookup, define,
 * create, events) and the volume lookups by key or path, which span pools.
 *
 * @module
 */
import { toXml, type XmlSource } from './connection-args.js';
import type {
  CallOptions,
  ListPoolsFilter,
  ObjectEventOptions,
  ObjectOwner,
  PoolLookup,
  StoragePoolEvent,
} from './driver-objects.js';
import { VirError } from './errors.js';
import { checkName, checkUuid, uuidOrName } from './object-args.js';
import { call, StoragePool, StorageVol, write } from './storage-pool.js';

/** `conn.storagePools`: the pools of a connection (`virConnectListAllStoragePools`, ...). */
export class StoragePools<C extends ObjectOwner = ObjectOwner> {
  readonly #conn: C;

  /** @internal made by `Connection` */
  constructor(conn: C) {
    this.#conn = conn;
  }

  /**
   * Pool events as an async iterator, buffered like `conn.events()`:
   * lifecycle (`defined`, `started`, `stopped`, `created` by a build,
   * `deleted`, `undefined`) and `refreshed`. `NO_SUPPORT` where the driver
   * delivers none.
   */
  events(options: ObjectEventOptions<StoragePoolEvent> = {}) {
    return this.#conn._objectEvents('storage', options);
  }

  /** The pools matching the filter (all of them by default). */
  async list(filter: ListPoolsFilter = {}, opts: CallOptions = {}): Promise<StoragePool<C>[]> {
    const refs = await call(this.#conn, 'listStoragePools', opts, (d, signal) =>
      d.listPools(filter, { signal }),
    );
    return refs.map((r) => new StoragePool(this.#conn, r));
  }

  /**
   * Finds a pool by name or UUID (a string: a UUID-looking one is tried as
   * a UUID first), or `{ name }`, `{ uuid }`, `{ volume }` (the pool a volume
   * is in). `NO_STORAGE_POOL` when none matches.
   */
  async lookup(key: string | PoolLookup | StorageVol, opts: CallOptions = {}): Promise<StoragePool<C>> {
    const lookups = poolLookups(key);
    const ref = await call(this.#conn, 'lookupStoragePool', opts, async (d, signal) => {
      for (const [i, k] of lookups.entries()) {
        try {
          return await d.lookupPool(k, { signal });
        } catch (err) {
          if (i === lookups.length - 1 || !(err instanceof VirError && err.code === 'NO_STORAGE_POOL'))
            throw err;
        }
      }
      throw new VirError('NO_STORAGE_POOL', 'storage', 'no storage pool matches');
    });
    return new StoragePool(this.#conn, ref);
  }

  /** Defines (or redefines) a persistent, inactive pool (`virStoragePoolDefineXML`). */
  async define(def: XmlSource, opts: CallOptions = {}): Promise<StoragePool<C>> {
    const xml = toXml(def);
    const ref = await write(this.#conn, 'defineStoragePool', opts, (d, signal) =>
      d.definePool(xml, { signal }),
    );
    return new StoragePool(this.#conn, ref);
  }

  /** Creates and starts a transient pool (`virStoragePoolCreateXML`). */
  async create(def: XmlSource, opts: CallOptions = {}): Promise<StoragePool<C>> {
    const xml = toXml(def);
    const ref = await write(this.#conn, 'createStoragePool', opts, (d, signal) =>
      d.createPool(xml, { signal }),
    );
    return new StoragePool(this.#conn, ref);
  }

  /**
   * Finds a volume anywhere on the connection by its key or its path
   * (`virStorageVolLookupByKey` / `ByPath`); `NO_STORAGE_VOL` when none has it.
   */
  async lookupVolume(
    key: { key: string } | { path: string },
    opts: CallOptions = {},
  ): Promise<StorageVol<C>> {
    const k =
      key && typeof key === 'object' && 'key' in key
        ? { key: checkName(key.key, 'key', 'storage') }
        : { path: checkName((key as { path?: unknown } | undefined)?.path, 'path', 'storage') };
    const ref = await call(this.#conn, 'lookupStorageVol', opts, (d, signal) =>
      d.lookupVolume(k, { signal }),
    );
    return new StorageVol(this.#conn, ref);
  }
}

function poolLookups(key: string | PoolLookup | StorageVol): PoolLookup[] {
  if (key instanceof StorageVol) return [{ volume: key.ref }];
  if (typeof key === 'string') {
    const name = checkName(key, 'name', 'storage');
    const uuid = uuidOrName(name);
    return uuid ? [{ uuid }, { name }] : [{ name }];
  }
  if (key && typeof key === 'object') {
    if ('uuid' in key) return [{ uuid: checkUuid(key.uuid, 'uuid', 'storage') }];
    if ('name' in key) return [{ name: checkName(key.name, 'name', 'storage') }];
    if ('volume' in key && key.volume && typeof key.volume === 'object') return [{ volume: key.volume }];
  }
  throw new VirError('INVALID_ARG', 'storage', 'a pool lookup needs a name, a UUID or a volume');
}

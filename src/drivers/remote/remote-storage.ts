/**
 * The storage sub-driver over libvirt's remote program: one procedure per
 * call, pools and volumes as the daemon's storage driver (or its test
 * driver) has them.
 *
 * @module
 */
import type {
  CallOptions,
  CreateVolOptions,
  ListPoolsFilter,
  PoolBuildOptions,
  PoolLookup,
  PoolXmlOptions,
  ResizeVolOptions,
  StorageDriver,
  StoragePoolEvent,
  StoragePoolInfo,
  StoragePoolRef,
  StorageVolInfo,
  StorageVolRef,
  VolLookup,
  VolumeRange,
  VolumeReadStream,
  VolumeWriteStream,
} from '../../driver-objects.js';
import { remoteProcedures as P } from './gen/remote-protocol.js';
import type { RemoteObjectEvents } from './remote-object-events.js';
import {
  poolListFlags,
  poolRef,
  poolState,
  type RemoteCall,
  toPool,
  toVol,
  volRef,
  volType,
} from './remote-object-values.js';
import { uuidToBytes } from './remote-values.js';
import type { RpcClient } from './rpc-client.js';
import { readStream, writeStream } from './rpc-stream.js';

/** `VIR_STORAGE_XML_INACTIVE`. */
const XML_INACTIVE = 1;

export class RemoteStorage implements StorageDriver {
  readonly #call: RemoteCall;
  readonly #events: RemoteObjectEvents;
  readonly #client: RpcClient;

  constructor(call: RemoteCall, events: RemoteObjectEvents, client: RpcClient) {
    this.#call = call;
    this.#events = events;
    this.#client = client;
  }

  volDownload(vol: StorageVolRef, range: VolumeRange): Promise<VolumeReadStream> {
    const args = { vol: toVol(vol), offset: range.offset, length: range.length, flags: 0 };
    return readStream(this.#client, P.STORAGE_VOL_DOWNLOAD, args, range.signal);
  }

  volUpload(vol: StorageVolRef, range: VolumeRange): Promise<VolumeWriteStream> {
    const args = { vol: toVol(vol), offset: range.offset, length: range.length, flags: 0 };
    return writeStream(this.#client, P.STORAGE_VOL_UPLOAD, args, range.signal);
  }

  subscribe(listener: (event: StoragePoolEvent) => void): () => void {
    return this.#events.subscribe('storagePool', (e) => {
      if (e.type === 'storagePool') listener(e);
    });
  }

  async listPools(filter: ListPoolsFilter, opts?: CallOptions): Promise<StoragePoolRef[]> {
    const flags = poolListFlags(filter);
    const r = await this.#call(P.CONNECT_LIST_ALL_STORAGE_POOLS, { need_results: 1, flags }, opts);
    return r.pools.map(poolRef);
  }

  async lookupPool(key: PoolLookup, opts?: CallOptions): Promise<StoragePoolRef> {
    if ('volume' in key)
      return poolRef(
        (await this.#call(P.STORAGE_POOL_LOOKUP_BY_VOLUME, { vol: toVol(key.volume) }, opts)).pool,
      );
    if ('uuid' in key)
      return poolRef(
        (await this.#call(P.STORAGE_POOL_LOOKUP_BY_UUID, { uuid: uuidToBytes(key.uuid) }, opts)).pool,
      );
    return poolRef((await this.#call(P.STORAGE_POOL_LOOKUP_BY_NAME, { name: key.name }, opts)).pool);
  }

  async definePool(xml: string, opts?: CallOptions): Promise<StoragePoolRef> {
    return poolRef((await this.#call(P.STORAGE_POOL_DEFINE_XML, { xml, flags: 0 }, opts)).pool);
  }

  async createPool(xml: string, opts?: CallOptions): Promise<StoragePoolRef> {
    return poolRef((await this.#call(P.STORAGE_POOL_CREATE_XML, { xml, flags: 0 }, opts)).pool);
  }

  async poolBuild(pool: StoragePoolRef, opts?: PoolBuildOptions): Promise<void> {
    // VIR_STORAGE_POOL_BUILD_NO_OVERWRITE = 4, VIR_STORAGE_POOL_BUILD_OVERWRITE = 8
    const flags = (opts?.noOverwrite ? 4 : 0) | (opts?.overwrite ? 8 : 0);
    await this.#call(P.STORAGE_POOL_BUILD, { pool: toPool(pool), flags }, opts);
  }

  async poolStart(pool: StoragePoolRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.STORAGE_POOL_CREATE, { pool: toPool(pool), flags: 0 }, opts);
  }

  async poolDestroy(pool: StoragePoolRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.STORAGE_POOL_DESTROY, { pool: toPool(pool) }, opts);
  }

  async poolUndefine(pool: StoragePoolRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.STORAGE_POOL_UNDEFINE, { pool: toPool(pool) }, opts);
  }

  async poolRefresh(pool: StoragePoolRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.STORAGE_POOL_REFRESH, { pool: toPool(pool), flags: 0 }, opts);
  }

  async poolGetInfo(pool: StoragePoolRef, opts?: CallOptions): Promise<StoragePoolInfo> {
    const r = await this.#call(P.STORAGE_POOL_GET_INFO, { pool: toPool(pool) }, opts);
    return {
      state: poolState(r.state),
      capacity: r.capacity,
      allocation: r.allocation,
      available: r.available,
    };
  }

  async poolGetXml(pool: StoragePoolRef, opts: PoolXmlOptions = {}): Promise<string> {
    const flags = opts.inactive ? XML_INACTIVE : 0;
    return (await this.#call(P.STORAGE_POOL_GET_XML_DESC, { pool: toPool(pool), flags }, opts)).xml;
  }

  async poolGetAutostart(pool: StoragePoolRef, opts?: CallOptions): Promise<boolean> {
    return (await this.#call(P.STORAGE_POOL_GET_AUTOSTART, { pool: toPool(pool) }, opts)).autostart !== 0;
  }

  async poolSetAutostart(pool: StoragePoolRef, autostart: boolean, opts?: CallOptions): Promise<void> {
    await this.#call(
      P.STORAGE_POOL_SET_AUTOSTART,
      { pool: toPool(pool), autostart: autostart ? 1 : 0 },
      opts,
    );
  }

  async poolIsActive(pool: StoragePoolRef, opts?: CallOptions): Promise<boolean> {
    return (await this.#call(P.STORAGE_POOL_IS_ACTIVE, { pool: toPool(pool) }, opts)).active !== 0;
  }

  async poolIsPersistent(pool: StoragePoolRef, opts?: CallOptions): Promise<boolean> {
    return (await this.#call(P.STORAGE_POOL_IS_PERSISTENT, { pool: toPool(pool) }, opts)).persistent !== 0;
  }

  async poolListVolumes(pool: StoragePoolRef, opts?: CallOptions): Promise<StorageVolRef[]> {
    const r = await this.#call(
      P.STORAGE_POOL_LIST_ALL_VOLUMES,
      { pool: toPool(pool), need_results: 1, flags: 0 },
      opts,
    );
    return r.vols.map(volRef);
  }

  async lookupVolume(key: VolLookup, opts?: CallOptions): Promise<StorageVolRef> {
    if ('pool' in key)
      return volRef(
        (await this.#call(P.STORAGE_VOL_LOOKUP_BY_NAME, { pool: toPool(key.pool), name: key.name }, opts))
          .vol,
      );
    if ('key' in key)
      return volRef((await this.#call(P.STORAGE_VOL_LOOKUP_BY_KEY, { key: key.key }, opts)).vol);
    return volRef((await this.#call(P.STORAGE_VOL_LOOKUP_BY_PATH, { path: key.path }, opts)).vol);
  }

  async volCreate(pool: StoragePoolRef, xml: string, opts: CreateVolOptions = {}): Promise<StorageVolRef> {
    if (opts.from) {
      const args = { pool: toPool(pool), xml, clonevol: toVol(opts.from), flags: 0 };
      return volRef((await this.#call(P.STORAGE_VOL_CREATE_XML_FROM, args, opts)).vol);
    }
    return volRef(
      (await this.#call(P.STORAGE_VOL_CREATE_XML, { pool: toPool(pool), xml, flags: 0 }, opts)).vol,
    );
  }

  async volDelete(vol: StorageVolRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.STORAGE_VOL_DELETE, { vol: toVol(vol), flags: 0 }, opts);
  }

  async volGetInfo(vol: StorageVolRef, opts?: CallOptions): Promise<StorageVolInfo> {
    const r = await this.#call(P.STORAGE_VOL_GET_INFO, { vol: toVol(vol) }, opts);
    return { type: volType(r.type), capacity: r.capacity, allocation: r.allocation };
  }

  async volGetXml(vol: StorageVolRef, opts?: CallOptions): Promise<string> {
    return (await this.#call(P.STORAGE_VOL_GET_XML_DESC, { vol: toVol(vol), flags: 0 }, opts)).xml;
  }

  async volGetPath(vol: StorageVolRef, opts?: CallOptions): Promise<string> {
    return (await this.#call(P.STORAGE_VOL_GET_PATH, { vol: toVol(vol) }, opts)).name;
  }

  async volResize(vol: StorageVolRef, capacity: bigint, opts: ResizeVolOptions = {}): Promise<void> {
    // VIR_STORAGE_VOL_RESIZE_ALLOCATE = 1, DELTA = 2, SHRINK = 4
    const flags = (opts.allocate ? 1 : 0) | (opts.delta ? 2 : 0) | (opts.shrink ? 4 : 0);
    await this.#call(P.STORAGE_VOL_RESIZE, { vol: toVol(vol), capacity, flags }, opts);
  }

  async volWipe(vol: StorageVolRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.STORAGE_VOL_WIPE, { vol: toVol(vol), flags: 0 }, opts);
  }
}

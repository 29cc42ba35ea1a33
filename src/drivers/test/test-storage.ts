/**
 * The test driver's storage: pools and volumes in memory, with libvirt's
 * test driver state machine (checked against libvirt 9.0's through
 * python3-libvirt): every pool reports 100 GiB capacity, a volume's
 * allocation is taken from the pool's free space, a volume's key and path
 * are `<pool target>/<name>`, and each refused transition has libvirt's
 * error code (starting an active pool is `OPERATION_INVALID`, a duplicate
 * volume `OPERATION_FAILED`, a pool that does not fit `INTERNAL_ERROR`).
 * Resize and wipe are not offered, as in libvirt's test driver.
 *
 * Where it knowingly differs: a volume name with `/` is refused (libvirt
 * 11.3's parser refuses it; 9.0's test driver took it), and the XML is the
 * typed model's (libvirt 11.3's formatting).
 *
 * @module
 */
import { StoragePoolDef } from '../../conf/storage/pool-def.js';
import { StorageVolDef } from '../../conf/storage/vol-def.js';
import type {
  CallOptions,
  CreateVolOptions,
  ListPoolsFilter,
  PoolBuildOptions,
  PoolLookup,
  PoolXmlOptions,
  StorageDriver,
  StoragePoolEvent,
  StoragePoolInfo,
  StoragePoolRef,
  StorageVolInfo,
  StorageVolRef,
  VolLookup,
} from '../../driver-objects.js';
import { VirError } from '../../errors.js';
import { newUuid } from './new-uuid.js';
import type { ObjectEvents } from './test-object-events.js';

/** What libvirt's test driver gives every pool. */
const POOL_CAPACITY = 100n * 1024n ** 3n;

interface TestPool {
  def: StoragePoolDef;
  /** A redefinition made while the pool ran, applied when it stops. */
  next: StoragePoolDef | undefined;
  active: boolean;
  persistent: boolean;
  autostart: boolean;
  readonly vols: Map<string, StorageVolDef>;
}

function poolRef(p: TestPool): StoragePoolRef {
  return { name: p.def.name!, uuid: p.def.uuid! };
}

function volRef(p: TestPool, v: StorageVolDef): StorageVolRef {
  return { pool: p.def.name!, name: v.name!, key: v.key! };
}

function fail(
  code: 'OPERATION_INVALID' | 'OPERATION_FAILED' | 'INVALID_ARG' | 'INTERNAL_ERROR',
  msg: string,
): never {
  throw new VirError(code, 'storage', msg);
}

/** The initial pool of `test:///default`, with libvirt's name, UUID and target. */
export const DEFAULT_POOL_XML = `<pool type='dir'>
  <name>default-pool</name>
  <uuid>dfe224cb-28fb-8dd0-c4b2-64eb3f0f4566</uuid>
  <target>
    <path>/default-pool</path>
  </target>
</pool>`;

export class TestStorage implements StorageDriver {
  /** Pools by name, in definition order (listing order). */
  readonly #pools = new Map<string, TestPool>();
  readonly #events: ObjectEvents;

  constructor(
    events: ObjectEvents,
    initial: readonly (string | { readonly xml: string; readonly volumes: readonly string[] })[] = [],
  ) {
    this.#events = events;
    for (const init of initial) {
      const { xml, volumes } = typeof init === 'string' ? { xml: init, volumes: [] } : init;
      const p = this.#add(this.#parse(xml), false);
      p.active = true;
      p.persistent = true;
      for (const v of volumes) this.#addVolume(p, StorageVolDef.fromXML(v, { pool: p.def }), true);
    }
  }

  /** Adds a parsed volume to an active pool; a config file's may name their own key and path. */
  #addVolume(p: TestPool, vol: StorageVolDef, keepNames: boolean): StorageVolRef {
    if (p.vols.has(vol.name!)) fail('OPERATION_FAILED', 'storage vol already exists');
    const allocation = vol.allocation ?? 0n;
    const used = p.def.allocation ?? 0n;
    if (used + allocation > (p.def.capacity ?? 0n))
      fail('INTERNAL_ERROR', `Not enough free space in pool for volume '${vol.name}'`);
    const path = (keepNames ? vol.target?.path : undefined) ?? `${p.def.target?.path ?? ''}/${vol.name}`;
    vol.target = { ...vol.target, path };
    vol.key = (keepNames ? vol.key : undefined) ?? path;
    p.vols.set(vol.name!, vol);
    p.def.allocation = used + allocation;
    p.def.available = (p.def.capacity ?? 0n) - p.def.allocation;
    return volRef(p, vol);
  }

  #parse(xml: string): StoragePoolDef {
    const def = StoragePoolDef.fromXML(xml);
    def.uuid ??= newUuid();
    def.capacity = POOL_CAPACITY;
    def.allocation = 0n;
    def.available = POOL_CAPACITY;
    return def;
  }

  /** libvirt's duplicate rules: same UUID needs the same name, a name has one UUID, one target per dir pool. */
  #add(def: StoragePoolDef, checkLive: boolean): TestPool {
    for (const p of this.#pools.values()) {
      if (p.def.name === def.name) continue;
      if (p.def.type === def.type && sameSource(p.def, def))
        fail('OPERATION_FAILED', `Storage source conflict with pool: '${p.def.name}'`);
    }
    const byUuid = [...this.#pools.values()].find((p) => p.def.uuid === def.uuid);
    if (byUuid) {
      if (byUuid.def.name !== def.name)
        fail('OPERATION_FAILED', `pool '${byUuid.def.name}' is already defined with uuid ${byUuid.def.uuid}`);
      if (checkLive && byUuid.active) fail('OPERATION_INVALID', `pool is already active as '${def.name}'`);
      if (byUuid.active) byUuid.next = def;
      else byUuid.def = def;
      return byUuid;
    }
    const byName = this.#pools.get(def.name!);
    if (byName) fail('OPERATION_FAILED', `pool '${def.name}' already exists with uuid ${byName.def.uuid}`);
    const p: TestPool = {
      def,
      next: undefined,
      active: false,
      persistent: false,
      autostart: false,
      vols: new Map(),
    };
    this.#pools.set(def.name!, p);
    return p;
  }

  #find(ref: StoragePoolRef): TestPool {
    const p = this.#pools.get(ref.name);
    if (!p)
      throw new VirError('NO_STORAGE_POOL', 'storage', `no storage pool with matching name '${ref.name}'`);
    return p;
  }

  #active(ref: StoragePoolRef): TestPool {
    const p = this.#find(ref);
    if (!p.active) fail('OPERATION_INVALID', `storage pool '${ref.name}' is not active`);
    return p;
  }

  #inactive(ref: StoragePoolRef): TestPool {
    const p = this.#find(ref);
    if (p.active) fail('OPERATION_INVALID', `storage pool '${ref.name}' is active`);
    return p;
  }

  #vol(ref: StorageVolRef): [TestPool, StorageVolDef] {
    const p = this.#active({ name: ref.pool, uuid: '' });
    const v = p.vols.get(ref.name);
    if (!v)
      throw new VirError('NO_STORAGE_VOL', 'storage', `no storage vol with matching name '${ref.name}'`);
    return [p, v];
  }

  #emit(p: TestPool, event: StoragePoolEvent['event']): void {
    this.#events.emit({ type: 'storagePool', pool: poolRef(p), event, timestamp: Date.now() });
  }

  subscribe(listener: (event: StoragePoolEvent) => void): () => void {
    return this.#events.on('storagePool', listener);
  }

  async listPools(filter: ListPoolsFilter): Promise<StoragePoolRef[]> {
    const types = filter.type === undefined ? undefined : new Set<string>([filter.type].flat());
    return [...this.#pools.values()]
      .filter(
        (p) =>
          (filter.active === undefined || filter.active === p.active) &&
          (filter.persistent === undefined || filter.persistent === p.persistent) &&
          (filter.autostart === undefined || filter.autostart === p.autostart) &&
          (!types || types.has(p.def.type)),
      )
      .map(poolRef);
  }

  async lookupPool(key: PoolLookup): Promise<StoragePoolRef> {
    if ('volume' in key) return poolRef(this.#find({ name: key.volume.pool, uuid: '' }));
    if ('uuid' in key) {
      const p = [...this.#pools.values()].find((x) => x.def.uuid === key.uuid);
      if (!p)
        throw new VirError('NO_STORAGE_POOL', 'storage', `no storage pool with matching uuid '${key.uuid}'`);
      return poolRef(p);
    }
    return poolRef(this.#find({ name: key.name, uuid: '' }));
  }

  async definePool(xml: string): Promise<StoragePoolRef> {
    const p = this.#add(this.#parse(xml), false);
    p.persistent = true;
    this.#emit(p, 'defined');
    return poolRef(p);
  }

  async createPool(xml: string): Promise<StoragePoolRef> {
    const p = this.#add(this.#parse(xml), true);
    p.active = true;
    this.#emit(p, 'started');
    return poolRef(p);
  }

  async poolBuild(ref: StoragePoolRef, opts: PoolBuildOptions = {}): Promise<void> {
    // libvirt's test driver takes no build flags
    if (opts.overwrite || opts.noOverwrite)
      throw new VirError('INVALID_ARG', 'storage', 'unsupported flags in storage pool build', {
        field: opts.overwrite ? 'overwrite' : 'noOverwrite',
      });
    this.#emit(this.#inactive(ref), 'created');
  }

  async poolStart(ref: StoragePoolRef): Promise<void> {
    const p = this.#inactive(ref);
    p.active = true;
    this.#emit(p, 'started');
  }

  async poolDestroy(ref: StoragePoolRef): Promise<void> {
    const p = this.#active(ref);
    p.active = false;
    if (p.next) {
      p.def = p.next;
      p.next = undefined;
    }
    this.#emit(p, 'stopped');
    if (!p.persistent) this.#pools.delete(p.def.name!);
  }

  async poolUndefine(ref: StoragePoolRef): Promise<void> {
    const p = this.#inactive(ref);
    this.#pools.delete(p.def.name!);
    this.#emit(p, 'undefined');
  }

  async poolRefresh(ref: StoragePoolRef): Promise<void> {
    this.#emit(this.#active(ref), 'refreshed');
  }

  async poolGetInfo(ref: StoragePoolRef): Promise<StoragePoolInfo> {
    const { def, active } = this.#find(ref);
    return {
      state: active ? 'running' : 'inactive',
      capacity: def.capacity ?? 0n,
      allocation: def.allocation ?? 0n,
      available: def.available ?? 0n,
    };
  }

  async poolGetXml(ref: StoragePoolRef, opts: PoolXmlOptions = {}): Promise<string> {
    const p = this.#find(ref);
    // libvirt's test driver takes no flags here
    if (opts.inactive) fail('INVALID_ARG', 'unsupported flags (0x1) in function testStoragePoolGetXMLDesc');
    return p.def.toXML();
  }

  async poolGetAutostart(ref: StoragePoolRef): Promise<boolean> {
    return this.#find(ref).autostart;
  }

  async poolSetAutostart(ref: StoragePoolRef, autostart: boolean): Promise<void> {
    const p = this.#find(ref);
    if (!p.persistent) fail('INVALID_ARG', 'pool has no config file');
    p.autostart = autostart;
  }

  async poolIsActive(ref: StoragePoolRef): Promise<boolean> {
    return this.#find(ref).active;
  }

  async poolIsPersistent(ref: StoragePoolRef): Promise<boolean> {
    return this.#find(ref).persistent;
  }

  async poolListVolumes(ref: StoragePoolRef): Promise<StorageVolRef[]> {
    const p = this.#find(ref);
    if (!p.active) fail('OPERATION_INVALID', 'storage pool is not active');
    return [...p.vols.values()].map((v) => volRef(p, v));
  }

  async lookupVolume(key: VolLookup): Promise<StorageVolRef> {
    if ('pool' in key) {
      const p = this.#active(key.pool);
      const v = p.vols.get(key.name);
      if (!v)
        throw new VirError('NO_STORAGE_VOL', 'storage', `no storage vol with matching name '${key.name}'`);
      return volRef(p, v);
    }
    const [what, value] = 'key' in key ? (['key', key.key] as const) : (['path', key.path] as const);
    for (const p of this.#pools.values()) {
      if (!p.active) continue;
      for (const v of p.vols.values()) {
        if ((what === 'key' ? v.key : v.target?.path) === value) return volRef(p, v);
      }
    }
    throw new VirError('NO_STORAGE_VOL', 'storage', `no storage vol with matching ${what} '${value}'`);
  }

  async volCreate(ref: StoragePoolRef, xml: string, opts: CreateVolOptions = {}): Promise<StorageVolRef> {
    const p = this.#active(ref);
    const vol = StorageVolDef.fromXML(xml, { pool: p.def });
    if (p.vols.has(vol.name!)) fail('OPERATION_FAILED', 'storage vol already exists');
    // libvirt's test driver looks for the source volume in the target pool
    if (opts.from && !p.vols.has(opts.from.name))
      throw new VirError(
        'NO_STORAGE_VOL',
        'storage',
        `no storage vol with matching name '${opts.from.name}'`,
      );
    return this.#addVolume(p, vol, false);
  }

  async volDelete(ref: StorageVolRef): Promise<void> {
    const [p, v] = this.#vol(ref);
    p.def.allocation = (p.def.allocation ?? 0n) - (v.allocation ?? 0n);
    p.def.available = (p.def.capacity ?? 0n) - p.def.allocation;
    p.vols.delete(ref.name);
  }

  async volGetInfo(ref: StorageVolRef): Promise<StorageVolInfo> {
    const [, v] = this.#vol(ref);
    return { type: v.type ?? 'file', capacity: v.capacity ?? 0n, allocation: v.allocation ?? 0n };
  }

  async volGetXml(ref: StorageVolRef, _opts?: CallOptions): Promise<string> {
    return this.#vol(ref)[1].toXML();
  }

  async volGetPath(ref: StorageVolRef): Promise<string> {
    return this.#vol(ref)[1].target?.path ?? '';
  }
}

/** Whether two pools of one type use the same storage (libvirt checks dir targets, netfs/gluster sources). */
function sameSource(a: StoragePoolDef, b: StoragePoolDef): boolean {
  switch (a.type) {
    case 'dir':
      return a.target?.path !== undefined && a.target.path === b.target?.path;
    case 'netfs':
    case 'gluster':
      return (
        a.source?.dir !== undefined &&
        a.source.dir === b.source?.dir &&
        a.source.hosts?.[0]?.name !== undefined &&
        a.source.hosts[0].name === b.source?.hosts?.[0]?.name
      );
    case 'mpath':
      return true;
    default:
      return false;
  }
}

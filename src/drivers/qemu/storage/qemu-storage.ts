/**
 * The QEMU driver's storage (`conn.storagePools` on `qemu:///system` and
 * `qemu:///session`): `dir` pools, with libvirt's storage driver state
 * machine and error codes (checked against libvirt's own storage driver
 * through python3-libvirt), and `fs` pools: a block device mounted on the
 * target directory while the pool runs (fs-mount.ts), its volumes files as
 * in a `dir` pool. Pools live in the table shared by the roots'
 * connections (pool-table.ts); volume calls are in pool-volumes.ts.
 *
 * Where it knowingly differs: a target path that is not absolute or has a
 * `..` component is refused (libvirt takes it as given), a session pool
 * outside the allowed roots too (pool-roots.ts), and only `dir` and `fs`
 * pools exist (`CONFIG_UNSUPPORTED` naming `/pool/@type` for the others).
 * An `fs` pool's device that is missing or not a block device is refused
 * before mount runs (`INVALID_ARG` naming `/pool/source/device/@path`);
 * libvirt lets mount fail.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync } from 'node:fs';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { StoragePoolDef } from '../../../conf/storage/pool-def.js';
import type {
  CallOptions,
  ListPoolsFilter,
  PoolBuildOptions,
  PoolLookup,
  PoolXmlOptions,
  StoragePoolEvent,
  StoragePoolInfo,
  StoragePoolRef,
  StorageVolRef,
} from '../../../driver-objects.js';
import { toVirError, VirError } from '../../../errors.js';
import { checkFormat, formatPool, unmountPool } from './fs-mount.js';
import { checkPoolRoot } from './pool-roots.js';
import { type Pool, PoolTable, poolRef, storageError, type VolumeUsers } from './pool-table.js';
import { PoolVolumes } from './pool-volumes.js';
import { volumeResolver } from './volume-resolver.js';

/** libvirt's mode of a pool directory it builds. */
const DEFAULT_POOL_MODE = 0o711;

/** A target path libvirt would sanitise (`//`, trailing `/`), refused when relative or with `..`. */
function checkTargetPath(def: StoragePoolDef): void {
  const field = '/pool/target/path';
  const raw = def.target?.path;
  if (raw === undefined)
    throw new VirError('XML_ERROR', 'storage', 'missing storage pool target path', { field });
  if (!raw.startsWith('/'))
    throw new VirError('XML_ERROR', 'storage', `storage pool target path '${raw}' must be absolute`, {
      field,
    });
  const parts = raw.split('/').filter((s) => s !== '');
  if (parts.some((s) => s === '..' || s === '.'))
    throw new VirError(
      'XML_ERROR',
      'storage',
      `storage pool target path '${raw}' must not contain '.' or '..'`,
      {
        field,
      },
    );
  def.target = { ...def.target, path: `/${parts.join('/')}` };
}

/** An `fs` pool has one device, named by an absolute path (never read as a tool's option). */
function checkFsSource(def: StoragePoolDef): void {
  const devices = def.source?.devices ?? [];
  if (devices.length === 0)
    throw new VirError('XML_ERROR', 'storage', 'missing storage pool source device path', {
      field: '/pool/source/device',
    });
  if (devices.length > 1)
    throw new VirError('CONFIG_UNSUPPORTED', 'storage', 'an fs pool has exactly one source device', {
      field: '/pool/source/device',
    });
  const path = devices[0]!.path;
  if (!path.startsWith('/') || path.split('/').some((s) => s === '..'))
    throw new VirError('XML_ERROR', 'storage', `source device path '${path}' must be absolute`, {
      field: '/pool/source/device/@path',
    });
  if (devices[0]!.partSeparator !== undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'storage', 'part_separator applies to disk pools only', {
      field: '/pool/source/device/@part_separator',
    });
}

/** The block device of an `fs` pool, for libvirt's one-pool-per-source rule. */
function deviceOf(def: StoragePoolDef): string | undefined {
  return def.type === 'fs' ? def.source?.devices?.[0]?.path : undefined;
}

function parsePool(xml: string): StoragePoolDef {
  const def = StoragePoolDef.fromXML(xml);
  if (def.type !== 'dir' && def.type !== 'fs')
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'storage',
      `storage pools of type '${def.type}' are not supported by the qemu driver (only 'dir' and 'fs')`,
      { field: '/pool/@type' },
    );
  if (def.type === 'fs') checkFsSource(def);
  if (def.name === undefined || def.name === '' || def.name.includes('/'))
    throw new VirError('XML_ERROR', 'storage', `invalid storage pool name '${def.name ?? ''}'`, {
      field: '/pool/name',
    });
  checkTargetPath(def);
  if (def.target?.permissions?.label !== undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'storage', 'security labels of pools are not supported', {
      field: '/pool/target/permissions/label',
    });
  def.uuid ??= randomUUID();
  return def;
}

export class QemuStorage extends PoolVolumes {
  readonly #users: VolumeUsers;
  /** The directories this connection's pools may use (pool-roots.ts); null: anywhere. */
  readonly #poolRoots: readonly string[] | null;

  constructor(table: PoolTable, users: VolumeUsers, poolRoots: readonly string[] | null = null) {
    super(table);
    this.#users = users;
    this.#poolRoots = poolRoots;
    table.users.add(users);
  }

  /** For these roots: the shared table and this connection's view of running guests. */
  static open(
    configRoot: string,
    runRoot: string,
    users: VolumeUsers,
    poolRoots: readonly string[] | null = null,
  ): QemuStorage {
    return new QemuStorage(PoolTable.acquire(configRoot, runRoot), users, poolRoots);
  }

  #parse(xml: string): StoragePoolDef {
    const def = parsePool(xml);
    checkPoolRoot(def.target!.path!, this.#poolRoots);
    return def;
  }

  close(): void {
    this.table.users.delete(this.#users);
    this.table.release();
  }

  /** What the volume disks of a guest about to start are (see volume-resolver.ts). */
  resolverFor(def: DomainDef): ReturnType<typeof volumeResolver> {
    return volumeResolver(this.table, def);
  }

  subscribe(listener: (event: StoragePoolEvent) => void): () => void {
    this.table.listeners.add(listener);
    return () => this.table.listeners.delete(listener);
  }

  async listPools(filter: ListPoolsFilter): Promise<StoragePoolRef[]> {
    await this.table.ready;
    const types = filter.type === undefined ? undefined : new Set<string>([filter.type].flat());
    return [...this.table.pools.values()]
      .filter(
        (p) =>
          (filter.active === undefined || filter.active === p.active) &&
          (filter.persistent === undefined || filter.persistent === p.persistent) &&
          (filter.autostart === undefined || filter.autostart === this.#autostart(p)) &&
          (!types || types.has(p.def.type)),
      )
      .map(poolRef);
  }

  async lookupPool(key: PoolLookup): Promise<StoragePoolRef> {
    await this.table.ready;
    if ('volume' in key) return poolRef(this.table.find(key.volume.pool));
    if ('uuid' in key) {
      const p = [...this.table.pools.values()].find((x) => x.def.uuid === key.uuid);
      if (!p)
        throw new VirError('NO_STORAGE_POOL', 'storage', `no storage pool with matching uuid '${key.uuid}'`);
      return poolRef(p);
    }
    return poolRef(this.table.find(key.name));
  }

  /** libvirt's duplicate rules: a name has one UUID, a UUID one name, a directory one pool. */
  #claim(def: StoragePoolDef, forStart: boolean): Pool {
    for (const p of this.table.pools.values()) {
      const sameDevice = deviceOf(def) !== undefined && deviceOf(p.def) === deviceOf(def);
      if (p.def.name !== def.name && (p.def.target?.path === def.target?.path || sameDevice))
        throw storageError('OPERATION_FAILED', `Storage source conflict with pool: '${p.def.name}'`);
      if (p.def.uuid === def.uuid && p.def.name !== def.name)
        throw storageError(
          'OPERATION_FAILED',
          `pool '${p.def.name}' is already defined with uuid ${p.def.uuid}`,
        );
    }
    const same = this.table.pools.get(def.name!);
    if (same && same.def.uuid !== def.uuid)
      throw storageError('OPERATION_FAILED', `pool '${def.name}' already exists with uuid ${same.def.uuid}`);
    if (same && forStart)
      throw storageError('OPERATION_INVALID', `storage pool '${def.name}' is already active`);
    if (same) return same;
    const p: Pool = { def, next: undefined, active: false, persistent: false, vols: new Map() };
    return p;
  }

  async definePool(xml: string, opts: CallOptions = {}): Promise<StoragePoolRef> {
    await this.table.ready;
    const def = this.#parse(xml);
    return this.table.jobs.run(
      `pool:${def.name}`,
      'define',
      () => {
        const p = this.#claim(def, false);
        this.table.store.writeConfig(def.name!, def.toXML());
        if (p.active) p.next = def;
        else p.def = def;
        p.persistent = true;
        this.table.pools.set(def.name!, p);
        this.table.emit(p, 'defined');
        return poolRef(p);
      },
      opts.signal,
    );
  }

  async createPool(xml: string, opts: CallOptions = {}): Promise<StoragePoolRef> {
    await this.table.ready;
    const def = this.#parse(xml);
    return this.table.jobs.run(
      `pool:${def.name}`,
      'create',
      async () => {
        const p = this.#claim(def, true);
        await this.table.startPool(p, opts.signal);
        p.active = true;
        this.table.pools.set(def.name!, p);
        this.table.saveState(p);
        this.table.emit(p, 'started');
        return poolRef(p);
      },
      opts.signal,
    );
  }

  async poolBuild(ref: StoragePoolRef, opts: PoolBuildOptions = {}): Promise<void> {
    await this.#job(ref, 'build', opts, async (p) => {
      this.table.inactive(ref.name);
      if (opts.overwrite && opts.noOverwrite)
        throw storageError('INVALID_ARG', "build flags 'overwrite' and 'noOverwrite' are mutually exclusive");
      if (p.def.type !== 'fs' && (opts.overwrite || opts.noOverwrite))
        throw storageError(
          'OPERATION_INVALID',
          `No source device specified when formatting pool '${ref.name}'`,
        );
      const path = p.def.target!.path!;
      checkPoolRoot(path, this.#poolRoots);
      // an fs pool's device that cannot be formatted is refused before the directory is made
      if (p.def.type === 'fs') checkFormat(p.def, opts);
      const perms = p.def.target?.permissions;
      try {
        mkdirSync(path, { recursive: true, mode: perms?.mode ?? DEFAULT_POOL_MODE });
        chmodSync(path, perms?.mode ?? DEFAULT_POOL_MODE);
        if (perms?.owner !== undefined || perms?.group !== undefined)
          chownSync(path, perms.owner ?? -1, perms.group ?? -1);
      } catch (err) {
        throw toVirError(err, 'SYSTEM_ERROR', 'storage', `cannot create path '${path}'`);
      }
      if (p.def.type === 'fs') await formatPool(p.def, opts, opts.signal);
      this.table.emit(p, 'created');
    });
  }

  async poolStart(ref: StoragePoolRef, opts: CallOptions = {}): Promise<void> {
    await this.#job(ref, 'start', opts, async (p) => {
      this.table.inactive(ref.name);
      // defined by a connection that allowed more roots: this one does not start it
      checkPoolRoot(p.def.target!.path!, this.#poolRoots);
      await this.table.startPool(p, opts.signal);
      p.active = true;
      this.table.saveState(p);
      this.table.emit(p, 'started');
    });
  }

  async poolDestroy(ref: StoragePoolRef, opts: CallOptions = {}): Promise<void> {
    await this.#job(ref, 'destroy', opts, async (p) => {
      this.table.active(ref.name);
      const busy = [...p.vols.values()].find((v) => v.building);
      if (busy)
        throw storageError('OPERATION_INVALID', `volume '${busy.def.name}' is still being allocated.`);
      // a mount that cannot go (a file held open on it) keeps the pool running, as in libvirt
      if (p.def.type === 'fs') await unmountPool(p.def, opts.signal);
      p.active = false;
      p.vols.clear();
      this.table.store.removeState(ref.name);
      if (p.next) {
        p.def = p.next;
        p.next = undefined;
      }
      this.table.emit(p, 'stopped');
      if (!p.persistent) this.table.pools.delete(ref.name);
    });
  }

  async poolUndefine(ref: StoragePoolRef, opts: CallOptions = {}): Promise<void> {
    await this.#job(ref, 'undefine', opts, (p) => {
      if (p.active) throw storageError('OPERATION_INVALID', `storage pool '${ref.name}' is still active`);
      if (!p.persistent) throw storageError('OPERATION_INVALID', `storage pool '${ref.name}' is transient`);
      this.table.store.removeConfig(ref.name);
      this.table.pools.delete(ref.name);
      this.table.emit(p, 'undefined');
    });
  }

  async poolRefresh(ref: StoragePoolRef, opts: CallOptions = {}): Promise<void> {
    await this.#job(ref, 'refresh', opts, async (p) => {
      this.table.active(ref.name);
      await this.table.refresh(p, opts.signal);
      this.table.emit(p, 'refreshed');
    });
  }

  async poolGetInfo(ref: StoragePoolRef): Promise<StoragePoolInfo> {
    await this.table.ready;
    const p = this.table.find(ref.name);
    if (p.active) this.table.updateSizes(p);
    return {
      state: p.active ? 'running' : 'inactive',
      capacity: p.active ? (p.def.capacity ?? 0n) : 0n,
      allocation: p.active ? (p.def.allocation ?? 0n) : 0n,
      available: p.active ? (p.def.available ?? 0n) : 0n,
    };
  }

  async poolGetXml(ref: StoragePoolRef, opts: PoolXmlOptions = {}): Promise<string> {
    await this.table.ready;
    const p = this.table.find(ref.name);
    if (opts.inactive && p.next) return p.next.toXML();
    if (p.active) this.table.updateSizes(p);
    return p.def.toXML();
  }

  async poolGetAutostart(ref: StoragePoolRef): Promise<boolean> {
    await this.table.ready;
    return this.#autostart(this.table.find(ref.name));
  }

  async poolSetAutostart(ref: StoragePoolRef, autostart: boolean, opts: CallOptions = {}): Promise<void> {
    await this.#job(ref, 'autostart', opts, (p) => {
      if (!p.persistent) throw storageError('INVALID_ARG', 'pool has no config file');
      this.table.store.setAutostart(ref.name, autostart);
    });
  }

  async poolIsActive(ref: StoragePoolRef): Promise<boolean> {
    await this.table.ready;
    return this.table.find(ref.name).active;
  }

  async poolIsPersistent(ref: StoragePoolRef): Promise<boolean> {
    await this.table.ready;
    return this.table.find(ref.name).persistent;
  }

  async poolListVolumes(ref: StoragePoolRef): Promise<StorageVolRef[]> {
    await this.table.ready;
    const p = this.table.active(ref.name);
    return [...p.vols.values()].map((v) => ({ pool: ref.name, name: v.def.name!, key: v.def.key! }));
  }

  #autostart(p: Pool): boolean {
    return p.persistent && this.table.store.isAutostart(p.def.name!);
  }

  async #job(ref: StoragePoolRef, what: string, opts: CallOptions, fn: (p: Pool) => unknown): Promise<void> {
    await this.table.ready;
    await this.table.jobs.run(
      `pool:${ref.name}`,
      what,
      async () => {
        await fn(this.table.find(ref.name));
      },
      opts.signal,
    );
  }
}

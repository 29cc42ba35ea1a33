/**
 * The storage pools of one pair of roots (config, run), in memory, shared
 * by every connection of this process on those roots: what libvirt's
 * storage driver keeps in its pool list. Loaded from disk when the first
 * connection opens (definitions, the pools that run and their volumes);
 * autostart pools that do not run are started then, as libvirt's daemon
 * starts them.
 *
 * @module
 */
import { statfsSync, statSync } from 'node:fs';
import { StoragePoolDef } from '../../../conf/storage/pool-def.js';
import type { StorageVolDef } from '../../../conf/storage/vol-def.js';
import type { StoragePoolEvent, StoragePoolRef } from '../../../driver-objects.js';
import { VirError } from '../../../errors.js';
import { DomainJobs } from '../../job-lock.js';
import { mountedFrom, mountPool, unmountPool } from './fs-mount.js';
import { PoolStore } from './pool-store.js';
import { findQemuImg, type QemuImgRun } from './qemu-img.js';
import { SharedByRoots } from './shared-by-roots.js';
import { scanVolumes } from './volume-scan.js';

export interface Vol {
  def: StorageVolDef;
  /** Being created: lookups see it, delete and resize are refused (libvirt's "still being allocated"). */
  building: boolean;
  /** Copies being made from it: it is not deleted, resized or written meanwhile (libvirt's "still in use"). */
  copies?: number;
}

export interface Pool {
  def: StoragePoolDef;
  /** A redefinition made while the pool ran, applied when it stops. */
  next: StoragePoolDef | undefined;
  active: boolean;
  persistent: boolean;
  readonly vols: Map<string, Vol>;
}

/**
 * Who uses a volume: the name of a running guest whose disks (or their
 * backing chains) name `path`, or the pool and volume; undefined when none does.
 */
export type VolumeUsers = (path: string, pool: string, volume: string) => Promise<string | undefined>;

export function poolRef(p: Pool): StoragePoolRef {
  return { name: p.def.name!, uuid: p.def.uuid! };
}

export function storageError(
  code: 'OPERATION_INVALID' | 'OPERATION_FAILED' | 'INVALID_ARG' | 'INTERNAL_ERROR' | 'STORAGE_VOL_EXIST',
  message: string,
  field?: string,
): VirError {
  return new VirError(code, 'storage', message, field !== undefined ? { field } : {});
}

const shared = new SharedByRoots<PoolTable>();

export class PoolTable {
  /** Pools by name, in definition order. */
  readonly pools = new Map<string, Pool>();
  readonly store: PoolStore;
  readonly jobs = new DomainJobs('storage');
  readonly listeners = new Set<(e: StoragePoolEvent) => void>();
  /** One per open connection; any of them answers for the shared domain list. */
  readonly users = new Set<VolumeUsers>();
  readonly ready: Promise<void>;
  readonly #key: string;
  readonly #qemuImg: string | undefined;

  private constructor(key: string, configRoot: string, runRoot: string) {
    this.#key = key;
    this.store = new PoolStore(configRoot, runRoot);
    this.#qemuImg = findQemuImg();
    this.ready = this.#load();
  }

  /** The shared table for these roots; pair every call with {@link release}. */
  static acquire(configRoot: string, runRoot: string): PoolTable {
    return shared.acquire(configRoot, runRoot, (key) => new PoolTable(key, configRoot, runRoot));
  }

  release(): void {
    shared.release(this.#key, this);
  }

  /** How qemu-img is run for a call. */
  qemuImg(signal?: AbortSignal): QemuImgRun {
    if (!this.#qemuImg)
      throw new VirError(
        'NO_SUPPORT',
        'storage',
        'qemu-img is not installed: volumes cannot be created or read',
      );
    return { binary: this.#qemuImg, signal };
  }

  emit(p: Pool, event: StoragePoolEvent['event']): void {
    const e: StoragePoolEvent = { type: 'storagePool', pool: poolRef(p), event, timestamp: Date.now() };
    for (const l of this.listeners) l(e);
  }

  find(name: string): Pool {
    const p = this.pools.get(name);
    if (!p) throw new VirError('NO_STORAGE_POOL', 'storage', `no storage pool with matching name '${name}'`);
    return p;
  }

  active(name: string): Pool {
    const p = this.find(name);
    if (!p.active) throw storageError('OPERATION_INVALID', `storage pool '${name}' is not active`);
    return p;
  }

  inactive(name: string): Pool {
    const p = this.find(name);
    if (p.active) throw storageError('OPERATION_INVALID', `storage pool '${name}' is already active`);
    return p;
  }

  /** Who uses the volume, through any open connection's domain list. */
  async usedBy(path: string, pool: string, volume: string): Promise<string | undefined> {
    for (const users of this.users) return users(path, pool, volume);
    return undefined;
  }

  /**
   * Reads the pool's directory again: its volumes, the file system's sizes
   * and the directory's permissions. Volumes being created are kept.
   */
  async refresh(p: Pool, signal?: AbortSignal): Promise<void> {
    const path = p.def.target!.path!;
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(path);
    } catch {
      throw new VirError(
        'SYSTEM_ERROR',
        'storage',
        `cannot open directory '${path}': No such file or directory`,
      );
    }
    if (!st.isDirectory())
      throw new VirError('SYSTEM_ERROR', 'storage', `cannot open directory '${path}': Not a directory`);
    const vols = await scanVolumes(this.qemuImg(signal), path);
    const building = [...p.vols.values()].filter((v) => v.building);
    p.vols.clear();
    for (const v of vols) p.vols.set(v.name!, { def: v, building: false });
    for (const v of building) p.vols.set(v.def.name!, v);
    this.updateSizes(p);
    p.def.target = {
      ...p.def.target,
      permissions: { mode: st.mode & 0o777, owner: st.uid, group: st.gid },
    };
  }

  /**
   * Starts the pool's storage and reads it: an `fs` pool's device is mounted
   * first (or found mounted already), and unmounted again when the read
   * fails, so a failed start leaves no mount behind.
   */
  async startPool(p: Pool, signal?: AbortSignal): Promise<void> {
    const mounted = p.def.type === 'fs' ? await mountPool(p.def, signal) : false;
    try {
      await this.refresh(p, signal);
    } catch (err) {
      if (mounted)
        await unmountPool(p.def).catch((undo: unknown) => {
          throw new VirError(
            'OPERATION_FAILED',
            'storage',
            `${err instanceof Error ? err.message : String(err)}; and unmounting '${p.def.target!.path}' ` +
              `failed: ${undo instanceof Error ? undo.message : String(undo)}`,
          );
        });
      throw err;
    }
  }

  /** capacity, allocation and available of the pool's file system, as libvirt reads them (statvfs). */
  updateSizes(p: Pool): void {
    try {
      const s = statfsSync(p.def.target!.path!, { bigint: true });
      p.def.capacity = s.blocks * s.bsize;
      p.def.allocation = (s.blocks - s.bfree) * s.bsize;
      p.def.available = s.bavail * s.bsize;
    } catch {
      // the directory went away under a running pool: the last sizes stay
    }
  }

  /** Writes the live definition of a running pool (its state file). */
  saveState(p: Pool): void {
    const live = StoragePoolDef.fromXML(p.def.toXML());
    delete live.capacity;
    delete live.allocation;
    delete live.available;
    this.store.writeState(p.def.name!, live.toXML());
  }

  async #load(): Promise<void> {
    const { persistent, live: running } = this.store.loadDefinitions((xml) => StoragePoolDef.fromXML(xml));
    for (const [name, def] of persistent)
      this.pools.set(name, { def, next: undefined, active: false, persistent: true, vols: new Map() });
    for (const [name, live] of running) {
      const p = this.pools.get(name);
      if (p) {
        p.next = p.def;
        p.def = live;
        p.active = true;
      } else
        this.pools.set(name, {
          def: live,
          next: undefined,
          active: true,
          persistent: false,
          vols: new Map(),
        });
    }
    for (const p of this.pools.values()) {
      if (p.next && p.next.toXML() === p.def.toXML()) p.next = undefined;
      try {
        if (p.active) {
          // an fs pool whose mount went away (a reboot, an umount by hand) no longer runs
          if (p.def.type === 'fs' && !mountedFrom(p.def))
            throw new VirError('OPERATION_INVALID', 'storage', 'not mounted');
          await this.refresh(p);
        } else if (p.persistent && this.store.isAutostart(p.def.name!)) {
          await this.startPool(p);
          p.active = true;
          this.saveState(p);
        }
      } catch {
        // a pool whose directory is gone stays listed; a start or refresh reports why
        if (p.active) {
          p.active = false;
          this.store.removeState(p.def.name!);
          if (!p.persistent) this.pools.delete(p.def.name!);
        }
      }
    }
  }
}

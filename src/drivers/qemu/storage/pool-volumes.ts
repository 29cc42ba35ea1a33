/**
 * The volume calls of the QEMU driver's storage: lookups, create (also
 * from another volume, or over a backing store), delete, resize, wipe,
 * info and XML (read again from the file each time, as libvirt refreshes
 * a volume before answering), and the bytes as streams. A volume a running
 * guest uses is not deleted, resized, wiped or written
 * (`OPERATION_INVALID` naming the guest).
 *
 * @module
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { StorageVolDef } from '../../../conf/storage/vol-def.js';
import type {
  CallOptions,
  CreateVolOptions,
  ResizeVolOptions,
  StoragePoolRef,
  StorageVolInfo,
  StorageVolRef,
  VolLookup,
  VolumeRange,
  VolumeReadStream,
  VolumeWriteStream,
} from '../../../driver-objects.js';
import { toVirError, VirError } from '../../../errors.js';
import { type Pool, type PoolTable, storageError, type Vol } from './pool-table.js';
import {
  buildVolume,
  checkBuildable,
  deleteVolumeFile,
  resizeVolumeFile,
  wipeVolumeFile,
} from './volume-files.js';
import { readVolume } from './volume-scan.js';

function volRef(p: Pool, v: Vol): StorageVolRef {
  return { pool: p.def.name!, name: v.def.name!, key: v.def.key! };
}

function noVol(what: string, value: string): VirError {
  return new VirError('NO_STORAGE_VOL', 'storage', `no storage vol with matching ${what} '${value}'`);
}

/** qemu-img's name of a volume format (an ISO image is raw to it). */
function imgFormat(v: StorageVolDef): string {
  const f = v.target?.format ?? 'raw';
  return f === 'iso' ? 'raw' : f;
}

export class PoolVolumes {
  readonly table: PoolTable;

  constructor(table: PoolTable) {
    this.table = table;
  }

  #vol(ref: StorageVolRef): [Pool, Vol] {
    const p = this.table.active(ref.pool);
    const v = p.vols.get(ref.name);
    if (!v) throw noVol('name', ref.name);
    return [p, v];
  }

  /** Re-reads the volume's file; a file gone meanwhile is a volume gone. */
  async #fresh(ref: StorageVolRef, signal?: AbortSignal): Promise<Vol> {
    await this.table.ready;
    const [p, v] = this.#vol(ref);
    if (v.building) return v;
    const def = await readVolume(this.table.qemuImg(signal), p.def.target!.path!, ref.name);
    if (!def) {
      p.vols.delete(ref.name);
      throw noVol('name', ref.name);
    }
    // a level the header does not say (0.10) stays as the volume was created with, as in libvirt
    const compat = v.def.target?.compat;
    if (def.target && def.target.compat === undefined && compat !== undefined) def.target.compat = compat;
    v.def = def;
    return v;
  }

  async #refuseInUse(p: Pool, v: Vol, what: string): Promise<void> {
    if (v.building)
      throw storageError('OPERATION_INVALID', `volume '${v.def.name}' is still being allocated.`);
    const guest = await this.table.usedBy(v.def.target!.path!, p.def.name!, v.def.name!);
    if (guest !== undefined)
      throw storageError(
        'OPERATION_INVALID',
        `cannot ${what} volume '${v.def.name}': it is in use by domain '${guest}'`,
      );
  }

  async lookupVolume(key: VolLookup): Promise<StorageVolRef> {
    await this.table.ready;
    if ('pool' in key) {
      const p = this.table.active(key.pool.name);
      const v = p.vols.get(key.name);
      if (!v) throw noVol('name', key.name);
      return volRef(p, v);
    }
    const [what, value] = 'key' in key ? (['key', key.key] as const) : (['path', key.path] as const);
    const want = what === 'path' ? value.replace(/\/+/g, '/').replace(/(.)\/$/, '$1') : value;
    for (const p of this.table.pools.values()) {
      if (!p.active) continue;
      for (const v of p.vols.values())
        if ((what === 'key' ? v.def.key : v.def.target?.path) === want) return volRef(p, v);
    }
    throw noVol(what, value);
  }

  async volCreate(ref: StoragePoolRef, xml: string, opts: CreateVolOptions = {}): Promise<StorageVolRef> {
    await this.table.ready;
    const p = this.table.active(ref.name);
    const def = StorageVolDef.fromXML(xml, { pool: p.def, optionalCapacity: true });
    const name = def.name!;
    if (name === '' || name === '.' || name === '..')
      throw new VirError('XML_ERROR', 'storage', `invalid volume name '${name}'`, { field: '/volume/name' });
    let source: Vol | undefined;
    let from: { path: string; format: string; capacity: bigint } | undefined;
    if (opts.from) {
      const src = await this.#fresh(opts.from, opts.signal);
      if (src.building)
        throw storageError('OPERATION_INVALID', `volume '${src.def.name}' is still being allocated.`);
      source = src;
      from = { path: src.def.target!.path!, format: imgFormat(src.def), capacity: src.def.capacity ?? 0n };
      // libvirt: a copy is at least as large as its source
      if ((def.capacity ?? 0n) < from.capacity) def.capacity = from.capacity;
    }
    checkBuildable(def, opts.from !== undefined);
    if (def.backingStore?.path !== undefined && !def.backingStore.path.startsWith('/'))
      throw new VirError('XML_ERROR', 'storage', 'a backing store path must be absolute', {
        field: '/volume/backingStore/path',
      });
    if (p.vols.has(name)) throw storageError('STORAGE_VOL_EXIST', `'${name}'`);
    const path = join(p.def.target!.path!, name);
    def.key = path;
    def.target = { ...def.target, path };
    const vol: Vol = { def, building: true };
    p.vols.set(name, vol);
    if (source) source.copies = (source.copies ?? 0) + 1;
    try {
      await buildVolume(this.table.qemuImg(opts.signal), def, path, from);
    } catch (err) {
      p.vols.delete(name);
      throw err;
    } finally {
      if (source) source.copies = (source.copies ?? 1) - 1;
    }
    const read = await readVolume(this.table.qemuImg(opts.signal), p.def.target!.path!, name).catch(
      () => undefined,
    );
    if (read?.target && read.target.compat === undefined && def.target?.compat !== undefined)
      read.target.compat = def.target.compat;
    vol.def = read ?? def;
    vol.building = false;
    this.table.updateSizes(p);
    return volRef(p, vol);
  }

  async volDelete(ref: StorageVolRef): Promise<void> {
    await this.table.ready;
    const [p, v] = this.#vol(ref);
    await this.#refuseInUse(p, v, 'delete');
    deleteVolumeFile(v.def.target!.path!, v.def.type === 'dir');
    p.vols.delete(ref.name);
    this.table.updateSizes(p);
  }

  async volGetInfo(ref: StorageVolRef, opts: CallOptions = {}): Promise<StorageVolInfo> {
    const { def } = await this.#fresh(ref, opts.signal);
    return { type: def.type ?? 'file', capacity: def.capacity ?? 0n, allocation: def.allocation ?? 0n };
  }

  async volGetXml(ref: StorageVolRef, opts: CallOptions = {}): Promise<string> {
    return (await this.#fresh(ref, opts.signal)).def.toXML();
  }

  async volGetPath(ref: StorageVolRef): Promise<string> {
    await this.table.ready;
    return this.#vol(ref)[1].def.target?.path ?? '';
  }

  async volResize(ref: StorageVolRef, capacity: bigint, opts: ResizeVolOptions = {}): Promise<void> {
    const v = await this.#fresh(ref, opts.signal);
    const [p] = this.#vol(ref);
    await this.#refuseInUse(p, v, 'resize');
    const cur = v.def.capacity ?? 0n;
    const size = opts.delta
      ? opts.shrink
        ? cur - (capacity < cur ? capacity : cur)
        : cur + capacity
      : capacity;
    if (size < (v.def.allocation ?? 0n))
      throw storageError('INVALID_ARG', "can't shrink capacity below existing allocation");
    if (size < cur && !opts.shrink)
      throw storageError(
        'INVALID_ARG',
        "Can't shrink capacity below current capacity unless shrink flag explicitly specified",
      );
    const delta = opts.allocate ? size - (v.def.allocation ?? 0n) : 0n;
    this.table.updateSizes(p);
    if (delta > (p.def.available ?? 0n))
      throw storageError('OPERATION_FAILED', 'Not enough space left in storage pool');
    await resizeVolumeFile(this.table.qemuImg(opts.signal), v.def.target!.path!, imgFormat(v.def), size, {
      ...(opts.allocate ? { allocate: true } : {}),
      ...(opts.shrink ? { shrink: true } : {}),
    });
    this.table.updateSizes(p);
  }

  async volWipe(ref: StorageVolRef, opts: CallOptions = {}): Promise<void> {
    await this.table.ready;
    const [p, v] = this.#vol(ref);
    await this.#refuseInUse(p, v, 'wipe');
    if (v.def.type === 'dir')
      throw new VirError('NO_SUPPORT', 'storage', 'a directory volume cannot be wiped');
    await wipeVolumeFile(v.def.target!.path!, opts.signal);
  }

  async volDownload(ref: StorageVolRef, range: VolumeRange): Promise<VolumeReadStream> {
    await this.table.ready;
    const [, v] = this.#vol(ref);
    if (v.building)
      throw storageError('OPERATION_INVALID', `volume '${v.def.name}' is still being allocated.`);
    if (v.def.type === 'dir')
      throw new VirError('NO_SUPPORT', 'storage', 'a directory volume has no bytes to download');
    const src = createReadStream(v.def.target!.path!, {
      start: Number(range.offset),
      ...(range.length > 0n ? { end: Number(range.offset + range.length - 1n) } : {}),
    });
    // the reader sees VirErrors, and ending its side early closes the file
    const out = new PassThrough();
    src.on('error', (err) =>
      out.destroy(toVirError(err, 'READ_FAILED', 'storage', `cannot read volume '${v.def.name}'`)),
    );
    out.on('close', () => src.destroy());
    range.signal?.addEventListener(
      'abort',
      () => out.destroy(new VirError('OPERATION_ABORTED', 'storage', 'download aborted')),
      { once: true },
    );
    src.pipe(out);
    return out as unknown as VolumeReadStream;
  }

  async volUpload(ref: StorageVolRef, range: VolumeRange): Promise<VolumeWriteStream> {
    await this.table.ready;
    const [p, v] = this.#vol(ref);
    await this.#refuseInUse(p, v, 'upload to');
    if (v.def.type === 'dir')
      throw new VirError('NO_SUPPORT', 'storage', 'a directory volume cannot be uploaded to');
    const path = v.def.target!.path!;
    const fh = await open(path, 'r+').catch((err: unknown) => {
      throw toVirError(err, 'OPEN_FAILED', 'storage', `cannot open volume '${v.def.name}'`);
    });
    let pos = Number(range.offset);
    const limit = range.length > 0n ? Number(range.offset + range.length) : Number.POSITIVE_INFINITY;
    let closed = false;
    const close = () => {
      if (closed) return Promise.resolve();
      closed = true;
      return fh.close();
    };
    const w = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (pos + chunk.length > limit) {
          cb(storageError('INVALID_ARG', `more than ${range.length} bytes sent to volume '${v.def.name}'`));
          return;
        }
        fh.write(chunk, 0, chunk.length, pos).then(
          () => {
            pos += chunk.length;
            cb();
          },
          (err: unknown) =>
            cb(toVirError(err, 'WRITE_FAILED', 'storage', `cannot write volume '${v.def.name}'`)),
        );
      },
      final(cb) {
        fh.sync().then(
          () => close().then(() => cb(), cb),
          (err: unknown) =>
            cb(toVirError(err, 'WRITE_FAILED', 'storage', `cannot sync volume '${v.def.name}'`)),
        );
      },
      destroy(err, cb) {
        close().then(
          () => cb(err),
          () => cb(err),
        );
      },
    });
    range.signal?.addEventListener(
      'abort',
      () => w.destroy(new VirError('OPERATION_ABORTED', 'storage', 'upload aborted')),
      {
        once: true,
      },
    );
    return w as unknown as VolumeWriteStream;
  }
}

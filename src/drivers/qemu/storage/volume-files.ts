/**
 * Making and changing one volume's file in a `dir` pool, with the
 * semantics of libvirt's local storage backend: a raw file is created with
 * `O_EXCL`, sized to the capacity and filled with zeros up to the
 * allocation; other formats by `qemu-img create` (with `-b`/`-F` for a
 * backing store); a copy by `qemu-img convert`; a resize by `ftruncate`
 * (raw) or `qemu-img resize`; a wipe writes zeros over the allocation (or
 * re-truncates a sparse file). Whatever a failed create made is removed:
 * no stray file is left.
 *
 * Every field of the volume definition is carried out or refused with
 * `CONFIG_UNSUPPORTED` naming it.
 *
 * @module
 */
import {
  chmodSync,
  chownSync,
  closeSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  rmdirSync,
  rmSync,
  statSync,
  unlinkSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import type { StorageVolDef } from '../../../conf/storage/vol-def.js';
import { throwIfAborted, toVirError, VirError } from '../../../errors.js';
import { type QemuImgRun, qemuImg } from './qemu-img.js';

/** Formats `qemu-img create` makes here; `raw` and `dir` are made by the driver itself. */
const QEMU_IMG_FORMATS = new Set(['qcow2', 'qcow', 'qed', 'vmdk', 'vpc', 'vdi']);
const CHUNK = 1024 * 1024;
/** libvirt's default mode of a new volume. */
const DEFAULT_VOL_MODE = 0o600;

function unsupported(message: string, field: string): never {
  throw new VirError('CONFIG_UNSUPPORTED', 'storage', message, { field });
}

/** Refuses what a `dir` pool volume cannot have before anything is made. */
export function checkBuildable(vol: StorageVolDef, isCopy: boolean): void {
  const t = vol.target ?? {};
  const format = t.format ?? 'raw';
  if (format !== 'raw' && format !== 'dir' && !QEMU_IMG_FORMATS.has(format))
    unsupported(`creating volumes of format '${format}' is not supported`, '/volume/target/format/@type');
  if (vol.type !== undefined && vol.type !== 'file' && !(vol.type === 'dir' && format === 'dir'))
    unsupported(`a dir pool has no volumes of type '${vol.type}'`, '/volume/@type');
  if (t.encryption)
    unsupported(
      'encrypted volumes need a secret driver, which the qemu driver has not',
      '/volume/target/encryption',
    );
  if (t.permissions?.label !== undefined)
    unsupported('security labels of volumes are not supported', '/volume/target/permissions/label');
  if (t.nocow) unsupported('nocow is not supported', '/volume/target/nocow');
  const qcowOnly = format === 'qcow2';
  if (!qcowOnly && t.compat !== undefined)
    unsupported(`format '${format}' has no compat level`, '/volume/target/compat');
  if (!qcowOnly && t.features?.length)
    unsupported(`format '${format}' has no features`, '/volume/target/features');
  if (!qcowOnly && t.clusterSize !== undefined)
    unsupported(`format '${format}' has no cluster size`, '/volume/target/clusterSize');
  if (t.features?.includes('extended_l2') || t.features?.includes('data_file'))
    unsupported('only the lazy_refcounts feature is supported', '/volume/target/features');
  if (vol.backingStore) {
    if (format === 'raw' || format === 'dir')
      throw new VirError('NO_SUPPORT', 'storage', 'backing storage not supported for raw volumes', {
        field: '/volume/backingStore',
      });
    if (isCopy) unsupported('a copy of a volume cannot have a backing store too', '/volume/backingStore');
    if (vol.backingStore.permissions)
      unsupported('permissions of a backing store are not applied', '/volume/backingStore/permissions');
  }
  if (isCopy && format === 'dir')
    unsupported('a directory volume cannot be a copy', '/volume/target/format/@type');
}

function qcowOptions(vol: StorageVolDef): string[] {
  const t = vol.target ?? {};
  // libvirt's default level when none is asked for is the older one, readable by every QEMU
  const o: string[] = [`compat=${t.compat ?? '0.10'}`];
  if (t.clusterSize !== undefined) o.push(`cluster_size=${t.clusterSize}`);
  if (t.features?.includes('lazy_refcounts')) o.push('lazy_refcounts=on');
  // an option value with a comma would end the option: compat and sizes are checked already
  return o.length ? ['-o', o.join(',')] : [];
}

/** Writes zeros from `start` up to `end` (bytes), a chunk at a time; abortable. */
async function zeroFill(path: string, start: bigint, end: bigint, signal?: AbortSignal): Promise<void> {
  if (end <= start) return;
  const h = await open(path, 'r+');
  try {
    const zeros = Buffer.alloc(CHUNK);
    for (let pos = start; pos < end; ) {
      throwIfAborted(signal, 'storage');
      const n = Number(end - pos < BigInt(CHUNK) ? end - pos : BigInt(CHUNK));
      await h.write(zeros, 0, n, Number(pos));
      pos += BigInt(n);
    }
    await h.sync();
  } finally {
    await h.close();
  }
}

function applyPerms(vol: StorageVolDef, path: string): void {
  const p = vol.target?.permissions;
  chmodSync(path, p?.mode ?? DEFAULT_VOL_MODE);
  if (p?.owner !== undefined || p?.group !== undefined) chownSync(path, p.owner ?? -1, p.group ?? -1);
}

/**
 * Creates the volume's file at `path` (already checked by {@link checkBuildable}),
 * from `from` (its path and format) when given. On failure the file is removed.
 */
export async function buildVolume(
  run: QemuImgRun,
  vol: StorageVolDef,
  path: string,
  from: { path: string; format: string; capacity: bigint } | undefined,
): Promise<void> {
  const format = vol.target?.format ?? 'raw';
  const capacity = vol.capacity ?? 0n;
  let made = false;
  try {
    if (format === 'dir') {
      mkdirSync(path, { mode: vol.target?.permissions?.mode ?? 0o755 });
      made = true;
    } else if (from) {
      // qemu-img would replace a file: the name must be new
      closeSync(openSync(path, 'wx', DEFAULT_VOL_MODE));
      made = true;
      await qemuImg(run, [
        'convert',
        '-f',
        from.format,
        '-O',
        format,
        ...(format === 'qcow2' ? qcowOptions(vol) : []),
        from.path,
        path,
      ]);
      if (capacity > from.capacity) await qemuImg(run, ['resize', '-f', format, path, capacity.toString()]);
    } else if (format === 'raw') {
      if (capacity > BigInt(Number.MAX_SAFE_INTEGER))
        throw new VirError('INVALID_ARG', 'storage', `capacity ${capacity} is too large for a file`, {
          field: '/volume/capacity',
        });
      const fd = openSync(path, 'wx', DEFAULT_VOL_MODE);
      made = true;
      try {
        // sized first: the capacity is there at once, the zeros follow
        ftruncateSync(fd, Number(capacity));
      } finally {
        closeSync(fd);
      }
      const alloc = vol.allocation ?? capacity;
      await zeroFill(path, 0n, alloc < capacity ? alloc : capacity, run.signal);
    } else {
      closeSync(openSync(path, 'wx', DEFAULT_VOL_MODE));
      made = true;
      const args = ['create', '-f', format];
      const b = vol.backingStore;
      if (b?.path !== undefined) args.push('-b', b.path, '-F', b.format ?? 'raw');
      if (format === 'qcow2') args.push(...qcowOptions(vol));
      args.push(path);
      // with a backing store and no capacity, the image takes the backing file's size
      if (!(b && vol.capacity === 0n)) args.push(capacity.toString());
      await qemuImg(run, args);
    }
    applyPerms(vol, path);
  } catch (err) {
    if (made) rmSync(path, { recursive: format === 'dir', force: true });
    if ((err as NodeJS.ErrnoException).code === 'EEXIST')
      throw new VirError('STORAGE_VOL_EXIST', 'storage', `a file '${path}' exists already`);
    throw toVirError(err, 'SYSTEM_ERROR', 'storage', `cannot create volume '${path}'`);
  }
}

/** Removes the volume's file (or empty directory). */
export function deleteVolumeFile(path: string, isDir: boolean): void {
  try {
    if (isDir) rmdirSync(path);
    else unlinkSync(path);
  } catch (err) {
    throw toVirError(err, 'SYSTEM_ERROR', 'storage', `cannot unlink file '${path}'`);
  }
}

/** Sets the capacity: `ftruncate` for raw (zeros up to it with `allocate`), `qemu-img resize` otherwise. */
export async function resizeVolumeFile(
  run: QemuImgRun,
  path: string,
  format: string,
  capacity: bigint,
  opts: { allocate?: boolean; shrink?: boolean },
): Promise<void> {
  try {
    if (format === 'raw') {
      const before = BigInt(statSync(path).size);
      const h = await open(path, 'r+');
      try {
        await h.truncate(Number(capacity));
      } finally {
        await h.close();
      }
      if (opts.allocate) await zeroFill(path, before, capacity, run.signal);
      return;
    }
    if (opts.allocate)
      throw new VirError(
        'OPERATION_UNSUPPORTED',
        'storage',
        'preallocate is only supported for raw type volume',
        {
          field: 'allocate',
        },
      );
    await qemuImg(run, [
      'resize',
      ...(opts.shrink ? ['--shrink'] : []),
      '-f',
      format,
      path,
      capacity.toString(),
    ]);
  } catch (err) {
    throw toVirError(err, 'SYSTEM_ERROR', 'storage', `cannot resize volume '${path}'`);
  }
}

/** Zeros the volume's data: a sparse file is truncated and extended, any other has zeros written. */
export async function wipeVolumeFile(path: string, signal?: AbortSignal): Promise<void> {
  try {
    const st = statSync(path);
    const size = BigInt(st.size);
    if (BigInt(st.blocks) * 512n < size) {
      const h = await open(path, 'r+');
      try {
        await h.truncate(0);
        await h.truncate(st.size);
        await h.sync();
      } finally {
        await h.close();
      }
      return;
    }
    await zeroFill(path, 0n, size, signal);
  } catch (err) {
    throw toVirError(err, 'SYSTEM_ERROR', 'storage', `cannot wipe volume '${path}'`);
  }
}

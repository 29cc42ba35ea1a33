/**
 * The `fs` pool's block device: mounted on the pool's target directory
 * when the pool starts, unmounted when it stops, formatted by a build that
 * asks for it. Everything else of an `fs` pool (its volumes, sizes and
 * refresh) is the `dir` pool's code on the mounted directory.
 *
 * Semantics follow libvirt's file-system backend: a build without
 * `overwrite`/`noOverwrite` only makes the directory; `noOverwrite` probes
 * the device with blkid and refuses one that holds any file system
 * (`STORAGE_POOL_BUILT`); `overwrite` formats without probing. A start
 * whose target is already mounted from the pool's device takes the mount
 * as it is (the pool is active). The tools run as argument vectors, never
 * through a shell, with a closed environment and a time limit; every path
 * is absolute, so none can be read as an option.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import type { StoragePoolDef } from '../../../conf/storage/pool-def.js';
import { VirError } from '../../../errors.js';

const DEVICE_FIELD = '/pool/source/device/@path';
/** mount, umount and blkid return at once; mkfs of a large device takes longer. */
const TOOL_TIMEOUT_MS = 5 * 60_000;

/** One line of /proc/self/mounts. */
export interface MountEntry {
  readonly source: string;
  readonly target: string;
  readonly fstype: string;
}

/** The kernel writes space, tab, newline and backslash in mounts as octal escapes. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/** The mounts of this process's namespace, as the kernel lists them. */
export function readMounts(text: string = readFileSync('/proc/self/mounts', 'utf8')): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const [source, target, fstype] = line.split(' ');
    if (source === undefined || target === undefined || fstype === undefined) continue;
    out.push({ source: unescapeMount(source), target: unescapeMount(target), fstype });
  }
  return out;
}

/** The real path, or the path itself when it cannot be resolved (a device that went away). */
function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** The pool's device and target, checked: parsePool made both absolute. */
function devAndTarget(def: StoragePoolDef): { device: string; target: string } {
  return { device: def.source!.devices![0]!.path, target: def.target!.path! };
}

/** Mounting and formatting need root, as in libvirt's system storage driver. */
function needRoot(what: string, def: StoragePoolDef): void {
  if (process.getuid?.() !== 0)
    throw new VirError(
      'OPERATION_DENIED',
      'storage',
      `${what} the device of fs pool '${def.name}' needs root (mount and mkfs are not run unprivileged)`,
    );
}

/** The device must exist and be a block device, else the start or build is refused naming it. */
function checkBlockDevice(device: string): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(device);
  } catch {
    throw new VirError('INVALID_ARG', 'storage', `source device '${device}' does not exist`, {
      field: DEVICE_FIELD,
    });
  }
  if (!st.isBlockDevice())
    throw new VirError('INVALID_ARG', 'storage', `source device '${device}' is not a block device`, {
      field: DEVICE_FIELD,
    });
}

/**
 * Whether the pool's target is mounted from its device (true), not mounted
 * (false); refused when the target holds another mount or the device is
 * mounted elsewhere.
 */
export function mountState(def: StoragePoolDef, mounts: readonly MountEntry[] = readMounts()): boolean {
  const { device, target } = devAndTarget(def);
  const dev = real(device);
  const tgt = real(target);
  let ours = false;
  for (const m of mounts) {
    const sameSource = m.source.startsWith('/') && real(m.source) === dev;
    if (m.target === tgt && sameSource) ours = true;
    else if (m.target === tgt)
      throw new VirError(
        'OPERATION_INVALID',
        'storage',
        `target '${target}' of fs pool '${def.name}' already has '${m.source}' mounted on it`,
        { field: '/pool/target/path' },
      );
    else if (sameSource)
      throw new VirError(
        'OPERATION_INVALID',
        'storage',
        `source device '${device}' of fs pool '${def.name}' is already mounted on '${m.target}'`,
        { field: DEVICE_FIELD },
      );
  }
  return ours;
}

/**
 * Whether the target is mounted from the pool's device, never refusing: a
 * stop must not be kept from stopping by a mount someone else moved.
 */
export function mountedFrom(def: StoragePoolDef): boolean {
  try {
    return mountState(def);
  } catch {
    return false;
  }
}

function run(binary: string, args: readonly string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      binary,
      args,
      {
        timeout: TOOL_TIMEOUT_MS,
        env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin', LC_ALL: 'C' },
        ...(signal ? { signal } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(String(stdout));
          return;
        }
        const e = err as NodeJS.ErrnoException & { code?: number | string };
        if (signal?.aborted) {
          reject(new VirError('OPERATION_ABORTED', 'storage', `${binary}: operation aborted`));
          return;
        }
        const why = String(stderr).trim().split('\n').slice(-3).join(' ') || e.message;
        reject(
          Object.assign(new VirError('INTERNAL_ERROR', 'storage', `${binary} ${args[0]} failed: ${why}`), {
            exitCode: typeof e.code === 'number' ? e.code : undefined,
          }),
        );
      },
    );
  });
}

function tool(...candidates: string[]): string {
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new VirError(
      'NO_SUPPORT',
      'storage',
      `${candidates[0]} is not installed: fs pools need util-linux`,
    );
  return found;
}

/**
 * Mounts the pool's device on its target for a start. Resolves to whether
 * this call mounted it (false: it was mounted from the device already).
 */
export async function mountPool(def: StoragePoolDef, signal?: AbortSignal): Promise<boolean> {
  needRoot('mounting', def);
  const { device, target } = devAndTarget(def);
  checkBlockDevice(device);
  if (mountState(def)) return false;
  const format = def.source?.format ?? 'auto';
  // 'auto': mount probes the file system itself
  const args = format === 'auto' ? [device, target] : ['-t', format, device, target];
  await run(tool('/usr/bin/mount', '/bin/mount'), args, signal);
  return true;
}

/** Unmounts the pool's target when it is mounted from the pool's device (a stop). */
export async function unmountPool(def: StoragePoolDef, signal?: AbortSignal): Promise<void> {
  if (!mountedFrom(def)) return;
  needRoot('unmounting', def);
  await run(tool('/usr/bin/umount', '/bin/umount'), [def.target!.path!], signal);
}

/** How a build treats the pool's device (libvirt's `VIR_STORAGE_POOL_BUILD_*` flags). */
export interface FsBuildMode {
  readonly overwrite?: boolean;
  readonly noOverwrite?: boolean;
}

/** The file system on `device` as blkid probes it, or undefined for none. */
async function probeFs(device: string, signal?: AbortSignal): Promise<string | undefined> {
  const blkid = tool('/usr/sbin/blkid', '/sbin/blkid', '/usr/bin/blkid');
  try {
    const out = await run(blkid, ['-p', '-o', 'value', '-s', 'TYPE', device], signal);
    return out.trim() || undefined;
  } catch (err) {
    // blkid's exit status 2: nothing recognised on the device
    if ((err as { exitCode?: number }).exitCode === 2) return undefined;
    throw err;
  }
}

/** The option each mkfs needs to write over an existing file system (as libvirt passes them). */
function forceOption(format: string): string[] {
  if (format === 'xfs') return ['-f'];
  if (format === 'ext2' || format === 'ext3' || format === 'ext4') return ['-F'];
  if (format === 'vfat') return ['-I'];
  return [];
}

/**
 * Whether a build in `mode` formats the pool's device; refuses one that
 * cannot be formatted (not root, no block device, the device mounted,
 * format `auto`) before the build makes anything.
 */
export function checkFormat(def: StoragePoolDef, mode: FsBuildMode): boolean {
  if (!mode.overwrite && !mode.noOverwrite) return false;
  needRoot('formatting', def);
  const { device } = devAndTarget(def);
  checkBlockDevice(device);
  if (mountState(def))
    throw new VirError(
      'OPERATION_INVALID',
      'storage',
      `source device '${device}' is mounted: not formatted`,
      {
        field: DEVICE_FIELD,
      },
    );
  if ((def.source?.format ?? 'auto') === 'auto')
    throw new VirError(
      'INVALID_ARG',
      'storage',
      `fs pool '${def.name}' has format 'auto': name the file system to make`,
      { field: '/pool/source/format/@type' },
    );
  return true;
}

/**
 * Formats the pool's device for a build with `overwrite` or `noOverwrite`
 * (without either a build only makes the directory, as in libvirt).
 */
export async function formatPool(
  def: StoragePoolDef,
  mode: FsBuildMode,
  signal?: AbortSignal,
): Promise<void> {
  if (!checkFormat(def, mode)) return;
  const { device } = devAndTarget(def);
  const format = def.source!.format!;
  if (mode.noOverwrite) {
    const found = await probeFs(device, signal);
    if (found !== undefined)
      throw new VirError(
        'STORAGE_POOL_BUILT',
        'storage',
        found === format
          ? `device '${device}' is already formatted using '${found}'`
          : `device '${device}' holds '${found}', not the expected '${format}': overwriting needs 'overwrite'`,
        { field: DEVICE_FIELD },
      );
  }
  const mkfs = tool('/usr/sbin/mkfs', '/sbin/mkfs');
  await run(mkfs, ['-t', format, ...forceOption(format), device], signal);
}

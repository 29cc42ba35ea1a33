/**
 * Whole-file writes that a crash cannot leave half done: write a temporary
 * file beside the target, fsync it, rename it over the target, fsync the
 * directory so the rename itself is durable (the fsyncs only for content
 * that must outlive the host: definitions, not run state). Readers see the
 * old content or the new one, never a mix.
 *
 * The temporary name does not derive from the target's: a long domain name
 * must not push it past the file system's 255 bytes, and a fixed shape
 * (`.vk-<pid>-<n>.tmp`) lets {@link cleanStaleTemps} find what a killed
 * writer left without mistaking any real file for it.
 *
 * @module
 */
import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { toVirError } from '../../../errors.js';
import { isProcessAlive } from './proc-info.js';

let seq = 0;

/** Our temporary names, and the ones written before they were shortened (`.<target>.<pid>.<ms>.tmp`). */
const TEMP_NAME = /^\.vk-(\d+)-\d+\.tmp$|^\..+\.(\d+)\.\d+\.tmp$/;

/** How a whole-file write is made. */
export interface AtomicWriteOptions {
  /** File mode of a new file; default 0o600. */
  readonly mode?: number;
  /**
   * Whether the content must survive a power loss (default true): the file
   * and its directory are fsynced. Run state (a status file) has no use
   * after the host goes down, since its guests are gone too, so it is
   * written atomically but without the fsyncs, which block the event loop
   * (twenty guests starting together spent most of their time in them).
   */
  readonly durable?: boolean;
}

export function writeFileAtomic(path: string, content: string, options: AtomicWriteOptions = {}): void {
  const durable = options.durable !== false;
  const tmp = join(dirname(path), `.vk-${process.pid}-${++seq}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', options.mode ?? 0o600);
    writeSync(fd, content);
    if (durable) fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, path);
    if (durable) syncDir(dirname(path));
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    rmSync(tmp, { force: true });
    throw toVirError(err, 'WRITE_FAILED', 'qemu', `cannot write ${path}`);
  }
}

/**
 * Removes the temporary files of writers that died mid-write (their pid is
 * gone); returns their names. A live writer's file is left alone: it is
 * about to be renamed.
 */
export function cleanStaleTemps(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const f of names) {
    const m = TEMP_NAME.exec(f);
    if (!m) continue;
    const pid = Number(m[1] ?? m[2]);
    if (pid === process.pid || isProcessAlive(pid)) continue;
    try {
      rmSync(join(dir, f), { force: true });
      removed.push(f);
    } catch {
      // Not ours to remove (permissions): harmless litter.
    }
  }
  return removed;
}

function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the rename is still atomic there.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

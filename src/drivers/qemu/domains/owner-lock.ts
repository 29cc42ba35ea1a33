/**
 * Which process manages a running guest: `<stateRoot>/qemu/<name>.owner`
 * holds the pid and `/proc` start time of the Node process that started or
 * re-attached it. QEMU's monitor takes one client at a time, so a guest has
 * exactly one manager; a second process on the same state root reads this
 * file instead of waiting on a monitor that will never greet it, and
 * refuses what only the manager may do (stop, redefine, undefine) naming
 * the owner.
 *
 * The file is created complete and exclusively (written under a temporary
 * name, then hard-linked to its final name, which fails if it exists), so
 * a reader never sees half an owner. An owner whose process is gone, or
 * whose pid now belongs to another process (a different start time), is
 * stale: the next process removes the file and takes the guest over.
 *
 * @module
 */
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { toVirError } from '../../../errors.js';
import { isProcessAlive, readProcStat } from '../lifecycle/proc-info.js';

export interface Owner {
  readonly pid: number;
  /** `/proc/<pid>/stat` start time: with the pid, names one process. */
  readonly start: string;
}

let seq = 0;

/** This process as an owner. */
export function thisProcess(): Owner {
  return { pid: process.pid, start: readProcStat(process.pid)?.startTicks ?? '0' };
}

export function ownerPath(stateRoot: string, name: string): string {
  return join(stateRoot, 'qemu', `${name}.owner`);
}

/** The recorded owner if it is alive; undefined when the file is missing, damaged or stale. */
export function liveOwner(path: string): Owner | undefined {
  const owner = readOwner(path);
  return owner && isAlive(owner) ? owner : undefined;
}

/**
 * Makes this process the owner. Returns undefined when it is (now or
 * already), or the other live owner that holds the guest.
 */
export function acquireOwner(path: string): Owner | undefined {
  const me = thisProcess();
  const dir = join(path, '..');
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw toVirError(err, 'SYSTEM_ERROR', 'qemu', `cannot create ${dir}`);
  }
  // Two tries: the second after removing a stale owner.
  for (let attempt = 0; attempt < 2; attempt++) {
    const tmp = join(dir, `.vk-${process.pid}-owner${++seq}.tmp`);
    try {
      writeFileSync(tmp, JSON.stringify(me), { mode: 0o600, flag: 'wx' });
      linkSync(tmp, path);
      return undefined;
    } catch (err) {
      if ((err as { code?: unknown }).code !== 'EEXIST') {
        throw toVirError(err, 'WRITE_FAILED', 'qemu', `cannot write ${path}`);
      }
    } finally {
      rmSync(tmp, { force: true });
    }
    const held = readOwner(path);
    if (held && held.pid === me.pid && held.start === me.start) return undefined;
    if (held && isAlive(held)) return held;
    // Stale (or unreadable): the process that wrote it is gone.
    rmSync(path, { force: true });
  }
  return readOwner(path) ?? { pid: 0, start: '0' };
}

/** Gives the guest up, if this process owns it. */
export function releaseOwner(path: string): void {
  const held = readOwner(path);
  const me = thisProcess();
  if (held && held.pid === me.pid && held.start === me.start) rmSync(path, { force: true });
}

function readOwner(path: string): Owner | undefined {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as Partial<Owner>;
    if (typeof v.pid !== 'number' || typeof v.start !== 'string') return undefined;
    return { pid: v.pid, start: v.start };
  } catch {
    return undefined;
  }
}

function isAlive(owner: Owner): boolean {
  return isProcessAlive(owner.pid) && readProcStat(owner.pid)?.startTicks === owner.start;
}

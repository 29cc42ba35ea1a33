/**
 * Typed reads of small sysfs files (`/sys/devices/system`, `/sys/fs/resctrl`)
 * under a root that tests point at a copied tree.
 *
 * Every reader tells "the file is not there" (undefined: the kernel does not
 * offer it, and the caller decides what that means) apart from "the file is
 * there but holds garbage" (a `VirError` naming the file), the same split
 * libvirt's value readers make. Values lose one trailing newline, as the
 * kernel writes them.
 *
 * @module
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { VirError } from '../../../errors.js';
import { parseIdSet } from './cpu-set.js';

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const UINT32_MAX = 0xffffffff;

/** The error for a file whose content cannot be used: names the file in the message and `field`. */
export function badSysfsFile(path: string, message: string): VirError {
  return new VirError('INTERNAL_ERROR', 'capabilities', `${message} in file '${path}'`, { field: path });
}

function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export class SysfsReader {
  /** @param root the directory standing for the tree's top (`/sys/devices/system` on a host). */
  constructor(readonly root: string) {}

  /** Absolute path of a file relative to the root. */
  path(rel: string): string {
    return join(this.root, rel);
  }

  async exists(rel: string): Promise<boolean> {
    try {
      await stat(this.path(rel));
      return true;
    } catch {
      return false;
    }
  }

  /** Entry names of a directory, sorted; undefined when it does not exist. */
  async list(rel: string): Promise<string[] | undefined> {
    const path = this.path(rel);
    try {
      return (await readdir(path)).sort();
    } catch (err) {
      const code = errnoOf(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw new VirError('SYSTEM_ERROR', 'capabilities', `cannot list directory '${path}': ${code ?? err}`, {
        field: path,
        cause: err,
      });
    }
  }

  /** The file's text without one trailing newline; undefined when it does not exist. */
  async string(rel: string): Promise<string | undefined> {
    const path = this.path(rel);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (errnoOf(err) === 'ENOENT') return undefined;
      throw new VirError('SYSTEM_ERROR', 'capabilities', `cannot read '${path}': ${errnoOf(err) ?? err}`, {
        field: path,
        cause: err,
      });
    }
    return text.endsWith('\n') ? text.slice(0, -1) : text;
  }

  /** A signed 32-bit decimal integer (leading blanks and a sign allowed, nothing after it). */
  async int(rel: string): Promise<number | undefined> {
    const s = await this.string(rel);
    if (s === undefined) return undefined;
    const n = /^\s*[+-]?\d+$/.test(s) ? Number(s) : Number.NaN;
    if (!(n >= INT32_MIN && n <= INT32_MAX))
      throw badSysfsFile(this.path(rel), `Invalid integer value '${s}'`);
    return n;
  }

  /** An unsigned 32-bit decimal integer; a minus sign is refused. */
  async uint(rel: string): Promise<number | undefined> {
    const s = await this.string(rel);
    if (s === undefined) return undefined;
    const n = /^\s*\+?\d+$/.test(s) ? Number(s) : Number.NaN;
    if (!(n >= 0 && n <= UINT32_MAX)) {
      throw badSysfsFile(this.path(rel), `Invalid unsigned integer value '${s}'`);
    }
    return n;
  }

  /** An unsigned 64-bit decimal integer. */
  async uint64(rel: string): Promise<bigint | undefined> {
    const s = await this.string(rel);
    if (s === undefined) return undefined;
    const m = /^\s*\+?(\d+)$/.exec(s);
    const n = m ? BigInt(m[1] as string) : -1n;
    if (n < 0n || n > 0xffffffffffffffffn) {
      throw badSysfsFile(this.path(rel), `Invalid unsigned long long value '${s}'`);
    }
    return n;
  }

  /**
   * A size such as cache sizes are written (`256K`, `15360K`, `1M`), in
   * bytes. A bare number counts in KiB, as the kernel's cache sizes do;
   * `K`/`KiB` are powers of 1024, `KB` powers of 1000, `B` bytes.
   */
  async scaled(rel: string): Promise<number | undefined> {
    const s = await this.string(rel);
    if (s === undefined) return undefined;
    const m = /^\s*\+?(\d+)(.*)$/.exec(s);
    const scale = m ? suffixScale(m[2] as string) : undefined;
    const value = m && scale !== undefined ? Number(m[1]) * scale : Number.NaN;
    if (!Number.isSafeInteger(value)) {
      throw badSysfsFile(this.path(rel), `Invalid unsigned scaled integer value '${s}'`);
    }
    return value;
  }

  /** A CPU or node list (`0-3,8`); an empty file is an error unless `allowEmpty`. */
  async idSet(rel: string, allowEmpty = false): Promise<number[] | undefined> {
    const s = await this.string(rel);
    if (s === undefined) return undefined;
    const ids = parseIdSet(s, allowEmpty);
    if (typeof ids === 'string') throw badSysfsFile(this.path(rel), `Failed to parse bitmap: ${ids}`);
    return ids;
  }

  /** Like the readers above, but a missing file is an error too. */
  async required<T>(rel: string, read: (rel: string) => Promise<T | undefined>): Promise<T> {
    const v = await read.call(this, rel);
    if (v === undefined) {
      const path = this.path(rel);
      throw new VirError('INTERNAL_ERROR', 'capabilities', `File '${path}' does not exist`, { field: path });
    }
    return v;
  }
}

/** Bytes per unit of a size suffix; undefined for an unknown suffix. */
function suffixScale(suffix: string): number | undefined {
  if (suffix === '') return 1024;
  const s = suffix.toLowerCase();
  if (s === 'b' || s === 'byte' || s === 'bytes') return 1;
  const order = 'kmgtpe'.indexOf(s[0] as string);
  if (order < 0) return undefined;
  const rest = s.slice(1);
  const base = rest === '' || rest === 'ib' ? 1024 : rest === 'b' ? 1000 : undefined;
  return base === undefined ? undefined : base ** (order + 1);
}

/** How many CPUs are read at once: enough to hide file latency, few enough to stay far from the fd limit. */
const CONCURRENCY = 16;

/**
 * `fn` over every item, a few at a time, results in item order. When some
 * fail, the error of the first failing item (in order) is thrown, so a
 * broken tree always reports the same file.
 */
export async function mapInOrder<T, R>(items: readonly T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += CONCURRENCY) {
    const settled = await Promise.allSettled(items.slice(i, i + CONCURRENCY).map(fn));
    for (const r of settled) {
      if (r.status === 'rejected') throw r.reason;
      out.push(r.value);
    }
  }
  return out;
}

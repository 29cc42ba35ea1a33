/**
 * The on-disk (and in-memory) cache of {@link QemuCaps}, one JSON file per
 * binary path.
 *
 * An entry is valid only while everything the probe depended on is
 * unchanged: the binary's identity (device, inode, size, mtime, ctime), the
 * running kernel, whether KVM is usable, and our cache format. Files are
 * written atomically (temp file, fsync, rename), so a crash leaves the old
 * entry or the new one, never half of one; an unreadable or corrupt file is
 * treated as absent and replaced by the next probe.
 *
 * @module
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import { toVirError, VirError } from '../../../errors.js';
import { kvmUsable, type ProbeOptions, probeQemu } from './probe.js';
import { QEMU_CAPS_FORMAT, type QemuCaps } from './qemu-caps.js';

/** What must stay the same for a cached probe to be trusted. */
export interface CapsIdentity {
  format: number;
  binary: string;
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  kernel: string;
  kvm: boolean;
}

interface CacheFile {
  identity: CapsIdentity;
  probedAt: string;
  caps: QemuCaps;
}

export interface CapsCacheOptions {
  /** Directory for the JSON files; `null` keeps the cache in memory only. */
  dir: string | null;
  /** Passed to every probe (run directory, timeouts). */
  probe?: Omit<ProbeOptions, 'signal' | 'kvm'>;
  /** Overrides KVM detection (tests). */
  kvm?: () => Promise<boolean>;
}

export interface CapsLookup {
  caps: QemuCaps;
  /** Where the answer came from. */
  source: 'memory' | 'disk' | 'probe';
}

export class QemuCapsCache {
  readonly #dir: string | null;
  readonly #probeOptions: Omit<ProbeOptions, 'signal' | 'kvm'>;
  readonly #kvm: () => Promise<boolean>;
  readonly #memory = new Map<string, { identity: CapsIdentity; caps: QemuCaps }>();
  readonly #inflight = new Map<string, Promise<CapsLookup>>();
  #kvmState: { value: boolean; at: number } | undefined;

  constructor(options: CapsCacheOptions) {
    this.#dir = options.dir;
    this.#probeOptions = options.probe ?? {};
    this.#kvm = options.kvm ?? kvmUsable;
  }

  /** The cache file of a binary. */
  fileFor(binary: string): string | undefined {
    if (this.#dir === null) return undefined;
    const hash = createHash('sha256').update(binary).digest('hex').slice(0, 24);
    return join(this.#dir, `${hash}.json`);
  }

  /**
   * Caps for `binary`: from memory or disk when still valid, otherwise from
   * a fresh probe (written back). Concurrent calls for one binary share one probe.
   */
  async get(binary: string, options: { signal?: AbortSignal } = {}): Promise<CapsLookup> {
    const identity = await this.identity(binary);
    const mem = this.#memory.get(binary);
    if (mem && sameIdentity(mem.identity, identity)) return { caps: mem.caps, source: 'memory' };
    const key = `${binary}\0${JSON.stringify(identity)}`;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#load(binary, identity, options.signal).finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  /** Forgets the in-memory entries (the files stay). */
  clearMemory(): void {
    this.#memory.clear();
  }

  /** The current identity of a binary; `NO_SUPPORT` when it does not exist. */
  async identity(binary: string): Promise<CapsIdentity> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(binary);
    } catch (err) {
      throw new VirError(
        'NO_SUPPORT',
        'qemu',
        `cannot find QEMU binary ${binary}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    if (!st.isFile()) throw new VirError('NO_SUPPORT', 'qemu', `QEMU binary ${binary} is not a regular file`);
    return {
      format: QEMU_CAPS_FORMAT,
      binary,
      dev: st.dev,
      ino: st.ino,
      size: st.size,
      mtimeMs: st.mtimeMs,
      ctimeMs: st.ctimeMs,
      kernel: release(),
      kvm: await this.#kvmNow(),
    };
  }

  async #kvmNow(): Promise<boolean> {
    // /dev/kvm rarely changes; checking it once a second keeps warm lookups cheap.
    const now = Date.now();
    if (this.#kvmState && now - this.#kvmState.at < 1000) return this.#kvmState.value;
    const value = await this.#kvm();
    this.#kvmState = { value, at: now };
    return value;
  }

  async #load(binary: string, identity: CapsIdentity, signal: AbortSignal | undefined): Promise<CapsLookup> {
    const file = this.fileFor(binary);
    if (file) {
      const cached = await readCacheFile(file);
      if (cached && sameIdentity(cached.identity, identity)) {
        this.#memory.set(binary, { identity, caps: cached.caps });
        return { caps: cached.caps, source: 'disk' };
      }
    }
    const probeOpts: ProbeOptions = { ...this.#probeOptions, kvm: identity.kvm };
    if (signal) probeOpts.signal = signal;
    const caps = await probeQemu(binary, probeOpts);
    if (file)
      await writeAtomically(
        file,
        `${JSON.stringify({ identity, probedAt: new Date().toISOString(), caps } satisfies CacheFile)}\n`,
      );
    this.#memory.set(binary, { identity, caps });
    return { caps, source: 'probe' };
  }
}

function sameIdentity(a: CapsIdentity, b: CapsIdentity): boolean {
  return (
    a.format === b.format &&
    a.binary === b.binary &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs &&
    a.kernel === b.kernel &&
    a.kvm === b.kvm
  );
}

async function readCacheFile(file: string): Promise<CacheFile | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as Partial<CacheFile>;
    if (
      typeof parsed !== 'object' ||
      parsed === null ||
      typeof parsed.identity !== 'object' ||
      typeof parsed.caps !== 'object' ||
      parsed.caps === null ||
      parsed.caps.format !== QEMU_CAPS_FORMAT
    ) {
      return undefined;
    }
    return parsed as CacheFile;
  } catch {
    // Missing, unreadable or corrupt: probe again and overwrite.
    return undefined;
  }
}

/** Writes `text` to `file` so readers see the old or the new content, never a mix. */
export async function writeAtomically(file: string, text: string): Promise<void> {
  const dir = file.slice(0, file.lastIndexOf('/')) || '/';
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const fh = await open(tmp, 'wx', 0o644);
    try {
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
  } catch (err) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw toVirError(err, 'WRITE_FAILED', 'qemu', `cannot write cache file ${file}`);
  }
}

/**
 * `qemu-img`, the one tool the `dir` pool runs: create, convert, resize and
 * info, as libvirt's storage backend runs it. Always an argument vector
 * (never a shell), a closed environment, a time limit and a cap on what is
 * read back; a failure is a `VirError` carrying qemu-img's own message.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { VirError } from '../../../errors.js';

/** Default time limit of one qemu-img run (a convert of a large image can take long). */
const TIMEOUT_MS = 10 * 60_000;
/** The most bytes read back from one run: `info` of a long backing chain stays far below. */
const MAX_OUTPUT = 1024 * 1024;

/** The qemu-img binary: `VIRTKIT_QEMU_IMG`, else the usual places. */
export function findQemuImg(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromEnv = env.VIRTKIT_QEMU_IMG;
  if (fromEnv?.startsWith('/')) return fromEnv;
  return ['/usr/bin/qemu-img', '/usr/local/bin/qemu-img', '/bin/qemu-img'].find((p) => existsSync(p));
}

export interface QemuImgRun {
  readonly binary: string;
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number;
}

/** Runs qemu-img with `args`; resolves to its standard output. */
export function qemuImg(run: QemuImgRun, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      run.binary,
      args,
      {
        timeout: run.timeoutMs ?? TIMEOUT_MS,
        maxBuffer: MAX_OUTPUT,
        env: { PATH: '/usr/bin:/bin', LC_ALL: 'C' },
        ...(run.signal ? { signal: run.signal } : {}),
      },
      (err, stdout, stderr) => {
        if (!err) {
          resolve(String(stdout));
          return;
        }
        if (run.signal?.aborted) {
          reject(new VirError('OPERATION_ABORTED', 'storage', `qemu-img ${args[0]}: operation aborted`));
          return;
        }
        const e = err as NodeJS.ErrnoException & { killed?: boolean };
        if (e.killed) {
          reject(new VirError('OPERATION_TIMEOUT', 'storage', `qemu-img ${args[0]} did not finish in time`));
          return;
        }
        const why = String(stderr).trim().split('\n').slice(-3).join(' ') || e.message;
        // libvirt reports a failed child process as an internal error, with its output
        reject(new VirError('INTERNAL_ERROR', 'storage', `qemu-img ${args[0]} failed: ${why}`));
      },
    );
  });
}

/** What `qemu-img info --output=json` says of an image (the fields the pool uses). */
export interface ImageInfo {
  readonly format: string;
  /** Guest-visible size in bytes. */
  readonly virtualSize: bigint;
  /** Host bytes used. */
  readonly actualSize: bigint;
  readonly backing?: { readonly path: string; readonly format?: string };
  /** qcow2's compatibility level (`0.10`, `1.1`). */
  readonly compat?: string;
  readonly lazyRefcounts?: boolean;
  readonly clusterSize?: bigint;
}

/**
 * Reads an image's header through qemu-img (`-U`: an image a running guest
 * holds is read without its lock). The file's format is qemu-img's probe,
 * as libvirt probes files of a `dir` pool.
 */
export async function imageInfo(run: QemuImgRun, path: string): Promise<ImageInfo> {
  const out = await qemuImg(run, ['info', '-U', '--output=json', path]);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(out) as Record<string, unknown>;
  } catch {
    throw new VirError('INTERNAL_ERROR', 'storage', `qemu-img info of '${path}' is not JSON`);
  }
  const num = (v: unknown) => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? BigInt(v) : 0n);
  const format = typeof j.format === 'string' ? j.format : 'raw';
  const backingPath =
    typeof j['full-backing-filename'] === 'string'
      ? j['full-backing-filename']
      : typeof j['backing-filename'] === 'string'
        ? j['backing-filename']
        : undefined;
  const backingFormat =
    typeof j['backing-filename-format'] === 'string' ? j['backing-filename-format'] : undefined;
  const specific = (j['format-specific'] as { data?: Record<string, unknown> } | undefined)?.data;
  const info: {
    -readonly [K in keyof ImageInfo]: ImageInfo[K];
  } = { format, virtualSize: num(j['virtual-size']), actualSize: num(j['actual-size']) };
  if (backingPath !== undefined)
    info.backing = { path: backingPath, ...(backingFormat !== undefined ? { format: backingFormat } : {}) };
  if (typeof specific?.compat === 'string') info.compat = specific.compat;
  if (typeof specific?.['lazy-refcounts'] === 'boolean') info.lazyRefcounts = specific['lazy-refcounts'];
  if (j['cluster-size'] !== undefined) info.clusterSize = num(j['cluster-size']);
  return info;
}

/**
 * What `Domain.migrate` and `Domain.migrateWithProgress` do before and
 * around the driver: the argument checks, the migration's `timeout` (an
 * abort of the job, reported as `OPERATION_TIMEOUT`), and progress as an
 * async iterator.
 *
 * @module
 */
import type { DomainJobInfo, DomainOwner, DomainRef, MigrateOptions } from './driver.js';
import { throwIfAborted, VirError } from './errors.js';

/**
 * A running migration (`Domain.migrateWithProgress`): its progress as an
 * async iterator and its outcome.
 */
export interface MigrationJob<T> {
  /**
   * Libvirt's job info while the migration runs, then once more at its end
   * (`type` `completed`, with the measured `downtime` where the driver has
   * it). A consumer slower than the updates gets the newest one, never a
   * backlog. Iteration ends when the migration does; it throws the
   * migration's error when it failed. One consumer.
   */
  readonly progress: AsyncIterable<DomainJobInfo>;
  /** The domain at the destination once the migration completed; rejects as `Domain.migrate` does. */
  readonly done: Promise<T>;
}

/** Runs the source driver's `domainMigrate` towards `dest`'s driver, with the facade's checks. */
export async function migrateDomainRef(
  src: DomainOwner,
  ref: DomainRef,
  dest: DomainOwner,
  opts: MigrateOptions,
): Promise<DomainRef> {
  src._writable('migrate');
  dest._writable('migrate');
  const { signal: user, timeout, ...rest } = opts;
  const bw = rest.bandwidth;
  if (bw !== undefined && (!Number.isSafeInteger(bw) || bw < 1))
    throw new VirError(
      'INVALID_ARG',
      'domain',
      `migration bandwidth must be a positive integer (MiB/s), got ${bw}`,
      {
        field: 'bandwidth',
      },
    );
  if (timeout !== undefined && (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0))
    throw new VirError('INVALID_ARG', 'domain', `invalid migration timeout ${String(timeout)} ms`, {
      field: 'timeout',
    });
  throwIfAborted(user, 'domain');
  const destDriver = dest._driverConnection();
  // at the timeout the job is aborted like a caller's abort (the guest runs on at the source)
  const deadline = timeout !== undefined ? new AbortController() : undefined;
  const timer = deadline ? setTimeout(() => deadline.abort(), timeout) : undefined;
  try {
    // The driver gets the caller's signal itself: an abort returns once the migration is undone
    // (the guest running here again), not at once as other calls do.
    return await src._domainCall<DomainRef>('domainMigrate', ref, {}, (d, closing) => {
      const signals = [closing, ...(user ? [user] : []), ...(deadline ? [deadline.signal] : [])];
      return d.domainMigrate!(ref, destDriver, {
        ...rest,
        signal: signals.length > 1 ? AbortSignal.any(signals) : closing,
      });
    });
  } catch (err) {
    if (
      deadline?.signal.aborted &&
      !user?.aborted &&
      err instanceof VirError &&
      err.code === 'OPERATION_ABORTED'
    ) {
      throw new VirError(
        'OPERATION_TIMEOUT',
        'domain',
        `migration of '${ref.name}' did not complete within ${timeout} ms: aborted, the guest runs on at the source`,
        { cause: err },
      );
    }
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Starts `run` with an `onProgress` that feeds the job's iterator (and the caller's own callback). */
export function migrationJob<T>(
  opts: MigrateOptions,
  run: (opts: MigrateOptions) => Promise<T>,
): MigrationJob<T> {
  const progress = new ProgressChannel();
  const mine = opts.onProgress;
  let done: Promise<T>;
  try {
    done = run({
      ...opts,
      onProgress: (info) => {
        progress.push(info);
        mine?.(info);
      },
    });
  } catch (err) {
    done = Promise.reject(err);
  }
  done.then(
    () => progress.end(),
    (err: unknown) => progress.end(err),
  );
  return { progress, done };
}

/** A single-slot channel: the newest job info not yet read, and the end. */
class ProgressChannel implements AsyncIterable<DomainJobInfo> {
  #latest: DomainJobInfo | undefined;
  #ended = false;
  #failure: { error: unknown } | undefined;
  #wake: (() => void) | undefined;
  #taken = false;

  push(info: DomainJobInfo): void {
    if (this.#ended) return;
    this.#latest = info;
    this.#notify();
  }

  end(error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error !== undefined) this.#failure = { error };
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<DomainJobInfo> {
    if (this.#taken)
      throw new VirError('OPERATION_INVALID', 'domain', "a migration's progress has one consumer");
    this.#taken = true;
    for (;;) {
      const info = this.#latest;
      if (info) {
        this.#latest = undefined;
        yield info;
        continue;
      }
      if (this.#ended) {
        if (this.#failure) throw this.#failure.error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
    }
  }
}

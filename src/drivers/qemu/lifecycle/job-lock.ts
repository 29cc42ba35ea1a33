/**
 * A per-domain job lock: one job at a time, in arrival order.
 *
 * Lifecycle calls are sequences of monitor commands and file writes; two of
 * them interleaving (a resume slipping between a suspend's `stop` and its
 * status write) would leave the recorded state wrong. Waiting for the lock
 * honours the caller's AbortSignal, and a waiter that gives up leaves the
 * queue without disturbing the others.
 *
 * @module
 */
import { VirError } from '../../../errors.js';

export class JobLock {
  #tail: Promise<void> = Promise.resolve();
  #holder: string | undefined;

  /** The job holding the lock, for error messages. */
  get holder(): string | undefined {
    return this.#holder;
  }

  /** Runs `fn` once every earlier job has finished. */
  async run<T>(job: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const previous = this.#tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The next job waits for ours whether we run, fail or give up waiting.
    this.#tail = previous.then(() => mine);
    try {
      await waitOrAbort(previous, signal, () => this.#holder ?? 'another job');
    } catch (err) {
      // Hand our turn on only once the job before us is done.
      void previous.then(release);
      throw err;
    }
    this.#holder = job;
    try {
      return await fn();
    } finally {
      this.#holder = undefined;
      release();
    }
  }
}

function waitOrAbort(p: Promise<void>, signal: AbortSignal | undefined, holder: () => string): Promise<void> {
  if (!signal) return p;
  const aborted = () =>
    new VirError('OPERATION_ABORTED', 'qemu', `gave up waiting for ${holder()} to finish`, {
      cause: signal.reason,
    });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(aborted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

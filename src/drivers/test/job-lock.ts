/**
 * One job at a time per domain, like libvirt's domain job: a call waits for
 * the previous call on the same domain to finish, so two calls never
 * interleave half-way (which only matters once injected latency makes calls
 * take time). Waiters are served in arrival order.
 *
 * @module
 */
import { VirError } from '../../errors.js';

export class JobLocks {
  readonly #tails = new Map<string, Promise<void>>();

  /** Resolves with the release function once `key` is free; rejects if `signal` aborts first. */
  acquire(key: string, signal: AbortSignal | undefined): Promise<() => void> {
    const prev = this.#tails.get(key);
    let free!: () => void;
    const mine = new Promise<void>((resolve) => {
      free = resolve;
    });
    const tail = prev ? prev.then(() => mine) : mine;
    this.#tails.set(key, tail);
    const release = () => {
      free();
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
    if (!prev) return Promise.resolve(release);
    return new Promise((resolve, reject) => {
      let gaveUp = false;
      const onAbort = () => {
        gaveUp = true;
        reject(abortError(signal));
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      void prev.then(() => {
        signal?.removeEventListener('abort', onAbort);
        // A waiter that gave up still holds its place in the queue: pass it on at once.
        if (gaveUp) release();
        else resolve(release);
      });
    });
  }

  /** Whether some job holds or waits for `key`. */
  busy(key: string): boolean {
    return this.#tails.has(key);
  }
}

function abortError(signal: AbortSignal | undefined): VirError {
  const r: unknown = signal?.reason;
  if (r instanceof VirError) return r;
  return new VirError('OPERATION_ABORTED', 'test', 'operation aborted while waiting for the domain job', {
    cause: r,
  });
}

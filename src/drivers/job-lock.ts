/**
 * Domain jobs, as libvirt's `virDomainObjBeginJob`: one job at a time per
 * domain, served in arrival order, every driver using the same lock.
 *
 * A lifecycle call is a sequence of steps (monitor commands, file writes,
 * injected latency in the test driver); two calls on one domain
 * interleaving half-way would leave its recorded state wrong. Waiting
 * honours the caller's AbortSignal, and a waiter that gives up leaves the
 * queue without disturbing the ones behind it. The job's kind is kept so an
 * error can say what the domain is busy with.
 *
 * @module
 */

import { whenAborted } from '../abort-listeners.js';
import { VirError, type VirErrorDomain } from '../errors.js';

interface Queue {
  /** Settles when the last job queued so far has finished. */
  tail: Promise<void>;
  /** The job now running, for error messages. */
  holder: string | undefined;
}

export class DomainJobs {
  readonly #queues = new Map<string, Queue>();
  readonly #subsystem: VirErrorDomain;

  /** `subsystem` is the error domain of the driver's OPERATION_ABORTED errors. */
  constructor(subsystem: VirErrorDomain) {
    this.#subsystem = subsystem;
  }

  /** Whether some job holds or waits for `key`. */
  busy(key: string): boolean {
    return this.#queues.has(key);
  }

  /** The kind of the job running on `key`, if any. */
  holder(key: string): string | undefined {
    return this.#queues.get(key)?.holder;
  }

  /**
   * Runs `fn` as job `job` on `key` once every earlier job on `key` has
   * finished; rejects with OPERATION_ABORTED if `signal` fires first.
   */
  async run<T>(key: string, job: string, fn: () => Promise<T> | T, signal?: AbortSignal): Promise<T> {
    let queue = this.#queues.get(key);
    if (!queue) {
      queue = { tail: Promise.resolve(), holder: undefined };
      this.#queues.set(key, queue);
    }
    const q = queue;
    const previous = q.tail;
    let release!: () => void;
    const mine = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The next job waits for ours whether we run, fail or give up waiting.
    const tail = previous.then(() => mine);
    q.tail = tail;
    const done = () => {
      release();
      // The last job out forgets the domain, so idle domains cost nothing.
      if (q.tail === tail && this.#queues.get(key) === q) this.#queues.delete(key);
    };
    try {
      await this.#wait(previous, signal, () => q.holder ?? 'another job');
    } catch (err) {
      // Hand our turn on only once the job before us is done.
      void previous.then(done);
      throw err;
    }
    q.holder = job;
    try {
      return await fn();
    } finally {
      q.holder = undefined;
      done();
    }
  }

  #wait(p: Promise<void>, signal: AbortSignal | undefined, holder: () => string): Promise<void> {
    if (!signal) return p;
    const aborted = () => {
      const reason: unknown = signal.reason;
      if (reason instanceof VirError) return reason;
      return new VirError('OPERATION_ABORTED', this.#subsystem, `gave up waiting for ${holder()} to finish`, {
        cause: reason,
      });
    };
    if (signal.aborted) return Promise.reject(aborted());
    // one listener on the signal however many jobs wait on it (a connection's
    // closing signal is every call's: twenty concurrent starts would add twenty)
    return new Promise((resolve, reject) => {
      const stop = whenAborted(signal, () => reject(aborted()));
      void p.then(() => {
        stop();
        resolve();
      });
    });
  }
}

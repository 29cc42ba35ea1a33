/**
 * A bounded async iterator over domain events.
 *
 * Drivers call listeners synchronously; this stream buffers for one
 * consumer so the driver never waits on it. When the buffer is full the
 * oldest event is dropped and counted: a harness that must not miss events
 * reads `dropped` (or sizes the buffer), and a slow dashboard simply sees the
 * newest state.
 *
 * @module
 */
import type { DomainEvent, DomainEventListener } from './driver.js';

export interface EventStreamOptions {
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
  /** Only events for which this returns true are buffered. */
  filter?: (event: DomainEvent) => boolean;
  /** Maximum buffered events before the oldest are dropped. Default 1024. */
  bufferSize?: number;
}

export class EventStream implements AsyncIterableIterator<DomainEvent> {
  readonly #buffer: DomainEvent[] = [];
  readonly #max: number;
  readonly #filter: ((event: DomainEvent) => boolean) | undefined;
  #waiter: ((result: IteratorResult<DomainEvent>) => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #onEnd: () => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.end();
  #ended = false;
  #dropped = 0;

  /** @internal created by `Connection.events()` */
  constructor(
    options: EventStreamOptions,
    subscribe: (listener: DomainEventListener) => () => void,
    onEnd: () => void,
  ) {
    this.#max = Math.max(1, options.bufferSize ?? 1024);
    this.#filter = options.filter;
    this.#onEnd = onEnd;
    this.#signal = options.signal;
    if (this.#signal?.aborted) {
      this.#ended = true;
      return;
    }
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    this.#unsubscribe = subscribe((event) => this.#push(event));
  }

  /** Events dropped because the consumer fell more than `bufferSize` behind. */
  get dropped(): number {
    return this.#dropped;
  }

  #push(event: DomainEvent): void {
    if (this.#ended || (this.#filter && !this.#filter(event))) return;
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w({ value: event, done: false });
      return;
    }
    if (this.#buffer.length >= this.#max) {
      this.#buffer.shift();
      this.#dropped++;
    }
    this.#buffer.push(event);
  }

  next(): Promise<IteratorResult<DomainEvent>> {
    const event = this.#buffer.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  return(): Promise<IteratorResult<DomainEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Stops the stream; buffered events are discarded and a waiting `next()` resolves as done. */
  end(): void {
    if (this.#ended && !this.#unsubscribe) return;
    this.#ended = true;
    this.#buffer.length = 0;
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    this.#signal?.removeEventListener('abort', this.#onAbort);
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.({ value: undefined, done: true });
    this.#onEnd();
  }
}

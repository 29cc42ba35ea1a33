/**
 * A bounded async iterator over domain events (and, with the same
 * buffering, the events of pools, networks and secrets).
 *
 * Drivers call listeners synchronously; this stream buffers for one
 * consumer so the driver never waits on it. When the buffer is full the
 * oldest event is dropped and counted: a harness that must not miss events
 * reads `dropped` (or sizes the buffer), and a slow dashboard simply sees the
 * newest state.
 *
 * @module
 */
import {
  type AnyDomainEvent,
  DOMAIN_EVENT_IDS,
  type DomainEvent,
  type DomainEventId,
  type DomainEventOf,
  type QemuMonitorEvent,
} from './domain-events.js';
import type { ObjectEvent } from './driver-objects.js';
import { VirError } from './errors.js';

/** Whatever an {@link EventStream} can carry: a domain event, a pool, network or secret event, or a raw QMP event. */
export type AnyEvent = AnyDomainEvent | ObjectEvent | QemuMonitorEvent;

const DOMAIN_IDS: ReadonlySet<string> = new Set(DOMAIN_EVENT_IDS);

/** What `Connection.events()` takes: which events, how many to buffer, when to end. */
export interface EventStreamOptions<E extends AnyEvent = DomainEvent> {
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
  /** Only events for which this returns true are buffered. */
  filter?: (event: E) => boolean;
  /** Also deliver reboot events (`type: 'reboot'`, libvirt's `VIR_DOMAIN_EVENT_ID_REBOOT`). Default false. */
  reboot?: boolean;
  /**
   * The domain event ids to deliver (`['lifecycle', 'rtc-change', ...]`, see
   * `DOMAIN_EVENT_IDS`); default `['lifecycle']`. `reboot: true` adds `reboot`.
   */
  ids?: readonly DomainEventId[];
  /** Maximum buffered events before the oldest are dropped. Default 1024. */
  bufferSize?: number;
}

/**
 * An async iterator of one consumer's events (domains, or pools, networks and secrets), with its
 * own buffer, so a slow consumer only loses its own oldest events.
 */
export class EventStream<E extends AnyEvent = DomainEvent> implements AsyncIterableIterator<E> {
  readonly #buffer: E[] = [];
  readonly #max: number;
  readonly #filter: ((event: E) => boolean) | undefined;
  readonly #ids: ReadonlySet<string>;
  #waiter: ((result: IteratorResult<E>) => void) | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #onEnd: () => void;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => this.end();
  #ended = false;
  #dropped = 0;

  /** @internal created by `Connection.events()` */
  constructor(
    options: EventStreamOptions<E>,
    subscribe: (listener: (event: AnyEvent) => void) => () => void,
    onEnd: () => void,
  ) {
    this.#max = Math.max(1, options.bufferSize ?? 1024);
    this.#filter = options.filter;
    this.#ids = streamIds(options);
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

  #push(any: AnyEvent): void {
    if (DOMAIN_IDS.has(any.type) && !this.#ids.has(any.type)) return;
    // Checked just above: E is the union of the ids asked for (or the object kind subscribed).
    const event = any as E;
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

  /** The next event, waiting for one when the buffer is empty; done once the stream has ended. */
  next(): Promise<IteratorResult<E>> {
    const event = this.#buffer.shift();
    if (event) return Promise.resolve({ value: event, done: false });
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  /** Ends the stream (what `break` in `for await` calls). */
  return(): Promise<IteratorResult<E>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The stream itself, so it works in `for await`. */
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

/**
 * The events of a stream opened with `ids: I[]` and `reboot: R`: those ids' events, and
 * the reboot event with `reboot: true`.
 */
export type StreamEvent<R extends boolean, I extends DomainEventId = 'lifecycle'> = DomainEventOf<
  I | (R extends true ? 'reboot' : never)
>;

/** The domain event ids a stream delivers, checked: `INVALID_ARG` naming `ids` for one libvirt lacks. */
export function streamIds(options: { ids?: readonly DomainEventId[]; reboot?: boolean }): Set<string> {
  const ids = new Set<string>(options.ids ?? ['lifecycle']);
  if (options.ids !== undefined && !Array.isArray(options.ids))
    throw new VirError('INVALID_ARG', 'connect', 'event ids must be an array', { field: 'ids' });
  for (const id of ids) {
    if (!DOMAIN_IDS.has(id))
      throw new VirError('INVALID_ARG', 'connect', `unknown domain event id '${id}'`, { field: 'ids' });
  }
  if (options.reboot === true) ids.add('reboot');
  return ids;
}

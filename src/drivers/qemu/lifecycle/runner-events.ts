/**
 * Events a runner emits: libvirt lifecycle events (the same shape the
 * driver seam uses), libvirt's separate reboot event, and every raw QMP
 * event for callers that want more (POWERDOWN, BALLOON_CHANGE, ...).
 *
 * @module
 */
import type { DomainLifecycleEvent, DomainRef } from '../../../driver.js';
import type { QmpError, QmpEvent } from '../qmp/index.js';

/** The guest reset (libvirt's `VIR_DOMAIN_EVENT_ID_REBOOT`). */
export interface DomainRebootEvent {
  readonly type: 'reboot';
  readonly domain: DomainRef;
  readonly timestamp: number;
}

/** A QMP event as QEMU sent it. */
export interface DomainMonitorEvent {
  readonly type: 'monitor';
  readonly domain: DomainRef;
  readonly event: QmpEvent;
  readonly timestamp: number;
}

/**
 * The monitor broke while QEMU runs on (libvirt's `VIR_DOMAIN_EVENT_ID_CONTROL_ERROR`): QEMU sent
 * what is not QMP, or the connection failed with an error rather than an end. The guest is left
 * running; calls that need the monitor fail from then on.
 */
export interface DomainControlErrorEvent {
  readonly type: 'control-error';
  readonly domain: DomainRef;
  readonly timestamp: number;
}

export type RunnerEvent =
  | DomainLifecycleEvent
  | DomainRebootEvent
  | DomainMonitorEvent
  | DomainControlErrorEvent;

/**
 * Whether the monitor ended the way libvirt calls a monitor error (its control-error event):
 * QEMU sent what is not QMP, or the socket failed with an error. An end of file (QEMU closing
 * it, as it does on its way out) or our own close is not one.
 */
export function monitorBroke(why: QmpError): boolean {
  return why.reason === 'malformed' || (why.reason === 'closed' && why.cause !== undefined);
}

export type RunnerEventListener = (event: RunnerEvent) => void;

/** Listeners called synchronously, and buffered async iterators on top of them. */
export class EventHub {
  readonly #listeners = new Set<RunnerEventListener>();

  subscribe(listener: RunnerEventListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  emit(event: RunnerEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(event);
      } catch {
        // A subscriber's bug must not break lifecycle handling.
      }
    }
  }

  /** Events from now on until `signal` fires or `return()` is called. */
  iterate(options: { signal?: AbortSignal; bufferSize?: number } = {}): AsyncIterableIterator<RunnerEvent> {
    const max = Math.max(1, options.bufferSize ?? 1024);
    const queue: RunnerEvent[] = [];
    let wake: ((r: IteratorResult<RunnerEvent>) => void) | undefined;
    let ended = options.signal?.aborted === true;
    const end = () => {
      ended = true;
      unsubscribe();
      options.signal?.removeEventListener('abort', end);
      queue.length = 0;
      const w = wake;
      wake = undefined;
      w?.({ value: undefined, done: true });
    };
    const unsubscribe = ended
      ? () => {}
      : this.subscribe((ev) => {
          if (wake) {
            const w = wake;
            wake = undefined;
            w({ value: ev, done: false });
            return;
          }
          if (queue.length >= max) queue.shift();
          queue.push(ev);
        });
    options.signal?.addEventListener('abort', end, { once: true });
    const it: AsyncIterableIterator<RunnerEvent> = {
      next: () => {
        const ev = queue.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          wake = resolve;
        });
      },
      return: () => {
        end();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }
}

/**
 * Where the test driver's pools, networks and secrets report their events,
 * as libvirt's test driver queues them (a pool's build is `created`, a
 * transient pool's or network's creation `started`), and the listeners of
 * each kind that `subscribe` registers.
 *
 * @module
 */
import type { ObjectEvent } from '../../driver-objects.js';

type Listener = (e: ObjectEvent) => void;

export interface ObjectEventSink {
  emit(event: ObjectEvent): void;
}

/** A sink that hands each event to the listeners of its type, synchronously and in order. */
export class ObjectEvents implements ObjectEventSink {
  readonly #listeners = new Set<{ type: ObjectEvent['type']; listener: Listener }>();

  emit(event: ObjectEvent): void {
    for (const l of [...this.#listeners]) if (l.type === event.type) l.listener(event);
  }

  /** Returns the function that removes the listener. */
  on<T extends ObjectEvent['type']>(
    type: T,
    listener: (e: Extract<ObjectEvent, { type: T }>) => void,
  ): () => void {
    const entry = { type, listener: listener as Listener };
    this.#listeners.add(entry);
    return () => this.#listeners.delete(entry);
  }
}

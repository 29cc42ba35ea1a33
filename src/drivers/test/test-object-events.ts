/**
 * Where the test driver's pools, networks and secrets report their
 * lifecycle (`defined`, `started`, `stopped`, `undefined`, `refreshed`),
 * libvirt's `VIR_*_EVENT_*` names in lower case. The facade does not deliver
 * these yet (`conn.events()` is about domains); the sink is the seam it
 * will use, and tests read it.
 *
 * @module
 */
import type { NetworkRef, SecretObjectRef, StoragePoolRef } from '../../driver-objects.js';

export type TestObjectEvent =
  | { readonly kind: 'storagePool'; readonly ref: StoragePoolRef; readonly event: string }
  | { readonly kind: 'network'; readonly ref: NetworkRef; readonly event: string }
  | { readonly kind: 'secret'; readonly ref: SecretObjectRef; readonly event: string };

export interface ObjectEventSink {
  emit(event: TestObjectEvent): void;
}

/** A sink that hands each event to its listeners, synchronously and in order. */
export class ObjectEvents implements ObjectEventSink {
  readonly #listeners = new Set<(e: TestObjectEvent) => void>();

  emit(event: TestObjectEvent): void {
    for (const l of [...this.#listeners]) l(event);
  }

  /** Returns the function that removes the listener. */
  on(listener: (e: TestObjectEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

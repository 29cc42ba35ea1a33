/**
 * A random (version 4) UUID for the test driver's new objects.
 *
 * Web Crypto's `crypto.randomUUID()` rather than `node:crypto`'s: Node loads
 * its crypto module only when this is first called, and opening
 * `test:///default` (whose objects all carry UUIDs already) never does.
 *
 * @module
 */

/** A new random UUID, lower case. */
export function newUuid(): string {
  return globalThis.crypto.randomUUID();
}

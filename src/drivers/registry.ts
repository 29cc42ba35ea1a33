/**
 * Which driver serves which URI. Built-in drivers are tried in order; a
 * program can add its own with {@link registerDriver} (tried first).
 *
 * @module
 */
import type { DriverFactory } from '../driver.js';
import type { ConnectUri } from '../uri.js';
import { qemuDriver } from './qemu/index.js';
import { remoteDriver } from './remote/index.js';
import { testDriver } from './test/index.js';

const registered: DriverFactory[] = [];
// Local drivers refuse URIs with a transport or a host, which the remote driver takes.
const builtin: readonly DriverFactory[] = [testDriver, qemuDriver, remoteDriver];

/** Adds a driver; it is consulted before the built-in ones. */
export function registerDriver(factory: DriverFactory): void {
  if (!registered.includes(factory)) registered.unshift(factory);
}

/** Removes a driver added with {@link registerDriver}. */
export function unregisterDriver(factory: DriverFactory): void {
  const i = registered.indexOf(factory);
  if (i >= 0) registered.splice(i, 1);
}

export function findDriver(uri: ConnectUri): DriverFactory | undefined {
  for (const f of registered) if (f.accepts(uri)) return f;
  for (const f of builtin) if (f.accepts(uri)) return f;
  return undefined;
}

/**
 * Which driver serves which URI. Built-in drivers are tried in order; a
 * program can add its own with {@link registerDriver} (tried first).
 *
 * The built-in drivers are imported only when a URI needs them: the QEMU
 * and remote drivers are most of the library's code, and a program (or
 * `virtkit -c test:///default list`) that only opens `test:///` should not
 * pay for loading them. Which URIs each one takes is decided here, from
 * the URI alone, so choosing a driver loads nothing.
 *
 * @module
 */
import type { DriverFactory } from '../driver.js';
import { type ConnectUri, isRemoteUri } from '../uri.js';

const registered: DriverFactory[] = [];

/** A built-in driver that is imported on its first `open`. */
function lazyDriver(
  name: string,
  accepts: (uri: ConnectUri) => boolean,
  load: () => Promise<DriverFactory>,
): DriverFactory {
  let loading: Promise<DriverFactory> | undefined;
  return {
    name,
    accepts,
    async open(options) {
      loading ??= load();
      return (await loading).open(options);
    },
  };
}

// Local drivers refuse URIs with a transport or a host, which the remote driver takes.
// Each rule is the same as the `accepts` of the driver it loads; test/cli/startup.test.ts
// checks that they agree on many URIs, so a change to one cannot leave the other behind.
const builtin: readonly DriverFactory[] = [
  lazyDriver(
    'test',
    (uri) => uri.driver === 'test' && !isRemoteUri(uri),
    async () => (await import('./test/index.js')).testDriver,
  ),
  lazyDriver(
    'qemu',
    (uri) => uri.driver === 'qemu' && !isRemoteUri(uri),
    async () => (await import('./qemu/index.js')).qemuDriver,
  ),
  lazyDriver(
    'remote',
    (uri) => isRemoteUri(uri) || uri.driver === 'remote',
    async () => (await import('./remote/index.js')).remoteDriver,
  ),
];

/** Adds a driver; it is consulted before the built-in ones. */
export function registerDriver(factory: DriverFactory): void {
  if (!registered.includes(factory)) registered.unshift(factory);
}

/** Removes a driver added with {@link registerDriver}. */
export function unregisterDriver(factory: DriverFactory): void {
  const i = registered.indexOf(factory);
  if (i >= 0) registered.splice(i, 1);
}

/** The driver that serves a URI: a registered one first, then the built-in ones in order. */
export function findDriver(uri: ConnectUri): DriverFactory | undefined {
  for (const f of registered) if (f.accepts(uri)) return f;
  for (const f of builtin) if (f.accepts(uri)) return f;
  return undefined;
}

/** The built-in drivers' names and URI rules, for the test that checks them against the drivers. */
export const builtinDrivers: readonly Pick<DriverFactory, 'name' | 'accepts'>[] = builtin;

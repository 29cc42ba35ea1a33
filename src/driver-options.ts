/**
 * The type of `connect()`'s `driverOptions`, chosen from the URI the way the
 * registry chooses the driver: a transport (`qemu+ssh://`), a host or the
 * `remote` scheme mean the remote driver; `test:///` and `qemu:///` their
 * local drivers. A misspelt option is then a type error where the URI is a
 * literal; where it is only known as `string`, the options of all three
 * drivers are allowed. A URI of another scheme (a driver added with
 * `registerDriver()`) takes any record.
 *
 * @module
 */
import type { QemuDriverOptions } from './drivers/qemu/options.js';
import type { RemoteDriverOptions } from './drivers/remote/options.js';
import type { TestDriverOptions } from './drivers/test/options.js';

export type { QemuDriverOptions, RemoteDriverOptions, TestDriverOptions };

/** Every built-in driver's options, for a URI known only as a `string`. */
export type AnyDriverOptions = TestDriverOptions & QemuDriverOptions & RemoteDriverOptions;

/** Options of a driver virtkit does not ship (see `registerDriver()`). */
export type OtherDriverOptions = Readonly<Record<string, unknown>>;

/** The `driverOptions` type for the URI `U`. */
export type DriverOptionsFor<U extends string> = string extends U
  ? AnyDriverOptions
  : U extends `${string}+${string}:${string}` | `remote:${string}`
    ? RemoteDriverOptions
    : U extends `${infer Scheme}://${infer Host}/${string}`
      ? Host extends ''
        ? LocalOptions<Scheme>
        : RemoteDriverOptions
      : U extends `${infer Scheme}:${string}`
        ? LocalOptions<Scheme>
        : AnyDriverOptions;

type LocalOptions<Scheme extends string> = Scheme extends 'test'
  ? TestDriverOptions
  : Scheme extends 'qemu'
    ? QemuDriverOptions
    : OtherDriverOptions;

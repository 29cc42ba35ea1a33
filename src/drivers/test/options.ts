/**
 * What `connect('test:///…', { driverOptions })` accepts.
 *
 * @module
 */
import type { TestControl } from './test-control.js';

/** The `driverOptions` of `test:///` URIs: a `TestControl` for fault injection. */
export type TestDriverOptions = {
  /** Injects failures, latency and guest crashes into the connection's calls. */
  control?: TestControl;
};

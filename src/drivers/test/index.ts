/**
 * The `test` driver: an in-memory hypervisor with libvirt's
 * `test:///default` semantics, for harnesses and demos.
 *
 * @module
 */
import type { DriverFactory } from '../../driver.js';
import { VirError } from '../../errors.js';
import { isRemoteUri } from '../../uri.js';
import { TestConnection } from './test-connection.js';

export const testDriver: DriverFactory = {
  name: 'test',
  accepts: (uri) => uri.driver === 'test' && !isRemoteUri(uri),
  async open({ uri }) {
    if (uri.path === '/default') return new TestConnection();
    if (uri.path.startsWith('/') && uri.path.length > 1) {
      throw new VirError(
        'NO_CONNECT',
        'test',
        `test driver config files are not supported yet (${uri.path})`,
      );
    }
    throw new VirError(
      'NO_CONNECT',
      'test',
      `test driver URI needs a path such as /default, got '${uri.uri}'`,
    );
  },
};

export { TestConnection };

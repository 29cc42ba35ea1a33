/**
 * What keeps `virtkit -c test:///default list` quick: the built-in drivers
 * are chosen from the URI without importing them, and only the chosen one
 * is loaded. The lazy entries must take exactly the URIs their drivers take.
 */
import { describe, expect, it } from 'vitest';
import { qemuDriver } from '../../src/drivers/qemu/index.js';
import { builtinDrivers } from '../../src/drivers/registry.js';
import { remoteDriver } from '../../src/drivers/remote/index.js';
import { testDriver } from '../../src/drivers/test/index.js';
import { parseUri } from '../../src/uri.js';

const URIS = [
  'test:///default',
  'test:///tmp/host.xml',
  'test+tcp://h/default',
  'test://h/default',
  'qemu:///system',
  'qemu:///session',
  'qemu+ssh://root@h/system',
  'qemu+unix:///system',
  'qemu://h/system',
  'remote:///system',
  'remote+tls://h/',
  'lxc:///system',
  'xen+ssh://h/',
];

describe('the built-in driver table', () => {
  const real = new Map([testDriver, qemuDriver, remoteDriver].map((d) => [d.name, d]));
  for (const uri of URIS) {
    it(`chooses for ${uri} as the drivers themselves would`, () => {
      const parsed = parseUri(uri);
      for (const lazy of builtinDrivers) {
        const driver = real.get(lazy.name);
        expect(driver, lazy.name).toBeDefined();
        expect(lazy.accepts(parsed), `${lazy.name} on ${uri}`).toBe(driver?.accepts(parsed));
      }
    });
  }
});

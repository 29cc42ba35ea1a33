/**
 * The test driver's secondary drivers together: storage, networks, secrets
 * and node devices of one connection, sharing one event sink. Each
 * connection gets fresh ones, as in libvirt.
 *
 * @module
 */

import { DEFAULT_NETWORK_XML, TestNetworks } from './test-networks.js';
import { DEFAULT_NODE_DEVICES, TestNodeDevices } from './test-nodedevs.js';
import { ObjectEvents } from './test-object-events.js';
import { TestSecrets } from './test-secrets.js';
import { DEFAULT_POOL_XML, TestStorage } from './test-storage.js';

/** What a connection starts with: each XML an active, persistent object (a pool with its volumes' XML). */
export interface TestObjectSetup {
  readonly pools: readonly (string | { readonly xml: string; readonly volumes: readonly string[] })[];
  readonly networks: readonly string[];
  readonly nodeDevices: readonly string[];
}

/** `test:///default`'s: `default-pool`, the `default` network and libvirt's four host devices. */
export const DEFAULT_OBJECTS: TestObjectSetup = {
  pools: [DEFAULT_POOL_XML],
  networks: [DEFAULT_NETWORK_XML],
  nodeDevices: DEFAULT_NODE_DEVICES,
};

export class TestObjects {
  readonly events = new ObjectEvents();
  readonly storage: TestStorage;
  readonly networks: TestNetworks;
  readonly secrets: TestSecrets;
  readonly nodeDevices: TestNodeDevices;

  constructor(setup: TestObjectSetup = { pools: [], networks: [], nodeDevices: [] }) {
    this.storage = new TestStorage(this.events, setup.pools);
    this.networks = new TestNetworks(this.events, setup.networks);
    this.secrets = new TestSecrets(this.events);
    this.nodeDevices = new TestNodeDevices(setup.nodeDevices);
  }
}

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
  readonly #setup: TestObjectSetup;
  #storage: TestStorage | undefined;
  #networks: TestNetworks | undefined;
  #secrets: TestSecrets | undefined;
  #nodeDevices: TestNodeDevices | undefined;

  // test:///default's own objects are built when first used: parsing its
  // pool, network and node devices is most of what opening it costs, and a
  // CLI `list` or a harness that only touches domains never needs them.
  // Nothing is lost by waiting: until a kind exists nothing can change it,
  // so it has no events to miss. Objects from a node file are built at once,
  // so a bad one fails the open, as in libvirt.
  constructor(setup: TestObjectSetup = { pools: [], networks: [], nodeDevices: [] }) {
    this.#setup = setup;
    if (setup !== DEFAULT_OBJECTS) {
      void this.storage;
      void this.networks;
      void this.nodeDevices;
    }
  }

  get storage(): TestStorage {
    this.#storage ??= new TestStorage(this.events, this.#setup.pools);
    return this.#storage;
  }
  get networks(): TestNetworks {
    this.#networks ??= new TestNetworks(this.events, this.#setup.networks);
    return this.#networks;
  }
  get secrets(): TestSecrets {
    this.#secrets ??= new TestSecrets(this.events);
    return this.#secrets;
  }
  get nodeDevices(): TestNodeDevices {
    this.#nodeDevices ??= new TestNodeDevices(this.#setup.nodeDevices);
    return this.#nodeDevices;
  }
}

/**
 * The test driver's virtual networks, in memory, with libvirt's test driver
 * state machine (checked against libvirt 9.0's through python3-libvirt):
 * starting a running network or undefining one is `OPERATION_INVALID`,
 * destroying an inactive one succeeds (libvirt's test driver does not
 * check), a transient network is gone once stopped, and the XML takes no
 * flags. DHCP leases and ports are not offered (`NO_SUPPORT`), as in
 * libvirt's test driver.
 *
 * @module
 */
import { NetworkDef } from '../../conf/network/network-def.js';
import type {
  ListObjectsFilter,
  NetworkDriver,
  NetworkEvent,
  NetworkLookup,
  NetworkRef,
  NetworkXmlOptions,
} from '../../driver-objects.js';
import { VirError } from '../../errors.js';
import { newUuid } from './new-uuid.js';
import type { ObjectEvents } from './test-object-events.js';

interface TestNetwork {
  def: NetworkDef;
  next: NetworkDef | undefined;
  active: boolean;
  persistent: boolean;
  autostart: boolean;
}

/** The initial network of `test:///default`, as libvirt's. */
export const DEFAULT_NETWORK_XML = `<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0'/>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
    </dhcp>
  </ip>
</network>`;

function ref(n: TestNetwork): NetworkRef {
  return { name: n.def.name!, uuid: n.def.uuid! };
}

function fail(
  code: 'OPERATION_INVALID' | 'OPERATION_FAILED' | 'INVALID_ARG' | 'INTERNAL_ERROR',
  msg: string,
): never {
  throw new VirError(code, 'network', msg);
}

export class TestNetworks implements NetworkDriver {
  readonly #nets = new Map<string, TestNetwork>();
  readonly #events: ObjectEvents;

  constructor(events: ObjectEvents, initial: readonly string[] = []) {
    this.#events = events;
    for (const xml of initial) {
      const n = this.#add(this.#parse(xml), false);
      n.active = true;
      n.persistent = true;
    }
  }

  #parse(xml: string): NetworkDef {
    const def = NetworkDef.fromXML(xml);
    def.uuid ??= newUuid();
    return def;
  }

  /** libvirt's duplicate rules (`virNetworkObjAssignDef`). */
  #add(def: NetworkDef, checkLive: boolean): TestNetwork {
    const byUuid = [...this.#nets.values()].find((n) => n.def.uuid === def.uuid);
    if (byUuid) {
      if (byUuid.def.name !== def.name)
        fail(
          'OPERATION_FAILED',
          `network '${byUuid.def.name}' is already defined with uuid ${byUuid.def.uuid}`,
        );
      if (checkLive && byUuid.active) fail('OPERATION_INVALID', `network is already active as '${def.name}'`);
      if (byUuid.active) byUuid.next = def;
      else byUuid.def = def;
      return byUuid;
    }
    const byName = this.#nets.get(def.name!);
    if (byName) fail('OPERATION_FAILED', `network '${def.name}' already exists with uuid ${byName.def.uuid}`);
    const n: TestNetwork = { def, next: undefined, active: false, persistent: false, autostart: false };
    this.#nets.set(def.name!, n);
    return n;
  }

  #find(r: NetworkRef): TestNetwork {
    const n = this.#nets.get(r.name);
    if (!n) throw new VirError('NO_NETWORK', 'network', `no network with matching name '${r.name}'`);
    return n;
  }

  #emit(n: TestNetwork, event: NetworkEvent['event']): void {
    this.#events.emit({ type: 'network', network: ref(n), event, timestamp: Date.now() });
  }

  subscribe(listener: (event: NetworkEvent) => void): () => void {
    return this.#events.on('network', listener);
  }

  async listNetworks(filter: ListObjectsFilter): Promise<NetworkRef[]> {
    return [...this.#nets.values()]
      .filter(
        (n) =>
          (filter.active === undefined || filter.active === n.active) &&
          (filter.persistent === undefined || filter.persistent === n.persistent) &&
          (filter.autostart === undefined || filter.autostart === n.autostart),
      )
      .map(ref);
  }

  async lookupNetwork(key: NetworkLookup): Promise<NetworkRef> {
    if ('uuid' in key) {
      const n = [...this.#nets.values()].find((x) => x.def.uuid === key.uuid);
      if (!n) throw new VirError('NO_NETWORK', 'network', `no network with matching uuid '${key.uuid}'`);
      return ref(n);
    }
    return ref(this.#find({ name: key.name, uuid: '' }));
  }

  async defineNetwork(xml: string): Promise<NetworkRef> {
    const n = this.#add(this.#parse(xml), false);
    n.persistent = true;
    this.#emit(n, 'defined');
    return ref(n);
  }

  async createNetwork(xml: string): Promise<NetworkRef> {
    const n = this.#add(this.#parse(xml), true);
    n.active = true;
    this.#emit(n, 'started');
    return ref(n);
  }

  async networkStart(r: NetworkRef): Promise<void> {
    const n = this.#find(r);
    if (n.active) fail('OPERATION_INVALID', `Network '${r.name}' is already running`);
    n.active = true;
    this.#emit(n, 'started');
  }

  async networkDestroy(r: NetworkRef): Promise<void> {
    const n = this.#find(r);
    n.active = false;
    if (n.next) {
      n.def = n.next;
      n.next = undefined;
    }
    this.#emit(n, 'stopped');
    if (!n.persistent) this.#nets.delete(r.name);
  }

  async networkUndefine(r: NetworkRef): Promise<void> {
    const n = this.#find(r);
    if (n.active) fail('OPERATION_INVALID', `Network '${r.name}' is still running`);
    this.#emit(n, 'undefined');
    this.#nets.delete(r.name);
  }

  async networkGetXml(r: NetworkRef, opts: NetworkXmlOptions = {}): Promise<string> {
    const n = this.#find(r);
    if (opts.inactive) fail('INVALID_ARG', 'unsupported flags (0x1) in function testNetworkGetXMLDesc');
    return n.def.toXML();
  }

  async networkGetAutostart(r: NetworkRef): Promise<boolean> {
    return this.#find(r).autostart;
  }

  async networkSetAutostart(r: NetworkRef, autostart: boolean): Promise<void> {
    this.#find(r).autostart = autostart;
  }

  async networkIsActive(r: NetworkRef): Promise<boolean> {
    return this.#find(r).active;
  }

  async networkIsPersistent(r: NetworkRef): Promise<boolean> {
    return this.#find(r).persistent;
  }

  async networkGetBridgeName(r: NetworkRef): Promise<string> {
    const n = this.#find(r);
    const bridge = n.def.bridge?.name;
    if (bridge === undefined) fail('INTERNAL_ERROR', `network '${r.name}' does not have a bridge name.`);
    return bridge;
  }
}

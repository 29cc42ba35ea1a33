/**
 * Virtual networks on a connection: `conn.networks` (list, lookup, define,
 * create) and {@link Network} handles (libvirt's `virNetworkPtr`), with
 * their DHCP leases and ports where the driver has them.
 *
 * @module
 */

import { NetworkDef } from './conf/network/network-def.js';
import { NetworkPortDef } from './conf/network/port-def.js';
import { toXml, type XmlSource } from './connection-args.js';
import type {
  CallOptions,
  ListObjectsFilter,
  NetworkDhcpLease,
  NetworkDriver,
  NetworkEvent,
  NetworkLookup,
  NetworkPortRef,
  NetworkRef,
  NetworkXmlOptions,
  ObjectEventOptions,
  ObjectOwner,
} from './driver-objects.js';
import { VirError } from './errors.js';
import { checkName, checkUuid, needCall, uuidOrName } from './object-args.js';

type Run<T> = (d: NetworkDriver, signal: AbortSignal) => Promise<T>;

function call<T>(owner: ObjectOwner, what: string, opts: CallOptions, run: Run<T>): Promise<T> {
  return owner._objectCall('networks', what, opts, run);
}

function write<T>(owner: ObjectOwner, what: string, opts: CallOptions, run: Run<T>): Promise<T> {
  try {
    owner._writable(what);
  } catch (err) {
    return Promise.reject(err);
  }
  return call(owner, what, opts, run);
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;

/** `conn.networks`: the virtual networks of a connection. */
export class Networks<C extends ObjectOwner = ObjectOwner> {
  readonly #conn: C;

  /** @internal made by `Connection` */
  constructor(conn: C) {
    this.#conn = conn;
  }

  /** Network lifecycle events (`defined`, `started`, `stopped`, `undefined`), buffered like `conn.events()`. */
  events(options: ObjectEventOptions<NetworkEvent> = {}) {
    return this.#conn._objectEvents('networks', options);
  }

  /** The networks that pass `filter` (`virConnectListAllNetworks`); every one without a filter. */
  async list(filter: ListObjectsFilter = {}, opts: CallOptions = {}): Promise<Network<C>[]> {
    const refs = await call(this.#conn, 'listNetworks', opts, (d, signal) =>
      d.listNetworks(filter, { signal }),
    );
    return refs.map((r) => new Network(this.#conn, r));
  }

  /** By name or UUID (a UUID-looking string is tried as a UUID first); `NO_NETWORK` when none matches. */
  async lookup(key: string | NetworkLookup, opts: CallOptions = {}): Promise<Network<C>> {
    let lookups: NetworkLookup[];
    if (typeof key === 'string') {
      const name = checkName(key, 'name', 'network');
      const uuid = uuidOrName(name);
      lookups = uuid ? [{ uuid }, { name }] : [{ name }];
    } else if (key && typeof key === 'object' && 'uuid' in key) {
      lookups = [{ uuid: checkUuid(key.uuid, 'uuid', 'network') }];
    } else if (key && typeof key === 'object' && 'name' in key) {
      lookups = [{ name: checkName(key.name, 'name', 'network') }];
    } else {
      throw new VirError('INVALID_ARG', 'network', 'a network lookup needs a name or a UUID');
    }
    const ref = await call(this.#conn, 'lookupNetwork', opts, async (d, signal) => {
      for (const [i, k] of lookups.entries()) {
        try {
          return await d.lookupNetwork(k, { signal });
        } catch (err) {
          if (i === lookups.length - 1 || !(err instanceof VirError && err.code === 'NO_NETWORK')) throw err;
        }
      }
      throw new VirError('NO_NETWORK', 'network', 'no network matches');
    });
    return new Network(this.#conn, ref);
  }

  /** Defines (or redefines) a persistent network (`virNetworkDefineXML`). */
  async define(def: XmlSource, opts: CallOptions = {}): Promise<Network<C>> {
    const xml = toXml(def);
    const ref = await write(this.#conn, 'defineNetwork', opts, (d, signal) =>
      d.defineNetwork(xml, { signal }),
    );
    return new Network(this.#conn, ref);
  }

  /** Creates and starts a transient network (`virNetworkCreateXML`). */
  async create(def: XmlSource, opts: CallOptions = {}): Promise<Network<C>> {
    const xml = toXml(def);
    const ref = await write(this.#conn, 'createNetwork', opts, (d, signal) =>
      d.createNetwork(xml, { signal }),
    );
    return new Network(this.#conn, ref);
  }
}

/** One virtual network (`virNetworkPtr`). */
export class Network<C extends ObjectOwner = ObjectOwner> {
  readonly #conn: C;
  readonly #ref: NetworkRef;

  /** @internal handles come from `conn.networks` */
  constructor(conn: C, ref: NetworkRef) {
    this.#conn = conn;
    this.#ref = ref;
  }

  /** The network's name, unique on its host. */
  get name(): string {
    return this.#ref.name;
  }

  /** The network's UUID, lower-case canonical. */
  get uuid(): string {
    return this.#ref.uuid;
  }

  /** The connection the handle was made on. */
  get connection(): C {
    return this.#conn;
  }

  /** Starts an inactive network (`virNetworkCreate`). */
  start(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'startNetwork', opts, (d, signal) => d.networkStart(this.#ref, { signal }));
  }

  /** Stops the network (`virNetworkDestroy`); a transient one is gone after it. */
  destroy(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'destroyNetwork', opts, (d, signal) => d.networkDestroy(this.#ref, { signal }));
  }

  /** Removes the definition (`virNetworkUndefine`). */
  undefine(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'undefineNetwork', opts, (d, signal) =>
      d.networkUndefine(this.#ref, { signal }),
    );
  }

  /** The network's `<network>` XML (`virNetworkGetXMLDesc`): live, or with `inactive` the persistent definition. */
  getXML(opts: NetworkXmlOptions = {}): Promise<string> {
    return call(this.#conn, 'getNetworkXML', opts, (d, signal) =>
      d.networkGetXml(this.#ref, { signal, ...(opts.inactive ? { inactive: true } : {}) }),
    );
  }

  /** The definition, typed. */
  async getDefinition(opts: NetworkXmlOptions = {}): Promise<NetworkDef> {
    return NetworkDef.fromXML(await this.getXML(opts));
  }

  /** Whether the network starts when its host does (`virNetworkGetAutostart`). */
  getAutostart(opts: CallOptions = {}): Promise<boolean> {
    return call(this.#conn, 'getNetworkAutostart', opts, (d, signal) =>
      d.networkGetAutostart(this.#ref, { signal }),
    );
  }

  /** Sets whether a persistent network starts when its host does (`virNetworkSetAutostart`). */
  setAutostart(autostart: boolean, opts: CallOptions = {}): Promise<void> {
    const on = autostart === true;
    return write(this.#conn, 'setNetworkAutostart', opts, (d, signal) =>
      d.networkSetAutostart(this.#ref, on, { signal }),
    );
  }

  /** Whether the network is running (`virNetworkIsActive`). */
  isActive(opts: CallOptions = {}): Promise<boolean> {
    return call(this.#conn, 'isNetworkActive', opts, (d, signal) => d.networkIsActive(this.#ref, { signal }));
  }

  /** Whether the network has a persistent definition (`virNetworkIsPersistent`); `false` for a transient one. */
  isPersistent(opts: CallOptions = {}): Promise<boolean> {
    return call(this.#conn, 'isNetworkPersistent', opts, (d, signal) =>
      d.networkIsPersistent(this.#ref, { signal }),
    );
  }

  /** The host bridge the network's guests attach to (`virNetworkGetBridgeName`). */
  getBridgeName(opts: CallOptions = {}): Promise<string> {
    return call(this.#conn, 'getNetworkBridgeName', opts, (d, signal) =>
      d.networkGetBridgeName(this.#ref, { signal }),
    );
  }

  /** The DHCP leases handed out on the network, all or those of one MAC (`virNetworkGetDHCPLeases`). */
  getDhcpLeases(opts: CallOptions & { mac?: string } = {}): Promise<NetworkDhcpLease[]> {
    const mac = opts.mac;
    if (mac !== undefined && (typeof mac !== 'string' || !MAC_RE.test(mac))) {
      return Promise.reject(
        new VirError('INVALID_ARG', 'network', `invalid MAC address '${String(mac)}'`, { field: 'mac' }),
      );
    }
    return call(this.#conn, 'getNetworkDhcpLeases', opts, (d, signal) =>
      needCall(d, 'networkGetDhcpLeases', 'networks')(this.#ref, mac?.toLowerCase(), { signal }),
    );
  }

  /** The network's ports (`virNetworkListAllPorts`). */
  async listPorts(opts: CallOptions = {}): Promise<NetworkPort<C>[]> {
    const refs = await call(this.#conn, 'listNetworkPorts', opts, (d, signal) =>
      needCall(d, 'networkListPorts', 'networks')(this.#ref, { signal }),
    );
    return refs.map((r) => new NetworkPort(this.#conn, r));
  }

  /** One port of the network by UUID (`virNetworkPortLookupByUUID`); `NO_NETWORK_PORT` when none matches. */
  async lookupPort(uuid: string, opts: CallOptions = {}): Promise<NetworkPort<C>> {
    const id = checkUuid(uuid, 'uuid', 'network');
    const ref = await call(this.#conn, 'lookupNetworkPort', opts, (d, signal) =>
      needCall(d, 'networkLookupPort', 'networks')(this.#ref, id, { signal }),
    );
    return new NetworkPort(this.#conn, ref);
  }

  /** Reserves a port from `<networkport>` XML (`virNetworkPortCreateXML`). */
  async createPort(def: XmlSource, opts: CallOptions = {}): Promise<NetworkPort<C>> {
    const xml = toXml(def);
    const ref = await write(this.#conn, 'createNetworkPort', opts, (d, signal) =>
      needCall(d, 'networkCreatePort', 'networks')(this.#ref, xml, { signal }),
    );
    return new NetworkPort(this.#conn, ref);
  }
}

/** One port of a network (`virNetworkPortPtr`): a guest interface's reservation on it. */
export class NetworkPort<C extends ObjectOwner = ObjectOwner> {
  readonly #conn: C;
  readonly #ref: NetworkPortRef;

  /** @internal handles come from a `Network` */
  constructor(conn: C, ref: NetworkPortRef) {
    this.#conn = conn;
    this.#ref = ref;
  }

  /** The port's UUID, lower-case canonical. */
  get uuid(): string {
    return this.#ref.uuid;
  }

  /** The name of the network the port is on. */
  get networkName(): string {
    return this.#ref.network.name;
  }

  /** The port's `<networkport>` XML (`virNetworkPortGetXMLDesc`). */
  getXML(opts: CallOptions = {}): Promise<string> {
    return call(this.#conn, 'getNetworkPortXML', opts, (d, signal) =>
      needCall(d, 'portGetXml', 'networks')(this.#ref, { signal }),
    );
  }

  /** The port, typed: its owner, MAC and how the network plugged it in. */
  async getDefinition(opts: CallOptions = {}): Promise<NetworkPortDef> {
    return NetworkPortDef.fromXML(await this.getXML(opts));
  }

  /** Releases the port (`virNetworkPortDelete`). */
  delete(opts: CallOptions = {}): Promise<void> {
    return write(this.#conn, 'deleteNetworkPort', opts, (d, signal) =>
      needCall(d, 'portDelete', 'networks')(this.#ref, { signal }),
    );
  }
}

/**
 * The network sub-driver over libvirt's remote program: networks, their
 * DHCP leases and ports.
 *
 * @module
 */
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
} from '../../driver-objects.js';
import { remoteProcedures as P, type RemoteNetworkDhcpLease } from './gen/remote-protocol.js';
import type { RemoteObjectEvents } from './remote-object-events.js';
import { listFlags, netRef, portRef, type RemoteCall, toNet, toPort } from './remote-object-values.js';
import { uuidToBytes } from './remote-values.js';

/** `VIR_NETWORK_XML_INACTIVE`. */
const XML_INACTIVE = 1;

function lease(l: RemoteNetworkDhcpLease): NetworkDhcpLease {
  return {
    iface: l.iface,
    expiryTime: Number(l.expirytime),
    // VIR_IP_ADDR_TYPE_IPV4 = 0, IPV6 = 1
    type: l.type === 1 ? 'ipv6' : 'ipv4',
    ...(l.mac !== null ? { mac: l.mac } : {}),
    ...(l.iaid !== null ? { iaid: l.iaid } : {}),
    ipaddr: l.ipaddr,
    prefix: l.prefix,
    ...(l.hostname !== null ? { hostname: l.hostname } : {}),
    ...(l.clientid !== null ? { clientId: l.clientid } : {}),
  };
}

export class RemoteNetworks implements NetworkDriver {
  readonly #call: RemoteCall;
  readonly #events: RemoteObjectEvents;

  constructor(call: RemoteCall, events: RemoteObjectEvents) {
    this.#call = call;
    this.#events = events;
  }

  subscribe(listener: (event: NetworkEvent) => void): () => void {
    return this.#events.subscribe('network', (e) => {
      if (e.type === 'network') listener(e);
    });
  }

  async listNetworks(filter: ListObjectsFilter, opts?: CallOptions): Promise<NetworkRef[]> {
    const r = await this.#call(
      P.CONNECT_LIST_ALL_NETWORKS,
      { need_results: 1, flags: listFlags(filter) },
      opts,
    );
    return r.nets.map(netRef);
  }

  async lookupNetwork(key: NetworkLookup, opts?: CallOptions): Promise<NetworkRef> {
    if ('uuid' in key)
      return netRef((await this.#call(P.NETWORK_LOOKUP_BY_UUID, { uuid: uuidToBytes(key.uuid) }, opts)).net);
    return netRef((await this.#call(P.NETWORK_LOOKUP_BY_NAME, { name: key.name }, opts)).net);
  }

  async defineNetwork(xml: string, opts?: CallOptions): Promise<NetworkRef> {
    return netRef((await this.#call(P.NETWORK_DEFINE_XML, { xml }, opts)).net);
  }

  async createNetwork(xml: string, opts?: CallOptions): Promise<NetworkRef> {
    return netRef((await this.#call(P.NETWORK_CREATE_XML, { xml }, opts)).net);
  }

  async networkStart(net: NetworkRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.NETWORK_CREATE, { net: toNet(net) }, opts);
  }

  async networkDestroy(net: NetworkRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.NETWORK_DESTROY, { net: toNet(net) }, opts);
  }

  async networkUndefine(net: NetworkRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.NETWORK_UNDEFINE, { net: toNet(net) }, opts);
  }

  async networkGetXml(net: NetworkRef, opts: NetworkXmlOptions = {}): Promise<string> {
    const flags = opts.inactive ? XML_INACTIVE : 0;
    return (await this.#call(P.NETWORK_GET_XML_DESC, { net: toNet(net), flags }, opts)).xml;
  }

  async networkGetAutostart(net: NetworkRef, opts?: CallOptions): Promise<boolean> {
    return (await this.#call(P.NETWORK_GET_AUTOSTART, { net: toNet(net) }, opts)).autostart !== 0;
  }

  async networkSetAutostart(net: NetworkRef, autostart: boolean, opts?: CallOptions): Promise<void> {
    await this.#call(P.NETWORK_SET_AUTOSTART, { net: toNet(net), autostart: autostart ? 1 : 0 }, opts);
  }

  async networkIsActive(net: NetworkRef, opts?: CallOptions): Promise<boolean> {
    return (await this.#call(P.NETWORK_IS_ACTIVE, { net: toNet(net) }, opts)).active !== 0;
  }

  async networkIsPersistent(net: NetworkRef, opts?: CallOptions): Promise<boolean> {
    return (await this.#call(P.NETWORK_IS_PERSISTENT, { net: toNet(net) }, opts)).persistent !== 0;
  }

  async networkGetBridgeName(net: NetworkRef, opts?: CallOptions): Promise<string> {
    return (await this.#call(P.NETWORK_GET_BRIDGE_NAME, { net: toNet(net) }, opts)).name;
  }

  async networkGetDhcpLeases(
    net: NetworkRef,
    mac: string | undefined,
    opts?: CallOptions,
  ): Promise<NetworkDhcpLease[]> {
    const args = { net: toNet(net), mac: mac ?? null, need_results: 1, flags: 0 };
    return (await this.#call(P.NETWORK_GET_DHCP_LEASES, args, opts)).leases.map(lease);
  }

  async networkListPorts(net: NetworkRef, opts?: CallOptions): Promise<NetworkPortRef[]> {
    const r = await this.#call(
      P.NETWORK_LIST_ALL_PORTS,
      { network: toNet(net), need_results: 1, flags: 0 },
      opts,
    );
    return r.ports.map(portRef);
  }

  async networkLookupPort(net: NetworkRef, uuid: string, opts?: CallOptions): Promise<NetworkPortRef> {
    const args = { network: toNet(net), uuid: uuidToBytes(uuid) };
    return portRef((await this.#call(P.NETWORK_PORT_LOOKUP_BY_UUID, args, opts)).port);
  }

  async networkCreatePort(net: NetworkRef, xml: string, opts?: CallOptions): Promise<NetworkPortRef> {
    return portRef(
      (await this.#call(P.NETWORK_PORT_CREATE_XML, { network: toNet(net), xml, flags: 0 }, opts)).port,
    );
  }

  async portGetXml(port: NetworkPortRef, opts?: CallOptions): Promise<string> {
    return (await this.#call(P.NETWORK_PORT_GET_XML_DESC, { port: toPort(port), flags: 0 }, opts)).xml;
  }

  async portDelete(port: NetworkPortRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.NETWORK_PORT_DELETE, { port: toPort(port), flags: 0 }, opts);
  }
}

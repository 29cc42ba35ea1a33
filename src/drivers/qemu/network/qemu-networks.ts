/**
 * The QEMU driver's virtual networks (`conn.networks` on `qemu:///system`
 * and `qemu:///session`), with libvirt's network driver state machine:
 * define-time defaults (UUID, a free `virbrN` bridge and a `52:54:00` MAC
 * for modes with a bridge of their own), libvirt's duplicate rules, a
 * transient network gone once stopped, a redefinition of a running network
 * applied when it stops, lifecycle events, DHCP leases from dnsmasq, and
 * the ports guests' interfaces take (net-ports.ts). The table is shared by
 * the roots' connections (net-table.ts); what starting does on the host is
 * net-start.ts.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { modeHasBridge } from '../../../conf/network/forward.js';
import { NetworkDef } from '../../../conf/network/network-def.js';
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
} from '../../../driver-objects.js';
import { VirError } from '../../../errors.js';
import { readLeases } from './dnsmasq.js';
import { linkExists } from './host-net.js';
import { NetPorts, type RunningOwners } from './net-ports.js';
import { networkAddress, networkDnsmasq } from './net-start.js';
import { type Net, NetTable, netError, netRef } from './net-table.js';

/** libvirt's template of the bridges it names. */
const BRIDGE_TEMPLATE = 'virbr%d';

/** A locally administered unicast MAC in QEMU's `52:54:00` range, as libvirt gives a network's bridge. */
function newBridgeMac(): string {
  const b = randomBytes(3);
  return `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}

export class QemuNetworks extends NetPorts implements NetworkDriver {
  /**
   * For these roots: the shared table. `owners` says which guests run, so
   * ports read back from disk whose guest stopped meanwhile are dropped.
   */
  static open(configRoot: string, runRoot: string, owners?: RunningOwners): QemuNetworks {
    return new QemuNetworks(NetTable.acquire(configRoot, runRoot), owners);
  }

  close(): void {
    this.table.release();
  }

  subscribe(listener: (event: NetworkEvent) => void): () => void {
    this.table.listeners.add(listener);
    return () => this.table.listeners.delete(listener);
  }

  /** libvirt's define-time defaults, and its bridge-name rules against the other networks. */
  #withDefaults(def: NetworkDef): NetworkDef {
    if (
      def.forwardMode === 'bridge' &&
      def.bridge?.name === undefined &&
      def.forward?.interfaces === undefined
    )
      throw new VirError(
        'XML_ERROR',
        'network',
        "forward mode='bridge' needs a bridge name or a forward dev",
        {
          field: '/network/bridge/@name',
        },
      );
    if (!modeHasBridge(def.forwardMode)) return def;
    const others = [...this.table.nets.values()].filter((n) => n.def.name !== def.name);
    const taken = (b: string) => others.some((n) => n.def.bridge?.name === b || n.next?.bridge?.name === b);
    const given = def.bridge?.name;
    if (given === undefined || given.includes('%d')) {
      const template = given ?? BRIDGE_TEMPLATE;
      let name: string | undefined;
      for (let i = 0; i < 256 && name === undefined; i++) {
        const cand = template.replace('%d', String(i));
        if (!taken(cand) && !linkExists(cand)) name = cand;
      }
      if (name === undefined)
        throw netError('INTERNAL_ERROR', `Bridge generation exceeded max id 256`, '/network/bridge/@name');
      def.bridge = { ...def.bridge, name };
    } else if (taken(given))
      throw netError('OPERATION_FAILED', `bridge name '${given}' already in use.`, '/network/bridge/@name');
    def.mac ??= newBridgeMac();
    return def;
  }

  /** libvirt's duplicate rules: a name has one UUID, a UUID one name. */
  #claim(def: NetworkDef, forStart: boolean): Net {
    for (const n of this.table.nets.values())
      if (n.def.uuid === def.uuid && n.def.name !== def.name)
        throw netError(
          'OPERATION_FAILED',
          `network '${n.def.name}' is already defined with uuid ${n.def.uuid}`,
        );
    const same = this.table.nets.get(def.name!);
    if (same && same.def.uuid !== def.uuid)
      throw netError('OPERATION_FAILED', `network '${def.name}' already exists with uuid ${same.def.uuid}`);
    if (same && forStart && same.active)
      throw netError('OPERATION_INVALID', `network is already active as '${def.name}'`);
    return same ?? { def, next: undefined, active: false, persistent: false, ports: new Map() };
  }

  async listNetworks(filter: ListObjectsFilter): Promise<NetworkRef[]> {
    await this.table.ready;
    return [...this.table.nets.values()]
      .filter(
        (n) =>
          (filter.active === undefined || filter.active === n.active) &&
          (filter.persistent === undefined || filter.persistent === n.persistent) &&
          (filter.autostart === undefined || filter.autostart === this.#autostart(n)),
      )
      .map(netRef);
  }

  async lookupNetwork(key: NetworkLookup): Promise<NetworkRef> {
    await this.table.ready;
    if ('uuid' in key) {
      const want = key.uuid.toLowerCase();
      const n = [...this.table.nets.values()].find((x) => x.def.uuid === want);
      if (!n) throw new VirError('NO_NETWORK', 'network', `no network with matching uuid '${key.uuid}'`);
      return netRef(n);
    }
    return netRef(this.table.find(key.name));
  }

  async defineNetwork(xml: string, opts: CallOptions = {}): Promise<NetworkRef> {
    await this.table.ready;
    const parsed = NetworkDef.fromXML(xml);
    return this.table.jobs.run(
      'networks',
      'define',
      () => {
        const n = this.#claim(parsed, false);
        // a running network keeps its bridge and MAC for the definition that follows, as libvirt's
        if (n.def !== parsed && parsed.bridge?.name === undefined && n.def.bridge?.name !== undefined)
          parsed.bridge = { ...parsed.bridge, name: n.def.bridge.name };
        if (n.def !== parsed && parsed.mac === undefined && n.def.mac !== undefined) parsed.mac = n.def.mac;
        const def = this.#withDefaults(parsed);
        this.table.store.writeConfig(def.name!, def.toXML());
        if (n.active) n.next = def;
        else n.def = def;
        n.persistent = true;
        this.table.nets.set(def.name!, n);
        this.table.emit(n, 'defined');
        return netRef(n);
      },
      opts.signal,
    );
  }

  async createNetwork(xml: string, opts: CallOptions = {}): Promise<NetworkRef> {
    await this.table.ready;
    const parsed = NetworkDef.fromXML(xml);
    return this.table.jobs.run(
      'networks',
      'create',
      async () => {
        const n = this.#claim(parsed, true);
        if (n.def !== parsed) n.next = n.def;
        n.def = this.#withDefaults(parsed);
        try {
          await this.table.start(n);
        } catch (err) {
          if (n.next) {
            n.def = n.next;
            n.next = undefined;
          }
          throw err;
        }
        this.table.nets.set(n.def.name!, n);
        this.table.emit(n, 'started');
        return netRef(n);
      },
      opts.signal,
    );
  }

  async networkStart(ref: NetworkRef, opts: CallOptions = {}): Promise<void> {
    await this.#job(ref, 'start', opts, async (n) => {
      if (n.active) throw netError('OPERATION_INVALID', `network is already active as '${ref.name}'`);
      await this.table.start(n);
      this.table.emit(n, 'started');
    });
  }

  async networkDestroy(ref: NetworkRef, opts: CallOptions = {}): Promise<void> {
    await this.#job(ref, 'destroy', opts, async (n) => {
      if (!n.active) throw netError('OPERATION_INVALID', `network '${ref.name}' is not active`);
      await this.table.stop(n);
      this.table.emit(n, 'stopped');
      if (!n.persistent) this.table.nets.delete(ref.name);
    });
  }

  async networkUndefine(ref: NetworkRef, opts: CallOptions = {}): Promise<void> {
    await this.#job(ref, 'undefine', opts, (n) => {
      if (!n.persistent) throw netError('OPERATION_INVALID', "can't undefine transient network");
      this.table.store.removeConfig(ref.name);
      n.persistent = false;
      n.next = undefined;
      this.table.emit(n, 'undefined');
      if (!n.active) this.table.nets.delete(ref.name);
    });
  }

  async networkGetXml(ref: NetworkRef, opts: NetworkXmlOptions = {}): Promise<string> {
    await this.table.ready;
    const n = this.table.find(ref.name);
    if (opts.inactive && n.next) return n.next.toXML({ inactive: true });
    return n.def.toXML(opts.inactive ? { inactive: true } : {});
  }

  async networkGetAutostart(ref: NetworkRef): Promise<boolean> {
    await this.table.ready;
    return this.#autostart(this.table.find(ref.name));
  }

  async networkSetAutostart(ref: NetworkRef, autostart: boolean, opts: CallOptions = {}): Promise<void> {
    await this.#job(ref, 'autostart', opts, (n) => {
      if (!n.persistent) throw netError('INVALID_ARG', 'cannot set autostart for transient network');
      this.table.store.setAutostart(ref.name, autostart);
    });
  }

  async networkIsActive(ref: NetworkRef): Promise<boolean> {
    await this.table.ready;
    return this.table.find(ref.name).active;
  }

  async networkIsPersistent(ref: NetworkRef): Promise<boolean> {
    await this.table.ready;
    return this.table.find(ref.name).persistent;
  }

  async networkGetBridgeName(ref: NetworkRef): Promise<string> {
    await this.table.ready;
    const n = this.table.find(ref.name);
    const bridge = n.def.bridge?.name;
    if (bridge === undefined)
      throw netError('INTERNAL_ERROR', `network '${ref.name}' does not have a bridge name.`);
    return bridge;
  }

  async networkGetDhcpLeases(ref: NetworkRef, mac: string | undefined): Promise<NetworkDhcpLease[]> {
    return this.leasesOf(ref.name, mac);
  }

  /** The unexpired leases of the network `name` (for `mac` only, if given). */
  async leasesOf(name: string, mac: string | undefined): Promise<NetworkDhcpLease[]> {
    await this.table.ready;
    const n = this.table.find(name);
    const addr = networkAddress(n.def);
    if (!n.active || !addr || n.def.bridge?.name === undefined) return [];
    const now = Math.floor(Date.now() / 1000);
    return readLeases(
      networkDnsmasq(n.def, this.table.store.stateDir),
      n.def.bridge.name,
      addr.prefix,
    ).filter(
      // libvirt leaves out expired leases
      (l) => (l.expiryTime === 0 || l.expiryTime > now) && (mac === undefined || l.mac === mac),
    );
  }

  #autostart(n: Net): boolean {
    return n.persistent && this.table.store.isAutostart(n.def.name!);
  }

  /** The network of a port reference, checked. */
  override portNet(port: NetworkPortRef): Net {
    return this.table.find(port.network.name);
  }

  async #job(ref: NetworkRef, what: string, opts: CallOptions, fn: (n: Net) => unknown): Promise<void> {
    await this.table.ready;
    // one lifecycle change at a time: a start's collision checks see every other network's bridge
    await this.table.jobs.run(
      'networks',
      what,
      async () => {
        await fn(this.table.find(ref.name));
      },
      opts.signal,
    );
  }
}

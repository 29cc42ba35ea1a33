/**
 * Network ports (`virNetworkPort*`): one per guest interface on a running
 * network, as libvirt's QEMU driver makes one for each `<interface
 * type='network'>` at start and deletes it at stop. A port says how the
 * hypervisor plugs the interface in (`<plug type='bridge'
 * bridge='virbr0'/>`); the guest's live `<source>` then names the port and
 * the bridge (`portid`, `bridge`). Ports live with their running network
 * and end with it; each is also a file in the network's state directory
 * (port-files.ts), so a program that reopens the roots finds them again.
 * A port read back that way whose owner is no running guest of these roots
 * (its guest stopped meanwhile) is dropped, as its guest would have
 * deleted it.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { NetworkPortDef } from '../../../conf/network/port-def.js';
import type { CallOptions, NetworkPortRef, NetworkRef } from '../../../driver-objects.js';
import { VirError } from '../../../errors.js';
import { type Net, type NetTable, netError, netRef } from './net-table.js';
import { removePort, savePort } from './port-files.js';

/** The UUIDs of the guests that run on these roots (to judge ports read back from disk). */
export type RunningOwners = () => Promise<ReadonlySet<string>>;

/** The ports a guest took at start, and how to give them back. */
export interface GuestPorts {
  /** Deletes the ports (their networks may have stopped meanwhile). */
  release(): void;
}

export abstract class NetPorts {
  readonly table: NetTable;
  readonly #owners: RunningOwners | undefined;

  constructor(table: NetTable, owners?: RunningOwners) {
    this.table = table;
    this.#owners = owners;
  }

  /** The table, loaded, without the ports read back from disk whose owner no longer runs. */
  protected async ready(): Promise<void> {
    await this.table.ready;
    if (this.table.restored.size === 0 || !this.#owners) return;
    const running = await this.#owners();
    for (const n of this.table.nets.values())
      for (const [uuid, port] of n.ports)
        if (this.table.restored.has(uuid) && !running.has(port.owner?.uuid ?? '')) this.#drop(n, uuid);
  }

  #drop(n: Net, uuid: string): void {
    n.ports.delete(uuid);
    this.table.restored.delete(uuid);
    removePort(this.table.store.stateDir, n.def.name!, uuid);
  }

  /** The network of a port reference. */
  abstract portNet(port: NetworkPortRef): Net;

  #port(ref: NetworkPortRef): { n: Net; port: NetworkPortDef } {
    const n = this.portNet(ref);
    const port = n.ports.get(ref.uuid);
    if (!port)
      throw new VirError('NO_NETWORK_PORT', 'network', `network port with UUID ${ref.uuid} does not exist`);
    return { n, port };
  }

  /** The plug of a port on `n`: its bridge. */
  #plug(n: Net): NonNullable<NetworkPortDef['plug']> {
    const bridge = n.def.bridge?.name;
    if (bridge === undefined)
      throw netError('INTERNAL_ERROR', `network '${n.def.name}' does not have a bridge name.`);
    return {
      type: 'bridge',
      bridge,
      ...(n.def.forwardMode !== 'bridge' ? { macTableManager: 'kernel' as const } : {}),
    };
  }

  #add(n: Net, port: NetworkPortDef): NetworkPortRef {
    if (!n.active) throw netError('OPERATION_INVALID', `network '${n.def.name}' is not active`);
    if (n.ports.has(port.uuid!))
      throw netError('OPERATION_FAILED', `Network port with UUID ${port.uuid} already exists`);
    port.plug = this.#plug(n);
    savePort(this.table.store.stateDir, n.def.name!, port);
    n.ports.set(port.uuid!, port);
    return { network: netRef(n), uuid: port.uuid! };
  }

  async networkListPorts(net: NetworkRef): Promise<NetworkPortRef[]> {
    await this.ready();
    const n = this.table.find(net.name);
    return [...n.ports.keys()].map((uuid) => ({ network: netRef(n), uuid }));
  }

  async networkLookupPort(net: NetworkRef, uuid: string): Promise<NetworkPortRef> {
    await this.ready();
    const ref = { network: net, uuid: uuid.toLowerCase() };
    this.#port(ref);
    return ref;
  }

  async networkCreatePort(net: NetworkRef, xml: string, _opts: CallOptions = {}): Promise<NetworkPortRef> {
    await this.ready();
    const port = NetworkPortDef.fromXML(xml);
    for (const [k, f] of [
      ['bandwidth', '/networkport/bandwidth'],
      ['vlan', '/networkport/vlan'],
      ['virtualPort', '/networkport/virtualport'],
    ] as const)
      if (port[k] !== undefined)
        throw new VirError('CONFIG_UNSUPPORTED', 'network', `'${k}' on a port is not supported yet`, {
          field: f,
        });
    return this.#add(this.table.find(net.name), port);
  }

  async portGetXml(ref: NetworkPortRef): Promise<string> {
    await this.ready();
    return this.#port(ref).port.toXML();
  }

  async portDelete(ref: NetworkPortRef): Promise<void> {
    await this.ready();
    this.#drop(this.#port(ref).n, ref.uuid);
  }

  /**
   * Takes a port for each `<interface type='network'>` of a guest about to
   * start and writes it into the live definition (`<source portid bridge>`),
   * as libvirt does. A network that is not running refuses the start; on any
   * failure the ports taken are given back.
   */
  async plugGuest(def: DomainDef): Promise<GuestPorts> {
    await this.ready();
    // what a previous run of this guest left (read back from disk, not yet judged) is stale now
    for (const n of this.table.nets.values())
      for (const [uuid, port] of n.ports)
        if (this.table.restored.has(uuid) && port.owner?.uuid === def.uuid) this.#drop(n, uuid);
    const taken: Array<{ n: Net; uuid: string }> = [];
    const release = () => {
      for (const t of taken) if (t.n.ports.has(t.uuid)) this.#drop(t.n, t.uuid);
    };
    try {
      for (const [i, nic] of (def.devices?.interfaces ?? []).entries()) {
        if (nic.type !== 'network') continue;
        const field = `/domain/devices/interface[${i + 1}]/source/@network`;
        const name = nic.source?.network;
        const n = name === undefined ? undefined : this.table.nets.get(name);
        if (!n)
          throw new VirError('NO_NETWORK', 'network', `no network with matching name '${name ?? ''}'`, {
            field,
          });
        if (!n.active) throw netError('OPERATION_INVALID', `network '${name}' is not active`, field);
        const port = NetworkPortDef.fromXML(
          `<networkport><uuid>${randomUUID()}</uuid><owner><name>${escapeText(def.name ?? '')}</name><uuid>${def.uuid}</uuid></owner><mac address='${nic.mac?.address ?? ''}'/></networkport>`,
        );
        const ref = this.#add(n, port);
        taken.push({ n, uuid: ref.uuid });
        nic.source = { ...nic.source, portid: ref.uuid, bridge: port.plug!.bridge! };
      }
    } catch (err) {
      release();
      throw err;
    }
    return { release };
  }
}

function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

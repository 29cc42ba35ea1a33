/**
 * The virtual networks of one pair of roots (config, run), in memory,
 * shared by every connection of this process on those roots: libvirt's
 * network driver's list. Definitions are in `<configRoot>/networks/`
 * (autostart marks in its `autostart/`), running networks' live
 * definitions and dnsmasq files in `<runRoot>/networks/`. Loaded when the
 * first connection opens: a network whose live file is there runs on when
 * its bridge is still there (it is forgotten, and its leftovers removed,
 * otherwise), with the ports it had (port-files.ts; which of them still
 * have a running owner is for net-ports.ts to judge); autostart networks
 * that do not run are started then, as libvirt's daemon starts them.
 *
 * @module
 */
import { NetworkDef } from '../../../conf/network/network-def.js';
import type { NetworkPortDef } from '../../../conf/network/port-def.js';
import type { NetworkEvent, NetworkRef } from '../../../driver-objects.js';
import { VirError } from '../../../errors.js';
import { DomainJobs } from '../../job-lock.js';
import { PoolStore } from '../storage/pool-store.js';
import { SharedByRoots } from '../storage/shared-by-roots.js';
import { linkExists } from './host-net.js';
import { startNetwork, stopNetwork } from './net-start.js';
import { loadPorts, removePorts } from './port-files.js';

export interface Net {
  def: NetworkDef;
  /** A redefinition made while the network ran, applied when it stops. */
  next: NetworkDef | undefined;
  active: boolean;
  persistent: boolean;
  /** The ports of a running network, by UUID (gone when it stops). */
  readonly ports: Map<string, NetworkPortDef>;
}

export function netRef(n: Net): NetworkRef {
  return { name: n.def.name!, uuid: n.def.uuid! };
}

export function netError(
  code: 'OPERATION_INVALID' | 'OPERATION_FAILED' | 'INVALID_ARG' | 'INTERNAL_ERROR',
  message: string,
  field?: string,
): VirError {
  return new VirError(code, 'network', message, field !== undefined ? { field } : {});
}

const shared = new SharedByRoots<NetTable>();

export class NetTable {
  /** Networks by name, in definition order. */
  readonly nets = new Map<string, Net>();
  readonly store: PoolStore;
  readonly jobs = new DomainJobs('network');
  readonly listeners = new Set<(e: NetworkEvent) => void>();
  /** The UUIDs of ports read back from disk at load, whose owners are still to be checked. */
  readonly restored = new Set<string>();
  readonly ready: Promise<void>;
  readonly #key: string;

  private constructor(key: string, configRoot: string, runRoot: string) {
    this.#key = key;
    this.store = new PoolStore(configRoot, runRoot, { dir: 'networks', what: 'network', domain: 'network' });
    this.ready = this.#load();
  }

  /** The shared table for these roots; pair every call with {@link release}. */
  static acquire(configRoot: string, runRoot: string): NetTable {
    return shared.acquire(configRoot, runRoot, (key) => new NetTable(key, configRoot, runRoot));
  }

  release(): void {
    shared.release(this.#key, this);
  }

  emit(n: Net, event: NetworkEvent['event']): void {
    const e: NetworkEvent = { type: 'network', network: netRef(n), event, timestamp: Date.now() };
    for (const l of this.listeners) l(e);
  }

  find(name: string): Net {
    const n = this.nets.get(name);
    if (!n) throw new VirError('NO_NETWORK', 'network', `no network with matching name '${name}'`);
    return n;
  }

  /** Starts `n` on the host and records it as running. */
  async start(n: Net): Promise<void> {
    // ports a stopped run left on disk (a process killed mid-stop) are no one's
    removePorts(this.store.stateDir, n.def.name!);
    await startNetwork(n.def, this.store.stateDir);
    n.active = true;
    try {
      this.store.writeState(n.def.name!, n.def.toXML());
    } catch (err) {
      n.active = false;
      await stopNetwork(n.def, this.store.stateDir);
      throw err;
    }
  }

  /** Stops `n` on the host; a redefinition made meanwhile takes its place. */
  async stop(n: Net): Promise<void> {
    await stopNetwork(n.def, this.store.stateDir);
    n.active = false;
    for (const uuid of n.ports.keys()) this.restored.delete(uuid);
    n.ports.clear();
    removePorts(this.store.stateDir, n.def.name!);
    this.store.removeState(n.def.name!);
    if (n.next) {
      n.def = n.next;
      n.next = undefined;
    }
  }

  async #load(): Promise<void> {
    const { persistent, live: running } = this.store.loadDefinitions((xml) => NetworkDef.fromXML(xml));
    for (const [name, def] of persistent)
      this.nets.set(name, { def, next: undefined, active: false, persistent: true, ports: new Map() });
    for (const [name, live] of running) {
      const n = this.nets.get(name);
      // a network whose own bridge is gone (the host rebooted, someone deleted it) no longer runs
      if (live.forwardMode !== 'bridge' && !linkExists(live.bridge?.name ?? '')) {
        await stopNetwork(live, this.store.stateDir);
        removePorts(this.store.stateDir, name);
        this.store.removeState(name);
        continue;
      }
      const ports = new Map(loadPorts(this.store.stateDir, name).map((p) => [p.uuid!, p]));
      for (const uuid of ports.keys()) this.restored.add(uuid);
      if (n) {
        for (const [uuid, p] of ports) n.ports.set(uuid, p);
        n.next = n.def.toXML() === live.toXML() ? undefined : n.def;
        n.def = live;
        n.active = true;
      } else
        this.nets.set(name, {
          def: live,
          next: undefined,
          active: true,
          persistent: false,
          ports,
        });
    }
    for (const n of this.nets.values()) {
      if (n.active || !n.persistent || !this.store.isAutostart(n.def.name!)) continue;
      try {
        await this.start(n);
        this.emit(n, 'started');
      } catch {
        // an autostart network that cannot start stays inactive; a start by hand says why
      }
    }
  }
}

/**
 * Events of pools, networks, secrets and node devices from the daemon:
 * while anyone listens to a kind, one callback registration per event id of
 * that kind (a pool's lifecycle and refresh, a network's lifecycle, a
 * secret's lifecycle and value change, a node device's lifecycle and
 * update), the messages decoded into our events, and a
 * barrier that calls made meanwhile wait behind so none of their events is
 * missed (as for domain events).
 *
 * @module
 */
import type {
  NetworkEvent,
  NodeDeviceEvent,
  ObjectEvent,
  SecretEvent,
  StoragePoolEvent,
} from '../../driver-objects.js';
import { remoteProcedures as P, REMOTE_PROGRAM } from './gen/remote-protocol.js';
import { netRef, poolRef, secretRef } from './remote-object-values.js';
import type { RpcClient, ServerMessage } from './rpc-client.js';

type Kind = ObjectEvent['type'];

/** libvirt's lifecycle event numbers of each kind, by name. */
const POOL_EVENTS: readonly StoragePoolEvent['event'][] = [
  'defined',
  'undefined',
  'started',
  'stopped',
  'created',
  'deleted',
];
const NETWORK_EVENTS: readonly NetworkEvent['event'][] = ['defined', 'undefined', 'started', 'stopped'];
const SECRET_EVENTS: readonly SecretEvent['event'][] = ['defined', 'undefined'];
const NODE_DEVICE_EVENTS: readonly NodeDeviceEvent['event'][] = [
  'created',
  'deleted',
  'defined',
  'undefined',
];

/** The event ids registered for each kind: lifecycle (0) and, for pools, secrets and node devices, the second id (1). */
const EVENT_IDS: Record<Kind, readonly number[]> = {
  storagePool: [0, 1],
  network: [0],
  secret: [0, 1],
  nodeDevice: [0, 1],
};

interface Registration {
  /** Callback ids as the daemon gave them; a promise while registering. */
  readonly ids: Promise<number[]>;
}

export class RemoteObjectEvents {
  readonly #client: RpcClient;
  readonly #listeners = new Map<Kind, Set<(e: ObjectEvent) => void>>();
  readonly #registrations = new Map<Kind, Registration>();
  #barrier: Promise<unknown> | null = null;
  #unlisten: (() => void) | null = null;

  constructor(client: RpcClient) {
    this.#client = client;
  }

  get barrier(): Promise<unknown> | null {
    return this.#barrier;
  }

  subscribe(kind: Kind, listener: (e: ObjectEvent) => void): () => void {
    const set = this.#listeners.get(kind) ?? new Set();
    this.#listeners.set(kind, set);
    set.add(listener);
    if (!this.#registrations.has(kind) && !this.#client.closed) this.#register(kind);
    return () => {
      set.delete(listener);
      if (set.size === 0 && !this.#client.closed) void this.#deregister(kind).catch(() => {});
    };
  }

  #register(kind: Kind): void {
    this.#unlisten ??= this.#client.onMessage((msg) => this.#onMessage(msg));
    const ids = Promise.all(
      EVENT_IDS[kind].map(async (eventID) => {
        switch (kind) {
          case 'storagePool':
            return (
              await this.#client.call(P.CONNECT_STORAGE_POOL_EVENT_REGISTER_ANY, { eventID, pool: null })
            ).callbackID;
          case 'network':
            return (await this.#client.call(P.CONNECT_NETWORK_EVENT_REGISTER_ANY, { eventID, net: null }))
              .callbackID;
          case 'secret':
            return (await this.#client.call(P.CONNECT_SECRET_EVENT_REGISTER_ANY, { eventID, secret: null }))
              .callbackID;
          case 'nodeDevice':
            return (await this.#client.call(P.CONNECT_NODE_DEVICE_EVENT_REGISTER_ANY, { eventID, dev: null }))
              .callbackID;
        }
      }),
    );
    this.#registrations.set(kind, { ids });
    const barrier = ids.finally(() => {
      if (this.#barrier === barrier) this.#barrier = null;
    });
    this.#barrier = barrier;
    ids.catch(() => {
      if (this.#registrations.get(kind)?.ids === ids) this.#registrations.delete(kind);
    });
  }

  async #deregister(kind: Kind): Promise<void> {
    const reg = this.#registrations.get(kind);
    this.#registrations.delete(kind);
    if (!reg) return;
    const ids = await reg.ids.catch(() => [] as number[]);
    for (const callbackID of ids) {
      if (this.#client.closed) return;
      if (kind === 'storagePool')
        await this.#client.call(P.CONNECT_STORAGE_POOL_EVENT_DEREGISTER_ANY, { callbackID });
      else if (kind === 'network')
        await this.#client.call(P.CONNECT_NETWORK_EVENT_DEREGISTER_ANY, { callbackID });
      else if (kind === 'nodeDevice')
        await this.#client.call(P.CONNECT_NODE_DEVICE_EVENT_DEREGISTER_ANY, { callbackID });
      else await this.#client.call(P.CONNECT_SECRET_EVENT_DEREGISTER_ANY, { callbackID });
    }
  }

  /** Drops every registration (before the connection closes). */
  async unregister(): Promise<void> {
    for (const kind of [...this.#registrations.keys()]) await this.#deregister(kind);
    this.#unlisten?.();
    this.#unlisten = null;
  }

  #emit(event: ObjectEvent): void {
    for (const l of this.#listeners.get(event.type) ?? []) l(event);
  }

  #onMessage(msg: ServerMessage): void {
    if (msg.header.prog !== REMOTE_PROGRAM) return;
    const proc = msg.header.proc;
    const timestamp = Date.now();
    if (proc === P.STORAGE_POOL_EVENT_LIFECYCLE.procedure) {
      const m = P.STORAGE_POOL_EVENT_LIFECYCLE.decodeMsg!(msg.body);
      const event = POOL_EVENTS[m.event];
      if (event) this.#emit({ type: 'storagePool', pool: poolRef(m.pool), event, timestamp });
    } else if (proc === P.STORAGE_POOL_EVENT_REFRESH.procedure) {
      const m = P.STORAGE_POOL_EVENT_REFRESH.decodeMsg!(msg.body);
      this.#emit({ type: 'storagePool', pool: poolRef(m.pool), event: 'refreshed', timestamp });
    } else if (proc === P.NETWORK_EVENT_LIFECYCLE.procedure) {
      const m = P.NETWORK_EVENT_LIFECYCLE.decodeMsg!(msg.body);
      const event = NETWORK_EVENTS[m.event];
      if (event) this.#emit({ type: 'network', network: netRef(m.net), event, timestamp });
    } else if (proc === P.SECRET_EVENT_LIFECYCLE.procedure) {
      const m = P.SECRET_EVENT_LIFECYCLE.decodeMsg!(msg.body);
      const event = SECRET_EVENTS[m.event];
      if (event) this.#emit({ type: 'secret', secret: secretRef(m.secret), event, timestamp });
    } else if (proc === P.NODE_DEVICE_EVENT_LIFECYCLE.procedure) {
      const m = P.NODE_DEVICE_EVENT_LIFECYCLE.decodeMsg!(msg.body);
      const event = NODE_DEVICE_EVENTS[m.event];
      if (event) this.#emit({ type: 'nodeDevice', device: { name: m.dev.name }, event, timestamp });
    } else if (proc === P.NODE_DEVICE_EVENT_UPDATE.procedure) {
      const m = P.NODE_DEVICE_EVENT_UPDATE.decodeMsg!(msg.body);
      this.#emit({ type: 'nodeDevice', device: { name: m.dev.name }, event: 'updated', timestamp });
    } else if (proc === P.SECRET_EVENT_VALUE_CHANGED.procedure) {
      const m = P.SECRET_EVENT_VALUE_CHANGED.decodeMsg!(msg.body);
      this.#emit({ type: 'secret', secret: secretRef(m.secret), event: 'valueChanged', timestamp });
    }
  }
}

/**
 * Domain events from the daemon: one registration per event id while
 * anyone listens for it (the callback form when the daemon has it; the
 * legacy form, lifecycle only, else), the messages decoded into our events
 * (`remote-domain-events.ts`), and a barrier that calls made meanwhile
 * wait behind so none of their events is missed.
 *
 * @module
 */
import { DOMAIN_EVENT_IDS, type DomainEventId } from '../../domain-events.js';
import type { DomainEventListener } from '../../driver.js';
import { remoteProcedures as P, REMOTE_PROGRAM } from './gen/remote-protocol.js';
import { decodeDomainEvent } from './remote-domain-events.js';
import type { RpcClient, ServerMessage } from './rpc-client.js';

/** One event id's registration with the daemon: its callback id (null: legacy form), or a promise while registering. */
interface Registration {
  readonly id: DomainEventId;
  readonly callback: Promise<number | null>;
  /** Listeners that asked for the id. */
  users: number;
}

export class RemoteEvents {
  readonly #client: RpcClient;
  readonly #listeners = new Map<DomainEventListener, ReadonlySet<DomainEventId>>();
  readonly #registrations = new Map<DomainEventId, Registration>();
  #barrier: Promise<unknown> | null = null;
  #unlistenMessages: (() => void) | null = null;
  /** The daemon has REMOTE_EVENT_CALLBACK (callback ids per registration). */
  useCallbacks = false;

  constructor(client: RpcClient) {
    this.#client = client;
  }

  /** While a registration is on its way: calls wait behind it so no event of theirs is missed. */
  get barrier(): Promise<unknown> | null {
    return this.#barrier;
  }

  subscribe(
    listener: DomainEventListener,
    ids: ReadonlySet<DomainEventId> = new Set(['lifecycle']),
  ): () => void {
    const wanted = new Set(ids);
    this.#listeners.set(listener, wanted);
    this.#unlistenMessages ??= this.#client.onMessage((msg) => this.#onMessage(msg));
    for (const id of wanted) this.#use(id);
    return () => {
      if (!this.#listeners.delete(listener)) return;
      for (const id of wanted) this.#release(id);
      if (this.#listeners.size === 0) {
        this.#unlistenMessages?.();
        this.#unlistenMessages = null;
      }
    };
  }

  #use(id: DomainEventId): void {
    const existing = this.#registrations.get(id);
    if (existing) {
      existing.users++;
      return;
    }
    if (this.#client.closed) return;
    const eventID = DOMAIN_EVENT_IDS.indexOf(id);
    const callback = (async (): Promise<number | null> => {
      if (this.useCallbacks) {
        const r = await this.#client.call(P.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, {
          eventID,
          dom: null,
        });
        return r.callbackID;
      }
      // the legacy messages of other ids are not decoded: without callbacks, lifecycle only
      if (id !== 'lifecycle') return null;
      await this.#client.call(P.CONNECT_DOMAIN_EVENT_REGISTER_ANY, { eventID });
      return null;
    })();
    const reg: Registration = { id, callback, users: 1 };
    this.#registrations.set(id, reg);
    const barrier = Promise.all([this.#barrier, callback]).finally(() => {
      if (this.#barrier === barrier) this.#barrier = null;
    });
    this.#barrier = barrier;
    // a failed registration leaves the listeners without these events; the facade sees it on close
    callback.catch(() => {
      if (this.#registrations.get(id) === reg) this.#registrations.delete(id);
    });
  }

  #release(id: DomainEventId): void {
    const reg = this.#registrations.get(id);
    if (!reg || --reg.users > 0) return;
    this.#registrations.delete(id);
    if (!this.#client.closed) void this.#deregister(reg).catch(() => {});
  }

  async #deregister(reg: Registration): Promise<void> {
    const cb = await reg.callback.catch(() => undefined);
    if (cb === undefined || this.#client.closed) return;
    if (cb !== null) {
      await this.#client.call(P.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, { callbackID: cb });
    } else if (reg.id === 'lifecycle') {
      await this.#client.call(P.CONNECT_DOMAIN_EVENT_DEREGISTER_ANY, { eventID: 0 });
    }
  }

  /** Drops every registration with the daemon. */
  async unregister(): Promise<void> {
    const regs = [...this.#registrations.values()];
    this.#registrations.clear();
    this.#unlistenMessages?.();
    this.#unlistenMessages = null;
    await Promise.all(regs.map((r) => this.#deregister(r)));
  }

  #onMessage(msg: ServerMessage): void {
    // the QEMU program's messages (remote-qemu.ts) have numbers of their own
    if (msg.header.prog !== REMOTE_PROGRAM) return;
    const ev = decodeDomainEvent(msg.header.proc, msg.body);
    if (!ev) return;
    for (const [l, ids] of this.#listeners) if (ids.has(ev.type)) l(ev);
  }
}

/**
 * Domain lifecycle events from the daemon: one registration while anyone
 * listens (the callback form when the daemon has it, else the legacy one),
 * the messages decoded into our events, and a barrier that calls made
 * meanwhile wait behind so none of their events is missed.
 *
 * @module
 */
import type { DomainEventListener } from '../../driver.js';
import { detailName, eventName } from './domain-names.js';
import {
  decRemoteDomainEventCallbackLifecycleMsg,
  decRemoteDomainEventLifecycleMsg,
  remoteProcedures as P,
  type RemoteNonnullDomain,
} from './gen/remote-protocol.js';
import { toRef } from './remote-values.js';
import type { RpcClient, ServerMessage } from './rpc-client.js';

const VIR_DOMAIN_EVENT_ID_LIFECYCLE = 0;

export class RemoteEvents {
  readonly #client: RpcClient;
  readonly #listeners = new Set<DomainEventListener>();
  /** Callback id of our lifecycle registration, or a promise while registering. */
  #registration: Promise<number | null> | null = null;
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

  subscribe(listener: DomainEventListener): () => void {
    this.#listeners.add(listener);
    if (!this.#registration && !this.#client.closed) this.#register();
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0 && this.#registration && !this.#client.closed) {
        void this.unregister().catch(() => {});
      }
    };
  }

  #register(): void {
    this.#unlistenMessages = this.#client.onMessage((msg) => this.#onMessage(msg));
    const registration = (async (): Promise<number | null> => {
      if (this.useCallbacks) {
        const r = await this.#client.call(P.CONNECT_DOMAIN_EVENT_CALLBACK_REGISTER_ANY, {
          eventID: VIR_DOMAIN_EVENT_ID_LIFECYCLE,
          dom: null,
        });
        return r.callbackID;
      }
      await this.#client.call(P.CONNECT_DOMAIN_EVENT_REGISTER_ANY, {
        eventID: VIR_DOMAIN_EVENT_ID_LIFECYCLE,
      });
      return null;
    })();
    this.#registration = registration;
    const barrier = registration.finally(() => {
      if (this.#barrier === barrier) this.#barrier = null;
    });
    this.#barrier = barrier;
    // a failed registration leaves the listeners without events; the facade sees it on close
    registration.catch(() => {
      if (this.#registration === registration) this.#registration = null;
    });
  }

  /** Drops our registration with the daemon, if there is one. */
  async unregister(): Promise<void> {
    const registration = this.#registration;
    this.#registration = null;
    this.#unlistenMessages?.();
    this.#unlistenMessages = null;
    if (!registration) return;
    const id = await registration.catch(() => undefined);
    if (id === undefined || this.#client.closed) return;
    if (id === null) {
      await this.#client.call(P.CONNECT_DOMAIN_EVENT_DEREGISTER_ANY, {
        eventID: VIR_DOMAIN_EVENT_ID_LIFECYCLE,
      });
    } else {
      await this.#client.call(P.CONNECT_DOMAIN_EVENT_CALLBACK_DEREGISTER_ANY, { callbackID: id });
    }
  }

  #onMessage(msg: ServerMessage): void {
    const proc = msg.header.proc;
    let lifecycle: { dom: RemoteNonnullDomain; event: number; detail: number };
    if (proc === P.DOMAIN_EVENT_CALLBACK_LIFECYCLE.procedure) {
      lifecycle = decRemoteDomainEventCallbackLifecycleMsg(msg.body).msg;
    } else if (proc === P.DOMAIN_EVENT_LIFECYCLE.procedure) {
      lifecycle = decRemoteDomainEventLifecycleMsg(msg.body);
    } else {
      return;
    }
    const event = eventName(lifecycle.event);
    if (!event) return;
    const ev = {
      type: 'lifecycle' as const,
      domain: toRef(lifecycle.dom),
      event,
      detail: detailName(event, lifecycle.detail),
      timestamp: Date.now(),
    };
    for (const l of this.#listeners) l(ev);
  }
}

/**
 * libvirt-qemu over the wire: the QEMU program (`qemu_protocol.x`, a second
 * program beside the remote one on the same connection) for the monitor
 * passthrough (`virDomainQemuMonitorCommand`, QMP or HMP), the agent
 * passthrough (`virDomainQemuAgentCommand`) and the monitor event tap
 * (`virConnectDomainQemuMonitorEventRegister`): one registration while
 * anyone listens, the callers' domain and name filters applied by the facade.
 *
 * @module
 */

import type { QemuMonitorEvent } from '../../domain-events.js';
import type { CallOptions, DomainRef } from '../../driver.js';
import type { AgentCallOptions } from '../../driver-agent.js';
import { VirError } from '../../errors.js';
import type { QemuMonitorReply, QemuMonitorRequest } from '../../qemu-monitor.js';
import { qemuProcedures as Q, QEMU_PROGRAM } from './gen/qemu-protocol.js';
import type { RemoteCall } from './remote-object-values.js';
import { toRef, toRemote } from './remote-values.js';
import type { RpcClient, ServerMessage } from './rpc-client.js';

/** `VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP`. */
const MONITOR_COMMAND_HMP = 1;
/** `VIR_DOMAIN_QEMU_AGENT_COMMAND_DEFAULT`: the daemon's own agent timeout. */
const AGENT_TIMEOUT_DEFAULT = -1;

/** `virDomainQemuMonitorCommand`: QEMU's reply (QMP, without libvirt's id) or the HMP text. */
export async function remoteMonitorCommand(
  call: RemoteCall,
  dom: DomainRef,
  req: QemuMonitorRequest,
  opts: CallOptions & { timeout?: number } = {},
): Promise<QemuMonitorReply | string> {
  const hmp = req.kind === 'hmp';
  const cmd = hmp
    ? req.commandLine
    : JSON.stringify(
        req.arguments ? { execute: req.execute, arguments: req.arguments } : { execute: req.execute },
      );
  const { result } = await call(
    Q.DOMAIN_MONITOR_COMMAND,
    { dom: toRemote(dom), cmd, flags: hmp ? MONITOR_COMMAND_HMP : 0 },
    opts,
  );
  return hmp ? result : monitorReply(result);
}

/** QEMU's reply as libvirt passes it on (with the id libvirt gave the command): `return` or `error`. */
export function monitorReply(text: string): QemuMonitorReply {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new VirError('RPC', 'rpc', `monitor reply is not JSON: ${(err as Error).message}`);
  }
  const o = (parsed && typeof parsed === 'object' ? parsed : {}) as Record<string, unknown>;
  if ('return' in o) return { return: o.return };
  const e = o.error as Record<string, unknown> | undefined;
  if (e && typeof e === 'object' && typeof e.class === 'string')
    return { error: { class: e.class, desc: typeof e.desc === 'string' ? e.desc : '' } };
  throw new VirError('RPC', 'rpc', `monitor reply has neither 'return' nor 'error': ${text.slice(0, 200)}`);
}

/**
 * `virDomainQemuAgentCommand`: the agent's reply text. Our timeout is in
 * milliseconds, libvirt's in whole seconds (rounded up); without one the
 * daemon's default applies. The call itself waits a little longer than the
 * agent may, so the daemon's timeout error is the one seen.
 */
export async function remoteAgentCommand(
  call: RemoteCall,
  dom: DomainRef,
  command: string,
  opts: AgentCallOptions = {},
): Promise<string> {
  const timeout =
    opts.timeout === undefined ? AGENT_TIMEOUT_DEFAULT : Math.max(1, Math.ceil(opts.timeout / 1000));
  const { result } = await call(
    Q.DOMAIN_AGENT_COMMAND,
    { dom: toRemote(dom), cmd: command, timeout, flags: 0 },
    {
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.timeout !== undefined ? { timeout: opts.timeout + 10_000 } : {}),
    },
  );
  if (result === null) throw new VirError('INTERNAL_ERROR', 'qemu', 'the daemon returned no agent reply');
  return result;
}

/**
 * The monitor event tap: one registration with the daemon, for every
 * domain and event name, while anyone listens. The daemon keeps one such
 * callback per connection ("event callback already tracked" for a second,
 * whatever its filter), so the callers' filters are applied here (by the
 * facade), as libvirt's own client does.
 */
export class RemoteMonitorEvents {
  readonly #client: RpcClient;
  readonly #listeners = new Set<(event: QemuMonitorEvent) => void>();
  /** The daemon's callback id, or the registration on its way. */
  #callback: Promise<number> | null = null;
  #barrier: Promise<unknown> | null = null;
  #unlisten: (() => void) | null = null;

  constructor(client: RpcClient) {
    this.#client = client;
  }

  /** While the registration is on its way: calls wait behind it so none of their events is missed. */
  get barrier(): Promise<unknown> | null {
    return this.#barrier;
  }

  subscribe(listener: (event: QemuMonitorEvent) => void): () => void {
    // a listener added twice still gets each event once, and its removal is the one that counts
    const entry = (event: QemuMonitorEvent) => listener(event);
    this.#listeners.add(entry);
    if (!this.#callback && !this.#client.closed) this.#register();
    return () => {
      if (!this.#listeners.delete(entry) || this.#listeners.size > 0) return;
      this.#unlisten?.();
      this.#unlisten = null;
      const cb = this.#callback;
      this.#callback = null;
      if (cb) void this.#deregister(cb);
    };
  }

  #register(): void {
    this.#unlisten = this.#client.onMessage((msg) => this.#onMessage(msg));
    const callback = this.#client
      .call(Q.CONNECT_DOMAIN_MONITOR_EVENT_REGISTER, { dom: null, event: null, flags: 0 })
      .then((r) => r.callbackID);
    this.#callback = callback;
    // a failed registration leaves the listeners without events; the next subscriber tries again
    callback.catch(() => {
      if (this.#callback === callback) this.#callback = null;
    });
    const barrier = callback.finally(() => {
      if (this.#barrier === barrier) this.#barrier = null;
    });
    barrier.catch(() => {});
    this.#barrier = barrier;
  }

  async #deregister(callback: Promise<number>): Promise<void> {
    const callbackID = await callback.catch(() => undefined);
    if (callbackID === undefined || this.#client.closed) return;
    await this.#client.call(Q.CONNECT_DOMAIN_MONITOR_EVENT_DEREGISTER, { callbackID }).catch(() => {});
  }

  /** Drops the registration with the daemon (at close). */
  async unregister(): Promise<void> {
    this.#listeners.clear();
    this.#unlisten?.();
    this.#unlisten = null;
    const cb = this.#callback;
    this.#callback = null;
    if (cb) await this.#deregister(cb);
  }

  #onMessage(msg: ServerMessage): void {
    // the QEMU program's procedure numbers overlap the remote program's
    if (msg.header.prog !== QEMU_PROGRAM || msg.header.proc !== Q.DOMAIN_MONITOR_EVENT.procedure) return;
    const m = Q.DOMAIN_MONITOR_EVENT.decodeMsg!(msg.body);
    const event: QemuMonitorEvent = {
      type: 'qemu-monitor',
      domain: toRef(m.dom),
      event: m.event,
      seconds: Number(m.seconds),
      micros: m.micros,
      details: eventDetails(m.details),
    };
    for (const l of this.#listeners) l(event);
  }
}

/** The event's `data` as libvirt sends it: JSON text of an object, or none. */
function eventDetails(text: string | null): Readonly<Record<string, unknown>> | undefined {
  if (text === null) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `dom.agent`: the calls a domain answers through its guest agent
 * (qemu-guest-agent on a `<channel type='unix'>` with target
 * `org.qemu.guest_agent.0`). Each is libvirt's call of the same purpose;
 * drivers lacking one answer `NO_SUPPORT`. A guest whose agent is not
 * connected fails at once with `AGENT_UNRESPONSIVE`, one that does not
 * answer in time with `AGENT_COMMAND_TIMEOUT`, a command the agent does not
 * know with `OPERATION_UNSUPPORTED`, a domain without the channel with
 * `ARGUMENT_UNSUPPORTED`.
 *
 * @module
 */

import type { CallOptions, DomainOwner, DomainRef } from './driver.js';
import type {
  AgentCallOptions,
  DomainFsInfo,
  DomainInterface,
  GuestOsInfo,
  GuestTime,
  GuestUser,
  SetTimeArg,
} from './driver-agent.js';
import { VirError } from './errors.js';

/** The guest agent calls of one domain; `dom.agent` of a {@link Domain} handle. */
export class DomainAgent {
  readonly #conn: DomainOwner;
  readonly #ref: () => DomainRef;

  /** @internal made by `Domain` */
  constructor(conn: DomainOwner, ref: () => DomainRef) {
    this.#conn = conn;
    this.#ref = ref;
  }

  /** Resolves when the agent answers `guest-ping`. */
  ping(opts: AgentCallOptions = {}): Promise<void> {
    return this.#call('domainAgentPing', opts, true, (d, o) => d.domainAgentPing!(this.#ref(), o));
  }

  /** The guest OS as the agent reports it (`guest-get-osinfo`, libvirt's `os` guest info). */
  getOsInfo(opts: AgentCallOptions = {}): Promise<GuestOsInfo> {
    return this.#call('domainGetGuestOsInfo', opts, true, (d, o) => d.domainGetGuestOsInfo!(this.#ref(), o));
  }

  /** The users logged in to the guest (`guest-get-users`, libvirt's `users` guest info). */
  getUsers(opts: AgentCallOptions = {}): Promise<GuestUser[]> {
    return this.#call('domainGetGuestUsers', opts, true, (d, o) => d.domainGetGuestUsers!(this.#ref(), o));
  }

  /** The guest's host name as its agent says (`virDomainGetHostname` with the agent source). */
  getHostname(opts: AgentCallOptions = {}): Promise<string> {
    return this.#call('domainGetHostname', opts, false, (d, o) =>
      d.domainGetHostname!(this.#ref(), { ...o, source: 'agent' }),
    );
  }

  /** The guest's interfaces and their addresses as its agent lists them (`guest-network-get-interfaces`). */
  getInterfaceAddresses(opts: AgentCallOptions = {}): Promise<DomainInterface[]> {
    return this.#call('domainInterfaceAddresses', opts, true, (d, o) =>
      d.domainInterfaceAddresses!(this.#ref(), 'agent', o),
    );
  }

  /**
   * Freezes the guest's filesystems (`virDomainFSFreeze`): all of them, or those mounted at
   * `mountpoints`. Resolves to the number frozen.
   */
  async fsFreeze(mountpoints?: readonly string[], opts: AgentCallOptions = {}): Promise<number> {
    const points = checkMountpoints(mountpoints);
    return this.#call('domainFsFreeze', opts, true, (d, o) => d.domainFsFreeze!(this.#ref(), points, o));
  }

  /** Thaws the frozen filesystems (`virDomainFSThaw`); resolves to the number thawed. */
  async fsThaw(mountpoints?: readonly string[], opts: AgentCallOptions = {}): Promise<number> {
    const points = checkMountpoints(mountpoints);
    return this.#call('domainFsThaw', opts, true, (d, o) => d.domainFsThaw!(this.#ref(), points, o));
  }

  /** The guest's mounted filesystems and the disks they are on (`virDomainGetFSInfo`). */
  fsInfo(opts: AgentCallOptions = {}): Promise<DomainFsInfo[]> {
    return this.#call('domainGetFsInfo', opts, true, (d, o) => d.domainGetFsInfo!(this.#ref(), o));
  }

  /** The guest's clock (`virDomainGetTime`). */
  getTime(opts: AgentCallOptions = {}): Promise<GuestTime> {
    return this.#call('domainGetTime', opts, true, (d, o) => d.domainGetTime!(this.#ref(), o));
  }

  /**
   * Sets the guest's clock (`virDomainSetTime`) to `time`, or with `{ sync: true }` from its
   * hardware clock (what a guest resumed after a long pause needs).
   */
  async setTime(time: SetTimeArg, opts: AgentCallOptions = {}): Promise<void> {
    const arg = checkTime(time);
    return this.#call('domainSetTime', opts, true, (d, o) => d.domainSetTime!(this.#ref(), arg, o));
  }

  /**
   * Sets a guest user's password (`virDomainSetUserPassword`); with `encrypted` the password is
   * already crypt(3)ed. The password goes to the agent only: never into a log or an error.
   */
  setUserPassword(
    user: string,
    password: string,
    opts: AgentCallOptions & { encrypted?: boolean } = {},
  ): Promise<void> {
    if (typeof user !== 'string' || user === '')
      return Promise.reject(
        new VirError('INVALID_ARG', 'domain', 'user name must be a non-empty string', { field: 'user' }),
      );
    if (typeof password !== 'string')
      return Promise.reject(
        new VirError('INVALID_ARG', 'domain', 'password must be a string', { field: 'password' }),
      );
    return this.#call('domainSetUserPassword', opts, true, (d, o) =>
      d.domainSetUserPassword!(this.#ref(), user, password, {
        ...o,
        ...(opts.encrypted ? { encrypted: true } : {}),
      }),
    );
  }

  /**
   * Sends one command of the agent's own protocol (`virDomainQemuAgentCommand`), e.g.
   * `'{"execute":"guest-info"}'`, and resolves to the agent's reply as JSON text. Like libvirt
   * this taints the domain: virtkit cannot know what the command changed.
   */
  command(command: string, opts: AgentCallOptions = {}): Promise<string> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(command);
    } catch {
      parsed = undefined;
    }
    const execute = (parsed as { execute?: unknown } | undefined)?.execute;
    if (typeof parsed !== 'object' || parsed === null || typeof execute !== 'string')
      return Promise.reject(
        new VirError('INVALID_ARG', 'domain', 'an agent command is a JSON object with an "execute" string', {
          field: 'command',
        }),
      );
    return this.#call('domainAgentCommand', opts, true, (d, o) =>
      d.domainAgentCommand!(this.#ref(), command, o),
    );
  }

  #call<T>(
    method: Parameters<DomainOwner['_domainCall']>[0],
    opts: AgentCallOptions,
    write: boolean,
    run: (
      driver: Parameters<Parameters<DomainOwner['_domainCall']>[3]>[0],
      opts: AgentCallOptions,
    ) => Promise<T>,
  ): Promise<T> {
    try {
      if (write) this.#conn._writable(method.slice(6).toLowerCase());
      checkAgentTimeout(opts.timeout);
    } catch (err) {
      return Promise.reject(err);
    }
    const timeout = opts.timeout;
    return this.#conn._domainCall(method, this.#ref(), ownTimeout(opts), (d, signal) =>
      run(d, { signal, ...(timeout !== undefined ? { timeout } : {}) }),
    );
  }
}

/**
 * The facade's options of a call whose `timeout` the driver applies itself (agent and monitor
 * calls answer AGENT_COMMAND_TIMEOUT / their own code), so the generic call timeout stays out.
 */
export function ownTimeout(opts: CallOptions): CallOptions {
  return opts.signal ? { signal: opts.signal } : {};
}

/** An agent call's `timeout`: whole milliseconds, at least 1. */
export function checkAgentTimeout(timeout: unknown): void {
  if (timeout === undefined) return;
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout < 1)
    throw new VirError('INVALID_ARG', 'domain', `invalid agent timeout ${String(timeout)} ms`, {
      field: 'timeout',
    });
}

function checkMountpoints(points: readonly string[] | undefined): readonly string[] | undefined {
  if (points === undefined) return undefined;
  if (!Array.isArray(points))
    throw new VirError('INVALID_ARG', 'domain', 'mountpoints must be an array of paths', {
      field: 'mountpoints',
    });
  for (const [i, p] of points.entries()) {
    if (typeof p !== 'string' || p === '')
      throw new VirError('INVALID_ARG', 'domain', `mountpoint ${i} must be a non-empty string`, {
        field: `mountpoints[${i}]`,
      });
  }
  return points.length === 0 ? undefined : [...points];
}

function checkTime(time: SetTimeArg): SetTimeArg {
  if (time && typeof time === 'object' && 'sync' in time && time.sync === true) return { sync: true };
  const t = time as Partial<GuestTime> | undefined;
  if (!t || typeof t !== 'object' || !Number.isSafeInteger(t.seconds))
    throw new VirError('INVALID_ARG', 'domain', 'time needs whole seconds (or { sync: true })', {
      field: 'seconds',
    });
  const ns = t.nseconds ?? 0;
  if (!Number.isSafeInteger(ns) || ns < 0 || ns > 999_999_999)
    throw new VirError('INVALID_ARG', 'domain', `nseconds must be 0 to 999999999, got ${String(ns)}`, {
      field: 'nseconds',
    });
  return { seconds: t.seconds as number, nseconds: ns };
}

/**
 * The guest agent calls of the QEMU driver, each as libvirt's QEMU driver
 * makes it: the domain must be running (`OPERATION_INVALID`), have the agent
 * channel (`ARGUMENT_UNSUPPORTED`) and the guest's port open
 * (`AGENT_UNRESPONSIVE`); then one qemu-guest-agent command, its reply turned
 * into libvirt's public shape. An agent error is `OPERATION_UNSUPPORTED` for
 * a command it does not have (or has disabled), else `INTERNAL_ERROR` with
 * the agent's words.
 *
 * `QemuConnection` extends {@link QemuAgentCalls}, so that file only says
 * where a domain's entry comes from.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { DomainRef } from '../../../driver.js';
import {
  AGENT_DEFAULT_TIMEOUT_MS,
  type AgentCallOptions,
  type DomainFsInfo,
  type DomainInterface,
  type DomainIpAddress,
  type GuestOsInfo,
  type GuestTime,
  type GuestUser,
  type HostnameSource,
  type InterfaceAddressSource,
  type PowerOptions,
  type SetTimeArg,
} from '../../../driver-agent.js';
import type { NetworkDhcpLease } from '../../../driver-objects.js';
import { VirError } from '../../../errors.js';
import { appendDomainLog } from '../lifecycle/index.js';
import { parseReply } from './agent-client.js';
import { AgentSession } from './agent-session.js';
import { type Entry, isActive } from './domain-entry.js';
import { agentInterfaces, arpInterfaces, hostIfname } from './interface-sources.js';

type Obj = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const list = (v: unknown): Obj[] =>
  Array.isArray(v) ? v.filter((x): x is Obj => typeof x === 'object' && x !== null) : [];

/** The guest agent methods of `DriverConnection`, for a driver that finds running QEMU guests. */
export abstract class QemuAgentCalls {
  /** The entry of a domain this process manages (`what` refused on another's). */
  protected abstract agentEntry(dom: DomainRef, opts: AgentCallOptions, what: string): Promise<Entry>;

  /**
   * The DHCP leases the virtual network `network` holds for `mac` (the
   * driver's networks; an unknown network is `NO_NETWORK`, as libvirt's
   * lookup fails).
   */
  protected abstract networkLeases(network: string, mac: string): Promise<NetworkDhcpLease[]>;

  /**
   * `guest-get-host-name`, or with source `lease` the host name a guest's
   * `<interface type='network'>` gave its network's DHCP server (libvirt:
   * the first lease with one; none is `NO_HOSTNAME`).
   */
  async domainGetHostname(
    dom: DomainRef,
    opts: AgentCallOptions & { source?: HostnameSource } = {},
  ): Promise<string> {
    if (opts.source === 'lease') {
      const e = await this.#active(dom, opts, 'read the DHCP leases of');
      for (const { leases } of await this.#leases(e))
        for (const l of leases) if (l.hostname !== undefined) return l.hostname;
      throw new VirError('NO_HOSTNAME', 'qemu', `no hostname found for domain ${e.name}`);
    }
    const r = await this.#command(dom, opts, 'guest-get-host-name');
    const name = str((r as Obj | undefined)?.['host-name']);
    if (name === undefined) throw malformed('guest-get-host-name');
    return name;
  }

  /**
   * From the DHCP leases of the guest's networks, the agent
   * (`guest-network-get-interfaces`) or the host's ARP table.
   */
  async domainInterfaceAddresses(
    dom: DomainRef,
    source: InterfaceAddressSource,
    opts: AgentCallOptions = {},
  ): Promise<DomainInterface[]> {
    if (source === 'lease') {
      const e = await this.#active(dom, opts, 'read the DHCP leases of');
      // libvirt's: one entry per network interface holding a lease, named by its host-side device
      return (await this.#leases(e))
        .filter((x) => x.leases.length > 0)
        .map(({ name, mac, leases }) => ({
          name,
          hwaddr: mac,
          addrs: leases.map((l): DomainIpAddress => ({ type: l.type, addr: l.ipaddr, prefix: l.prefix })),
        }));
    }
    if (source === 'arp') return arpInterfaces(await this.#running(dom, opts, 'read the ARP table of'));
    return agentInterfaces(await this.#command(dom, opts, 'guest-network-get-interfaces'));
  }

  async domainAgentPing(dom: DomainRef, opts: AgentCallOptions = {}): Promise<void> {
    await this.#command(dom, opts, 'guest-ping');
  }

  /** `virDomainQemuAgentCommand`: the reply line as the agent sent it; taints the domain (log line). */
  async domainAgentCommand(dom: DomainRef, command: string, opts: AgentCallOptions = {}): Promise<string> {
    const { e, session } = await this.#session(dom, opts, 'send an agent command to');
    const runner = e.runner!;
    appendDomainLog(
      runner.logPath,
      `Domain id=${runner.ref.id} name='${e.name}' uuid=${e.uuid} is tainted: custom-ga-command\n`,
    );
    const execute = str(parseReply(command)?.execute) ?? 'command';
    const reply = await send(session, opts, command, execute);
    // the agent's error is an error here too, as libvirt checks every reply
    agentResult(reply, execute);
    return reply;
  }

  async domainGetGuestOsInfo(dom: DomainRef, opts: AgentCallOptions = {}): Promise<GuestOsInfo> {
    const r = ((await this.#command(dom, opts, 'guest-get-osinfo')) ?? {}) as Obj;
    const out: Record<string, string> = {};
    const keys: [keyof GuestOsInfo, string][] = [
      ['id', 'id'],
      ['name', 'name'],
      ['prettyName', 'pretty-name'],
      ['version', 'version'],
      ['versionId', 'version-id'],
      ['kernelRelease', 'kernel-release'],
      ['kernelVersion', 'kernel-version'],
      ['machine', 'machine'],
      ['variant', 'variant'],
      ['variantId', 'variant-id'],
    ];
    for (const [ours, theirs] of keys) {
      const v = str(r[theirs]);
      if (v !== undefined) out[ours] = v;
    }
    return out;
  }

  async domainGetGuestUsers(dom: DomainRef, opts: AgentCallOptions = {}): Promise<GuestUser[]> {
    return list(await this.#command(dom, opts, 'guest-get-users')).map((u) => {
      const domain = str(u.domain);
      // the agent gives seconds as a float; libvirt's field is milliseconds
      const loginTime = Math.trunc(num(u['login-time']) * 1000);
      return { name: str(u.user) ?? '', ...(domain !== undefined ? { domain } : {}), loginTime };
    });
  }

  async domainFsFreeze(
    dom: DomainRef,
    mountpoints: readonly string[] | undefined,
    opts: AgentCallOptions = {},
  ): Promise<number> {
    const r = mountpoints
      ? await this.#command(dom, opts, 'guest-fsfreeze-freeze-list', { mountpoints })
      : await this.#command(dom, opts, 'guest-fsfreeze-freeze');
    return num(r);
  }

  /** The agent thaws everything it froze: mountpoints are refused, as libvirt's QEMU driver does. */
  async domainFsThaw(
    dom: DomainRef,
    mountpoints: readonly string[] | undefined,
    opts: AgentCallOptions = {},
  ): Promise<number> {
    if (mountpoints)
      throw new VirError('ARGUMENT_UNSUPPORTED', 'qemu', 'specifying mountpoints is not supported', {
        field: 'mountpoints',
      });
    return num(await this.#command(dom, opts, 'guest-fsfreeze-thaw'));
  }

  /** `guest-get-fsinfo`, in mount order as libvirt gives it, disks named by their `<target dev>`. */
  async domainGetFsInfo(dom: DomainRef, opts: AgentCallOptions = {}): Promise<DomainFsInfo[]> {
    const { e, session } = await this.#session(dom, opts, 'get the filesystems of');
    const r = await run(session, opts, 'guest-get-fsinfo');
    return list(r)
      .map((fs) => ({
        mountpoint: str(fs.mountpoint) ?? '',
        name: str(fs.name) ?? '',
        fstype: str(fs.type) ?? '',
        devAliases: list(fs.disk)
          .map((d) => diskTarget(e.live!, d))
          .filter((t): t is string => t !== undefined),
      }))
      .reverse();
  }

  /** `guest-get-time`: nanoseconds read from the reply's text, beyond a double's precision. */
  async domainGetTime(dom: DomainRef, opts: AgentCallOptions = {}): Promise<GuestTime> {
    const { session } = await this.#session(dom, opts, 'get the time of');
    const line = await send(session, opts, '{"execute":"guest-get-time"}', 'guest-get-time');
    const m = /"return"\s*:\s*(-?\d+)/.exec(line);
    if (!m) {
      agentResult(line, 'guest-get-time');
      throw malformed('guest-get-time');
    }
    const ns = BigInt(m[1]!);
    return { seconds: Number(ns / 1_000_000_000n), nseconds: Number(ns % 1_000_000_000n) };
  }

  async domainSetTime(dom: DomainRef, time: SetTimeArg, opts: AgentCallOptions = {}): Promise<void> {
    let text = '{"execute":"guest-set-time"}';
    if (!('sync' in time)) {
      // libvirt's bound: nanoseconds must fit the agent's signed 64 bits
      if (time.seconds > 9_223_372_036)
        throw new VirError('INVALID_ARG', 'qemu', `Time '${time.seconds}' is too big for the guest agent`, {
          field: 'seconds',
        });
      const ns = BigInt(time.seconds) * 1_000_000_000n + BigInt(time.nseconds);
      text = `{"execute":"guest-set-time","arguments":{"time":${ns}}}`;
    }
    const { session } = await this.#session(dom, opts, 'set the time of');
    agentResult(await send(session, opts, text, 'guest-set-time'), 'guest-set-time');
  }

  async domainSetUserPassword(
    dom: DomainRef,
    user: string,
    password: string,
    opts: AgentCallOptions & { encrypted?: boolean } = {},
  ): Promise<void> {
    await this.#command(dom, opts, 'guest-set-user-password', {
      username: user,
      password: Buffer.from(password, 'utf8').toString('base64'),
      crypted: opts.encrypted === true,
    });
  }

  /** `guest-shutdown`, which has no reply when it works: done when QEMU or the agent says the guest went. */
  protected async agentPower(
    dom: DomainRef,
    opts: PowerOptions,
    mode: 'powerdown' | 'reboot',
  ): Promise<void> {
    const { e, session } = await this.#session(dom, opts, mode === 'reboot' ? 'reboot' : 'shut down');
    const runner = e.runner!;
    let unsubscribe = () => {};
    const until = new Promise<void>((resolve) => {
      unsubscribe = runner.subscribe((ev) => {
        const qmp = ev.type === 'monitor' ? ev.event.event : '';
        if (ev.type !== 'monitor' || qmp === 'SHUTDOWN' || qmp === 'RESET') resolve();
      });
    });
    try {
      const line = await session.send(JSON.stringify({ execute: 'guest-shutdown', arguments: { mode } }), {
        timeout: timeoutOf(opts),
        signal: opts.signal,
        name: 'guest-shutdown',
        until,
      });
      if (line !== undefined) agentResult(line, 'guest-shutdown');
    } finally {
      unsubscribe();
    }
  }

  /** The leases of each `<interface type='network'>` with a MAC of a running guest. */
  async #leases(e: Entry): Promise<Array<{ name: string; mac: string; leases: NetworkDhcpLease[] }>> {
    const out: Array<{ name: string; mac: string; leases: NetworkDhcpLease[] }> = [];
    for (const [i, net] of (e.live?.devices?.interfaces ?? []).entries()) {
      const mac = net.mac?.address?.toLowerCase();
      const network = net.source?.network;
      if (net.type !== 'network' || mac === undefined || network === undefined) continue;
      out.push({ name: hostIfname(e, i), mac, leases: await this.networkLeases(network, mac) });
    }
    return out;
  }

  /** A guest that runs or is paused (libvirt's check for the calls that ask the host, not the guest). */
  async #active(dom: DomainRef, opts: AgentCallOptions, what: string): Promise<Entry> {
    const e = await this.agentEntry(dom, opts, what);
    if (!e.runner || !isActive(e) || !e.live)
      throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    return e;
  }

  async #running(dom: DomainRef, opts: AgentCallOptions, what: string): Promise<Entry> {
    const e = await this.agentEntry(dom, opts, what);
    if (!e.runner || !isActive(e) || !e.live || e.runner.getState().state !== 'running')
      throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    return e;
  }

  async #session(
    dom: DomainRef,
    opts: AgentCallOptions,
    what: string,
  ): Promise<{ e: Entry; session: AgentSession }> {
    const e = await this.#running(dom, opts, what);
    return { e, session: AgentSession.of(e.runner!, e.live!) };
  }

  async #command(dom: DomainRef, opts: AgentCallOptions, execute: string, args?: Obj): Promise<unknown> {
    const { session } = await this.#session(dom, opts, `run ${execute} in`);
    return run(session, opts, execute, args);
  }
}

function timeoutOf(opts: AgentCallOptions): number {
  return opts.timeout ?? AGENT_DEFAULT_TIMEOUT_MS;
}

async function send(
  session: AgentSession,
  opts: AgentCallOptions,
  text: string,
  name: string,
): Promise<string> {
  const line = await session.send(text, { timeout: timeoutOf(opts), signal: opts.signal, name });
  return line ?? '';
}

async function run(
  session: AgentSession,
  opts: AgentCallOptions,
  execute: string,
  args?: Obj,
): Promise<unknown> {
  const text = JSON.stringify(args ? { execute, arguments: args } : { execute });
  return agentResult(await send(session, opts, text, execute), execute);
}

/** The `return` of a reply line, or the agent's error as a VirError. */
function agentResult(line: string, execute: string): unknown {
  const reply = parseReply(line);
  if (!reply) throw malformed(execute);
  const err = reply.error as Obj | undefined;
  if (err && typeof err === 'object') {
    const klass = str(err.class) ?? '';
    const desc = str(err.desc) ?? 'unknown error';
    if (klass === 'CommandNotFound' || klass === 'CommandDisabled')
      throw new VirError(
        'OPERATION_UNSUPPORTED',
        'qemu',
        `the guest agent does not support ${execute}: ${desc}`,
      );
    throw new VirError(
      'INTERNAL_ERROR',
      'qemu',
      `unable to execute QEMU agent command '${execute}': ${desc}`,
    );
  }
  if (!('return' in reply)) throw malformed(execute);
  return reply.return;
}

function malformed(execute: string): VirError {
  return new VirError('INTERNAL_ERROR', 'qemu', `malformed reply of the guest agent to ${execute}`);
}

/** The `<target dev>` of the domain disk an agent's disk entry is: by serial, else by PCI address. */
function diskTarget(live: DomainDef, d: Obj): string | undefined {
  const disks = live.devices?.disks ?? [];
  const serial = str(d.serial);
  const bySerial = serial ? disks.find((k) => k.serial === serial) : undefined;
  if (bySerial) return bySerial.target.dev;
  const pci = d['pci-controller'] as Obj | undefined;
  if (!pci) return undefined;
  const found = disks.find((k) => {
    const a = k.address as Obj | undefined;
    return (
      a?.type === 'pci' &&
      num(a.domain) === num(pci.domain) &&
      num(a.bus) === num(pci.bus) &&
      num(a.slot) === num(pci.slot) &&
      num(a.function) === num(pci.function)
    );
  });
  return found?.target.dev;
}

/**
 * The guest agent calls over libvirt's RPC: one `REMOTE_PROC_DOMAIN_*`
 * procedure each, with libvirt's flag values for the sources and modes; the
 * daemon's driver does the work (and its own agent timeout applies there).
 * `RemoteConnection` extends {@link RemoteAgentCalls} and hands over its call.
 *
 * @module
 */
import type { DomainRef } from '../../driver.js';
import type {
  AgentCallOptions,
  DomainFsInfo,
  DomainInterface,
  GuestTime,
  HostnameSource,
  InterfaceAddressSource,
  PowerMode,
  PowerOptions,
  SetTimeArg,
} from '../../driver-agent.js';
import { remoteProcedures as P } from './gen/remote-protocol.js';
import type { RemoteCall } from './remote-object-values.js';
import { toRemote } from './remote-values.js';

/** `VIR_DOMAIN_GET_HOSTNAME_*`. */
const HOSTNAME_FLAGS: Record<HostnameSource, number> = { lease: 1, agent: 2 };
/** `VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_*`. */
const ADDRESS_SOURCES: Record<InterfaceAddressSource, number> = { lease: 0, agent: 1, arp: 2 };
/** `VIR_DOMAIN_SHUTDOWN_*` and `VIR_DOMAIN_REBOOT_*` share these values. */
const POWER_FLAGS: Record<PowerMode, number> = { acpi: 1, agent: 2 };
const TIME_SYNC = 1;
const PASSWORD_ENCRYPTED = 1;

export abstract class RemoteAgentCalls {
  /** The connection's remote call. */
  protected abstract readonly agentCall: RemoteCall;

  async domainGetHostname(
    dom: DomainRef,
    opts: AgentCallOptions & { source?: HostnameSource } = {},
  ): Promise<string> {
    const flags = opts.source ? HOSTNAME_FLAGS[opts.source] : 0;
    return (await this.agentCall(P.DOMAIN_GET_HOSTNAME, { dom: toRemote(dom), flags }, opts)).hostname;
  }

  async domainInterfaceAddresses(
    dom: DomainRef,
    source: InterfaceAddressSource,
    opts: AgentCallOptions = {},
  ): Promise<DomainInterface[]> {
    const args = { dom: toRemote(dom), source: ADDRESS_SOURCES[source], flags: 0 };
    const r = await this.agentCall(P.DOMAIN_INTERFACE_ADDRESSES, args, opts);
    return r.ifaces.map((i) => ({
      name: i.name,
      ...(i.hwaddr !== null ? { hwaddr: i.hwaddr } : {}),
      addrs: i.addrs.map((a) => ({ type: a.type === 1 ? 'ipv6' : 'ipv4', addr: a.addr, prefix: a.prefix })),
    }));
  }

  async domainFsFreeze(
    dom: DomainRef,
    mountpoints: readonly string[] | undefined,
    opts: AgentCallOptions = {},
  ): Promise<number> {
    const args = { dom: toRemote(dom), mountpoints: [...(mountpoints ?? [])], flags: 0 };
    return (await this.agentCall(P.DOMAIN_FSFREEZE, args, opts)).filesystems;
  }

  async domainFsThaw(
    dom: DomainRef,
    mountpoints: readonly string[] | undefined,
    opts: AgentCallOptions = {},
  ): Promise<number> {
    const args = { dom: toRemote(dom), mountpoints: [...(mountpoints ?? [])], flags: 0 };
    return (await this.agentCall(P.DOMAIN_FSTHAW, args, opts)).filesystems;
  }

  async domainGetFsInfo(dom: DomainRef, opts: AgentCallOptions = {}): Promise<DomainFsInfo[]> {
    const r = await this.agentCall(P.DOMAIN_GET_FSINFO, { dom: toRemote(dom), flags: 0 }, opts);
    return r.info.map((f) => ({
      mountpoint: f.mountpoint,
      name: f.name,
      fstype: f.fstype,
      devAliases: [...f.dev_aliases],
    }));
  }

  async domainGetTime(dom: DomainRef, opts: AgentCallOptions = {}): Promise<GuestTime> {
    const r = await this.agentCall(P.DOMAIN_GET_TIME, { dom: toRemote(dom), flags: 0 }, opts);
    return { seconds: Number(r.seconds), nseconds: r.nseconds };
  }

  async domainSetTime(dom: DomainRef, time: SetTimeArg, opts: AgentCallOptions = {}): Promise<void> {
    const args =
      'sync' in time
        ? { dom: toRemote(dom), seconds: 0n, nseconds: 0, flags: TIME_SYNC }
        : { dom: toRemote(dom), seconds: BigInt(time.seconds), nseconds: time.nseconds, flags: 0 };
    await this.agentCall(P.DOMAIN_SET_TIME, args, opts);
  }

  async domainSetUserPassword(
    dom: DomainRef,
    user: string,
    password: string,
    opts: AgentCallOptions & { encrypted?: boolean } = {},
  ): Promise<void> {
    const flags = opts.encrypted ? PASSWORD_ENCRYPTED : 0;
    await this.agentCall(P.DOMAIN_SET_USER_PASSWORD, { dom: toRemote(dom), user, password, flags }, opts);
  }

  /** A shutdown with a mode is `virDomainShutdownFlags`, without one `virDomainShutdown`. */
  protected async powerWithMode(dom: DomainRef, opts: PowerOptions, reboot: boolean): Promise<void> {
    const flags = opts.mode ? POWER_FLAGS[opts.mode] : 0;
    if (reboot) await this.agentCall(P.DOMAIN_REBOOT, { dom: toRemote(dom), flags }, opts);
    else if (flags) await this.agentCall(P.DOMAIN_SHUTDOWN_FLAGS, { dom: toRemote(dom), flags }, opts);
    else await this.agentCall(P.DOMAIN_SHUTDOWN, { dom: toRemote(dom) }, opts);
  }
}

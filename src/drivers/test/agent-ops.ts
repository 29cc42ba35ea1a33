/**
 * The guest agent calls as libvirt's test driver answers them (checked
 * through python3-libvirt on `test:///default`, see
 * test/drivers/test/agent-differential.test.ts): a host name made of the
 * domain's name, one address per interface from a fixed plan, two
 * filesystems on the first disk that freeze and thaw, a clock of its own
 * per domain, any password accepted. The calls libvirt's test driver does
 * not have (ping, OS info, users, passthrough) are absent, so `NO_SUPPORT`.
 *
 * `TestConnection` extends {@link TestAgentCalls}; it only hands over its
 * domain job (fault injection, job lock, lookup).
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
  SetTimeArg,
} from '../../driver-agent.js';
import { VirError } from '../../errors.js';
import { needActive } from './domain-filter.js';
import type { TestMethod } from './test-control.js';
import type { TestDomain } from './test-host.js';

/** How a call runs as a job on one domain (`TestConnection`'s own). */
export type AgentJob = <T>(
  method: TestMethod,
  dom: DomainRef,
  opts: AgentCallOptions,
  fn: (d: TestDomain) => T,
) => Promise<T>;

/** libvirt's test driver's two mountpoints, in its order. */
const MOUNTS = ['/', '/boot'] as const;

/** What libvirt keeps per domain object: frozen mountpoints and the clock (it survives restarts). */
interface AgentState {
  frozen: [boolean, boolean];
  seconds: number;
  nseconds: number;
}
const states = new WeakMap<TestDomain, AgentState>();

function stateOf(d: TestDomain): AgentState {
  let s = states.get(d);
  if (!s) {
    s = { frozen: [false, false], seconds: 627319920, nseconds: 0 };
    states.set(d, s);
  }
  return s;
}

function unsupportedFlags(flags: number, fn: string): VirError {
  return new VirError('INVALID_ARG', 'test', `unsupported flags (0x${flags.toString(16)}) in function ${fn}`);
}

/** libvirt's test driver takes no flag of `virDomainShutdownFlags`: a mode is refused. */
export function refusePowerMode(mode: string | undefined): void {
  if (mode) throw unsupportedFlags(mode === 'agent' ? 2 : 1, 'testDomainShutdownFlags');
}

export abstract class TestAgentCalls {
  /** The connection's domain job. */
  protected abstract readonly agentJob: AgentJob;

  /** `<name>host`; asking for a source is refused as libvirt's test driver refuses its flags. */
  domainGetHostname(
    dom: DomainRef,
    opts: AgentCallOptions & { source?: HostnameSource } = {},
  ): Promise<string> {
    return this.agentJob('domainGetHostname', dom, opts, (d) => {
      if (opts.source) throw unsupportedFlags(opts.source === 'agent' ? 2 : 1, 'testDomainGetHostname');
      needActive(d);
      return `${d.name}host`;
    });
  }

  /**
   * `testnet<i>` per interface, whatever the source: on a network interface
   * `192.168.122.<20·(id−1)+3+i>`, on any other `192.168.0.<i+1>`, prefix 24.
   */
  domainInterfaceAddresses(
    dom: DomainRef,
    _source: InterfaceAddressSource,
    opts: AgentCallOptions = {},
  ): Promise<DomainInterface[]> {
    return this.agentJob('domainInterfaceAddresses', dom, opts, (d) => {
      needActive(d);
      const def = d.live?.def ?? d.config;
      return (def.devices?.interfaces ?? []).map((net, i) => {
        const addr = net.type === 'network' ? `192.168.122.${20 * (d.id - 1) + 3 + i}` : `192.168.0.${i + 1}`;
        const mac = net.mac?.address;
        return {
          name: `testnet${i}`,
          ...(mac !== undefined ? { hwaddr: mac } : {}),
          addrs: [{ type: 'ipv4' as const, addr, prefix: 24 }],
        };
      });
    });
  }

  domainFsFreeze(
    dom: DomainRef,
    mountpoints: readonly string[] | undefined,
    opts: AgentCallOptions = {},
  ): Promise<number> {
    return this.agentJob('domainFsFreeze', dom, opts, (d) => setFrozen(d, mountpoints, true));
  }

  domainFsThaw(
    dom: DomainRef,
    mountpoints: readonly string[] | undefined,
    opts: AgentCallOptions = {},
  ): Promise<number> {
    return this.agentJob('domainFsThaw', dom, opts, (d) => setFrozen(d, mountpoints, false));
  }

  /** `/` and `/boot` on partitions 1 and 2 of the first disk; none without a disk. */
  domainGetFsInfo(dom: DomainRef, opts: AgentCallOptions = {}): Promise<DomainFsInfo[]> {
    return this.agentJob('domainGetFsInfo', dom, opts, (d) => {
      needActive(d);
      const dev = (d.live?.def ?? d.config).devices?.disks?.[0]?.target.dev;
      if (!dev) return [];
      return MOUNTS.map((mountpoint, i) => ({
        mountpoint,
        name: `${dev}${i + 1}`,
        fstype: 'ext4',
        devAliases: [dev],
      }));
    });
  }

  /** The domain's own clock; unlike the other calls, only while it runs (not paused). */
  domainGetTime(dom: DomainRef, opts: AgentCallOptions = {}): Promise<GuestTime> {
    return this.agentJob('domainGetTime', dom, opts, (d) => {
      if (d.state !== 'running') throw new VirError('OPERATION_INVALID', 'test', 'domain is not running');
      const s = stateOf(d);
      return { seconds: s.seconds, nseconds: s.nseconds };
    });
  }

  /** Sets the domain's clock; a sync sets it to 0, as libvirt's test driver does without a time. */
  domainSetTime(dom: DomainRef, time: SetTimeArg, opts: AgentCallOptions = {}): Promise<void> {
    return this.agentJob('domainSetTime', dom, opts, (d) => {
      needActive(d);
      const s = stateOf(d);
      [s.seconds, s.nseconds] = 'sync' in time ? [0, 0] : [time.seconds, time.nseconds];
    });
  }

  /** Accepted and forgotten: the test driver keeps no users (nor the password). */
  domainSetUserPassword(
    dom: DomainRef,
    _user: string,
    _password: string,
    opts: AgentCallOptions & { encrypted?: boolean } = {},
  ): Promise<void> {
    return this.agentJob('domainSetUserPassword', dom, opts, needActive);
  }
}

/** Freezes or thaws the named mountpoints (default both); the number that changed. */
function setFrozen(d: TestDomain, mountpoints: readonly string[] | undefined, frozen: boolean): number {
  needActive(d);
  const which = new Set<number>();
  for (const m of mountpoints ?? MOUNTS) {
    const i = MOUNTS.indexOf(m as (typeof MOUNTS)[number]);
    if (i < 0) throw new VirError('OPERATION_INVALID', 'test', `mount point not found: ${m}`);
    which.add(i);
  }
  const s = stateOf(d);
  let changed = 0;
  for (const i of which) {
    if (s.frozen[i] === frozen) continue;
    s.frozen[i] = frozen;
    changed++;
  }
  return changed;
}

/**
 * What the guest agent calls of a domain take and give: libvirt's
 * `virDomainGetHostname`, `virDomainInterfaceAddresses`, `virDomainFSFreeze`,
 * `virDomainGetTime`, `virDomainSetUserPassword`, `virDomainGetGuestInfo`,
 * `virDomainQemuAgentCommand`, ... as plain typed data. The driver methods
 * themselves are the `domain…` optionals of `DriverConnection`; this file
 * holds only their shapes, so it imports nothing of `driver.ts`.
 *
 * @module
 */
import type { CallOptions } from './driver-objects.js';

/**
 * Milliseconds a guest agent call waits for the agent's reply before it fails with
 * `AGENT_COMMAND_TIMEOUT`: 5 s, libvirt's `QEMU_AGENT_WAIT_TIME`.
 */
export const AGENT_DEFAULT_TIMEOUT_MS = 5000;

/** Options of every guest agent call. */
export interface AgentCallOptions extends CallOptions {
  /**
   * Milliseconds to wait for the agent's reply (default {@link AGENT_DEFAULT_TIMEOUT_MS}); a guest
   * whose agent does not answer in time fails with `AGENT_COMMAND_TIMEOUT`.
   */
  timeout?: number;
}

/** How a shutdown or a reboot asks the guest (libvirt's `VIR_DOMAIN_SHUTDOWN_*` / `_REBOOT_*` flags). */
export type PowerMode = 'acpi' | 'agent';

/** Options of `Domain.shutdown()` and `Domain.reboot()` the drivers see. */
export interface PowerOptions extends AgentCallOptions {
  /** `acpi`: the power button (the default); `agent`: the guest agent's `guest-shutdown`. */
  mode?: PowerMode;
}

/** Where `getHostname` asks (libvirt's `VIR_DOMAIN_GET_HOSTNAME_*`); none: the driver's choice. */
export type HostnameSource = 'agent' | 'lease';

/** Where `interfaceAddresses` asks (libvirt's `VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_*`). */
export type InterfaceAddressSource = 'lease' | 'agent' | 'arp';

/** One IP address of a guest interface (`virDomainIPAddress`). */
export interface DomainIpAddress {
  /** `ipv4` or `ipv6` (`VIR_IP_ADDR_TYPE_*`). */
  readonly type: 'ipv4' | 'ipv6';
  /** The address as text. */
  readonly addr: string;
  /** The prefix length; 0 where the source does not know it (ARP). */
  readonly prefix: number;
}

/** One guest interface and its addresses (`virDomainInterface`). */
export interface DomainInterface {
  /** The interface name as the source names it (the guest's, for the agent). */
  readonly name: string;
  /** The MAC address, when the source reports one. */
  readonly hwaddr?: string;
  /** Its IP addresses. */
  readonly addrs: readonly DomainIpAddress[];
}

/** One mounted filesystem of the guest (`virDomainFSInfo`). */
export interface DomainFsInfo {
  /** Where it is mounted in the guest. */
  readonly mountpoint: string;
  /** The guest's name of its device (`vda1`, `sda2`). */
  readonly name: string;
  /** The filesystem type (`ext4`, `xfs`). */
  readonly fstype: string;
  /** The target names (`<target dev>`) of the domain's disks it lives on. */
  readonly devAliases: readonly string[];
}

/** The guest's clock (`virDomainGetTime`): seconds and nanoseconds since the epoch. */
export interface GuestTime {
  /** Whole seconds since 1970-01-01 UTC. */
  readonly seconds: number;
  /** Nanoseconds within the second, 0 to 999 999 999. */
  readonly nseconds: number;
}

/** What `setTime` sets: a time, or `sync` (from the guest's hardware clock, `VIR_DOMAIN_TIME_SYNC`). */
export type SetTimeArg =
  | GuestTime
  | {
      /** Set the guest's system clock from its RTC. */
      readonly sync: true;
    };

/** The guest OS as its agent describes it (libvirt's `os.*` guest info fields). */
export interface GuestOsInfo {
  /** `os.id`: the os-release ID (`debian`, `mswindows`). */
  readonly id?: string;
  /** `os.name`. */
  readonly name?: string;
  /** `os.pretty-name`. */
  readonly prettyName?: string;
  /** `os.version`. */
  readonly version?: string;
  /** `os.version-id`. */
  readonly versionId?: string;
  /** `os.kernel-release`. */
  readonly kernelRelease?: string;
  /** `os.kernel-version`. */
  readonly kernelVersion?: string;
  /** `os.machine`: the guest's architecture (`x86_64`). */
  readonly machine?: string;
  /** `os.variant`. */
  readonly variant?: string;
  /** `os.variant-id`. */
  readonly variantId?: string;
}

/** A user logged in to the guest (libvirt's `user.<n>.*` guest info fields). */
export interface GuestUser {
  /** `user.<n>.name`. */
  readonly name: string;
  /** `user.<n>.domain` (Windows guests). */
  readonly domain?: string;
  /** `user.<n>.login-time`: milliseconds since the epoch. */
  readonly loginTime: number;
}

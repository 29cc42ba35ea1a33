/**
 * The seam between the {@link Connection} facade and a hypervisor driver.
 *
 * A driver is a folder under `src/drivers/` that exports one
 * {@link DriverFactory}. Its connection object implements
 * {@link DriverConnection}: the required methods every hypervisor has, and
 * optional ones (`?`) for what only some support. `Connection` turns a missing
 * optional method into a `NO_SUPPORT` error, validates arguments, types the
 * results and owns the event iterator, so drivers stay thin and contain
 * nothing a second driver would need to repeat.
 *
 * @module
 */
import type { Capabilities } from './conf/capabilities.js';
import type { DomainDef } from './conf/domain/domain-def.js';
import type {
  DomainEventId,
  DomainEventListener,
  DomainRef,
  MetadataKind,
  QemuMonitorEvent,
} from './domain-events.js';
import type {
  BlockInfo,
  BlockStats,
  DomainStatsParams,
  DomainStatsQuery,
  InterfaceStats,
  MemoryStats,
} from './domain-stats.js';
import type {
  BlockIoTune,
  BlockIoTuneOptions,
  BlockIoTuneParams,
  GetMetadataOptions,
  SetMetadataOptions,
} from './domain-tuning.js';
import type { BlkioParameters } from './domain-tuning-blkio.js';
import type {
  MemoryParameters,
  SchedulerParameters,
  SchedulerType,
  TuningParamsOptions,
} from './domain-tuning-sched.js';
import type {
  AgentCallOptions,
  DomainFsInfo,
  DomainInterface,
  GuestOsInfo,
  GuestTime,
  GuestUser,
  HostnameSource,
  InterfaceAddressSource,
  PowerOptions,
  SetTimeArg,
} from './driver-agent.js';
import type { CallOptions, ObjectDrivers } from './driver-objects.js';
import type { VirError } from './errors.js';
import type { QemuMonitorReply, QemuMonitorRequest } from './qemu-monitor.js';
import type { ConnectUri } from './uri.js';

export type * from './domain-events.js';
export type { CallOptions };

/** Options of a start (`start`, `createDomain`). */
export interface StartCallOptions extends CallOptions {
  /** Leave the vCPUs paused once the guest is up. */
  paused?: boolean;
  /**
   * Milliseconds the hypervisor has to bring the guest up (QEMU: to open
   * its monitor) before the start fails; default the driver's own
   * (the QEMU driver's `startTimeout` option). Drivers without such a wait
   * ignore it.
   */
  timeout?: number;
}

/** libvirt's domain states (`virDomainState`), by name. */
export type DomainStateName =
  | 'nostate'
  | 'running'
  | 'blocked'
  | 'paused'
  | 'shutdown'
  | 'shutoff'
  | 'crashed'
  | 'pmsuspended';

/** What `Domain.getState()` gives: the state and libvirt's reason for it. */
export interface DomainState {
  /** The domain state. */
  readonly state: DomainStateName;
  /**
   * Why the domain is in that state, spelled as libvirt's reason enums
   * without prefix and lower-case: `booted`, `user`, `destroyed`, `crashed`,
   * `migrated`, `from snapshot`, `unknown`, ...
   */
  readonly reason: string;
}

/** What `Domain.getInfo()` gives, as libvirt's `virDomainInfo` (`virsh dominfo`). */
export interface DomainInfo {
  /** The domain state. */
  readonly state: DomainStateName;
  /** Maximum memory in KiB. */
  readonly maxMem: number;
  /** Current memory in KiB. */
  readonly memory: number;
  /** Number of virtual CPUs the domain has now. */
  readonly nrVirtCpu: number;
  /** CPU time used, in nanoseconds. */
  readonly cpuTime: bigint;
}

/** The host's hardware summary, as libvirt's `virNodeInfo` (`virsh nodeinfo`). */
export interface NodeInfo {
  /** CPU architecture, e.g. `x86_64` or `i686`. */
  readonly model: string;
  /** Memory in KiB. */
  readonly memory: number;
  /** Active host CPUs (threads). */
  readonly cpus: number;
  /** MHz. */
  readonly mhz: number;
  /** NUMA nodes. */
  readonly nodes: number;
  /** CPU sockets per NUMA node. */
  readonly sockets: number;
  /** Cores per socket. */
  readonly cores: number;
  /** Threads per core. */
  readonly threads: number;
}

/**
 * Which domains `listDomains` returns; each field given narrows the list, as the flags of
 * `virConnectListAllDomains`.
 */
export interface ListDomainsFilter {
  /** Only running (true) or only inactive (false) domains. */
  active?: boolean;
  /** Only persistent (true) or only transient (false) domains. */
  persistent?: boolean;
  /** Only domains in one of these states. */
  state?: DomainStateName | readonly DomainStateName[];
  /** Only domains that start with the host (true) or only those that do not (false). */
  autostart?: boolean;
}

/** How drivers are asked for one domain: by name, UUID or id (running domains only). */
export type DomainLookup =
  | {
      /** By name. */
      name: string;
    }
  | {
      /** By UUID. */
      uuid: string;
    }
  | {
      /** By id (running domains only). */
      id: number;
    };

/** How `getSnapshotXML` formats (`virDomainSnapshotGetXMLDesc`'s flags). */
export interface SnapshotXmlOptions extends CallOptions {
  /** Include the embedded domain's secrets: display passwords, disk cookies (`VIR_DOMAIN_SNAPSHOT_XML_SECURE`). */
  secure?: boolean;
}

export interface GetXmlOptions extends CallOptions {
  /** The persistent (next boot) definition rather than the live one. */
  inactive?: boolean;
  /** Include security-sensitive data such as passwords. */
  secure?: boolean;
  /**
   * The guest CPU updated from the host's (`VIR_DOMAIN_XML_UPDATE_CPU`): a
   * `host-model` CPU shown as the model and features the host gives it, a
   * `minimum` match with the host's further features. The test driver has no
   * host CPU and refuses it (`INVALID_ARG`), as libvirt's does.
   */
  updateCpu?: boolean;
  /**
   * The form another libvirt takes in a migration (`VIR_DOMAIN_XML_MIGRATABLE`,
   * `virsh dumpxml --migratable`): nothing a run chose for itself (ids,
   * aliases, automatic ports, generated socket paths, the CPU as QEMU
   * reported it), and none of the defaults older libvirt versions add
   * themselves (the QEMU driver's default USB controller and pci-root on
   * i440fx, the PS/2 keyboard, the default audio backend).
   */
  migratable?: boolean;
}

/**
 * The byte stream of a guest console (`virDomainOpenConsole`): what the
 * guest writes to the device comes out, what is written goes in. At run
 * time it is a Node `Duplex`; it is declared by its shape here because this
 * module imports no `node:` module. It ends when the guest stops, and is
 * destroyed when another caller takes the console with `force`.
 */
export type ConsoleStream = NodeJS.ReadWriteStream & {
  /** Closes the console session; the device is free for another one. */
  destroy(error?: Error): unknown;
  /** Whether the session has ended (closed here, taken over, or the guest stopped). */
  readonly destroyed: boolean;
};

export interface OpenConsoleOptions extends CallOptions {
  /** Take the console over from a session that has it open (`VIR_DOMAIN_CONSOLE_FORCE`). */
  force?: boolean;
}

/** One domain's statistics as a driver gives them: libvirt's flat parameters. */
export interface DriverDomainStats {
  /** The domain. */
  readonly domain: DomainRef;
  /** libvirt's keys and values, in the order filled. */
  readonly params: DomainStatsParams;
}

/** libvirt's `virDomainSnapshotCreateXML` flags (`virDomainSnapshotCreateFlags`). */
export interface SnapshotCreateOptions {
  /** The document is a snapshot's full XML, put back as metadata; nothing is taken (`REDEFINE`). */
  redefine?: boolean;
  /** With `redefine`: the redefined snapshot becomes the current one (`CURRENT`). */
  current?: boolean;
  /** The snapshot is taken but no metadata is kept (`NO_METADATA`). */
  noMetadata?: boolean;
  /** The guest is stopped after the snapshot (`HALT`); a transient domain is refused. */
  halt?: boolean;
  /** Only the disks, onto external overlays; no memory (`DISK_ONLY`). */
  diskOnly?: boolean;
  /** The external files exist already and are used as they are, not made (`REUSE_EXT`). */
  reuseExt?: boolean;
  /** The guest's file systems are frozen around the snapshot through its agent (`QUIESCE`). */
  quiesce?: boolean;
  /** All disks or none (`ATOMIC`). */
  atomic?: boolean;
  /** The guest keeps running while its memory is saved (`LIVE`). */
  live?: boolean;
  /** The document is checked against libvirt's schema first (`VALIDATE`). */
  validate?: boolean;
}

/** libvirt's `virDomainRevertToSnapshot` flags (`virDomainSnapshotRevertFlags`). */
export interface SnapshotRevertOptions {
  /** The guest runs afterwards, whatever the snapshot's state (`RUNNING`). */
  running?: boolean;
  /** The guest is paused afterwards (`PAUSED`); exclusive with `running`. */
  paused?: boolean;
  /** Reverts where libvirt calls it risky (`FORCE`). */
  force?: boolean;
  /** The UEFI variables start afresh from their template (`RESET_NVRAM`). */
  resetNvram?: boolean;
}

/** libvirt's `virDomainSnapshotDelete` flags. */
export interface SnapshotDeleteOptions {
  /** The snapshots below it go too (`DELETE_CHILDREN`). */
  children?: boolean;
  /** Only the snapshots below it go; it stays (`DELETE_CHILDREN_ONLY`); exclusive with `children`. */
  childrenOnly?: boolean;
  /** Only the metadata goes, the images keep their data (`DELETE_METADATA_ONLY`). */
  metadataOnly?: boolean;
}

/** A domain snapshot as listed (libvirt's `virDomainSnapshotPtr` facts). */
export interface SnapshotInfo {
  /** The snapshot name, unique within its domain. */
  readonly name: string;
  /** Free text given when the snapshot was taken. */
  readonly description?: string;
  /** The domain's state when the snapshot was taken. */
  readonly state: DomainStateName;
  /** The snapshot this one was taken after (the domain's current one then). */
  readonly parent?: string;
  /** Seconds since the epoch. */
  readonly creationTime: number;
  /** Whether it is the domain's current snapshot. */
  readonly current: boolean;
}

export interface DomainCapabilitiesQuery extends CallOptions {
  /**
   * The emulator binary (`/usr/bin/qemu-system-x86_64`); the driver picks one for the architecture
   * when absent.
   */
  emulator?: string;
  /** The guest architecture (`x86_64`, `aarch64`, ...). */
  arch?: string;
  /** The machine type (`q35`, `pc-i440fx-9.2`, `virt`, ...). */
  machine?: string;
  /** The domain type (`kvm`, `qemu`, `test`), as in `<domain type>`. */
  virttype?: string;
}

export interface BaselineOptions extends CallOptions {
  /** List every feature of the resulting CPU, including those its model implies (`--features`). */
  expandFeatures?: boolean;
  /** Leave out features that block migration (`--migratable`). */
  migratable?: boolean;
}

/** The result of a CPU comparison, as libvirt's `virCPUCompareResult`. */
export type CpuCompareResult = 'incompatible' | 'identical' | 'superset';

/**
 * An open connection to one hypervisor driver, with the secondary drivers
 * (storage, networks, secrets, node devices) it has ({@link ObjectDrivers}).
 */
export interface DriverConnection extends ObjectDrivers {
  /** Hypervisor type as libvirt's `virConnectGetType` gives it (`TEST`, `QEMU`). */
  readonly type: string;

  /** Releases the driver's resources; the connection rejects its pending calls first. */
  close(): Promise<void>;

  /** The host and guest capabilities. */
  getCapabilities(opts?: CallOptions): Promise<Capabilities>;
  /** The hypervisor host's name. */
  getHostname?(opts?: CallOptions): Promise<string>;
  /** Hypervisor version as libvirt encodes it: major * 1,000,000 + minor * 1,000 + release. */
  getVersion?(opts?: CallOptions): Promise<number>;
  /** The host's hardware summary. */
  getNodeInfo?(opts?: CallOptions): Promise<NodeInfo>;
  /** Domain capabilities XML. */
  getDomainCapabilities?(query: DomainCapabilitiesQuery): Promise<string>;

  /** What a start of `xml` would run, in the hypervisor's own format (`qemu-argv`). */
  domainXMLToNative?(format: string, xml: string, opts?: CallOptions): Promise<string>;

  /** The domains that pass the filter. */
  listDomains(filter: ListDomainsFilter, opts?: CallOptions): Promise<DomainRef[]>;
  /** One domain; `NO_DOMAIN` when there is none. */
  lookupDomain(key: DomainLookup, opts?: CallOptions): Promise<DomainRef>;
  /** Defines (or redefines) a persistent domain from its XML. */
  defineDomain?(xml: string, opts?: CallOptions): Promise<DomainRef>;
  /** Starts a transient domain from its XML: it disappears when it stops. */
  createDomain?(xml: string, opts?: StartCallOptions): Promise<DomainRef>;

  /** Starts an inactive domain (paused when asked); returns its identity with the new id. */
  domainStart?(dom: DomainRef, opts?: StartCallOptions): Promise<DomainRef>;
  /** Pauses the guest's vCPUs. */
  domainSuspend?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  /** Resumes a paused guest. */
  domainResume?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  /** Asks the guest to power off (ACPI); resolves once asked, not when it is off. */
  domainShutdown?(dom: DomainRef, opts?: PowerOptions): Promise<void>;
  /** Asks the guest to reboot. */
  domainReboot?(dom: DomainRef, opts?: PowerOptions): Promise<void>;
  /** Resets the guest at once, like the reset button. */
  domainReset?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  /** Stops the guest at once, like pulling the plug. */
  domainDestroy?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  /** `snapshots`: also drop snapshot metadata (`VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA`). */
  domainUndefine?(dom: DomainRef, opts?: CallOptions & { snapshots?: boolean }): Promise<void>;
  /** The state and its reason. */
  domainGetState?(dom: DomainRef, opts?: CallOptions): Promise<DomainState>;
  /** State, memory, vCPUs and CPU time. */
  domainGetInfo?(dom: DomainRef, opts?: CallOptions): Promise<DomainInfo>;
  /** The domain XML: live, or the persistent one with `inactive`. */
  domainGetXml?(dom: DomainRef, opts?: GetXmlOptions): Promise<string>;
  /**
   * The definition `domainGetXml` would format, typed. Optional: without it
   * `Domain.getDefinition` parses the XML; a driver that holds a `DomainDef`
   * hands out a copy of its own instead.
   */
  domainGetDefinition?(dom: DomainRef, opts?: GetXmlOptions): Promise<DomainDef>;
  /** Changes the memory (KiB) of the running guest, the definition, or both. */
  domainSetMemory?(
    dom: DomainRef,
    kib: number,
    opts?: CallOptions & { config?: boolean; live?: boolean },
  ): Promise<void>;
  /** Changes the maximum memory (KiB, `<memory>`) of the definition (`virDomainSetMaxMemory`). */
  domainSetMaxMemory?(
    dom: DomainRef,
    kib: number,
    opts?: CallOptions & { config?: boolean; live?: boolean },
  ): Promise<void>;
  /** Changes the vCPU count of the running guest, the definition, or both. */
  domainSetVcpus?(
    dom: DomainRef,
    count: number,
    opts?: CallOptions & { config?: boolean; live?: boolean },
  ): Promise<void>;
  /**
   * Adds a device (one device element) to the running guest (`live`), the
   * definition (`config`), or the current one (`virDomainAttachDeviceFlags`).
   */
  domainAttachDevice?(
    dom: DomainRef,
    xml: string,
    opts?: CallOptions & { config?: boolean; live?: boolean },
  ): Promise<void>;
  /** Removes the device `xml` names (`virDomainDetachDeviceFlags`); flags as `domainAttachDevice`. */
  domainDetachDevice?(
    dom: DomainRef,
    xml: string,
    opts?: CallOptions & { config?: boolean; live?: boolean },
  ): Promise<void>;
  /** Changes the device `xml` names to `xml` (`virDomainUpdateDeviceFlags`): media, link state. */
  domainUpdateDevice?(
    dom: DomainRef,
    xml: string,
    opts?: CallOptions & { config?: boolean; live?: boolean },
  ): Promise<void>;
  /**
   * Replaces the title, the description or one application's `<metadata>`
   * element (`virDomainSetMetadata`; `value` null removes it), then emits
   * `metadata-change`. The facade has checked the arguments as libvirt does.
   */
  domainSetMetadata?(
    dom: DomainRef,
    kind: MetadataKind,
    value: string | null,
    opts?: SetMetadataOptions,
  ): Promise<void>;
  /** The title, description or the `<metadata>` element of a namespace (`virDomainGetMetadata`). */
  domainGetMetadata?(dom: DomainRef, kind: MetadataKind, opts?: GetMetadataOptions): Promise<string>;
  /**
   * Changes a disk's I/O limits (`virDomainSetBlockIoTune`), live and/or
   * in the definition, then emits `tunable` with the `blkdeviotune.*` values.
   */
  domainSetBlockIoTune?(
    dom: DomainRef,
    disk: string,
    params: BlockIoTuneParams,
    opts?: BlockIoTuneOptions,
  ): Promise<void>;
  /** A disk's I/O limits, every parameter (`virDomainGetBlockIoTune`). */
  domainGetBlockIoTune?(dom: DomainRef, disk: string, opts?: BlockIoTuneOptions): Promise<BlockIoTune>;
  /** The CPU scheduler's name and parameter count (`virDomainGetSchedulerType`). */
  domainGetSchedulerType?(dom: DomainRef, opts?: CallOptions): Promise<SchedulerType>;
  /** The scheduler parameters of the guest or the definition (`virDomainGetSchedulerParametersFlags`). */
  domainGetSchedulerParameters?(dom: DomainRef, opts?: TuningParamsOptions): Promise<SchedulerParameters>;
  /**
   * Changes scheduler parameters (`virDomainSetSchedulerParametersFlags`),
   * then emits `tunable` with the `cputune.*` values. The facade has checked
   * names and types.
   */
  domainSetSchedulerParameters?(
    dom: DomainRef,
    params: SchedulerParameters,
    opts?: TuningParamsOptions,
  ): Promise<void>;
  /** The memory limits in KiB (`virDomainGetMemoryParameters`). */
  domainGetMemoryParameters?(dom: DomainRef, opts?: TuningParamsOptions): Promise<MemoryParameters>;
  /** Changes memory limits in KiB (`virDomainSetMemoryParameters`). */
  domainSetMemoryParameters?(
    dom: DomainRef,
    params: MemoryParameters,
    opts?: TuningParamsOptions,
  ): Promise<void>;
  /** The block I/O weight and per-device lists (`virDomainGetBlkioParameters`). */
  domainGetBlkioParameters?(dom: DomainRef, opts?: TuningParamsOptions): Promise<BlkioParameters>;
  /** Changes block I/O parameters (`virDomainSetBlkioParameters`); the facade has checked names and types. */
  domainSetBlkioParameters?(
    dom: DomainRef,
    params: BlkioParameters,
    opts?: TuningParamsOptions,
  ): Promise<void>;
  /** Whether the domain starts with the host. */
  domainGetAutostart?(dom: DomainRef, opts?: CallOptions): Promise<boolean>;
  /** Sets whether the domain starts with the host. */
  domainSetAutostart?(dom: DomainRef, autostart: boolean, opts?: CallOptions): Promise<void>;
  /** Renames an inactive domain; returns its new identity. */
  domainRename?(dom: DomainRef, newName: string, opts?: CallOptions): Promise<DomainRef>;
  /** Saves the running guest's state and stops it; the next start resumes from the saved state. */
  domainManagedSave?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  /** Whether a managed save image waits for the next start. */
  domainHasManagedSave?(dom: DomainRef, opts?: CallOptions): Promise<boolean>;
  /** Removes the managed save image, so the next start boots afresh (none is no error). */
  domainManagedSaveRemove?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  /** Saves the running guest's state to `path` (absolute) and stops it (`virDomainSave`). */
  domainSave?(dom: DomainRef, path: string, opts?: CallOptions): Promise<void>;
  /** Starts a domain from a file {@link domainSave} wrote (`virDomainRestore`); the file stays. */
  restoreDomain?(path: string, opts?: StartCallOptions): Promise<DomainRef>;
  /** Whether the domain has a persistent definition (false for a transient one). */
  domainIsPersistent?(dom: DomainRef, opts?: CallOptions): Promise<boolean>;
  /**
   * Opens a console of a running domain: the device whose alias is `name`
   * (consoles, then serial and parallel ports), else the first console or
   * serial port. One session per device unless `force`.
   */
  domainOpenConsole?(
    dom: DomainRef,
    name: string | undefined,
    opts?: OpenConsoleOptions,
  ): Promise<ConsoleStream>;

  /**
   * Statistics of `domains`, or of every domain passing the query's filters
   * when `undefined` (`virDomainListGetStats`, `virConnectGetAllDomainStats`),
   * as libvirt's flat parameters; a group the driver lacks is left out unless
   * `query.enforce` (then `ARGUMENT_UNSUPPORTED`).
   */
  domainListGetStats?(
    domains: readonly DomainRef[] | undefined,
    query: DomainStatsQuery,
    opts?: CallOptions,
  ): Promise<DriverDomainStats[]>;
  /** Sizes of a disk, by target (`vda`) or source path (`virDomainGetBlockInfo`). */
  domainGetBlockInfo?(dom: DomainRef, disk: string, opts?: CallOptions): Promise<BlockInfo>;
  /** I/O counters of a disk of a running domain, by target or source path (`virDomainBlockStats`). */
  domainBlockStats?(dom: DomainRef, disk: string, opts?: CallOptions): Promise<BlockStats>;
  /** Counters of an interface of a running domain, by host device name or MAC (`virDomainInterfaceStats`). */
  domainInterfaceStats?(dom: DomainRef, device: string, opts?: CallOptions): Promise<InterfaceStats>;
  /** The balloon's and the guest's memory figures of a running domain (`virDomainMemoryStats`). */
  domainMemoryStats?(dom: DomainRef, opts?: CallOptions): Promise<MemoryStats>;

  /** Takes a snapshot from `<domainsnapshot>` XML; returns its name. */
  domainSnapshotCreate?(
    dom: DomainRef,
    xml: string,
    opts?: CallOptions & SnapshotCreateOptions,
  ): Promise<string>;
  /** The domain's snapshots, oldest first. */
  domainSnapshotList?(dom: DomainRef, opts?: CallOptions): Promise<SnapshotInfo[]>;
  /** One snapshot's XML. */
  domainSnapshotGetXml?(dom: DomainRef, name: string, opts?: SnapshotXmlOptions): Promise<string>;
  /** Goes back to a snapshot; returns the domain's identity afterwards (its id may change). */
  domainSnapshotRevert?(
    dom: DomainRef,
    name: string,
    opts?: CallOptions & SnapshotRevertOptions,
  ): Promise<DomainRef>;
  /** Deletes a snapshot, as `SnapshotDeleteOptions` say (by default its children move up to its parent). */
  domainSnapshotDelete?(
    dom: DomainRef,
    name: string,
    opts?: CallOptions & SnapshotDeleteOptions,
  ): Promise<void>;

  /**
   * Live-migrates a running domain to `dest`, a connection of the same
   * driver (`virDomainMigrate3`); returns the domain as the destination
   * knows it. Other pairs of drivers are `NO_SUPPORT`.
   */
  domainMigrate?(dom: DomainRef, dest: DriverConnection, opts?: MigrateOptions): Promise<DomainRef>;

  // --- the guest agent (shapes in driver-agent.ts) ---------------------------

  /** The guest's host name (`virDomainGetHostname`), from `source` or where the driver knows it. */
  domainGetHostname?(dom: DomainRef, opts?: AgentCallOptions & { source?: HostnameSource }): Promise<string>;
  /** The guest's interfaces and addresses (`virDomainInterfaceAddresses`). */
  domainInterfaceAddresses?(
    dom: DomainRef,
    source: InterfaceAddressSource,
    opts?: AgentCallOptions,
  ): Promise<DomainInterface[]>;
  /** `guest-ping`: resolves when the agent answers. */
  domainAgentPing?(dom: DomainRef, opts?: AgentCallOptions): Promise<void>;
  /** `virDomainQemuAgentCommand`: one JSON command, the agent's reply text. */
  domainAgentCommand?(dom: DomainRef, command: string, opts?: AgentCallOptions): Promise<string>;
  /** The OS the agent reports (`virDomainGetGuestInfo`, `os` group). */
  domainGetGuestOsInfo?(dom: DomainRef, opts?: AgentCallOptions): Promise<GuestOsInfo>;
  /** The users logged in to the guest (`virDomainGetGuestInfo`, `users` group). */
  domainGetGuestUsers?(dom: DomainRef, opts?: AgentCallOptions): Promise<GuestUser[]>;
  /** Freezes the guest's filesystems, all or those at `mountpoints`; the number frozen. */
  domainFsFreeze?(
    dom: DomainRef,
    mountpoints: readonly string[] | undefined,
    opts?: AgentCallOptions,
  ): Promise<number>;
  /** Thaws them again; the number thawed. */
  domainFsThaw?(
    dom: DomainRef,
    mountpoints: readonly string[] | undefined,
    opts?: AgentCallOptions,
  ): Promise<number>;
  /** The guest's mounted filesystems (`virDomainGetFSInfo`). */
  domainGetFsInfo?(dom: DomainRef, opts?: AgentCallOptions): Promise<DomainFsInfo[]>;
  /** The guest's clock (`virDomainGetTime`). */
  domainGetTime?(dom: DomainRef, opts?: AgentCallOptions): Promise<GuestTime>;
  /** Sets the guest's clock (`virDomainSetTime`). */
  domainSetTime?(dom: DomainRef, time: SetTimeArg, opts?: AgentCallOptions): Promise<void>;
  /** Sets a guest user's password (`virDomainSetUserPassword`); the password is never logged. */
  domainSetUserPassword?(
    dom: DomainRef,
    user: string,
    password: string,
    opts?: AgentCallOptions & { encrypted?: boolean },
  ): Promise<void>;

  /** Compares a guest CPU (XML) with the host CPU. */
  compareCpu?(cpuXml: string, opts?: CallOptions): Promise<CpuCompareResult>;
  /** Baseline CPU XML of several host CPUs (XML). */
  baselineCpu?(cpuXmls: readonly string[], opts?: BaselineOptions): Promise<string>;
  /** Compares a guest CPU (XML) with what the hypervisor can give a guest (`virConnectCompareHypervisorCPU`). */
  compareHypervisorCpu?(cpuXml: string, query: DomainCapabilitiesQuery): Promise<CpuCompareResult>;
  /** Baseline CPU XML of several CPUs, for the hypervisor (`virConnectBaselineHypervisorCPU`). */
  baselineHypervisorCpu?(
    cpuXmls: readonly string[],
    query: DomainCapabilitiesQuery & BaselineOptions,
  ): Promise<string>;

  /**
   * Registers a listener for domain events; returns the function that
   * removes it. The driver calls listeners synchronously and in order;
   * buffering for slow consumers is the facade's job. `ids` are the event
   * ids the listener wants (default `lifecycle`): a driver may deliver
   * others (the facade filters), but must deliver these when it has them.
   */
  subscribe?(listener: DomainEventListener, ids?: ReadonlySet<DomainEventId>): () => void;

  /**
   * Sends a command through the driver's own monitor of a running guest
   * (libvirt-qemu's `virDomainQemuMonitorCommand`), marking the domain
   * tainted (`custom-monitor`): QMP gives QEMU's reply, HMP its text.
   */
  domainQemuMonitorCommand?(
    dom: DomainRef,
    cmd: QemuMonitorRequest,
    opts?: CallOptions & { timeout?: number },
  ): Promise<QemuMonitorReply | string>;
  /** Every guest's raw QMP events (libvirt-qemu's monitor event tap); returns the function that removes it. */
  subscribeQemuMonitor?(listener: (event: QemuMonitorEvent) => void): () => void;
  /** A picture of one of the guest's displays (`virDomainScreenshot`). */
  domainScreenshot?(dom: DomainRef, opts?: ScreenshotOptions): Promise<Screenshot>;

  /**
   * Calls `listener` once if the connection ends without `close()` (a
   * remote daemon that died); returns the function that removes it.
   */
  onClose?(listener: (reason: VirError) => void): () => void;
}

/** Options of a screenshot (`virDomainScreenshot`). */
export interface ScreenshotOptions extends CallOptions {
  /** Which display (head), from 0; default 0. */
  screen?: number;
}

/** A screenshot: the image and its MIME type (`image/png` from every driver today). */
export interface Screenshot {
  /** The MIME type, as libvirt returns it. */
  readonly mime: string;
  /** The image. */
  readonly data: Uint8Array;
}

export interface DriverOpenOptions extends CallOptions {
  /** The URI being opened, parsed. */
  readonly uri: ConnectUri;
  /** Open read-only (`VIR_CONNECT_RO`). */
  readonly readonly: boolean;
  /** Driver-specific options given to `connect()`, passed through untouched. */
  readonly driverOptions: Readonly<Record<string, unknown>>;
}

/**
 * Progress of a domain job (a migration), as libvirt's `virDomainJobInfo`:
 * bytes and milliseconds; `downtime` as `virDomainGetJobStats` reports it.
 */
export interface DomainJobInfo {
  /** `unbounded` while it runs, then `completed`, `failed` or `cancelled` (`VIR_DOMAIN_JOB_*`). */
  readonly type: 'unbounded' | 'completed' | 'failed' | 'cancelled';
  /** The hypervisor's own status word (QEMU: `setup`, `active`, `device`, ...). */
  readonly status: string;
  /** Milliseconds since the job started. */
  readonly timeElapsed: number;
  /** Bytes the job moves in all: memory, and disks when they are copied too (shared storage: `memTotal`). */
  readonly dataTotal: number;
  /** Bytes moved so far. */
  readonly dataProcessed: number;
  /** Bytes still to move. */
  readonly dataRemaining: number;
  /** Bytes of guest memory to move (QEMU's `ram.total`). */
  readonly memTotal: number;
  /** Bytes of guest memory moved so far, counting pages sent again (`ram.transferred`). */
  readonly memProcessed: number;
  /** Bytes of guest memory still to move (`ram.remaining`). */
  readonly memRemaining: number;
  /** The guest's pause at the switch-over: expected while running, measured once completed. */
  readonly downtime?: number;
}

/**
 * How to migrate, after libvirt's `VIR_MIGRATE_*` flags and parameters.
 * `signal` aborts the migration (`virDomainAbortJob`): the guest runs on at
 * the source and nothing is left at the destination.
 */
export interface MigrateOptions extends CallOptions {
  /** `VIR_MIGRATE_LIVE`: keep the guest running while its memory is copied (else it is paused for the copy). */
  live?: boolean;
  /** `VIR_MIGRATE_PERSIST_DEST`: define the domain on the destination. */
  persistDest?: boolean;
  /** `VIR_MIGRATE_UNDEFINE_SOURCE`: remove the persistent definition from the source once done. */
  undefineSource?: boolean;
  /** `VIR_MIGRATE_COMPRESSED` with QEMU's xbzrle (pages sent as deltas). */
  xbzrle?: boolean;
  /** `VIR_MIGRATE_AUTO_CONVERGE`: throttle the guest's vCPUs when memory changes faster than it moves. */
  autoConverge?: boolean;
  /** `VIR_MIGRATE_POSTCOPY`: allow a switch to post-copy (both sides get the capability). */
  postcopy?: boolean;
  /** `VIR_MIGRATE_PARAM_BANDWIDTH`: MiB/s; default unlimited. */
  bandwidth?: number;
  /** Called with the progress while the migration runs, and once at its end. */
  onProgress?: (info: DomainJobInfo) => void;
  /**
   * `VIR_MIGRATE_PEER2PEER` (remote driver): the source's daemon connects to the destination
   * itself and runs the whole migration; else the client runs libvirt's five steps (managed).
   */
  peer2peer?: boolean;
  /**
   * The `dconnuri` of a peer-to-peer migration: the destination's URI as the source's daemon
   * reaches it. Default: the URI the destination connection was opened with.
   */
  destUri?: string;
  /** `VIR_MIGRATE_PARAM_URI`: where the memory goes (`tcp://host:port`), else the destination's choice. */
  migrateUri?: string;
}

/** What a driver folder exports: a name and a way to open connections. */
export interface DriverFactory {
  /** Short name used in errors and the registry (`test`, `qemu`, `remote`). */
  readonly name: string;
  /**
   * Whether this driver serves the URI. Local drivers decline URIs with a
   * transport or host so the remote driver gets them.
   */
  accepts(uri: ConnectUri): boolean;
  /** Opens a connection for a URI this driver accepts. */
  open(options: DriverOpenOptions): Promise<DriverConnection>;
}

/**
 * What a `Domain` handle needs of the connection that made it; `Connection`
 * implements it. Declared here, below both, so the two modules do not
 * import each other. Not for programs: its `_` methods may change in any
 * release (kept in the declarations, which `Domain<Connection>` needs).
 */
export interface DomainOwner {
  /** Runs a domain call through the connection (checks, job lock, error typing). */
  _domainCall<T>(
    method: keyof DriverConnection & `domain${string}`,
    dom: DomainRef,
    opts: CallOptions,
    run: (driver: DriverConnection, signal: AbortSignal) => Promise<T>,
  ): Promise<T>;
  /** Refuses a change on a read-only connection. */
  _writable(what: string): void;
  /** Whether the driver implements `method`. */
  _supports(method: keyof DriverConnection): boolean;
  /** The driver connection underneath: what a migration hands the source's driver as its destination. */
  _driverConnection(): DriverConnection;
}

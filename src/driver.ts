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
import type { CallOptions, ObjectDrivers } from './driver-objects.js';
import type { VirError } from './errors.js';
import type { ConnectUri } from './uri.js';

export type { CallOptions };

/** Identity of a domain as drivers pass it around (libvirt's `virDomainPtr`). */
export interface DomainRef {
  readonly name: string;
  /** Lower-case canonical UUID, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
  readonly uuid: string;
  /** Positive id while running, -1 when inactive (as libvirt reports it). */
  readonly id: number;
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

export interface DomainState {
  readonly state: DomainStateName;
  /**
   * Why the domain is in that state, spelled as libvirt's reason enums
   * without prefix and lower-case: `booted`, `user`, `destroyed`, `crashed`,
   * `migrated`, `from snapshot`, `unknown`, ...
   */
  readonly reason: string;
}

export interface DomainInfo {
  readonly state: DomainStateName;
  /** Maximum memory in KiB. */
  readonly maxMem: number;
  /** Current memory in KiB. */
  readonly memory: number;
  readonly nrVirtCpu: number;
  /** CPU time used, in nanoseconds. */
  readonly cpuTime: bigint;
}

export interface NodeInfo {
  /** CPU architecture, e.g. `x86_64` or `i686`. */
  readonly model: string;
  /** Memory in KiB. */
  readonly memory: number;
  readonly cpus: number;
  /** MHz. */
  readonly mhz: number;
  readonly nodes: number;
  readonly sockets: number;
  readonly cores: number;
  readonly threads: number;
}

export interface ListDomainsFilter {
  /** Only running (true) or only inactive (false) domains. */
  active?: boolean;
  /** Only persistent (true) or only transient (false) domains. */
  persistent?: boolean;
  /** Only domains in one of these states. */
  state?: DomainStateName | readonly DomainStateName[];
  autostart?: boolean;
}

export type DomainLookup = { name: string } | { uuid: string } | { id: number };

/** A lifecycle event, as libvirt's `VIR_DOMAIN_EVENT_*` with its detail. */
export interface DomainLifecycleEvent {
  readonly type: 'lifecycle';
  readonly domain: DomainRef;
  /** `defined`, `undefined`, `started`, `suspended`, `resumed`, `stopped`, `shutdown`, `pmsuspended`, `crashed`. */
  readonly event: DomainEventName;
  /** Detail name as libvirt's detail enums, lower-case without prefix (`booted`, `destroyed`, `added`, ...). */
  readonly detail: string;
  /** Milliseconds since the epoch, when the driver saw it. */
  readonly timestamp: number;
}

export type DomainEventName =
  | 'defined'
  | 'undefined'
  | 'started'
  | 'suspended'
  | 'resumed'
  | 'stopped'
  | 'shutdown'
  | 'pmsuspended'
  | 'crashed';

/**
 * The guest was reset (libvirt's `VIR_DOMAIN_EVENT_ID_REBOOT`): a reboot
 * from inside the guest, `reset()`, or the reset that ends `reboot()`.
 * The domain keeps running, so no lifecycle event comes with it. A separate
 * event id in libvirt, so `Connection.events()` delivers it only when asked
 * (`{ reboot: true }`).
 */
export interface DomainRebootEvent {
  readonly type: 'reboot';
  readonly domain: DomainRef;
  /** Milliseconds since the epoch, when the driver saw it. */
  readonly timestamp: number;
}

/** The lifecycle events (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`), what `Connection.events()` gives by default. */
export type DomainEvent = DomainLifecycleEvent;

/** Every event a driver may deliver. */
export type AnyDomainEvent = DomainEvent | DomainRebootEvent;

export type DomainEventListener = (event: AnyDomainEvent) => void;

export interface GetXmlOptions extends CallOptions {
  /** The persistent (next boot) definition rather than the live one. */
  inactive?: boolean;
  /** Include security-sensitive data such as passwords. */
  secure?: boolean;
  /** Include the expanded CPU features (`VIR_DOMAIN_XML_UPDATE_CPU`). */
  updateCpu?: boolean;
}

/**
 * The byte stream of a guest console (`virDomainOpenConsole`): what the
 * guest writes to the device comes out, what is written goes in. At run
 * time it is a Node `Duplex`; it is declared by its shape here because this
 * module imports no `node:` module. It ends when the guest stops, and is
 * destroyed when another caller takes the console with `force`.
 */
export type ConsoleStream = NodeJS.ReadWriteStream & {
  destroy(error?: Error): unknown;
  readonly destroyed: boolean;
};

export interface OpenConsoleOptions extends CallOptions {
  /** Take the console over from a session that has it open (`VIR_DOMAIN_CONSOLE_FORCE`). */
  force?: boolean;
}

/** A domain snapshot as listed (libvirt's `virDomainSnapshotPtr` facts). */
export interface SnapshotInfo {
  readonly name: string;
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
  emulator?: string;
  arch?: string;
  machine?: string;
  virttype?: string;
}

export interface BaselineOptions extends CallOptions {
  expandFeatures?: boolean;
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

  close(): Promise<void>;

  getCapabilities(opts?: CallOptions): Promise<Capabilities>;
  getHostname?(opts?: CallOptions): Promise<string>;
  /** Hypervisor version as libvirt encodes it: major * 1,000,000 + minor * 1,000 + release. */
  getVersion?(opts?: CallOptions): Promise<number>;
  getNodeInfo?(opts?: CallOptions): Promise<NodeInfo>;
  /** Domain capabilities XML. */
  getDomainCapabilities?(query: DomainCapabilitiesQuery): Promise<string>;

  /** What a start of `xml` would run, in the hypervisor's own format (`qemu-argv`). */
  domainXMLToNative?(format: string, xml: string, opts?: CallOptions): Promise<string>;

  listDomains(filter: ListDomainsFilter, opts?: CallOptions): Promise<DomainRef[]>;
  lookupDomain(key: DomainLookup, opts?: CallOptions): Promise<DomainRef>;
  defineDomain?(xml: string, opts?: CallOptions): Promise<DomainRef>;
  createDomain?(xml: string, opts?: CallOptions & { paused?: boolean }): Promise<DomainRef>;

  domainStart?(dom: DomainRef, opts?: CallOptions & { paused?: boolean }): Promise<DomainRef>;
  domainSuspend?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  domainResume?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  domainShutdown?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  domainReboot?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  domainReset?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  domainDestroy?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  /** `snapshots`: also drop snapshot metadata (`VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA`). */
  domainUndefine?(dom: DomainRef, opts?: CallOptions & { snapshots?: boolean }): Promise<void>;
  domainGetState?(dom: DomainRef, opts?: CallOptions): Promise<DomainState>;
  domainGetInfo?(dom: DomainRef, opts?: CallOptions): Promise<DomainInfo>;
  domainGetXml?(dom: DomainRef, opts?: GetXmlOptions): Promise<string>;
  /**
   * The definition `domainGetXml` would format, typed. Optional: without it
   * `Domain.getDefinition` parses the XML; a driver that holds a `DomainDef`
   * hands out a copy of its own instead.
   */
  domainGetDefinition?(dom: DomainRef, opts?: GetXmlOptions): Promise<DomainDef>;
  domainSetMemory?(
    dom: DomainRef,
    kib: number,
    opts?: CallOptions & { config?: boolean; live?: boolean },
  ): Promise<void>;
  domainSetVcpus?(
    dom: DomainRef,
    count: number,
    opts?: CallOptions & { config?: boolean; live?: boolean },
  ): Promise<void>;
  domainGetAutostart?(dom: DomainRef, opts?: CallOptions): Promise<boolean>;
  domainSetAutostart?(dom: DomainRef, autostart: boolean, opts?: CallOptions): Promise<void>;
  domainRename?(dom: DomainRef, newName: string, opts?: CallOptions): Promise<DomainRef>;
  domainManagedSave?(dom: DomainRef, opts?: CallOptions): Promise<void>;
  domainHasManagedSave?(dom: DomainRef, opts?: CallOptions): Promise<boolean>;
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

  /** Takes a snapshot from `<domainsnapshot>` XML; returns its name. */
  domainSnapshotCreate?(dom: DomainRef, xml: string, opts?: CallOptions): Promise<string>;
  /** The domain's snapshots, oldest first. */
  domainSnapshotList?(dom: DomainRef, opts?: CallOptions): Promise<SnapshotInfo[]>;
  domainSnapshotGetXml?(dom: DomainRef, name: string, opts?: CallOptions): Promise<string>;
  /** Goes back to a snapshot; returns the domain's identity afterwards (its id may change). */
  domainSnapshotRevert?(dom: DomainRef, name: string, opts?: CallOptions): Promise<DomainRef>;
  /** `children`: delete the snapshots below it too (else they move up to its parent). */
  domainSnapshotDelete?(
    dom: DomainRef,
    name: string,
    opts?: CallOptions & { children?: boolean },
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
   * buffering for slow consumers is the facade's job.
   */
  subscribe?(listener: DomainEventListener): () => void;

  /**
   * Calls `listener` once if the connection ends without `close()` (a
   * remote daemon that died); returns the function that removes it.
   */
  onClose?(listener: (reason: VirError) => void): () => void;
}

export interface DriverOpenOptions extends CallOptions {
  readonly uri: ConnectUri;
  /** Open read-only (`VIR_CONNECT_RO`). */
  readonly readonly: boolean;
  /** Driver-specific options given to `connect()`, passed through untouched. */
  readonly driverOptions: Readonly<Record<string, unknown>>;
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
  open(options: DriverOpenOptions): Promise<DriverConnection>;
}

/**
 * What a `Domain` handle needs of the connection that made it; `Connection`
 * implements it. Declared here, below both, so the two modules do not
 * import each other. Not for programs: its `_` methods may change in any
 * release (kept in the declarations, which `Domain<Connection>` needs).
 */
export interface DomainOwner {
  _domainCall<T>(
    method: keyof DriverConnection & `domain${string}`,
    dom: DomainRef,
    opts: CallOptions,
    run: (driver: DriverConnection, signal: AbortSignal) => Promise<T>,
  ): Promise<T>;
  _writable(what: string): void;
  /** Whether the driver implements `method`. */
  _supports(method: keyof DriverConnection): boolean;
}

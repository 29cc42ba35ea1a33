/**
 * The domain events, one interface per libvirt event id (`virDomainEventID`),
 * with libvirt's detail values spelled as its enums are, lower case and
 * without prefix. `type` is the id's name as `virsh event --list` prints it
 * (`rtc-change`, `block-job-2`, ...), and what `Connection.events({ ids })`
 * selects by. The raw QMP events of the QEMU driver's monitor tap live here
 * too: they travel through the same seam.
 *
 * The identity every event carries ({@link DomainRef}) is declared here, the
 * bottom of the facade's types; `driver.ts` re-exports all of it.
 *
 * @module
 */

/** Identity of a domain as drivers pass it around (libvirt's `virDomainPtr`). */
export interface DomainRef {
  /** The domain name, unique on its host. */
  readonly name: string;
  /** Lower-case canonical UUID, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`. */
  readonly uuid: string;
  /** Positive id while running, -1 when inactive (as libvirt reports it). */
  readonly id: number;
}

/** libvirt's domain event ids (`VIR_DOMAIN_EVENT_ID_*`), in libvirt's order, by `virsh` name. */
export const DOMAIN_EVENT_IDS = [
  'lifecycle',
  'reboot',
  'rtc-change',
  'watchdog',
  'io-error',
  'graphics',
  'io-error-reason',
  'control-error',
  'block-job',
  'disk-change',
  'tray-change',
  'pm-wakeup',
  'pm-suspend',
  'balloon-change',
  'pm-suspend-disk',
  'device-removed',
  'block-job-2',
  'tunable',
  'agent-lifecycle',
  'device-added',
  'migration-iteration',
  'job-completed',
  'device-removal-failed',
  'metadata-change',
  'block-threshold',
  'memory-failure',
  'memory-device-size-change',
] as const;

/** One of libvirt's domain event ids, by name; its number is its index in {@link DOMAIN_EVENT_IDS}. */
export type DomainEventId = (typeof DOMAIN_EVENT_IDS)[number];

/** What every domain event has. */
interface EventBase<T extends DomainEventId> {
  /** The event id. */
  readonly type: T;
  /** The domain the event is about. */
  readonly domain: DomainRef;
  /** Milliseconds since the epoch, when the driver saw it. */
  readonly timestamp: number;
}

/** The lifecycle events, by libvirt's names (`VIR_DOMAIN_EVENT_*` in lower case). */
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

/** A lifecycle event, as libvirt's `VIR_DOMAIN_EVENT_*` with its detail. */
export interface DomainLifecycleEvent extends EventBase<'lifecycle'> {
  /** `defined`, `undefined`, `started`, `suspended`, `resumed`, `stopped`, `shutdown`, `pmsuspended`, `crashed`. */
  readonly event: DomainEventName;
  /** Detail name as libvirt's detail enums, lower-case without prefix (`booted`, `destroyed`, `added`, ...). */
  readonly detail: string;
}

/**
 * The guest was reset (libvirt's `VIR_DOMAIN_EVENT_ID_REBOOT`): a reboot
 * from inside the guest, `reset()`, or the reset that ends `reboot()`.
 * The domain keeps running, so no lifecycle event comes with it.
 */
export interface DomainRebootEvent extends EventBase<'reboot'> {}

/** The guest changed its RTC (`VIR_DOMAIN_EVENT_ID_RTC_CHANGE`). */
export interface DomainRtcChangeEvent extends EventBase<'rtc-change'> {
  /** The new offset from UTC, in seconds. */
  readonly utcoffset: number;
}

/** What a watchdog did when it fired (`VIR_DOMAIN_EVENT_WATCHDOG_*`). */
export type WatchdogAction = 'none' | 'pause' | 'reset' | 'poweroff' | 'shutdown' | 'debug' | 'inject-nmi';

/** The guest's watchdog fired (`VIR_DOMAIN_EVENT_ID_WATCHDOG`). */
export interface DomainWatchdogEvent extends EventBase<'watchdog'> {
  /** The action taken. */
  readonly action: WatchdogAction;
}

/** What the hypervisor did about an I/O error (`VIR_DOMAIN_EVENT_IO_ERROR_*`). */
export type IoErrorAction = 'none' | 'pause' | 'report';

/** A disk I/O error (`VIR_DOMAIN_EVENT_ID_IO_ERROR`). */
export interface DomainIoErrorEvent extends EventBase<'io-error'> {
  /** The disk's source (file path, or what identifies a network source); empty when unknown. */
  readonly srcPath: string;
  /** The disk's alias (`virtio-disk0`), or the hypervisor's device name when no disk matches. */
  readonly devAlias: string;
  /** What was done. */
  readonly action: IoErrorAction;
}

/** A disk I/O error with its cause (`VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON`). */
export interface DomainIoErrorReasonEvent extends EventBase<'io-error-reason'> {
  /** As in {@link DomainIoErrorEvent}. */
  readonly srcPath: string;
  /** As in {@link DomainIoErrorEvent}. */
  readonly devAlias: string;
  /** What was done. */
  readonly action: IoErrorAction;
  /** `enospc` when the host ran out of space, else the hypervisor's word (QEMU: empty). */
  readonly reason: string;
}

/** One end of a graphics connection (`virDomainEventGraphicsAddress`). */
export interface GraphicsAddress {
  /** The address family. */
  readonly family: 'ipv4' | 'ipv6' | 'unix';
  /** The address (or socket path). */
  readonly node: string;
  /** The port (or empty for a unix socket). */
  readonly service: string;
}

/** One fact of who a graphics client is (`virDomainEventGraphicsSubjectIdentity`). */
export interface GraphicsIdentity {
  /** `x509dname` or `saslUsername`. */
  readonly type: string;
  /** The name. */
  readonly name: string;
}

/** A graphics client connected, finished its handshake or went (`VIR_DOMAIN_EVENT_ID_GRAPHICS`). */
export interface DomainGraphicsEvent extends EventBase<'graphics'> {
  /** `VIR_DOMAIN_EVENT_GRAPHICS_CONNECT`, `_INITIALIZE`, `_DISCONNECT`. */
  readonly phase: 'connect' | 'initialize' | 'disconnect';
  /** The server's end. */
  readonly local: GraphicsAddress;
  /** The client's end. */
  readonly remote: GraphicsAddress;
  /** The authentication scheme (`none`, `vnc`, `sasl`, ...); empty when unknown. */
  readonly authScheme: string;
  /** Who the client is. */
  readonly subject: readonly GraphicsIdentity[];
}

/** The connection to the hypervisor's control channel of the domain broke (`VIR_DOMAIN_EVENT_ID_CONTROL_ERROR`). */
export interface DomainControlErrorEvent extends EventBase<'control-error'> {}

/** A block job's kind (`VIR_DOMAIN_BLOCK_JOB_TYPE_*`). */
export type BlockJobType = 'unknown' | 'pull' | 'copy' | 'commit' | 'active-commit' | 'backup';

/** How a block job ended, or that it is ready to pivot (`VIR_DOMAIN_BLOCK_JOB_*`). */
export type BlockJobStatus = 'completed' | 'failed' | 'canceled' | 'ready';

/**
 * A block job finished or is ready (`VIR_DOMAIN_EVENT_ID_BLOCK_JOB`, and
 * `block-job-2`, which names the disk by its target instead of its path).
 */
export interface DomainBlockJobEvent<T extends 'block-job' | 'block-job-2' = 'block-job' | 'block-job-2'>
  extends EventBase<T> {
  /** `block-job`: the disk's source path; `block-job-2`: its target (`vda`). */
  readonly disk: string;
  /** The job's kind. */
  readonly jobType: BlockJobType;
  /** Its status. */
  readonly status: BlockJobStatus;
}

/** A disk's media changed (`VIR_DOMAIN_EVENT_ID_DISK_CHANGE`). */
export interface DomainDiskChangeEvent extends EventBase<'disk-change'> {
  /** The old source path; empty when there was none. */
  readonly oldSrcPath: string;
  /** The new source path; empty when there is none. */
  readonly newSrcPath: string;
  /** The disk's alias. */
  readonly devAlias: string;
  /** `missing-on-start` (media dropped at start), `drop-missing-on-start` (the whole disk). */
  readonly reason: 'missing-on-start' | 'drop-missing-on-start';
}

/** A removable disk's tray moved (`VIR_DOMAIN_EVENT_ID_TRAY_CHANGE`). */
export interface DomainTrayChangeEvent extends EventBase<'tray-change'> {
  /** The disk's alias (`ide0-1-0`). */
  readonly devAlias: string;
  /** `VIR_DOMAIN_EVENT_TRAY_CHANGE_OPEN` or `_CLOSE`. */
  readonly reason: 'open' | 'close';
}

/**
 * The guest woke up, or suspended itself to RAM or disk
 * (`VIR_DOMAIN_EVENT_ID_PMWAKEUP`, `_PMSUSPEND`, `_PMSUSPEND_DISK`).
 */
export interface DomainPmEvent<
  T extends 'pm-wakeup' | 'pm-suspend' | 'pm-suspend-disk' = 'pm-wakeup' | 'pm-suspend' | 'pm-suspend-disk',
> extends EventBase<T> {
  /** libvirt's reason argument: always 0 so far. */
  readonly reason: number;
}

/** The balloon reached a new size (`VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE`). */
export interface DomainBalloonChangeEvent extends EventBase<'balloon-change'> {
  /** The guest's memory now, in KiB. */
  readonly actual: number;
}

/**
 * A device was added, removed, or its removal failed
 * (`VIR_DOMAIN_EVENT_ID_DEVICE_ADDED`, `_DEVICE_REMOVED`, `_DEVICE_REMOVAL_FAILED`).
 */
export interface DomainDeviceEvent<
  T extends 'device-added' | 'device-removed' | 'device-removal-failed' =
    | 'device-added'
    | 'device-removed'
    | 'device-removal-failed',
> extends EventBase<T> {
  /** The device's alias. */
  readonly devAlias: string;
}

/** A typed parameter's value as events carry them (`virTypedParameter`). */
export type TypedParamValue = number | bigint | boolean | string;

/** Tunables changed (`VIR_DOMAIN_EVENT_ID_TUNABLE`): libvirt's parameter names (`cputune.vcpu0`, ...). */
export interface DomainTunableEvent extends EventBase<'tunable'> {
  /** The changed parameters. */
  readonly params: Readonly<Record<string, TypedParamValue>>;
}

/** The guest agent connected or went (`VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE`). */
export interface DomainAgentLifecycleEvent extends EventBase<'agent-lifecycle'> {
  /** `VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED` or `_DISCONNECTED`. */
  readonly state: 'connected' | 'disconnected';
  /** `_REASON_UNKNOWN`, `_DOMAIN_STARTED`, `_CHANNEL`. */
  readonly reason: 'unknown' | 'domain-started' | 'channel';
}

/** A live migration began another pass over memory (`VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION`). */
export interface DomainMigrationIterationEvent extends EventBase<'migration-iteration'> {
  /** The pass number, from 1. */
  readonly iteration: number;
}

/** A job ended, with its statistics (`VIR_DOMAIN_EVENT_ID_JOB_COMPLETED`, `virDomainGetJobStats` names). */
export interface DomainJobCompletedEvent extends EventBase<'job-completed'> {
  /** The job's statistics. */
  readonly params: Readonly<Record<string, TypedParamValue>>;
}

/** Which metadata changed (`VIR_DOMAIN_METADATA_*`). */
export type MetadataKind = 'description' | 'title' | 'element';

/** The domain's metadata changed (`VIR_DOMAIN_EVENT_ID_METADATA_CHANGE`). */
export interface DomainMetadataChangeEvent extends EventBase<'metadata-change'> {
  /** Which metadata. */
  readonly kind: MetadataKind;
  /** For `element`: the element's namespace URI; else undefined. */
  readonly nsuri?: string;
}

/** A disk's write threshold was passed (`VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD`). */
export interface DomainBlockThresholdEvent extends EventBase<'block-threshold'> {
  /** The disk's target, with the backing index when not the top (`vda`, `vda[1]`). */
  readonly dev: string;
  /** The image's path; empty when unknown. */
  readonly path: string;
  /** The threshold, in bytes. */
  readonly threshold: bigint;
  /** Bytes written past it. */
  readonly excess: bigint;
}

/** A hardware memory error reached the host or guest (`VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE`). */
export interface DomainMemoryFailureEvent extends EventBase<'memory-failure'> {
  /** `VIR_DOMAIN_EVENT_MEMORY_FAILURE_RECIPIENT_HYPERVISOR` or `_GUEST`. */
  readonly recipient: 'hypervisor' | 'guest';
  /** `VIR_DOMAIN_EVENT_MEMORY_FAILURE_ACTION_*`. */
  readonly action: 'ignore' | 'inject' | 'fatal' | 'reset';
  /** `VIR_DOMAIN_MEMORY_FAILURE_ACTION_REQUIRED`. */
  readonly actionRequired: boolean;
  /** `VIR_DOMAIN_MEMORY_FAILURE_RECURSIVE`. */
  readonly recursive: boolean;
}

/** A memory device's size changed (`VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE`, virtio-mem). */
export interface DomainMemoryDeviceSizeChangeEvent extends EventBase<'memory-device-size-change'> {
  /** The device's alias. */
  readonly alias: string;
  /** Its new size, in KiB. */
  readonly size: number;
}

/** Each event id's event. */
export interface DomainEventMap {
  /** `lifecycle` events. */
  lifecycle: DomainLifecycleEvent;
  /** `reboot` events. */
  reboot: DomainRebootEvent;
  /** `rtc-change` events. */
  'rtc-change': DomainRtcChangeEvent;
  /** `watchdog` events. */
  watchdog: DomainWatchdogEvent;
  /** `io-error` events. */
  'io-error': DomainIoErrorEvent;
  /** `graphics` events. */
  graphics: DomainGraphicsEvent;
  /** `io-error-reason` events. */
  'io-error-reason': DomainIoErrorReasonEvent;
  /** `control-error` events. */
  'control-error': DomainControlErrorEvent;
  /** `block-job` events. */
  'block-job': DomainBlockJobEvent<'block-job'>;
  /** `disk-change` events. */
  'disk-change': DomainDiskChangeEvent;
  /** `tray-change` events. */
  'tray-change': DomainTrayChangeEvent;
  /** `pm-wakeup` events. */
  'pm-wakeup': DomainPmEvent<'pm-wakeup'>;
  /** `pm-suspend` events. */
  'pm-suspend': DomainPmEvent<'pm-suspend'>;
  /** `balloon-change` events. */
  'balloon-change': DomainBalloonChangeEvent;
  /** `pm-suspend-disk` events. */
  'pm-suspend-disk': DomainPmEvent<'pm-suspend-disk'>;
  /** `device-removed` events. */
  'device-removed': DomainDeviceEvent<'device-removed'>;
  /** `block-job-2` events. */
  'block-job-2': DomainBlockJobEvent<'block-job-2'>;
  /** `tunable` events. */
  tunable: DomainTunableEvent;
  /** `agent-lifecycle` events. */
  'agent-lifecycle': DomainAgentLifecycleEvent;
  /** `device-added` events. */
  'device-added': DomainDeviceEvent<'device-added'>;
  /** `migration-iteration` events. */
  'migration-iteration': DomainMigrationIterationEvent;
  /** `job-completed` events. */
  'job-completed': DomainJobCompletedEvent;
  /** `device-removal-failed` events. */
  'device-removal-failed': DomainDeviceEvent<'device-removal-failed'>;
  /** `metadata-change` events. */
  'metadata-change': DomainMetadataChangeEvent;
  /** `block-threshold` events. */
  'block-threshold': DomainBlockThresholdEvent;
  /** `memory-failure` events. */
  'memory-failure': DomainMemoryFailureEvent;
  /** `memory-device-size-change` events. */
  'memory-device-size-change': DomainMemoryDeviceSizeChangeEvent;
}

/** The event of the ids `I`. */
export type DomainEventOf<I extends DomainEventId> = DomainEventMap[I];

/** The lifecycle events (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`), what `Connection.events()` gives by default. */
export type DomainEvent = DomainLifecycleEvent;

/** Every domain event a driver may deliver. */
export type AnyDomainEvent = DomainEventMap[DomainEventId];

/** What a driver calls for each event it delivers. */
export type DomainEventListener = (event: AnyDomainEvent) => void;

/**
 * A raw QMP event of a QEMU guest's monitor, as libvirt-qemu's
 * `virConnectDomainQemuMonitorEventRegister` delivers it.
 */
export interface QemuMonitorEvent {
  /** Tells the monitor tap's events from the domain events. */
  readonly type: 'qemu-monitor';
  /** The domain whose QEMU sent it. */
  readonly domain: DomainRef;
  /** The QMP event name (`STOP`, `BLOCK_JOB_READY`, ...). */
  readonly event: string;
  /** QEMU's timestamp: whole seconds since the epoch. */
  readonly seconds: number;
  /** QEMU's timestamp: microseconds within the second. */
  readonly micros: number;
  /** The event's `data` member; undefined when it had none. */
  readonly details: Readonly<Record<string, unknown>> | undefined;
}

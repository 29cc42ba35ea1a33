/**
 * A handle on one domain of a {@link Connection} (libvirt's `virDomainPtr`).
 *
 * The handle holds the domain's identity; every method asks the driver, so
 * two handles on the same domain always agree. Methods a driver does not
 * implement fail with `NO_SUPPORT`.
 *
 * @module
 */
import { type DeviceDef, deviceXml } from './conf/domain/device-edit.js';
import { DomainDef } from './conf/domain/domain-def.js';
import { checkStartTimeout } from './connection-args.js';
import { checkAgentTimeout, DomainAgent, ownTimeout } from './domain-agent.js';
import type {
  BlockInfo,
  BlockStats,
  DomainStatsOptions,
  DomainStatsRecord,
  InterfaceStats,
  MemoryStats,
} from './domain-stats.js';
import {
  type BlockIoTune,
  type BlockIoTuneOptions,
  type BlockIoTuneParams,
  checkBlockIoTune,
  checkGetMetadata,
  checkSetMetadata,
  type GetMetadataOptions,
  type SetMetadataOptions,
} from './domain-tuning.js';
import { type BlkioParameters, checkBlkioParameters } from './domain-tuning-blkio.js';
import {
  checkMemoryParameters,
  checkOneOf,
  checkSchedulerParameters,
  type MemoryParameters,
  type SchedulerParameters,
  type SchedulerType,
  type TuningParamsOptions,
} from './domain-tuning-sched.js';
import type {
  CallOptions,
  ConsoleStream,
  DomainInfo,
  DomainOwner,
  DomainRef,
  DomainState,
  GetXmlOptions,
  MetadataKind,
  MigrateOptions,
  OpenConsoleOptions,
  Screenshot,
  ScreenshotOptions,
  SnapshotCreateOptions,
  SnapshotDeleteOptions,
  SnapshotInfo,
  SnapshotRevertOptions,
  SnapshotXmlOptions,
  StartCallOptions,
} from './driver.js';
import type {
  AgentCallOptions,
  DomainInterface,
  HostnameSource,
  InterfaceAddressSource,
  PowerMode,
} from './driver-agent.js';
import { throwIfAborted, VirError } from './errors.js';
import { type MigrationJob, migrateDomainRef, migrationJob } from './migration-job.js';
import {
  monitorRequest,
  monitorTimeout,
  type QemuMonitorCommandOptions,
  type QemuMonitorReply,
  type QmpCommand,
} from './qemu-monitor.js';
import { deviceName, oneDomainStats } from './stats-args.js';

/**
 * Where a change to a domain applies: `config` the persistent definition
 * (next boot), `live` the running guest; neither means the domain's
 * current state, as libvirt's `VIR_DOMAIN_AFFECT_CURRENT`.
 */
export type WriteOptions = CallOptions & {
  /** Change the persistent definition (next boot). */
  config?: boolean;
  /** Change the running guest. */
  live?: boolean;
};

/**
 * `C` is the connection type, so that `dom.connection` of a handle from a
 * `Connection` is that `Connection`.
 */
export class Domain<C extends DomainOwner = DomainOwner> {
  readonly #conn: C;
  #ref: DomainRef;
  #agent: DomainAgent | undefined;

  /** @internal handles come from `Connection` */
  constructor(conn: C, ref: DomainRef) {
    this.#conn = conn;
    this.#ref = ref;
  }

  /** The domain name, as of the last call that returned it (a rename updates it). */
  get name(): string {
    return this.#ref.name;
  }

  /** The domain UUID, lower-case: the identity that never changes. */
  get uuid(): string {
    return this.#ref.uuid;
  }

  /** Id while running, -1 when inactive, as of the last call that returned it. */
  get id(): number {
    return this.#ref.id;
  }

  /** The connection this handle calls through. */
  get connection(): C {
    return this.#conn;
  }

  /**
   * Starts an inactive persistent domain (`virDomainCreate`). `timeout`
   * (milliseconds) bounds the hypervisor's bring-up (see {@link StartCallOptions}).
   */
  async start(opts: StartCallOptions = {}): Promise<void> {
    this.#conn._writable('start');
    // `timeout` bounds the bring-up in the driver, not the whole call
    const { timeout: bringUp, ...call } = opts;
    const timeout = checkStartTimeout(bringUp);
    this.#ref = await this.#conn._domainCall('domainStart', this.#ref, call, (d, signal) =>
      d.domainStart!(this.#ref, {
        signal,
        ...(opts.paused ? { paused: true } : {}),
        ...(timeout !== undefined ? { timeout } : {}),
      }),
    );
  }

  /** Pauses the guest's vCPUs; memory and devices stay as they are. */
  suspend(opts: CallOptions = {}): Promise<void> {
    return this.#write('domainSuspend', opts, (d, signal) => d.domainSuspend!(this.#ref, { signal }));
  }

  /** Resumes a paused guest. */
  resume(opts: CallOptions = {}): Promise<void> {
    return this.#write('domainResume', opts, (d, signal) => d.domainResume!(this.#ref, { signal }));
  }

  /**
   * Asks the guest to shut down (ACPI power button on real hypervisors).
   * Like `virDomainShutdown` it returns once the request is made; with
   * `timeout` (milliseconds) it also waits until the domain is shut off
   * (or its definition is gone, for a transient one), and fails with
   * `OPERATION_TIMEOUT` when the guest ignores the request that long.
   * Aborting `signal` stops the wait, not the shutdown.
   */
  async shutdown(opts: CallOptions & { timeout?: number; mode?: PowerMode } = {}): Promise<void> {
    const { timeout, mode, ...call } = opts;
    if (timeout !== undefined && (!Number.isFinite(timeout) || timeout < 0)) {
      throw new VirError('INVALID_ARG', 'domain', `invalid shutdown timeout ${timeout} ms`, {
        field: 'timeout',
      });
    }
    await this.#write('domainShutdown', call, (d, signal) =>
      d.domainShutdown!(this.#ref, powerOpts(signal, mode)),
    );
    if (timeout === undefined) return;
    const deadline = Date.now() + timeout;
    for (;;) {
      const state = await this.getState(opts.signal ? { signal: opts.signal } : {}).catch((err: unknown) => {
        // A transient domain is gone once it has shut down.
        if (err instanceof VirError && err.code === 'NO_DOMAIN') return { state: 'shutoff' };
        throw err;
      });
      if (state.state === 'shutoff') {
        this.#ref = { ...this.#ref, id: -1 };
        return;
      }
      if (Date.now() >= deadline) {
        throw new VirError(
          'OPERATION_TIMEOUT',
          'domain',
          `domain '${this.name}' did not shut down within ${timeout} ms`,
        );
      }
      await pause(Math.min(100, Math.max(1, deadline - Date.now())), opts.signal);
    }
  }

  /** Asks the guest to reboot (ACPI, as libvirt by default; `mode: 'agent'` by its agent); resolves once asked. */
  reboot(opts: CallOptions & { mode?: PowerMode } = {}): Promise<void> {
    return this.#write('domainReboot', opts, (d, s) => d.domainReboot!(this.#ref, powerOpts(s, opts.mode)));
  }

  /** Resets the guest at once, without asking it, like the reset button. */
  reset(opts: CallOptions = {}): Promise<void> {
    return this.#write('domainReset', opts, (d, signal) => d.domainReset!(this.#ref, { signal }));
  }

  /** Stops the domain at once, like pulling the plug. */
  async destroy(opts: CallOptions = {}): Promise<void> {
    await this.#write('domainDestroy', opts, (d, signal) => d.domainDestroy!(this.#ref, { signal }));
    this.#ref = { ...this.#ref, id: -1 };
  }

  /**
   * Removes the persistent definition; a running domain becomes transient.
   * An inactive domain with snapshots needs `snapshots: true` (their
   * metadata goes too), as in libvirt.
   */
  undefine(opts: CallOptions & { snapshots?: boolean } = {}): Promise<void> {
    return this.#write('domainUndefine', opts, (d, signal) =>
      d.domainUndefine!(this.#ref, { signal, ...(opts.snapshots ? { snapshots: true } : {}) }),
    );
  }

  /** The state and libvirt's reason for it (`virsh domstate --reason`). */
  getState(opts: CallOptions = {}): Promise<DomainState> {
    return this.#conn._domainCall('domainGetState', this.#ref, opts, (d, signal) =>
      d.domainGetState!(this.#ref, { signal }),
    );
  }

  /** State, memory, vCPUs and CPU time (`virsh dominfo`). */
  getInfo(opts: CallOptions = {}): Promise<DomainInfo> {
    return this.#conn._domainCall('domainGetInfo', this.#ref, opts, (d, signal) =>
      d.domainGetInfo!(this.#ref, { signal }),
    );
  }

  /**
   * Statistics by libvirt's groups and key names (`virDomainListGetStats`):
   * `stats` typed by group, `params` libvirt's flat form. An unknown group is
   * `INVALID_ARG` naming it; see {@link DomainStatsOptions}.
   */
  getStats(opts: DomainStatsOptions = {}): Promise<DomainStatsRecord<this>> {
    return oneDomainStats(this.#conn, this.#ref, this, opts);
  }

  /** Capacity, allocation and physical size of a disk, by target (`vda`) or path (`virsh domblkinfo`). */
  async getBlockInfo(disk: string, opts: CallOptions = {}): Promise<BlockInfo> {
    const name = deviceName(disk, 'disk');
    return this.#conn._domainCall('domainGetBlockInfo', this.#ref, opts, (d, signal) =>
      d.domainGetBlockInfo!(this.#ref, name, { signal }),
    );
  }

  /** I/O counters of a disk of the running guest, by target or path (`virsh domblkstat`). */
  async getBlockStats(disk: string, opts: CallOptions = {}): Promise<BlockStats> {
    const name = deviceName(disk, 'disk');
    return this.#conn._domainCall('domainBlockStats', this.#ref, opts, (d, signal) =>
      d.domainBlockStats!(this.#ref, name, { signal }),
    );
  }

  /** Counters of an interface of the running guest, by host device (`vnet0`) or MAC (`virsh domifstat`). */
  async getInterfaceStats(device: string, opts: CallOptions = {}): Promise<InterfaceStats> {
    const name = deviceName(device, 'device');
    return this.#conn._domainCall('domainInterfaceStats', this.#ref, opts, (d, signal) =>
      d.domainInterfaceStats!(this.#ref, name, { signal }),
    );
  }

  /** The balloon's and the guest's memory figures of the running guest (`virsh dommemstat`). */
  getMemoryStats(opts: CallOptions = {}): Promise<MemoryStats> {
    return this.#conn._domainCall('domainMemoryStats', this.#ref, opts, (d, signal) =>
      d.domainMemoryStats!(this.#ref, { signal }),
    );
  }

  /** The domain XML: live by default, the next-boot definition with `inactive`. */
  getXML(opts: GetXmlOptions = {}): Promise<string> {
    return this.#conn._domainCall('domainGetXml', this.#ref, opts, (d, signal) =>
      d.domainGetXml!(this.#ref, { ...opts, signal }),
    );
  }

  /**
   * The domain definition, typed: live by default, the next-boot one with
   * `inactive`, the same document `getXML` gives. The result is the
   * caller's own copy; changing it changes nothing until it is defined
   * again. Drivers that keep a `DomainDef` hand it out directly; for the
   * others the XML is parsed (which may add the model's defaults).
   */
  async getDefinition(opts: GetXmlOptions = {}): Promise<DomainDef> {
    if (this.#conn._supports('domainGetDefinition')) {
      return this.#conn._domainCall('domainGetDefinition', this.#ref, opts, (d, signal) =>
        d.domainGetDefinition!(this.#ref, { ...opts, signal }),
      );
    }
    return DomainDef.fromXML(await this.getXML(opts));
  }

  /** Sets the current memory in KiB. */
  setMemory(kib: number, opts: WriteOptions = {}): Promise<void> {
    if (!Number.isSafeInteger(kib) || kib <= 0) {
      return Promise.reject(new VirError('INVALID_ARG', 'domain', `invalid memory size ${kib} KiB`));
    }
    return this.#write('domainSetMemory', opts, (d, signal) =>
      d.domainSetMemory!(this.#ref, kib, { ...opts, signal }),
    );
  }

  /**
   * Sets the maximum memory in KiB (`virDomainSetMaxMemory`, `<memory>`): by
   * default that of the definition of an inactive domain; drivers that cannot
   * change a running guest's maximum refuse `live` (QEMU does).
   */
  setMaxMemory(kib: number, opts: WriteOptions = {}): Promise<void> {
    if (!Number.isSafeInteger(kib) || kib <= 0) {
      return Promise.reject(
        new VirError('INVALID_ARG', 'domain', `invalid memory size ${kib} KiB`, { field: 'memory' }),
      );
    }
    return this.#write('domainSetMaxMemory', opts, (d, signal) =>
      d.domainSetMaxMemory!(this.#ref, kib, { ...opts, signal }),
    );
  }

  /**
   * Sets the vCPU count of the running guest (`live`), the definition (`config`), or the current
   * one.
   */
  setVcpus(count: number, opts: WriteOptions = {}): Promise<void> {
    if (!Number.isSafeInteger(count) || count <= 0) {
      return Promise.reject(new VirError('INVALID_ARG', 'domain', `invalid vCPU count ${count}`));
    }
    return this.#write('domainSetVcpus', opts, (d, signal) =>
      d.domainSetVcpus!(this.#ref, count, { ...opts, signal }),
    );
  }

  /**
   * Adds a device (`virDomainAttachDeviceFlags`): one device element
   * (`<disk>`, `<interface>`, ...) or a {@link DeviceDef}, to the running
   * guest (`live`), the definition (`config`), or both; neither is the
   * current state. The device gets its address and alias as at define.
   */
  attachDevice(device: string | DeviceDef, opts: WriteOptions = {}): Promise<void> {
    return this.#device('domainAttachDevice', device, opts);
  }

  /**
   * Removes the device `device` names (`virDomainDetachDeviceFlags`): a disk
   * by target, an interface by MAC, others by alias or their XML. Live, it
   * returns once the guest released it, or after 5 s with the device still
   * listed until it does, as libvirt.
   */
  detachDevice(device: string | DeviceDef, opts: WriteOptions = {}): Promise<void> {
    return this.#device('domainDetachDevice', device, opts);
  }

  /** Changes a device in place (`virDomainUpdateDeviceFlags`): CD-ROM/floppy media, link state. */
  updateDevice(device: string | DeviceDef, opts: WriteOptions = {}): Promise<void> {
    return this.#device('domainUpdateDevice', device, opts);
  }

  /**
   * Replaces the domain's `title`, `description`, or one application's
   * `element` under `<metadata>` (`virDomainSetMetadata`); `null` (or an
   * empty string) removes it. An element is given as XML in no namespace
   * and stored in namespace `uri` with prefix `key`, replacing the one that
   * namespace had. Emits `metadata-change`. libvirt's checks: a title has no
   * newline, `uri` and `key` only for `element` (`INVALID_ARG`).
   */
  setMetadata(kind: MetadataKind, value: string | null, opts: SetMetadataOptions = {}): Promise<void> {
    try {
      checkSetMetadata(kind, value, opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#write('domainSetMetadata', opts, (d, signal) =>
      d.domainSetMetadata!(this.#ref, kind, value, { ...opts, signal }),
    );
  }

  /**
   * The domain's `title`, `description`, or the `element` of namespace
   * `uri` without its prefix (`virDomainGetMetadata`); `NO_DOMAIN_METADATA`
   * when there is none.
   */
  getMetadata(kind: MetadataKind, opts: GetMetadataOptions = {}): Promise<string> {
    try {
      checkGetMetadata(kind, opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#conn._domainCall('domainGetMetadata', this.#ref, opts, (d, signal) =>
      d.domainGetMetadata!(this.#ref, kind, { ...opts, signal }),
    );
  }

  /**
   * Changes the I/O limits of a disk, by target (`vda`) or source path
   * (`virDomainSetBlockIoTune`), with libvirt's parameter names; those not
   * given keep their values. Emits `tunable` with the `blkdeviotune.*` values.
   */
  setBlockIoTune(disk: string, params: BlockIoTuneParams, opts: BlockIoTuneOptions = {}): Promise<void> {
    try {
      checkBlockIoTune(disk, params);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#write('domainSetBlockIoTune', opts, (d, signal) =>
      d.domainSetBlockIoTune!(this.#ref, disk, { ...params }, { ...opts, signal }),
    );
  }

  /** A disk's I/O limits, every parameter (`virDomainGetBlockIoTune`): live by default when running. */
  getBlockIoTune(disk: string, opts: BlockIoTuneOptions = {}): Promise<BlockIoTune> {
    try {
      checkBlockIoTune(disk, {});
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#conn._domainCall('domainGetBlockIoTune', this.#ref, opts, (d, signal) =>
      d.domainGetBlockIoTune!(this.#ref, disk, { ...opts, signal }),
    );
  }

  /** The CPU scheduler and how many parameters it has (`virDomainGetSchedulerType`). */
  getSchedulerType(opts: CallOptions = {}): Promise<SchedulerType> {
    return this.#conn._domainCall('domainGetSchedulerType', this.#ref, opts, (d, signal) =>
      d.domainGetSchedulerType!(this.#ref, { signal }),
    );
  }

  /**
   * The scheduler parameters (`virDomainGetSchedulerParametersFlags`): the
   * running guest's by default when it runs, else the persistent definition's.
   */
  getSchedulerParameters(opts: TuningParamsOptions = {}): Promise<SchedulerParameters> {
    try {
      checkOneOf(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#conn._domainCall('domainGetSchedulerParameters', this.#ref, opts, (d, signal) =>
      d.domainGetSchedulerParameters!(this.#ref, { ...opts, signal }),
    );
  }

  /**
   * Changes scheduler parameters by libvirt's names
   * (`virDomainSetSchedulerParametersFlags`); those not given keep their
   * values. Emits `tunable` with the `cputune.*` values.
   */
  setSchedulerParameters(params: SchedulerParameters, opts: TuningParamsOptions = {}): Promise<void> {
    try {
      checkSchedulerParameters(params);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#write('domainSetSchedulerParameters', opts, (d, signal) =>
      d.domainSetSchedulerParameters!(this.#ref, { ...params }, { ...opts, signal }),
    );
  }

  /** The memory limits in KiB (`virDomainGetMemoryParameters`); `MEMORY_PARAM_UNLIMITED` for none. */
  getMemoryParameters(opts: TuningParamsOptions = {}): Promise<MemoryParameters> {
    try {
      checkOneOf(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#conn._domainCall('domainGetMemoryParameters', this.#ref, opts, (d, signal) =>
      d.domainGetMemoryParameters!(this.#ref, { ...opts, signal }),
    );
  }

  /** Changes memory limits in KiB (`virDomainSetMemoryParameters`); those not given keep their values. */
  setMemoryParameters(params: MemoryParameters, opts: TuningParamsOptions = {}): Promise<void> {
    try {
      checkMemoryParameters(params);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#write('domainSetMemoryParameters', opts, (d, signal) =>
      d.domainSetMemoryParameters!(this.#ref, { ...params }, { ...opts, signal }),
    );
  }

  /**
   * The block I/O weight and per-device lists (`virDomainGetBlkioParameters`):
   * the running guest's by default when it runs, else the persistent
   * definition's.
   */
  getBlkioParameters(opts: TuningParamsOptions = {}): Promise<BlkioParameters> {
    try {
      checkOneOf(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#conn._domainCall('domainGetBlkioParameters', this.#ref, opts, (d, signal) =>
      d.domainGetBlkioParameters!(this.#ref, { ...opts, signal }),
    );
  }

  /**
   * Changes block I/O parameters by libvirt's names
   * (`virDomainSetBlkioParameters`); a per-device list changes the devices
   * it names (0 removes a value), the others keep theirs.
   */
  setBlkioParameters(params: BlkioParameters, opts: TuningParamsOptions = {}): Promise<void> {
    try {
      checkBlkioParameters(params);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#write('domainSetBlkioParameters', opts, (d, signal) =>
      d.domainSetBlkioParameters!(this.#ref, { ...params }, { ...opts, signal }),
    );
  }

  /** Whether the domain starts when the host (or the driver) starts. */
  getAutostart(opts: CallOptions = {}): Promise<boolean> {
    return this.#conn._domainCall('domainGetAutostart', this.#ref, opts, (d, signal) =>
      d.domainGetAutostart!(this.#ref, { signal }),
    );
  }

  /** Sets whether the domain starts when the host starts. */
  setAutostart(autostart: boolean, opts: CallOptions = {}): Promise<void> {
    return this.#write('domainSetAutostart', opts, (d, signal) =>
      d.domainSetAutostart!(this.#ref, autostart, { signal }),
    );
  }

  /** Renames an inactive domain; this handle follows the new name. */
  async rename(newName: string, opts: CallOptions = {}): Promise<void> {
    if (typeof newName !== 'string' || newName === '') {
      throw new VirError('INVALID_ARG', 'domain', 'new domain name must be a non-empty string');
    }
    this.#conn._writable('rename');
    this.#ref = await this.#conn._domainCall('domainRename', this.#ref, opts, (d, signal) =>
      d.domainRename!(this.#ref, newName, { signal }),
    );
  }

  /** Saves the running guest's state and stops it; the next `start()` resumes from there. */
  managedSave(opts: CallOptions = {}): Promise<void> {
    return this.#write('domainManagedSave', opts, (d, signal) => d.domainManagedSave!(this.#ref, { signal }));
  }

  /** Whether a managed save waits for the next start. */
  hasManagedSave(opts: CallOptions = {}): Promise<boolean> {
    return this.#conn._domainCall('domainHasManagedSave', this.#ref, opts, (d, signal) =>
      d.domainHasManagedSave!(this.#ref, { signal }),
    );
  }

  /** Removes the managed save image: the next `start()` boots afresh (none is no error). */
  managedSaveRemove(opts: CallOptions = {}): Promise<void> {
    return this.#write('domainManagedSaveRemove', opts, (d, signal) =>
      d.domainManagedSaveRemove!(this.#ref, { signal }),
    );
  }

  /**
   * Saves the running (or paused) guest's state to `path`, an absolute path,
   * and stops it (`virDomainSave`, `shutoff/saved`); `Connection.restoreDomain`
   * brings it back. A save that fails removes the file, the guest runs on.
   */
  save(path: string, opts: CallOptions = {}): Promise<void> {
    if (typeof path !== 'string' || !path.startsWith('/'))
      return Promise.reject(
        new VirError('INVALID_ARG', 'domain', `save path must be absolute, got '${path}'`, { field: 'path' }),
      );
    return this.#write('domainSave', opts, (d, signal) => d.domainSave!(this.#ref, path, { signal }));
  }

  /**
   * Opens the guest's console (`virDomainOpenConsole`): the serial port,
   * console or parallel port whose alias is `name` (`serial0`, `console1`,
   * as the live XML shows them), by default the first console, else the
   * first serial port. The result is a byte stream (a Node `Duplex`):
   * read what the guest writes, write to type into it; destroy it to let
   * go. The domain must be running (`OPERATION_INVALID`); a device already
   * open elsewhere is `OPERATION_FAILED` unless `force` takes it over; a
   * backend that cannot be opened (not a pty or unix socket) is
   * `CONFIG_UNSUPPORTED`.
   */
  openConsole(name?: string, opts: OpenConsoleOptions = {}): Promise<ConsoleStream> {
    if (name !== undefined && (typeof name !== 'string' || name === '')) {
      return Promise.reject(new VirError('INVALID_ARG', 'domain', 'console name must be a non-empty string'));
    }
    return this.#write('domainOpenConsole', opts, (d, signal) =>
      d.domainOpenConsole!(this.#ref, name, { signal, ...(opts.force ? { force: true } : {}) }),
    );
  }

  /**
   * Live-migrates the running domain to `dest` (`virDomainMigrate3`) and
   * returns its handle there. Flags and parameters are libvirt's (see
   * {@link MigrateOptions}): `live`, `persistDest`, `undefineSource`,
   * `xbzrle`, `autoConverge`, `postcopy`, `bandwidth` (MiB/s); progress
   * comes to `onProgress` as libvirt's job info; `signal` aborts it (the
   * guest then runs on here, `OPERATION_ABORTED`; at `timeout` ms the same,
   * as `OPERATION_TIMEOUT`). A destination that cannot take the guest's CPU
   * is `CPU_INCOMPATIBLE` before anything moves; one that already has a
   * domain of its name or UUID is `OPERATION_INVALID`. Between two qemu
   * connections of this process (two state roots) or two remote connections
   * (libvirtd to libvirtd: managed, or `peer2peer`); other pairs are `NO_SUPPORT`.
   */
  async migrate<D extends DomainOwner>(dest: D, opts: MigrateOptions = {}): Promise<Domain<D>> {
    return new Domain(dest, await migrateDomainRef(this.#conn, this.#ref, dest, opts));
  }

  /**
   * {@link migrate} with its progress as an async iterator: `for await (const p of job.progress)`
   * sees libvirt's job info (remaining, transferred, downtime) until the end, then `await job.done`
   * gives the domain at the destination (see {@link MigrationJob}).
   */
  migrateWithProgress<D extends DomainOwner>(dest: D, opts: MigrateOptions = {}): MigrationJob<Domain<D>> {
    return migrationJob(opts, (o) => this.migrate(dest, o));
  }

  /** The guest agent calls of this domain (see {@link DomainAgent}). */
  get agent(): DomainAgent {
    this.#agent ??= new DomainAgent(this.#conn, () => this.#ref);
    return this.#agent;
  }

  /** The guest's host name (`virDomainGetHostname`): from `source`, or where the driver knows it. */
  getHostname(opts: AgentCallOptions & { source?: HostnameSource } = {}): Promise<string> {
    return this.#conn._domainCall('domainGetHostname', this.#ref, ownTimeout(opts), (d, signal) =>
      d.domainGetHostname!(this.#ref, {
        ...agentOpts(signal, opts),
        ...(opts.source ? { source: opts.source } : {}),
      }),
    );
  }

  /**
   * The guest's interfaces and addresses (`virDomainInterfaceAddresses`) from `source`: the
   * host's DHCP leases (the default), the guest `agent`, or the host's ARP table.
   */
  interfaceAddresses(
    opts: AgentCallOptions & { source?: InterfaceAddressSource } = {},
  ): Promise<DomainInterface[]> {
    const source = opts.source ?? 'lease';
    if (source === 'agent') return this.agent.getInterfaceAddresses(opts);
    return this.#conn._domainCall('domainInterfaceAddresses', this.#ref, ownTimeout(opts), (d, signal) =>
      d.domainInterfaceAddresses!(this.#ref, source, agentOpts(signal, opts)),
    );
  }

  /** Whether the domain has a persistent definition (false for one made by `createDomain`). */
  isPersistent(opts: CallOptions = {}): Promise<boolean> {
    return this.#conn._domainCall('domainIsPersistent', this.#ref, opts, (d, signal) =>
      d.domainIsPersistent!(this.#ref, { signal }),
    );
  }

  /**
   * Takes a snapshot (`virDomainSnapshotCreateXML`); `xml` is a
   * `<domainsnapshot>` document (name, description), by default an empty one
   * so the driver names it. Returns the snapshot's name. The options are
   * libvirt's create flags; the combinations libvirt's API refuses
   * (`current` without `redefine`, `redefine` with `noMetadata` or `halt`)
   * are `INVALID_ARG` before the driver is asked.
   */
  createSnapshot(xml = '<domainsnapshot/>', opts: CallOptions & SnapshotCreateOptions = {}): Promise<string> {
    const bad = snapshotCreateConflict(opts);
    if (bad) return Promise.reject(new VirError('INVALID_ARG', 'domain', bad));
    const flags = onlyTrue({
      redefine: opts.redefine,
      current: opts.current,
      noMetadata: opts.noMetadata,
      halt: opts.halt,
      diskOnly: opts.diskOnly,
      reuseExt: opts.reuseExt,
      quiesce: opts.quiesce,
      atomic: opts.atomic,
      live: opts.live,
      validate: opts.validate,
    });
    return this.#write('domainSnapshotCreate', opts, (d, signal) =>
      d.domainSnapshotCreate!(this.#ref, xml, { ...onlyTrue(flags), signal }),
    );
  }

  /** The domain's snapshots, oldest first, with which one is current. */
  listSnapshots(opts: CallOptions = {}): Promise<SnapshotInfo[]> {
    return this.#conn._domainCall('domainSnapshotList', this.#ref, opts, (d, signal) =>
      d.domainSnapshotList!(this.#ref, { signal }),
    );
  }

  /** One snapshot's `<domainsnapshot>` XML. */
  getSnapshotXML(name: string, opts: SnapshotXmlOptions = {}): Promise<string> {
    return this.#conn._domainCall('domainSnapshotGetXml', this.#ref, opts, (d, signal) =>
      d.domainSnapshotGetXml!(this.#ref, name, { ...(opts.secure ? { secure: true } : {}), signal }),
    );
  }

  /**
   * Goes back to the snapshot's definition and run state; `running` or
   * `paused` (not both: `INVALID_ARG`) ask for that state instead,
   * `force` allows what libvirt calls a risky revert.
   */
  async revertToSnapshot(name: string, opts: CallOptions & SnapshotRevertOptions = {}): Promise<void> {
    this.#conn._writable('revertToSnapshot');
    if (opts.running && opts.paused)
      throw new VirError(
        'INVALID_ARG',
        'domain',
        "Flags 'VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING' and 'VIR_DOMAIN_SNAPSHOT_REVERT_PAUSED' are mutually exclusive",
      );
    const flags = onlyTrue({
      running: opts.running,
      paused: opts.paused,
      force: opts.force,
      resetNvram: opts.resetNvram,
    });
    this.#ref = await this.#conn._domainCall('domainSnapshotRevert', this.#ref, opts, (d, signal) =>
      d.domainSnapshotRevert!(this.#ref, name, { ...flags, signal }),
    );
  }

  /**
   * Deletes a snapshot; with `children` the ones below it too, with
   * `childrenOnly` only those; `metadataOnly` leaves the images as they are.
   * `children` with `childrenOnly` is `INVALID_ARG`, as in libvirt.
   */
  deleteSnapshot(name: string, opts: CallOptions & SnapshotDeleteOptions = {}): Promise<void> {
    if (opts.children && opts.childrenOnly)
      return Promise.reject(
        new VirError(
          'INVALID_ARG',
          'domain',
          "Flags 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN' and 'VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY' are mutually exclusive",
        ),
      );
    return this.#write('domainSnapshotDelete', opts, (d, signal) =>
      d.domainSnapshotDelete!(this.#ref, name, {
        signal,
        ...(opts.children ? { children: true } : {}),
        ...(opts.childrenOnly ? { childrenOnly: true } : {}),
        ...(opts.metadataOnly ? { metadataOnly: true } : {}),
      }),
    );
  }

  /**
   * Sends a command through the driver's own QEMU monitor (libvirt-qemu's
   * `virDomainQemuMonitorCommand`): a QMP command as JSON text or
   * `{ execute, arguments }`, answered with QEMU's reply (`{ return }` or
   * `{ error }`); with `hmp: true` an HMP line, answered with its text. The
   * domain is marked tainted (`custom-monitor` in its log): what the command
   * changes is not known to the driver. qemu driver only; a guest not running
   * is `OPERATION_INVALID`.
   */
  qemuMonitorCommand(cmd: string, opts: QemuMonitorCommandOptions & { hmp: true }): Promise<string>;
  /** A QMP command (JSON text or `{ execute, arguments }`), answered with QEMU's reply. */
  qemuMonitorCommand(cmd: string | QmpCommand, opts?: QemuMonitorCommandOptions): Promise<QemuMonitorReply>;
  qemuMonitorCommand(cmd: string | QmpCommand, opts: QemuMonitorCommandOptions = {}): Promise<unknown> {
    return this.#write('domainQemuMonitorCommand', ownTimeout(opts), (d, signal) =>
      d.domainQemuMonitorCommand!(this.#ref, monitorRequest(cmd, opts.hmp === true), {
        signal,
        ...(opts.timeout !== undefined ? { timeout: monitorTimeout(opts.timeout) } : {}),
      }),
    );
  }

  /**
   * A picture of display `screen` (default 0) of the running guest
   * (`virDomainScreenshot`): PNG bytes and their MIME type. A guest without
   * a display is `OPERATION_INVALID`.
   */
  screenshot(opts: ScreenshotOptions = {}): Promise<Screenshot> {
    const { screen } = opts;
    if (screen !== undefined && (!Number.isSafeInteger(screen) || screen < 0 || screen > 0xffffffff))
      return Promise.reject(
        new VirError('INVALID_ARG', 'domain', `invalid screen ${screen}`, { field: 'screen' }),
      );
    return this.#conn._domainCall('domainScreenshot', this.#ref, opts, (d, signal) =>
      d.domainScreenshot!(this.#ref, { signal, ...(screen !== undefined ? { screen } : {}) }),
    );
  }

  /** The identity as plain data, for logs and JSON APIs. */
  toJSON(): {
    /** The domain name. */
    name: string;
    /** The domain UUID. */
    uuid: string;
    /** The id while running, -1 when inactive. */
    id: number;
  } {
    return { name: this.name, uuid: this.uuid, id: this.id };
  }

  #device(
    method: 'domainAttachDevice' | 'domainDetachDevice' | 'domainUpdateDevice',
    device: string | DeviceDef,
    opts: WriteOptions,
  ): Promise<void> {
    let xml: string;
    try {
      xml = deviceXml(device);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#write(method, opts, (d, signal) => d[method]!(this.#ref, xml, { ...opts, signal }));
  }

  #write<T>(
    method: Parameters<DomainOwner['_domainCall']>[0],
    opts: CallOptions,
    run: Parameters<DomainOwner['_domainCall']>[3],
  ): Promise<T> {
    try {
      this.#conn._writable(method.slice(6).toLowerCase());
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#conn._domainCall(method, this.#ref, opts, run) as Promise<T>;
  }
}

/** A power call's driver options: the mode only when one is asked for. */
function powerOpts(signal: AbortSignal, mode: PowerMode | undefined): CallOptions & { mode?: PowerMode } {
  if (mode !== undefined && mode !== 'acpi' && mode !== 'agent')
    throw new VirError('INVALID_ARG', 'domain', `unknown power mode '${String(mode)}'`, { field: 'mode' });
  return mode ? { signal, mode } : { signal };
}

/** An agent call's driver options, its timeout checked. */
function agentOpts(signal: AbortSignal, opts: AgentCallOptions): AgentCallOptions {
  checkAgentTimeout(opts.timeout);
  return opts.timeout !== undefined ? { signal, timeout: opts.timeout } : { signal };
}

/** Waits `ms`, or less when `signal` aborts (then throws `OPERATION_ABORTED`). */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal, 'domain');
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      try {
        throwIfAborted(signal, 'domain');
      } catch (err) {
        reject(err);
      }
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The options set to `true`, so drivers see only the flags asked for. */
function onlyTrue<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v === true) (out as Record<string, unknown>)[k] = true;
  return out;
}

/** libvirt's API-level checks of the create flags (before any driver). */
function snapshotCreateConflict(o: SnapshotCreateOptions): string | undefined {
  const f = (n: string) => `VIR_DOMAIN_SNAPSHOT_CREATE_${n}`;
  if (o.current && !o.redefine) return `Flag '${f('REDEFINE')}' is required by flag '${f('CURRENT')}'`;
  if (o.redefine && o.noMetadata)
    return `Flags '${f('REDEFINE')}' and '${f('NO_METADATA')}' are mutually exclusive`;
  if (o.redefine && o.halt) return `Flags '${f('REDEFINE')}' and '${f('HALT')}' are mutually exclusive`;
  return undefined;
}

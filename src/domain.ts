/**
 * A handle on one domain of a {@link Connection} (libvirt's `virDomainPtr`).
 *
 * The handle holds the domain's identity; every method asks the driver, so
 * two handles on the same domain always agree. Methods a driver does not
 * implement fail with `NO_SUPPORT`.
 *
 * @module
 */
import { DomainDef } from './conf/domain/domain-def.js';
import { checkStartTimeout } from './connection-args.js';
import type {
  CallOptions,
  ConsoleStream,
  DomainInfo,
  DomainOwner,
  DomainRef,
  DomainState,
  GetXmlOptions,
  MigrateOptions,
  OpenConsoleOptions,
  SnapshotInfo,
  StartCallOptions,
} from './driver.js';
import { throwIfAborted, VirError } from './errors.js';
import { type MigrationJob, migrateDomainRef, migrationJob } from './migration-job.js';

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
  async shutdown(opts: CallOptions & { timeout?: number } = {}): Promise<void> {
    const { timeout, ...call } = opts;
    if (timeout !== undefined && (!Number.isFinite(timeout) || timeout < 0)) {
      throw new VirError('INVALID_ARG', 'domain', `invalid shutdown timeout ${timeout} ms`, {
        field: 'timeout',
      });
    }
    await this.#write('domainShutdown', call, (d, signal) => d.domainShutdown!(this.#ref, { signal }));
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

  /** Asks the guest to reboot (ACPI, as libvirt by default); resolves once asked. */
  reboot(opts: CallOptions = {}): Promise<void> {
    return this.#write('domainReboot', opts, (d, signal) => d.domainReboot!(this.#ref, { signal }));
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

  /** Whether the domain has a persistent definition (false for one made by `createDomain`). */
  isPersistent(opts: CallOptions = {}): Promise<boolean> {
    return this.#conn._domainCall('domainIsPersistent', this.#ref, opts, (d, signal) =>
      d.domainIsPersistent!(this.#ref, { signal }),
    );
  }

  /**
   * Takes a snapshot (`virDomainSnapshotCreateXML`); `xml` is a
   * `<domainsnapshot>` document (name, description), by default an empty one
   * so the driver names it. Returns the snapshot's name.
   */
  createSnapshot(xml = '<domainsnapshot/>', opts: CallOptions = {}): Promise<string> {
    return this.#write('domainSnapshotCreate', opts, (d, signal) =>
      d.domainSnapshotCreate!(this.#ref, xml, { signal }),
    );
  }

  /** The domain's snapshots, oldest first, with which one is current. */
  listSnapshots(opts: CallOptions = {}): Promise<SnapshotInfo[]> {
    return this.#conn._domainCall('domainSnapshotList', this.#ref, opts, (d, signal) =>
      d.domainSnapshotList!(this.#ref, { signal }),
    );
  }

  /** One snapshot's `<domainsnapshot>` XML. */
  getSnapshotXML(name: string, opts: CallOptions = {}): Promise<string> {
    return this.#conn._domainCall('domainSnapshotGetXml', this.#ref, opts, (d, signal) =>
      d.domainSnapshotGetXml!(this.#ref, name, { signal }),
    );
  }

  /** Goes back to the snapshot's definition and run state. */
  async revertToSnapshot(name: string, opts: CallOptions = {}): Promise<void> {
    this.#conn._writable('revertToSnapshot');
    this.#ref = await this.#conn._domainCall('domainSnapshotRevert', this.#ref, opts, (d, signal) =>
      d.domainSnapshotRevert!(this.#ref, name, { signal }),
    );
  }

  /** Deletes a snapshot; with `children`, the ones below it too. */
  deleteSnapshot(name: string, opts: CallOptions & { children?: boolean } = {}): Promise<void> {
    return this.#write('domainSnapshotDelete', opts, (d, signal) =>
      d.domainSnapshotDelete!(this.#ref, name, { signal, ...(opts.children ? { children: true } : {}) }),
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

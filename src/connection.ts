/**
 * The typed facade users hold: {@link connect} opens a driver by URI and
 * wraps it in a {@link Connection}.
 *
 * The facade owns what every driver would otherwise repeat: argument checks,
 * turning a missing optional driver method into `NO_SUPPORT`, turning
 * anything a driver throws into a `VirError`, rejecting calls still pending
 * when the connection closes, and the buffered event stream.
 *
 * @module
 */
import type { Capabilities } from './conf/capabilities.js';
import {
  canonicalUuid,
  checkStartTimeout,
  guardedCall,
  looksLikeUuid,
  need,
  restoreCall,
  toLookup,
  toXml,
  unsupportedDomainCall,
  type XmlSource,
} from './connection-args.js';
import { Domain } from './domain.js';
import type { AllDomainStatsOptions, DomainStatsRecord } from './domain-stats.js';
import { domainEvents, qemuMonitorEvents } from './domain-streams.js';
import type {
  BaselineOptions,
  CallOptions,
  CpuCompareResult,
  DomainCapabilitiesQuery,
  DomainEvent,
  DomainEventId,
  DomainLookup,
  DomainOwner,
  DomainRef,
  DriverConnection,
  ListDomainsFilter,
  NodeInfo,
  QemuMonitorEvent,
  StartCallOptions,
} from './driver.js';
import type { AnyDriverOptions, DriverOptionsFor } from './driver-options.js';
import { findDriver } from './drivers/registry.js';
import { throwIfAborted, toVirError, VirError } from './errors.js';
import type { EventStream, EventStreamOptions, StreamEvent } from './event-stream.js';
import * as objects from './objects.js';
import type { QemuMonitorEventOptions } from './qemu-monitor.js';
import { allDomainStats, statsRefs } from './stats-args.js';
import { type ConnectUri, parseUri } from './uri.js';

/** Options of {@link connect}; `O`, the driver's options, follows the URI ({@link DriverOptionsFor}). */
export interface ConnectOptions<O extends object = AnyDriverOptions> extends CallOptions {
  /** Open read-only: calls that change state fail with `OPERATION_DENIED`. */
  readonly?: boolean;
  /** Driver-specific options (state directories, timeouts, ...), checked by the driver too. */
  driverOptions?: O;
}

export { canonicalUuid, type XmlSource };

/**
 * Opens a connection. The default URI is `test:///default`, an in-memory
 * hypervisor that needs nothing installed.
 *
 * @example
 * ```ts
 * const conn = await connect('test:///default');
 * const caps = await conn.getCapabilities();
 * console.log(caps.host.cpu.arch);
 * await conn.close();
 * ```
 */
export async function connect<const U extends string = 'test:///default'>(
  uri?: U,
  options: ConnectOptions<DriverOptionsFor<U>> = {},
): Promise<Connection> {
  const target: string = uri ?? 'test:///default';
  const parsed = parseUri(target);
  throwIfAborted(options.signal, 'connect');
  const factory = findDriver(parsed);
  if (!factory) {
    throw new VirError('NO_CONNECT', 'connect', `no connection driver available for ${target}`);
  }
  let driver: DriverConnection;
  try {
    driver = await factory.open({
      uri: parsed,
      readonly: options.readonly === true,
      driverOptions: (options.driverOptions ?? {}) as Readonly<Record<string, unknown>>,
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (err) {
    throw toVirError(err, 'NO_CONNECT', 'connect', `cannot open ${target}`);
  }
  return new Connection(parsed, driver, options.readonly === true);
}

export class Connection implements DomainOwner, objects.ObjectOwner {
  readonly #driver: DriverConnection;
  readonly #closing = new AbortController();
  readonly #streams = new Set<{ end(): void }>();
  #closed = false;
  /** The URI this connection was opened with, parsed. */
  readonly uri: ConnectUri;
  /** Whether it was opened read-only. */
  readonly readonly: boolean;
  /** Storage pools and their volumes. */
  readonly storagePools: objects.StoragePools<Connection> = new objects.StoragePools(this);
  /** Virtual networks and their ports; `NO_SUPPORT` from each call where the driver has none. */
  readonly networks: objects.Networks<Connection> = new objects.Networks(this);
  /** Secrets: passphrases and keys that disks, TLS and vTPMs refer to by UUID or usage. */
  readonly secrets: objects.Secrets<Connection> = new objects.Secrets(this);
  /** The host's devices (PCI, USB, network interfaces, ...), as `virsh nodedev-*` lists them. */
  readonly nodeDevices: objects.NodeDevices<Connection> = new objects.NodeDevices(this);

  /** @internal use {@link connect} */
  constructor(uri: ConnectUri, driver: DriverConnection, readonly: boolean) {
    this.uri = uri;
    this.#driver = driver;
    this.readonly = readonly;
    // a connection that ends by itself (a remote daemon gone) ends its event iterators
    driver.onClose?.(() => {
      for (const s of [...this.#streams]) s.end();
    });
  }

  /** Hypervisor type, as libvirt's `virConnectGetType` (`TEST`, `QEMU`). */
  get type(): string {
    return this.#driver.type;
  }

  /** Whether `close()` was called or the driver went away. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Host and guest capabilities. */
  getCapabilities(opts: CallOptions = {}): Promise<Capabilities> {
    return this.#call('getCapabilities', opts, (signal) => this.#driver.getCapabilities({ signal }));
  }

  /** Domain capabilities XML for an emulator/arch/machine/virttype. */
  getDomainCapabilities(query: DomainCapabilitiesQuery = {}): Promise<string> {
    const d = this.#driver;
    return this.#call('getDomainCapabilities', query, (signal) =>
      need(d, 'getDomainCapabilities').call(d, { ...query, signal }),
    );
  }

  /** The hypervisor host's name (`virsh hostname`). */
  getHostname(opts: CallOptions = {}): Promise<string> {
    const d = this.#driver;
    return this.#call('getHostname', opts, (signal) => need(d, 'getHostname').call(d, { signal }));
  }

  /**
   * The hypervisor's own form of a domain definition, without defining or
   * starting it (`virsh domxml-to-native`): for QEMU, format `qemu-argv`
   * gives the command line a start would run, as one shell-quoted line.
   * `NO_SUPPORT` on drivers that have no native form (the test driver),
   * `INVALID_ARG` for an unknown format, `OPERATION_DENIED` on a
   * read-only connection (as in libvirt).
   */
  async domainXMLToNative(format: string, def: XmlSource, opts: CallOptions = {}): Promise<string> {
    const xml = toXml(def);
    // as in libvirt: the result can carry what a read-only client must not see
    this.#writable('domainXMLToNative');
    const d = this.#driver;
    return this.#call('domainXMLToNative', opts, (signal) =>
      need(d, 'domainXMLToNative').call(d, format, xml, { signal }),
    );
  }

  /** Hypervisor version: major * 1,000,000 + minor * 1,000 + release. */
  getVersion(opts: CallOptions = {}): Promise<number> {
    const d = this.#driver;
    return this.#call('getVersion', opts, (signal) => need(d, 'getVersion').call(d, { signal }));
  }

  /** The host's CPUs, memory and NUMA layout (`virsh nodeinfo`). */
  getNodeInfo(opts: CallOptions = {}): Promise<NodeInfo> {
    const d = this.#driver;
    return this.#call('getNodeInfo', opts, (signal) => need(d, 'getNodeInfo').call(d, { signal }));
  }

  /** Domains matching the filter (all of them by default). */
  async listDomains(filter: ListDomainsFilter = {}, opts: CallOptions = {}): Promise<Domain<Connection>[]> {
    const refs = await this.#call('listDomains', opts, (signal) =>
      this.#driver.listDomains(filter, { signal }),
    );
    return refs.map((r) => this.#domain(r));
  }

  /**
   * Finds a domain by name or UUID (a string), id (a number), or an explicit
   * `{ name }`, `{ uuid }` or `{ id }`. Throws `NO_DOMAIN` when none matches.
   */
  async lookupDomain(
    key: string | number | DomainLookup,
    opts: CallOptions = {},
  ): Promise<Domain<Connection>> {
    const lookup = toLookup(key);
    const ref = await this.#call('lookupDomain', opts, async (signal) => {
      if ('name' in lookup && looksLikeUuid(lookup.name)) {
        // A string that looks like a UUID is tried as one first, then as a name (as virsh does).
        try {
          return await this.#driver.lookupDomain({ uuid: canonicalUuid(lookup.name) }, { signal });
        } catch (err) {
          if (!(err instanceof VirError && err.code === 'NO_DOMAIN')) throw err;
        }
      }
      return this.#driver.lookupDomain(lookup, { signal });
    });
    return this.#domain(ref);
  }

  /** Statistics of `domains`, or of all domains the filters pass (`virConnectGetAllDomainStats`). */
  getAllDomainStats(
    domains?: readonly Domain[],
    opts: AllDomainStatsOptions = {},
  ): Promise<DomainStatsRecord<Domain<Connection>>[]> {
    return this.#call('getAllDomainStats', opts, (signal) =>
      allDomainStats(this.#driver, statsRefs(domains), opts, signal, (r) => this.#domain(r)),
    );
  }

  /** Defines (or redefines) a persistent domain from XML or a `DomainDef`. */
  async defineDomain(def: XmlSource, opts: CallOptions = {}): Promise<Domain<Connection>> {
    const xml = toXml(def);
    this.#writable('defineDomain');
    const d = this.#driver;
    const ref = await this.#call('defineDomain', opts, (signal) =>
      need(d, 'defineDomain').call(d, xml, { signal }),
    );
    return this.#domain(ref);
  }

  /** Creates and starts a transient domain. */
  async createDomain(def: XmlSource, opts: StartCallOptions = {}): Promise<Domain<Connection>> {
    const xml = toXml(def);
    this.#writable('createDomain');
    const { timeout: bringUp, ...call } = opts; // the bring-up's bound, not the call's
    const timeout = checkStartTimeout(bringUp);
    const d = this.#driver;
    const ref = await this.#call('createDomain', call, (signal) =>
      need(d, 'createDomain').call(d, xml, {
        signal,
        ...(opts.paused ? { paused: true } : {}),
        ...(timeout !== undefined ? { timeout } : {}),
      }),
    );
    return this.#domain(ref);
  }

  /** Saves a domain's state to `path` and stops it (`virDomainSave`): {@link Domain.save}. */
  saveDomain(dom: Domain<Connection>, path: string, opts: CallOptions = {}): Promise<void> {
    return dom.save(path, opts);
  }

  /** Starts a domain from a file `saveDomain` wrote (`virDomainRestore`); the file stays. */
  async restoreDomain(path: string, opts: StartCallOptions = {}): Promise<Domain<Connection>> {
    this.#writable('restoreDomain');
    return this.#domain(await this.#call('restoreDomain', opts, restoreCall(this.#driver, path, opts)));
  }

  /** Compares a guest CPU definition with this host's CPU. */
  compareCpu(cpu: XmlSource, opts: CallOptions = {}): Promise<CpuCompareResult> {
    const xml = toXml(cpu);
    const d = this.#driver;
    return this.#call('compareCpu', opts, (signal) => need(d, 'compareCpu').call(d, xml, { signal }));
  }

  /** The most capable CPU every one of the given host CPUs can provide. */
  baselineCpu(cpus: readonly XmlSource[], opts: BaselineOptions = {}): Promise<string> {
    if (!Array.isArray(cpus) || cpus.length === 0) {
      return Promise.reject(new VirError('INVALID_ARG', 'cpu', 'baselineCpu needs at least one CPU'));
    }
    const xmls = cpus.map(toXml);
    const d = this.#driver;
    return this.#call('baselineCpu', opts, (signal) =>
      need(d, 'baselineCpu').call(d, xmls, { ...opts, signal }),
    );
  }

  /**
   * Compares a guest CPU with what the hypervisor can give a guest, for an
   * emulator/arch/machine/virttype chosen as in domain capabilities.
   */
  compareHypervisorCpu(cpu: XmlSource, query: DomainCapabilitiesQuery = {}): Promise<CpuCompareResult> {
    const xml = toXml(cpu);
    const d = this.#driver;
    return this.#call('compareHypervisorCpu', query, (signal) =>
      need(d, 'compareHypervisorCpu').call(d, xml, { ...query, signal }),
    );
  }

  /** The most capable CPU the hypervisor can give a guest on every one of the given hosts. */
  baselineHypervisorCpu(
    cpus: readonly XmlSource[],
    query: DomainCapabilitiesQuery & BaselineOptions = {},
  ): Promise<string> {
    if (!Array.isArray(cpus) || cpus.length === 0) {
      return Promise.reject(
        new VirError('INVALID_ARG', 'cpu', 'baselineHypervisorCpu needs at least one CPU'),
      );
    }
    const xmls = cpus.map(toXml);
    const d = this.#driver;
    return this.#call('baselineHypervisorCpu', query, (signal) =>
      need(d, 'baselineHypervisorCpu').call(d, xmls, { ...query, signal }),
    );
  }

  /**
   * Domain events as an async iterator. Events are buffered per iterator
   * (1024 by default); when a consumer falls that far behind, the oldest
   * events are dropped and counted in `stream.dropped`, so a slow consumer
   * never blocks the driver. It ends when `signal` aborts, on `return()`
   * (`break`) or when the connection closes. `ids` picks libvirt's event ids
   * (default `['lifecycle']`, see `DOMAIN_EVENT_IDS`); `reboot: true` adds `reboot`.
   */
  events<R extends boolean = false, const I extends DomainEventId = 'lifecycle'>(
    options: EventStreamOptions<StreamEvent<R, I>> & { reboot?: R; ids?: readonly I[] } = {},
  ): EventStream<StreamEvent<R, I>> {
    this.#open('events');
    return domainEvents(this.#driver, options, this.#streams);
  }

  /**
   * The raw QMP events of the QEMU driver's guests (libvirt-qemu's
   * `virConnectDomainQemuMonitorEventRegister`), of one `domain` and event
   * name when asked, buffered as {@link events}. Other drivers: `NO_SUPPORT`.
   */
  qemuMonitorEvents(options: QemuMonitorEventOptions = {}): EventStream<QemuMonitorEvent> {
    this.#open('qemuMonitorEvents');
    return qemuMonitorEvents(this.#driver, options, this.#streams);
  }

  /**
   * Closes the connection: pending calls reject with `INVALID_CONN`, event
   * iterators end, and the driver releases its resources. Closing twice is
   * harmless.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#closing.abort(
      new VirError('INVALID_CONN', 'connect', 'connection closed while the call was pending'),
    );
    for (const s of [...this.#streams]) s.end();
    try {
      await this.#driver.close();
    } catch (err) {
      throw toVirError(err, 'INTERNAL_ERROR', 'connect', 'error while closing the connection');
    }
  }

  /** Closes the connection at the end of an `await using` block. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // --- domain operations, used by Domain --------------------------------------

  /** For `Domain` handles ({@link DomainOwner}); not for programs. */
  _domainCall<T>(
    method: keyof DriverConnection & `domain${string}`,
    dom: DomainRef,
    opts: CallOptions,
    run: (driver: DriverConnection, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    if (!(method in this.#driver) || typeof this.#driver[method] !== 'function') {
      return Promise.reject(unsupportedDomainCall(this.type, method, dom));
    }
    return this.#call(method, opts, (signal) => run(this.#driver, signal));
  }

  /** For the object handles ({@link ObjectOwner}): `NO_SUPPORT` when the driver lacks the kind. */
  _objectCall<K extends objects.ObjectKind, T>(
    kind: K,
    what: string,
    opts: CallOptions,
    run: (driver: NonNullable<objects.ObjectDrivers[K]>, signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const sub: objects.ObjectDrivers[K] = this.#driver[kind];
    if (!sub) return Promise.reject(objects.missingKind(this.type, kind, what));
    return this.#call(what, opts, (signal) => run(sub, signal));
  }

  /** For `events()` of pools, networks and secrets ({@link ObjectOwner}); ended on close. */
  _objectEvents<E extends objects.ObjectEvent>(
    kind: objects.ObjectEventKind,
    o: EventStreamOptions<E>,
  ): EventStream<E> {
    this.#open('events');
    return objects.objectEvents(this.type, this.#driver, kind, o, this.#streams);
  }

  /** For `Domain.migrate`: this connection's driver, handed to the source's driver as the destination. */
  _driverConnection(): DriverConnection {
    return this.#driver;
  }

  /** For `Domain` handles: whether the driver implements an optional call. */
  _supports(method: keyof DriverConnection): boolean {
    return typeof this.#driver[method] === 'function';
  }

  /** For `Domain` handles: throws `OPERATION_DENIED` on a read-only connection. */
  _writable(what: string): void {
    this.#writable(what);
  }

  /** @internal */
  _domain(ref: DomainRef): Domain<Connection> {
    return this.#domain(ref);
  }

  #domain(ref: DomainRef): Domain<Connection> {
    return new Domain(this, ref);
  }

  #open(what: string): void {
    if (this.#closed) throw new VirError('INVALID_CONN', 'connect', `cannot ${what}: connection is closed`);
  }

  #writable(what: string): void {
    this.#open(what);
    if (this.readonly)
      throw new VirError('OPERATION_DENIED', 'connect', `${what} is not allowed on a read-only connection`);
  }

  /** Runs one driver call on this open connection (see {@link guardedCall}). */
  async #call<T>(what: string, opts: CallOptions, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
    this.#open(what); // a rejection, never a throw: the method is async
    return guardedCall(what, opts, this.#closing.signal, run);
  }
}

export type { DomainEvent };

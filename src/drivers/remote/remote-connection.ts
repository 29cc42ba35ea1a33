/**
 * A {@link DriverConnection} to a libvirt daemon: every method is one (or a
 * few) calls of libvirt's remote program, translated to and from the types
 * the local drivers use.
 */

import { Capabilities } from '../../conf/capabilities.js';
import { DomainDef } from '../../conf/domain/domain-def.js';
import type { QemuMonitorEvent } from '../../domain-events.js';
import type { DomainStatsQuery } from '../../domain-stats.js';
import type {
  BlockIoTuneOptions,
  BlockIoTuneParams,
  GetMetadataOptions,
  SetMetadataOptions,
} from '../../domain-tuning.js';
import type { BlkioParameters } from '../../domain-tuning-blkio.js';
import type {
  MemoryParameters,
  SchedulerParameters,
  TuningParamsOptions,
} from '../../domain-tuning-sched.js';
import type {
  BaselineOptions,
  CallOptions,
  ConsoleStream,
  CpuCompareResult,
  DomainCapabilitiesQuery,
  DomainEventId,
  DomainEventListener,
  DomainInfo,
  DomainLookup,
  DomainRef,
  DomainState,
  DriverConnection,
  GetXmlOptions,
  ListDomainsFilter,
  MetadataKind,
  MigrateOptions,
  NodeInfo,
  Screenshot,
  ScreenshotOptions,
  SnapshotCreateOptions,
  SnapshotDeleteOptions,
  SnapshotRevertOptions,
  SnapshotXmlOptions,
} from '../../driver.js';
import type { AgentCallOptions, PowerOptions } from '../../driver-agent.js';
import { VirError } from '../../errors.js';
import type { QemuMonitorReply, QemuMonitorRequest } from '../../qemu-monitor.js';
import { type ConnectUri, uriParam } from '../../uri.js';
import { DEFAULT_CALL_TIMEOUT } from './call-limits.js';
import { ListFlags, reasonName, stateName } from './domain-names.js';
import { remoteProcedures } from './gen/remote-protocol.js';
import type { Procedure } from './procedure.js';
import { RemoteAgentCalls } from './remote-agent.js';
import { RemoteEvents } from './remote-events.js';
import { type MigrationDaemon, migrateBetweenDaemons } from './remote-migration.js';
import { RemoteNetworks } from './remote-networks.js';
import { RemoteObjectEvents } from './remote-object-events.js';
import type { RemoteCall } from './remote-object-values.js';
import { RemoteMonitorEvents, remoteAgentCommand, remoteMonitorCommand } from './remote-qemu.js';
import { remoteScreenshot } from './remote-screenshot.js';
import { RemoteNodeDevices, RemoteSecrets } from './remote-secrets-nodedevs.js';
import { RemoteSnapshots } from './remote-snapshots.js';
import { RemoteStats } from './remote-stats.js';
import { RemoteStorage } from './remote-storage.js';
import { RemoteTuning } from './remote-tuning.js';
import { RemoteTuningBlkio } from './remote-tuning-blkio.js';
import { RemoteTuningSched } from './remote-tuning-sched.js';
import {
  affectFlags,
  allOf,
  baselineFlags,
  charArrayToString,
  compareResult,
  hypervisorTarget,
  nonNegative,
  toRef,
  toRemote,
  uuidToBytes,
} from './remote-values.js';
import { RpcClient } from './rpc-client.js';
import { daemonUri, helperFailure, isTruthyParam, openTransport, type Transport } from './transport.js';

export { uuidFromBytes, uuidToBytes } from './remote-values.js';

const P = remoteProcedures;

/** `virDrvFeature` numbers asked with CONNECT_SUPPORTS_FEATURE. */
const Feature = { PROGRAM_KEEPALIVE: 10, REMOTE_EVENT_CALLBACK: 14 } as const;
/** `remote_auth_type`. */
const Auth = { NONE: 0, SASL: 1, POLKIT: 2 } as const;
const VIR_CONNECT_RO = 1;

export interface RemoteOptions {
  /** Seconds of silence before a keepalive ping; 0 disables keepalive (default 5, as libvirt). */
  keepaliveInterval?: number;
  /** Unanswered pings before the daemon is declared dead (default 5, as libvirt). */
  keepaliveCount?: number;
  /**
   * Milliseconds one call waits for its complete reply before `OPERATION_TIMEOUT`
   * (default 120000; 0: no limit). A migration's perform step is bounded by its own options.
   */
  callTimeout?: number;
}

export interface RemoteOpenOptions extends RemoteOptions {
  readonly readonly: boolean;
  readonly signal?: AbortSignal | undefined;
}

/** `VIR_DOMAIN_AFFECT_LIVE` / `VIR_DOMAIN_AFFECT_CONFIG`; neither is `VIR_DOMAIN_AFFECT_CURRENT`. */
type AffectFlags = { config?: boolean; live?: boolean };

export class RemoteConnection extends RemoteAgentCalls implements DriverConnection {
  readonly #client: RpcClient;
  readonly #transport: Transport;
  #type = '';
  readonly #tuning: RemoteTuning;
  readonly #sched: RemoteTuningSched;
  readonly #blkio: RemoteTuningBlkio;
  readonly #snapshots: RemoteSnapshots;
  /** The URI this connection was opened with: what a peer-to-peer migration's source daemon opens. */
  #uri = '';
  #closing = false;
  #closed: Promise<void> | null = null;

  readonly #events: RemoteEvents;
  /** The daemon's secondary drivers: every remote connection has them; the daemon says what it supports. */
  readonly storage: RemoteStorage;
  readonly networks: RemoteNetworks;
  readonly secrets: RemoteSecrets;
  readonly nodeDevices: RemoteNodeDevices;
  readonly #objectEvents: RemoteObjectEvents;
  readonly #monitorEvents: RemoteMonitorEvents;
  readonly #stats: RemoteStats;

  protected readonly agentCall: RemoteCall = (proc, args, opts) => this.#call(proc, args, opts);

  private constructor(client: RpcClient, transport: Transport) {
    super();
    this.#client = client;
    this.#transport = transport;
    this.#events = new RemoteEvents(client);
    const call: RemoteCall = (proc, args, opts) => this.#call(proc, args, opts);
    this.#objectEvents = new RemoteObjectEvents(client);
    this.#monitorEvents = new RemoteMonitorEvents(client);
    this.storage = new RemoteStorage(call, this.#objectEvents, client);
    this.networks = new RemoteNetworks(call, this.#objectEvents);
    this.secrets = new RemoteSecrets(call, this.#objectEvents);
    this.nodeDevices = new RemoteNodeDevices(call, this.#objectEvents);
    this.#stats = new RemoteStats(call);
    this.#tuning = new RemoteTuning(call);
    this.#sched = new RemoteTuningSched(call);
    this.#blkio = new RemoteTuningBlkio(call);
    this.#snapshots = new RemoteSnapshots(call);
  }

  get type(): string {
    return this.#type;
  }

  /** Describes the far end, e.g. `unix socket /run/libvirt/libvirt-sock`. */
  get peer(): string {
    return this.#client.peer;
  }

  /** Opens the transport, authenticates, opens the daemon-side driver and starts keepalive. */
  static async open(uri: ConnectUri, opts: RemoteOpenOptions): Promise<RemoteConnection> {
    const readonly = opts.readonly || isTruthyParam(uriParam(uri, 'readonly'));
    const transport = await openTransport(uri, { readonly, signal: opts.signal });
    const client = new RpcClient(transport.stream, transport.peer, {
      callTimeout: opts.callTimeout ?? DEFAULT_CALL_TIMEOUT,
    });
    const conn = new RemoteConnection(client, transport);
    conn.#uri = uri.uri;
    try {
      await conn.#handshake(uri, readonly, opts);
    } catch (err) {
      client.close('connection setup failed');
      await transport.closed;
      let error =
        err instanceof VirError ? err : new VirError('NO_CONNECT', 'remote', String(err), { cause: err });
      // a helper process (ssh) that died says why on stderr
      if (error.code === 'RPC') error = helperFailure(transport.peer, transport.diagnostics(), error);
      if (error.code === 'RPC') {
        error = new VirError('NO_CONNECT', 'remote', `cannot open ${uri.uri}: ${error.message}`, {
          cause: error,
        });
      }
      throw error;
    }
    return conn;
  }

  async #handshake(uri: ConnectUri, readonly: boolean, opts: RemoteOpenOptions): Promise<void> {
    const signal = opts.signal;
    // The auth list goes alone: for root on a polkit socket it is what authenticates
    // the client, and the daemon runs one client's calls on several workers at once,
    // so an open sent with it could overtake it and be refused (and logged as an
    // error on the daemon). Calls that need the open wait for it for the same reason.
    const types = (await this.#client.call(P.AUTH_LIST, undefined, signal)).types;
    if (types.length > 0 && !types.includes(Auth.NONE)) {
      const names = types.map((t) => (t === Auth.SASL ? 'SASL' : t === Auth.POLKIT ? 'polkit' : `type ${t}`));
      throw new VirError(
        'AUTH_FAILED',
        'remote',
        `the daemon at ${this.#client.peer} requires ${names.join(' or ')} authentication, ` +
          'which virtkit does not support yet; configure auth "none" for this socket or use ssh',
      );
    }
    // the daemon answers the keepalive probe before the open; the others need it
    const [keepalive] = await allOf([
      this.#supports(Feature.PROGRAM_KEEPALIVE, signal),
      this.#client.call(
        P.CONNECT_OPEN,
        { name: daemonUri(uri), flags: readonly ? VIR_CONNECT_RO : 0 },
        signal,
      ),
    ]);
    const interval = opts.keepaliveInterval ?? 5;
    if (keepalive && interval > 0) {
      this.#client.startKeepalive({ interval, count: opts.keepaliveCount ?? 5 });
    }
    const [callbacks, type] = await allOf([
      this.#supports(Feature.REMOTE_EVENT_CALLBACK, signal),
      this.#client.call(P.CONNECT_GET_TYPE, undefined, signal),
    ]);
    this.#events.useCallbacks = callbacks;
    this.#type = type.type;
  }

  async #supports(feature: number, signal?: AbortSignal): Promise<boolean> {
    try {
      return (await this.#client.call(P.CONNECT_SUPPORTS_FEATURE, { feature }, signal)).supported !== 0;
    } catch (err) {
      if (err instanceof VirError && err.code !== 'RPC') return false;
      throw err;
    }
  }

  /** One remote call; waits behind a pending event registration. */
  #call<A, R>(proc: Procedure<A, R, unknown>, args: A, opts?: CallOptions): Promise<R> {
    const barrier = this.#events.barrier ?? this.#objectEvents.barrier ?? this.#monitorEvents.barrier;
    const send = () => this.#client.call(proc, args, opts?.signal, opts?.timeout);
    return barrier ? barrier.then(send, send) : send();
  }

  /**
   * Calls `listener` once if the connection ends without {@link close}: the
   * daemon went away, a keepalive timeout, a broken packet. Returns the
   * function that removes it. (The facade can end its event iterators here.)
   */
  onClose(listener: (reason: VirError) => void): () => void {
    let closing = false;
    const off = this.#client.onClose((reason) => {
      if (!closing && !this.#closing) listener(reason);
    });
    return () => {
      closing = true;
      off();
    };
  }

  /** Says goodbye to the daemon and closes the transport; closing twice is harmless. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    if (!this.#client.closed) {
      try {
        await this.#events.unregister();
        await this.#objectEvents.unregister();
        await this.#monitorEvents.unregister();
        await this.#client.call(P.CONNECT_CLOSE, undefined, AbortSignal.timeout(5000));
      } catch {
        // the daemon may already be gone: closing must still succeed
      }
      this.#client.close();
    }
    await this.#transport.closed;
  }

  // ---------------------------------------------------------------- host

  /** The capabilities XML exactly as the daemon sent it. */
  async getCapabilitiesXml(opts?: CallOptions): Promise<string> {
    return (await this.#call(P.CONNECT_GET_CAPABILITIES, undefined, opts)).capabilities;
  }

  async getCapabilities(opts?: CallOptions): Promise<Capabilities> {
    return Capabilities.fromXML(await this.getCapabilitiesXml(opts));
  }

  async getHostname(opts?: CallOptions): Promise<string> {
    return (await this.#call(P.CONNECT_GET_HOSTNAME, undefined, opts)).hostname;
  }

  async domainXMLToNative(format: string, xml: string, opts?: CallOptions): Promise<string> {
    const args = { nativeFormat: format, domainXml: xml, flags: 0 };
    return (await this.#call(P.CONNECT_DOMAIN_XML_TO_NATIVE, args, opts)).nativeConfig;
  }

  async getVersion(opts?: CallOptions): Promise<number> {
    return Number((await this.#call(P.CONNECT_GET_VERSION, undefined, opts)).hv_ver);
  }

  /** Version of the daemon's libvirt, encoded like {@link getVersion}. */
  async getLibVersion(opts?: CallOptions): Promise<number> {
    return Number((await this.#call(P.CONNECT_GET_LIB_VERSION, undefined, opts)).lib_ver);
  }

  async getNodeInfo(opts?: CallOptions): Promise<NodeInfo> {
    const r = await this.#call(P.NODE_GET_INFO, undefined, opts);
    return {
      model: charArrayToString(r.model),
      memory: Number(r.memory),
      cpus: r.cpus,
      mhz: r.mhz,
      nodes: r.nodes,
      sockets: r.sockets,
      cores: r.cores,
      threads: r.threads,
    };
  }

  async getDomainCapabilities(query: DomainCapabilitiesQuery): Promise<string> {
    const r = await this.#call(
      P.CONNECT_GET_DOMAIN_CAPABILITIES,
      {
        emulatorbin: query.emulator ?? null,
        arch: query.arch ?? null,
        machine: query.machine ?? null,
        virttype: query.virttype ?? null,
        flags: 0,
      },
      query,
    );
    return r.capabilities;
  }

  // ---------------------------------------------------------------- CPU

  async compareCpu(cpuXml: string, opts?: CallOptions): Promise<CpuCompareResult> {
    const r = await this.#call(P.CONNECT_COMPARE_CPU, { xml: cpuXml, flags: 0 }, opts);
    return compareResult(r.result);
  }

  async baselineCpu(cpuXmls: readonly string[], opts: BaselineOptions = {}): Promise<string> {
    const r = await this.#call(
      P.CONNECT_BASELINE_CPU,
      { xmlCPUs: [...cpuXmls], flags: baselineFlags(opts) },
      opts,
    );
    return r.cpu;
  }

  /** `virConnectCompareHypervisorCPU`: compares with what the hypervisor can give a guest. */
  async compareHypervisorCpu(cpuXml: string, query: DomainCapabilitiesQuery = {}): Promise<CpuCompareResult> {
    const r = await this.#call(
      P.CONNECT_COMPARE_HYPERVISOR_CPU,
      { ...hypervisorTarget(query), xmlCPU: cpuXml, flags: 0 },
      query,
    );
    return compareResult(r.result);
  }

  /** `virConnectBaselineHypervisorCPU`. */
  async baselineHypervisorCpu(
    cpuXmls: readonly string[],
    query: DomainCapabilitiesQuery & BaselineOptions = {},
  ): Promise<string> {
    const r = await this.#call(
      P.CONNECT_BASELINE_HYPERVISOR_CPU,
      { ...hypervisorTarget(query), xmlCPUs: [...cpuXmls], flags: baselineFlags(query) },
      query,
    );
    return r.cpu;
  }

  // ---------------------------------------------------------------- domains

  async listDomains(filter: ListDomainsFilter, opts?: CallOptions): Promise<DomainRef[]> {
    let flags = 0;
    if (filter.active !== undefined) flags |= filter.active ? ListFlags.ACTIVE : ListFlags.INACTIVE;
    if (filter.persistent !== undefined)
      flags |= filter.persistent ? ListFlags.PERSISTENT : ListFlags.TRANSIENT;
    if (filter.autostart !== undefined)
      flags |= filter.autostart ? ListFlags.AUTOSTART : ListFlags.NO_AUTOSTART;
    let exact: ReadonlySet<string> | undefined;
    if (filter.state !== undefined) {
      const states: readonly string[] = typeof filter.state === 'string' ? [filter.state] : filter.state;
      for (const s of states) {
        if (s === 'running') flags |= ListFlags.RUNNING;
        else if (s === 'paused') flags |= ListFlags.PAUSED;
        else if (s === 'shutoff') flags |= ListFlags.SHUTOFF;
        else flags |= ListFlags.OTHER;
      }
      // "other" covers several states: those need an exact check afterwards
      if (flags & ListFlags.OTHER) exact = new Set(states);
      if (states.length === 0) return [];
    }
    const r = await this.#call(P.CONNECT_LIST_ALL_DOMAINS, { need_results: 1, flags }, opts);
    const refs = r.domains.map(toRef);
    if (!exact) return refs;
    const states = await Promise.all(refs.map((d) => this.domainGetState(d, opts).catch(() => null)));
    return refs.filter((_, i) => {
      const s = states[i];
      return s !== null && s !== undefined && exact.has(s.state);
    });
  }

  async lookupDomain(key: DomainLookup, opts?: CallOptions): Promise<DomainRef> {
    if ('name' in key)
      return toRef((await this.#call(P.DOMAIN_LOOKUP_BY_NAME, { name: key.name }, opts)).dom);
    if ('uuid' in key) {
      return toRef((await this.#call(P.DOMAIN_LOOKUP_BY_UUID, { uuid: uuidToBytes(key.uuid) }, opts)).dom);
    }
    return toRef((await this.#call(P.DOMAIN_LOOKUP_BY_ID, { id: key.id }, opts)).dom);
  }

  async defineDomain(xml: string, opts?: CallOptions): Promise<DomainRef> {
    return toRef((await this.#call(P.DOMAIN_DEFINE_XML_FLAGS, { xml, flags: 0 }, opts)).dom);
  }

  async createDomain(xml: string, opts?: CallOptions & { paused?: boolean }): Promise<DomainRef> {
    const flags = opts?.paused ? 1 : 0;
    return toRef((await this.#call(P.DOMAIN_CREATE_XML, { xml_desc: xml, flags }, opts)).dom);
  }

  async domainStart(dom: DomainRef, opts?: CallOptions & { paused?: boolean }): Promise<DomainRef> {
    const flags = opts?.paused ? 1 : 0;
    return toRef((await this.#call(P.DOMAIN_CREATE_WITH_FLAGS, { dom: toRemote(dom), flags }, opts)).dom);
  }

  async domainSuspend(dom: DomainRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.DOMAIN_SUSPEND, { dom: toRemote(dom) }, opts);
  }

  async domainResume(dom: DomainRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.DOMAIN_RESUME, { dom: toRemote(dom) }, opts);
  }

  domainShutdown(dom: DomainRef, opts: PowerOptions = {}): Promise<void> {
    return this.powerWithMode(dom, opts, false);
  }

  domainReboot(dom: DomainRef, opts: PowerOptions = {}): Promise<void> {
    return this.powerWithMode(dom, opts, true);
  }

  async domainReset(dom: DomainRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.DOMAIN_RESET, { dom: toRemote(dom), flags: 0 }, opts);
  }

  /**
   * `REMOTE_PROC_DOMAIN_OPEN_CONSOLE` answers with an RPC stream, which this
   * client does not speak yet (its framing has calls, replies and events only).
   */
  async domainOpenConsole(dom: DomainRef): Promise<ConsoleStream> {
    throw new VirError(
      'NO_SUPPORT',
      'remote',
      `cannot open a console of '${dom.name}' over the remote driver: libvirt's RPC streams are not supported yet`,
    );
  }

  async domainDestroy(dom: DomainRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.DOMAIN_DESTROY, { dom: toRemote(dom) }, opts);
  }

  async domainUndefine(dom: DomainRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.DOMAIN_UNDEFINE_FLAGS, { dom: toRemote(dom), flags: 0 }, opts);
  }

  async domainGetState(dom: DomainRef, opts?: CallOptions): Promise<DomainState> {
    const r = await this.#call(P.DOMAIN_GET_STATE, { dom: toRemote(dom), flags: 0 }, opts);
    const state = stateName(r.state);
    return { state, reason: reasonName(state, r.reason) };
  }

  async domainGetInfo(dom: DomainRef, opts?: CallOptions): Promise<DomainInfo> {
    const r = await this.#call(P.DOMAIN_GET_INFO, { dom: toRemote(dom) }, opts);
    return {
      state: stateName(r.state),
      maxMem: nonNegative(r.maxMem),
      memory: nonNegative(r.memory),
      nrVirtCpu: r.nrVirtCpu,
      cpuTime: r.cpuTime,
    };
  }

  async domainGetXml(dom: DomainRef, opts: GetXmlOptions = {}): Promise<string> {
    // VIR_DOMAIN_XML_SECURE = 1, INACTIVE = 2, UPDATE_CPU = 4, MIGRATABLE = 8
    const flags =
      (opts.secure ? 1 : 0) | (opts.inactive ? 2 : 0) | (opts.updateCpu ? 4 : 0) | (opts.migratable ? 8 : 0);
    return (await this.#call(P.DOMAIN_GET_XML_DESC, { dom: toRemote(dom), flags }, opts)).xml;
  }

  /**
   * The daemon's XML read into the model: it is already normalised by
   * libvirt, so parsing adds nothing libvirt would not have written.
   */
  async domainGetDefinition(dom: DomainRef, opts: GetXmlOptions = {}): Promise<DomainDef> {
    return DomainDef.fromXML(await this.domainGetXml(dom, opts));
  }

  async domainSetMemory(
    dom: DomainRef,
    kib: number,
    opts: CallOptions & { config?: boolean; live?: boolean } = {},
  ): Promise<void> {
    await this.#call(
      P.DOMAIN_SET_MEMORY_FLAGS,
      { dom: toRemote(dom), memory: BigInt(kib), flags: affectFlags(opts) },
      opts,
    );
  }

  // ---------------------------------------------------------------- snapshots (remote-snapshots.ts)

  domainSnapshotCreate(dom: DomainRef, xml: string, opts?: CallOptions & SnapshotCreateOptions) {
    return this.#snapshots.create(dom, xml, opts);
  }
  domainSnapshotList(dom: DomainRef, opts?: CallOptions) {
    return this.#snapshots.list(dom, opts);
  }
  domainSnapshotGetXml(dom: DomainRef, name: string, opts?: SnapshotXmlOptions) {
    return this.#snapshots.xml(dom, name, opts);
  }
  domainSnapshotRevert(dom: DomainRef, name: string, opts?: CallOptions & SnapshotRevertOptions) {
    return this.#snapshots.revert(dom, name, opts);
  }
  domainSnapshotDelete(dom: DomainRef, name: string, opts?: CallOptions & SnapshotDeleteOptions) {
    return this.#snapshots.delete(dom, name, opts);
  }

  // ---------------------------------------------------------------- metadata, I/O limits (remote-tuning.ts)

  domainSetMetadata(dom: DomainRef, kind: MetadataKind, value: string | null, opts?: SetMetadataOptions) {
    return this.#tuning.setMetadata(dom, kind, value, opts);
  }
  domainGetMetadata(dom: DomainRef, kind: MetadataKind, opts?: GetMetadataOptions) {
    return this.#tuning.getMetadata(dom, kind, opts);
  }
  domainSetBlockIoTune(dom: DomainRef, disk: string, params: BlockIoTuneParams, opts?: BlockIoTuneOptions) {
    return this.#tuning.setBlockIoTune(dom, disk, params, opts);
  }
  domainGetBlockIoTune(dom: DomainRef, disk: string, opts?: BlockIoTuneOptions) {
    return this.#tuning.getBlockIoTune(dom, disk, opts);
  }
  domainGetSchedulerType(dom: DomainRef, opts?: CallOptions) {
    return this.#sched.getSchedulerType(dom, opts);
  }
  domainGetSchedulerParameters(dom: DomainRef, opts?: TuningParamsOptions) {
    return this.#sched.getSchedulerParameters(dom, opts);
  }
  domainSetSchedulerParameters(dom: DomainRef, params: SchedulerParameters, opts?: TuningParamsOptions) {
    return this.#sched.setSchedulerParameters(dom, params, opts);
  }
  domainGetMemoryParameters(dom: DomainRef, opts?: TuningParamsOptions) {
    return this.#sched.getMemoryParameters(dom, opts);
  }
  domainSetMemoryParameters(dom: DomainRef, params: MemoryParameters, opts?: TuningParamsOptions) {
    return this.#sched.setMemoryParameters(dom, params, opts);
  }
  domainGetBlkioParameters(dom: DomainRef, opts?: TuningParamsOptions) {
    return this.#blkio.getBlkioParameters(dom, opts);
  }
  domainSetBlkioParameters(dom: DomainRef, params: BlkioParameters, opts?: TuningParamsOptions) {
    return this.#blkio.setBlkioParameters(dom, params, opts);
  }

  async domainAttachDevice(dom: DomainRef, xml: string, opts: CallOptions & AffectFlags = {}): Promise<void> {
    await this.#call(
      P.DOMAIN_ATTACH_DEVICE_FLAGS,
      { dom: toRemote(dom), xml, flags: affectFlags(opts) },
      opts,
    );
  }

  async domainDetachDevice(dom: DomainRef, xml: string, opts: CallOptions & AffectFlags = {}): Promise<void> {
    await this.#call(
      P.DOMAIN_DETACH_DEVICE_FLAGS,
      { dom: toRemote(dom), xml, flags: affectFlags(opts) },
      opts,
    );
  }

  async domainUpdateDevice(dom: DomainRef, xml: string, opts: CallOptions & AffectFlags = {}): Promise<void> {
    await this.#call(
      P.DOMAIN_UPDATE_DEVICE_FLAGS,
      { dom: toRemote(dom), xml, flags: affectFlags(opts) },
      opts,
    );
  }

  async domainSetVcpus(
    dom: DomainRef,
    count: number,
    opts: CallOptions & { config?: boolean; live?: boolean } = {},
  ): Promise<void> {
    await this.#call(
      P.DOMAIN_SET_VCPUS_FLAGS,
      { dom: toRemote(dom), nvcpus: count, flags: affectFlags(opts) },
      opts,
    );
  }

  async domainGetAutostart(dom: DomainRef, opts?: CallOptions): Promise<boolean> {
    return (await this.#call(P.DOMAIN_GET_AUTOSTART, { dom: toRemote(dom) }, opts)).autostart !== 0;
  }

  async domainSetAutostart(dom: DomainRef, autostart: boolean, opts?: CallOptions): Promise<void> {
    await this.#call(P.DOMAIN_SET_AUTOSTART, { dom: toRemote(dom), autostart: autostart ? 1 : 0 }, opts);
  }

  async domainRename(dom: DomainRef, newName: string, opts?: CallOptions): Promise<DomainRef> {
    await this.#call(P.DOMAIN_RENAME, { dom: toRemote(dom), new_name: newName, flags: 0 }, opts);
    return this.lookupDomain({ uuid: dom.uuid }, opts);
  }

  async domainManagedSave(dom: DomainRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.DOMAIN_MANAGED_SAVE, { dom: toRemote(dom), flags: 0 }, opts);
  }

  async domainHasManagedSave(dom: DomainRef, opts?: CallOptions): Promise<boolean> {
    return (
      (await this.#call(P.DOMAIN_HAS_MANAGED_SAVE_IMAGE, { dom: toRemote(dom), flags: 0 }, opts)).result !== 0
    );
  }

  async domainManagedSaveRemove(dom: DomainRef, opts?: CallOptions): Promise<void> {
    await this.#call(P.DOMAIN_MANAGED_SAVE_REMOVE, { dom: toRemote(dom), flags: 0 }, opts);
  }

  async domainSave(dom: DomainRef, path: string, opts?: CallOptions): Promise<void> {
    await this.#call(P.DOMAIN_SAVE_FLAGS, { dom: toRemote(dom), to: path, dxml: null, flags: 0 }, opts);
  }

  /** `virDomainRestore` names no domain: the image's definition says which one comes back. */
  async restoreDomain(path: string, opts?: CallOptions & { paused?: boolean }): Promise<DomainRef> {
    const xml = (await this.#call(P.DOMAIN_SAVE_IMAGE_GET_XML_DESC, { file: path, flags: 0 }, opts)).xml;
    const uuid = /<uuid>\s*([^<\s]+)\s*<\/uuid>/.exec(xml)?.[1];
    if (!uuid)
      throw new VirError('INTERNAL_ERROR', 'remote', `the save image '${path}' names no domain uuid`);
    // VIR_DOMAIN_SAVE_PAUSED
    await this.#call(P.DOMAIN_RESTORE_FLAGS, { from: path, dxml: null, flags: opts?.paused ? 4 : 0 }, opts);
    return this.lookupDomain({ uuid }, opts);
  }

  async domainSetMaxMemory(
    dom: DomainRef,
    kib: number,
    opts: CallOptions & { config?: boolean; live?: boolean } = {},
  ): Promise<void> {
    // VIR_DOMAIN_MEM_MAXIMUM with the affect flags
    const flags = affectFlags(opts) | 4;
    await this.#call(P.DOMAIN_SET_MEMORY_FLAGS, { dom: toRemote(dom), memory: BigInt(kib), flags }, opts);
  }

  async domainIsPersistent(dom: DomainRef, opts?: CallOptions): Promise<boolean> {
    return (await this.#call(P.DOMAIN_IS_PERSISTENT, { dom: toRemote(dom) }, opts)).persistent !== 0;
  }

  // ---------------------------------------------------------------- statistics (remote-stats.ts)

  domainListGetStats(doms: readonly DomainRef[] | undefined, q: DomainStatsQuery, opts?: CallOptions) {
    return this.#stats.listGetStats(doms, q, opts);
  }
  domainGetBlockInfo(dom: DomainRef, disk: string, opts?: CallOptions) {
    return this.#stats.blockInfo(dom, disk, opts);
  }
  domainBlockStats(dom: DomainRef, disk: string, opts?: CallOptions) {
    return this.#stats.blockStats(dom, disk, opts);
  }
  domainInterfaceStats(dom: DomainRef, device: string, opts?: CallOptions) {
    return this.#stats.interfaceStats(dom, device, opts);
  }
  domainMemoryStats(dom: DomainRef, opts?: CallOptions) {
    return this.#stats.memoryStats(dom, opts);
  }

  /** `virDomainMigrate3` to another daemon: peer-to-peer or managed (see remote-migration.ts). */
  domainMigrate(dom: DomainRef, dest: DriverConnection, opts: MigrateOptions = {}): Promise<DomainRef> {
    if (!(dest instanceof RemoteConnection))
      throw new VirError('NO_SUPPORT', 'remote', `cannot migrate from a remote to a ${dest.type} connection`);
    return migrateBetweenDaemons(this.#daemon, dest.#daemon, dom, opts);
  }

  get #daemon(): MigrationDaemon {
    return { call: (proc, args, opts) => this.#call(proc, args, opts), uri: this.#uri };
  }

  // ---------------------------------------------------------------- events

  domainScreenshot(dom: DomainRef, opts: ScreenshotOptions = {}): Promise<Screenshot> {
    return remoteScreenshot(this.#client, dom, opts);
  }

  subscribe(listener: DomainEventListener, ids?: ReadonlySet<DomainEventId>): () => void {
    return this.#events.subscribe(listener, ids);
  }

  // ---------------------------------------------------------------- libvirt-qemu (remote-qemu.ts)

  domainQemuMonitorCommand(
    dom: DomainRef,
    cmd: QemuMonitorRequest,
    opts?: CallOptions & { timeout?: number },
  ): Promise<QemuMonitorReply | string> {
    return remoteMonitorCommand((proc, args, o) => this.#call(proc, args, o), dom, cmd, opts);
  }

  domainAgentCommand(dom: DomainRef, command: string, opts?: AgentCallOptions): Promise<string> {
    return remoteAgentCommand((proc, args, o) => this.#call(proc, args, o), dom, command, opts);
  }

  subscribeQemuMonitor(listener: (event: QemuMonitorEvent) => void): () => void {
    return this.#monitorEvents.subscribe(listener);
  }
}

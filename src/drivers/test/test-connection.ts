/**
 * The in-memory hypervisor behind `test:///`. Each connection is a fresh
 * host, as in libvirt: nothing is shared between connections.
 *
 * Every transition follows libvirt's test driver (checked call by call
 * against libvirt 9.0's, through python3-libvirt): the same states and
 * reasons, the same lifecycle events and details, ids counting up from the
 * last one handed out, and the same error code for each refused transition —
 * even where libvirt's choice is surprising (starting a running domain is an
 * `INTERNAL_ERROR`, destroying an inactive one `OPERATION_INVALID`), because
 * harness code branches on those codes.
 *
 * @module
 */

import type { Capabilities } from '../../conf/capabilities.js';
import { CpuDef } from '../../conf/cpu.js';
import type { DomainDef } from '../../conf/domain/domain-def.js';
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
  CpuCompareResult,
  DomainEventListener,
  DomainInfo,
  DomainLookup,
  DomainRef,
  DomainState,
  DriverConnection,
  GetXmlOptions,
  ListDomainsFilter,
  MetadataKind,
  NodeInfo,
  SnapshotCreateOptions,
  SnapshotDeleteOptions,
  SnapshotInfo,
  SnapshotRevertOptions,
  SnapshotXmlOptions,
} from '../../driver.js';
import type { PowerOptions } from '../../driver-agent.js';
import { throwIfAborted, VirError } from '../../errors.js';
import { assertValid } from '../../xml/validate.js';
import { DomainJobs } from '../job-lock.js';
import { type AgentJob, refusePowerMode, TestAgentCalls } from './agent-ops.js';
import { listDomainRefs, needActive } from './domain-filter.js';
import {
  type ChangeFlags,
  create,
  define,
  definitionOf,
  info,
  rename,
  setMemory,
  setVcpus,
  undefine,
  xmlOf,
} from './domain-ops.js';
import { newUuid } from './new-uuid.js';
import { readSaveFile, restoreDomain, saveDomain, setMaxMemory } from './save-ops.js';
import {
  createSnapshot,
  deleteSnapshot,
  listSnapshots,
  revertToSnapshot,
  snapshotXml,
} from './snapshot-ops.js';
import type { ControlledHost, TestControl, TestMethod } from './test-control.js';
import { parseTestDomain } from './test-domain-xml.js';
import { type InitialDomain, ref, type TestDomain, TestHost } from './test-host.js';
import { type TestObjectSetup, TestObjects } from './test-objects.js';
import * as stats from './test-stats.js';
import * as blkio from './tuning-blkio-ops.js';
import * as tuning from './tuning-ops.js';
import * as sched from './tuning-sched-ops.js';

export { TEST_MAX_VCPUS } from './domain-ops.js';

/** How a connection starts: its host facts and the domains already there. */
export interface TestHostSetup {
  nodeInfo: NodeInfo;
  capabilities: Capabilities;
  domains: readonly InitialDomain[];
  /** The pools, networks and node devices there at start (none by default). */
  objects?: TestObjectSetup;
  control?: TestControl;
}

export class TestConnection extends TestAgentCalls implements DriverConnection, ControlledHost {
  readonly type = 'TEST';
  readonly #host = new TestHost();
  readonly #jobs = new DomainJobs('test');
  readonly #caps: Capabilities;
  readonly #nodeInfo: NodeInfo;
  readonly #control: TestControl | undefined;
  #closed = false;
  readonly #objects: TestObjects;

  protected readonly agentJob: AgentJob = (m, dom, o, fn) => this.#domainJob(m, dom, o, fn);

  constructor(setup: TestHostSetup) {
    super();
    this.#objects = new TestObjects(setup.objects);
    this.#caps = setup.capabilities;
    this.#nodeInfo = setup.nodeInfo;
    for (const init of setup.domains) this.#host.adopt(init);
    this.#control = setup.control;
    this.#control?._attach(this);
  }

  get storage(): TestObjects['storage'] {
    return this.#objects.storage;
  }
  get networks(): TestObjects['networks'] {
    return this.#objects.networks;
  }
  get secrets(): TestObjects['secrets'] {
    return this.#objects.secrets;
  }
  get nodeDevices(): TestObjects['nodeDevices'] {
    return this.#objects.nodeDevices;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#control?._detach(this);
    this.#host.clear();
  }

  // --- host -------------------------------------------------------------------

  getCapabilities(opts: CallOptions = {}): Promise<Capabilities> {
    return this.#hostJob('getCapabilities', opts, () => this.#caps);
  }

  /** Against the host CPU of the capabilities; a host CPU without a model is incompatible, as in libvirt. */
  async compareCpu(cpuXml: string, opts: CallOptions = {}): Promise<CpuCompareResult> {
    // the CPU engine and its model tables load on the first CPU call, not with the driver
    const { compareCpu } = await import('../../cpu/index.js');
    return this.#hostJob('compareCpu', opts, () => {
      const host = new CpuDef(this.#caps.host.cpu ?? {});
      return compareCpu(host, cpuXml).result.toLowerCase() as CpuCompareResult;
    });
  }

  async baselineCpu(cpuXmls: readonly string[], opts: BaselineOptions = {}): Promise<string> {
    const { baselineCpu } = await import('../../cpu/index.js');
    return this.#hostJob('baselineCpu', opts, () =>
      baselineCpu(cpuXmls, {
        ...(opts.expandFeatures !== undefined ? { expandFeatures: opts.expandFeatures } : {}),
        ...(opts.migratable !== undefined ? { migratable: opts.migratable } : {}),
      }).toXML(),
    );
  }

  getHostname(opts: CallOptions = {}): Promise<string> {
    // libvirt's test driver reports the real host name; a fixed one keeps harnesses deterministic.
    return this.#hostJob('getHostname', opts, () => 'localhost');
  }

  getVersion(opts: CallOptions = {}): Promise<number> {
    return this.#hostJob('getVersion', opts, () => 2);
  }

  getNodeInfo(opts: CallOptions = {}): Promise<NodeInfo> {
    return this.#hostJob('getNodeInfo', opts, () => this.#nodeInfo);
  }

  // --- domains ----------------------------------------------------------------

  listDomains(filter: ListDomainsFilter, opts: CallOptions = {}): Promise<DomainRef[]> {
    return this.#hostJob('listDomains', opts, () => listDomainRefs(this.#host, filter));
  }

  lookupDomain(key: DomainLookup, opts: CallOptions = {}): Promise<DomainRef> {
    return this.#hostJob('lookupDomain', opts, () => ref(this.#host.find(key)));
  }

  defineDomain(xml: string, opts: CallOptions = {}): Promise<DomainRef> {
    return this.#hostJob('defineDomain', opts, () => define(this.#host, this.#parse(xml)), xml);
  }

  createDomain(xml: string, opts: CallOptions & { paused?: boolean } = {}): Promise<DomainRef> {
    return this.#hostJob(
      'createDomain',
      opts,
      () => create(this.#host, this.#parse(xml), opts.paused === true),
      xml,
    );
  }

  domainStart(dom: DomainRef, opts: CallOptions & { paused?: boolean } = {}): Promise<DomainRef> {
    return this.#domainJob('domainStart', dom, opts, (d) => {
      if (d.id >= 0) throw new VirError('INTERNAL_ERROR', 'test', `Domain '${d.name}' is already running`);
      this.#host.boot(d, d.config, opts.paused === true);
      return ref(d);
    });
  }

  domainSuspend(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainSuspend', dom, opts, (d) => {
      if (d.state !== 'running' && d.state !== 'blocked') {
        throw new VirError('INTERNAL_ERROR', 'test', `domain '${d.name}' not running`);
      }
      this.#host.setState(d, 'paused', 'user');
      this.#host.emit(d, 'suspended', 'paused');
    });
  }

  domainResume(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainResume', dom, opts, (d) => {
      if (d.state !== 'paused') throw new VirError('INTERNAL_ERROR', 'test', `domain '${d.name}' not paused`);
      this.#host.setState(d, 'running', 'unpaused');
      this.#host.emit(d, 'resumed', 'unpaused');
    });
  }

  domainShutdown(dom: DomainRef, opts: PowerOptions = {}): Promise<void> {
    return this.#domainJob('domainShutdown', dom, opts, (d) => {
      refusePowerMode(opts.mode);
      if (d.id < 0) throw new VirError('INTERNAL_ERROR', 'test', `domain '${d.name}' not running`);
      this.#host.stop(d, 'shutdown', 'shutdown');
    });
  }

  domainReboot(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainReboot', dom, opts, (d) => {
      needActive(d);
      // The guest comes straight back: no lifecycle event, as in libvirt's test driver.
      this.#host.setState(d, 'running', 'booted');
    });
  }

  domainReset(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainReset', dom, opts, (d) => {
      // a reset leaves state and reason as they were, paused included (libvirt's test driver)
      needActive(d);
    });
  }

  domainDestroy(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainDestroy', dom, opts, (d) => {
      needActive(d);
      this.#host.stop(d, 'destroyed', 'destroyed');
    });
  }

  domainUndefine(dom: DomainRef, opts: CallOptions & { snapshots?: boolean } = {}): Promise<void> {
    return this.#domainJob('domainUndefine', dom, opts, (d) =>
      undefine(this.#host, d, opts.snapshots === true),
    );
  }

  domainGetState(dom: DomainRef, opts: CallOptions = {}): Promise<DomainState> {
    return this.#domainJob('domainGetState', dom, opts, (d) => ({ state: d.state, reason: d.reason }));
  }

  // --- statistics (test-stats.ts) ---
  domainListGetStats(doms: stats.DomainList, q: stats.DomainStatsQuery, opts: CallOptions = {}) {
    return this.#hostJob('domainListGetStats', opts, () => stats.domainsStats(this.#host, doms, q));
  }
  domainGetBlockInfo(dom: DomainRef, disk: string, opts: CallOptions = {}) {
    return this.#domainJob('domainGetBlockInfo', dom, opts, (d) => stats.blockInfo(d, disk));
  }
  domainBlockStats(dom: DomainRef, disk: string, opts: CallOptions = {}) {
    return this.#domainJob('domainBlockStats', dom, opts, (d) => stats.blockStats(d, disk));
  }
  domainInterfaceStats(dom: DomainRef, device: string, opts: CallOptions = {}) {
    return this.#domainJob('domainInterfaceStats', dom, opts, (d) => stats.interfaceStats(d, device));
  }
  domainMemoryStats(dom: DomainRef, opts: CallOptions = {}) {
    return this.#domainJob('domainMemoryStats', dom, opts, stats.memoryStats);
  }

  domainGetInfo(dom: DomainRef, opts: CallOptions = {}): Promise<DomainInfo> {
    return this.#domainJob('domainGetInfo', dom, opts, info);
  }

  domainGetXml(dom: DomainRef, opts: GetXmlOptions = {}): Promise<string> {
    return this.#domainJob('domainGetXml', dom, opts, (d) => xmlOf(d, opts));
  }

  /**
   * The definition `getXML` formats, as a `DomainDef` of the caller's own
   * (changing it changes nothing here); secrets are kept only with `secure`.
   */
  domainGetDefinition(dom: DomainRef, opts: GetXmlOptions = {}): Promise<DomainDef> {
    return this.#domainJob('domainGetDefinition', dom, opts, (d) => definitionOf(d, opts));
  }

  /** Without `config`/`live`, changes the running guest only, like `virDomainSetMemory`. */
  domainSetMemory(dom: DomainRef, kib: number, opts: ChangeFlags = {}): Promise<void> {
    return this.#domainJob('domainSetMemory', dom, opts, (d) => setMemory(d, kib, opts));
  }

  /** Without `config`/`live`, changes the running guest only, like `virDomainSetVcpus`. */
  domainSetVcpus(dom: DomainRef, count: number, opts: ChangeFlags = {}): Promise<void> {
    return this.#domainJob('domainSetVcpus', dom, opts, (d) => setVcpus(d, count, opts));
  }

  domainSetMetadata(dom: DomainRef, kind: MetadataKind, value: string | null, opts: SetMetadataOptions = {}) {
    return this.#domainJob('domainSetMetadata', dom, opts, (d) =>
      tuning.setMetadata(this.#host, d, kind, value, opts),
    );
  }

  domainGetMetadata(dom: DomainRef, kind: MetadataKind, opts: GetMetadataOptions = {}) {
    return this.#domainJob('domainGetMetadata', dom, opts, (d) => tuning.getMetadata(d, kind, opts));
  }

  domainSetBlockIoTune(
    dom: DomainRef,
    disk: string,
    params: BlockIoTuneParams,
    opts: BlockIoTuneOptions = {},
  ) {
    return this.#domainJob('domainSetBlockIoTune', dom, opts, (d) =>
      tuning.setBlockIoTune(d, disk, params, opts),
    );
  }

  domainGetBlockIoTune(dom: DomainRef, disk: string, opts: BlockIoTuneOptions = {}) {
    return this.#domainJob('domainGetBlockIoTune', dom, opts, (d) => tuning.getBlockIoTune(d, disk, opts));
  }

  domainGetSchedulerType(dom: DomainRef, opts: CallOptions = {}) {
    return this.#domainJob('domainGetSchedulerType', dom, opts, () => sched.getSchedulerType());
  }

  domainGetSchedulerParameters(dom: DomainRef, opts: TuningParamsOptions = {}) {
    return this.#domainJob('domainGetSchedulerParameters', dom, opts, () =>
      sched.getSchedulerParameters(opts),
    );
  }

  domainSetSchedulerParameters(dom: DomainRef, params: SchedulerParameters, opts: TuningParamsOptions = {}) {
    return this.#domainJob('domainSetSchedulerParameters', dom, opts, () =>
      sched.setSchedulerParameters(params, opts),
    );
  }

  domainGetMemoryParameters(dom: DomainRef, opts: TuningParamsOptions = {}) {
    return this.#domainJob('domainGetMemoryParameters', dom, opts, (d) => sched.getMemoryParameters(d, opts));
  }

  domainSetMemoryParameters(dom: DomainRef, params: MemoryParameters, opts: TuningParamsOptions = {}) {
    return this.#domainJob('domainSetMemoryParameters', dom, opts, (d) =>
      sched.setMemoryParameters(d, params, opts),
    );
  }

  domainGetBlkioParameters(dom: DomainRef, opts: TuningParamsOptions = {}) {
    return this.#domainJob('domainGetBlkioParameters', dom, opts, (d) => blkio.getBlkioParameters(d, opts));
  }

  domainSetBlkioParameters(dom: DomainRef, params: BlkioParameters, opts: TuningParamsOptions = {}) {
    return this.#domainJob('domainSetBlkioParameters', dom, opts, (d) =>
      blkio.setBlkioParameters(d, params, opts),
    );
  }

  domainGetAutostart(dom: DomainRef, opts: CallOptions = {}): Promise<boolean> {
    return this.#domainJob('domainGetAutostart', dom, opts, (d) => d.autostart);
  }

  domainSetAutostart(dom: DomainRef, autostart: boolean, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainSetAutostart', dom, opts, (d) => {
      d.autostart = autostart;
    });
  }

  domainRename(dom: DomainRef, newName: string, opts: CallOptions = {}): Promise<DomainRef> {
    return this.#domainJob('domainRename', dom, opts, (d) => rename(this.#host, d, newName));
  }

  domainManagedSave(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainManagedSave', dom, opts, (d) => {
      if (!d.persistent) {
        throw new VirError('OPERATION_INVALID', 'test', 'cannot do managed save for transient domain');
      }
      needActive(d);
      this.#host.stop(d, 'saved', 'saved');
      d.managedSave = true;
    });
  }

  domainHasManagedSave(dom: DomainRef, opts: CallOptions = {}): Promise<boolean> {
    return this.#domainJob('domainHasManagedSave', dom, opts, (d) => d.managedSave);
  }

  /** libvirt's test driver drops the flag whatever the state, none being no error. */
  domainManagedSaveRemove(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainManagedSaveRemove', dom, opts, (d) => {
      d.managedSave = false;
    });
  }

  domainSave(dom: DomainRef, path: string, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainSave', dom, opts, (d) => saveDomain(this.#host, d, path));
  }

  restoreDomain(path: string, opts: CallOptions & { paused?: boolean } = {}): Promise<DomainRef> {
    return this.#hostJob('restoreDomain', opts, () => {
      // libvirt's testDomainRestoreFlags takes no flags
      if (opts.paused === true)
        throw new VirError(
          'INVALID_ARG',
          'test',
          'unsupported flags (0x4) in function testDomainRestoreFlags',
        );
      return restoreDomain(
        this.#host,
        readSaveFile(path, (xml) => this.#parse(xml)),
      );
    });
  }

  domainSetMaxMemory(dom: DomainRef, kib: number, opts: ChangeFlags = {}): Promise<void> {
    return this.#domainJob('domainSetMaxMemory', dom, opts, (d) => setMaxMemory(d, kib, opts));
  }

  domainIsPersistent(dom: DomainRef, opts: CallOptions = {}): Promise<boolean> {
    return this.#domainJob('domainIsPersistent', dom, opts, (d) => d.persistent);
  }
  async domainScreenshot(dom: DomainRef, opts: CallOptions = {}) {
    // loaded on first use: the PNG encoder brings node:zlib, which opening a connection does not need
    const { testScreenshot } = await import('./test-screenshot.js');
    return this.#domainJob('domainScreenshot', dom, opts, () => testScreenshot());
  }

  // --- snapshots -----------------------------------------------------------------

  domainSnapshotCreate(
    dom: DomainRef,
    xml: string,
    opts: CallOptions & SnapshotCreateOptions = {},
  ): Promise<string> {
    // VALIDATE: libvirt's domainsnapshot.rng before anything else, as libvirt parses with it
    const valid = opts.validate ? assertValid(xml, 'domainsnapshot') : Promise.resolve();
    return valid.then(() =>
      this.#domainJob('domainSnapshotCreate', dom, opts, (d) => createSnapshot(this.#host, d, xml, opts)),
    );
  }

  domainSnapshotList(dom: DomainRef, opts: CallOptions = {}): Promise<SnapshotInfo[]> {
    return this.#domainJob('domainSnapshotList', dom, opts, listSnapshots);
  }

  domainSnapshotGetXml(dom: DomainRef, name: string, opts: SnapshotXmlOptions = {}): Promise<string> {
    return this.#domainJob('domainSnapshotGetXml', dom, opts, (d) =>
      snapshotXml(d, name, opts.secure === true),
    );
  }

  domainSnapshotRevert(
    dom: DomainRef,
    name: string,
    opts: CallOptions & SnapshotRevertOptions = {},
  ): Promise<DomainRef> {
    return this.#domainJob('domainSnapshotRevert', dom, opts, (d) =>
      revertToSnapshot(this.#host, d, name, opts),
    );
  }

  domainSnapshotDelete(
    dom: DomainRef,
    name: string,
    opts: CallOptions & SnapshotDeleteOptions = {},
  ): Promise<void> {
    // libvirt's test driver takes CHILDREN and CHILDREN_ONLY, not METADATA_ONLY (0x2)
    if (opts.metadataOnly)
      return Promise.reject(
        new VirError('INVALID_ARG', 'test', 'unsupported flags (0x2) in function testDomainSnapshotDelete'),
      );
    return this.#domainJob('domainSnapshotDelete', dom, opts, (d) =>
      deleteSnapshot(d, name, opts.childrenOnly ? 'only' : opts.children === true),
    );
  }

  subscribe(listener: DomainEventListener): () => void {
    this.#host.listeners.add(listener);
    return () => this.#host.listeners.delete(listener);
  }

  // --- what a TestControl can make the guests do ---------------------------------

  crashGuest(key: string): void {
    this.#host.crashGuest(this.#guest(key));
  }

  guestShutdown(key: string): void {
    this.#host.guestShutdown(this.#guest(key));
  }

  guestReboot(key: string): void {
    this.#host.guestReboot(this.#guest(key));
  }

  // --- internals ----------------------------------------------------------------

  /*
   * Every call runs injected faults first (they may wait or throw), under the
   * domain's job lock when the call is about a domain, then its body in one
   * synchronous step so nothing else can see a half-done change.
   */
  async #hostJob<T>(method: TestMethod, opts: CallOptions, fn: () => T, xml?: string): Promise<T> {
    this.#checkOpen();
    throwIfAborted(opts.signal, 'test');
    if (this.#control) {
      await this.#control._apply(xml === undefined ? { method } : { method, xml }, opts.signal);
      this.#checkOpen();
    }
    return fn();
  }

  async #domainJob<T>(
    method: TestMethod,
    dom: DomainRef,
    opts: CallOptions,
    fn: (d: TestDomain) => T,
  ): Promise<T> {
    const signal = opts.signal;
    this.#checkOpen();
    throwIfAborted(signal, 'test');
    const control = this.#control;
    // Without injected faults every body is synchronous, so a call on an idle
    // domain cannot interleave with another one and needs no lock.
    if (!control && !this.#jobs.busy(dom.uuid)) return fn(this.#host.find({ uuid: dom.uuid }));
    return this.#jobs.run(
      dom.uuid,
      method,
      async () => {
        if (control) await control._apply({ method, domain: dom }, signal);
        this.#checkOpen();
        throwIfAborted(signal, 'test');
        return fn(this.#host.find({ uuid: dom.uuid }));
      },
      signal,
    );
  }

  #checkOpen(): void {
    if (this.#closed) throw new VirError('INVALID_CONN', 'test', 'the test connection is closed');
  }

  #parse(xml: string): DomainDef {
    return parseTestDomain(xml, { newUuid });
  }

  #guest(key: string): TestDomain {
    this.#checkOpen();
    const host = this.#host;
    const d = host.byName.get(key) ?? host.byUuid.get(key.toLowerCase());
    if (!d) throw new VirError('NO_DOMAIN', 'test', `no domain with matching name or uuid '${key}'`);
    if (d.id < 0) throw new VirError('OPERATION_INVALID', 'test', `domain '${d.name}' is not running`);
    return d;
  }
}

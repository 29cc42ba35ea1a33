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
import { randomUUID } from 'node:crypto';
import type { Capabilities } from '../../conf/capabilities.js';
import { CpuDef } from '../../conf/cpu.js';
import { baselineCpu, compareCpu } from '../../cpu/index.js';
import type {
  BaselineOptions,
  CallOptions,
  CpuCompareResult,
  DomainEvent,
  DomainEventListener,
  DomainEventName,
  DomainInfo,
  DomainLookup,
  DomainRef,
  DomainState,
  DomainStateName,
  DriverConnection,
  GetXmlOptions,
  ListDomainsFilter,
  NodeInfo,
  SnapshotInfo,
} from '../../driver.js';
import { throwIfAborted, VirError } from '../../errors.js';
import { DomainJobs } from '../job-lock.js';
import { type DomainConfig, formatDomainXml, parseDomainConfig } from './domain-config.js';
import { descendants, formatSnapshotXml, parseSnapshotXml, type TestSnapshot } from './snapshots.js';
import type { ControlledHost, TestControl, TestMethod } from './test-control.js';

/** The most vCPUs the fake hypervisor gives one guest (libvirt's test driver says 32). */
export const TEST_MAX_VCPUS = 32;

/** A domain as the fake hypervisor holds it. */
export interface TestDomain {
  uuid: string;
  name: string;
  id: number;
  state: DomainStateName;
  reason: string;
  persistent: boolean;
  /**
   * Whether a next-boot definition exists (libvirt's `newDef`): true once
   * the domain is persistent, kept when a running domain is undefined. It
   * decides two details libvirt shows: redefining reports `updated` rather
   * than `added`, and a stop event carries id -1 rather than the old id.
   */
  nextBootDef: boolean;
  autostart: boolean;
  managedSave: boolean;
  /** The next-boot definition (for a transient domain, the one it was created from). */
  config: DomainConfig;
  /** The running definition and what has changed in it since boot; undefined when inactive. */
  live: LiveState | undefined;
  /** Snapshots by name, oldest first; created on the first snapshot. */
  snapshots?: Map<string, TestSnapshot>;
  currentSnapshot?: string | undefined;
  /** The last document getXML formatted, reused while nothing it shows has changed. */
  xmlCache?: { def: DomainConfig; key: string; xml: string };
}

interface LiveState {
  def: DomainConfig;
  memoryKiB: number;
  maxMemKiB: number;
  vcpus: number;
  /** `process.hrtime` at boot, for cpuTime. */
  bootedAt: bigint;
}

/** How a connection starts: its host facts and the domains already there. */
export interface TestHostSetup {
  nodeInfo: NodeInfo;
  capabilities: Capabilities;
  domains: readonly InitialDomain[];
  control?: TestControl;
}

export interface InitialDomain {
  config: DomainConfig;
  state: DomainStateName;
  persistent: boolean;
  hasManagedSave: boolean;
}

type MemoryFlags = CallOptions & { config?: boolean; live?: boolean };

export class TestConnection implements DriverConnection, ControlledHost {
  readonly type = 'TEST';
  readonly #byUuid = new Map<string, TestDomain>();
  readonly #byName = new Map<string, TestDomain>();
  readonly #byId = new Map<number, TestDomain>();
  readonly #listeners = new Set<DomainEventListener>();
  readonly #jobs = new DomainJobs('test');
  readonly #caps: Capabilities;
  readonly #nodeInfo: NodeInfo;
  readonly #control: TestControl | undefined;
  #nextId = 1;
  #closed = false;

  constructor(setup: TestHostSetup) {
    this.#caps = setup.capabilities;
    this.#nodeInfo = setup.nodeInfo;
    for (const init of setup.domains) this.#adopt(init);
    this.#control = setup.control;
    this.#control?._attach(this);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#control?._detach(this);
    this.#listeners.clear();
    this.#byUuid.clear();
    this.#byName.clear();
    this.#byId.clear();
  }

  // --- host -------------------------------------------------------------------

  getCapabilities(opts: CallOptions = {}): Promise<Capabilities> {
    return this.#hostJob('getCapabilities', opts, () => this.#caps);
  }

  /** Against the host CPU of the capabilities; a host CPU without a model is incompatible, as in libvirt. */
  compareCpu(cpuXml: string, opts: CallOptions = {}): Promise<CpuCompareResult> {
    return this.#hostJob('compareCpu', opts, () => {
      const host = new CpuDef(this.#caps.host.cpu ?? {});
      return compareCpu(host, cpuXml).result.toLowerCase() as CpuCompareResult;
    });
  }

  baselineCpu(cpuXmls: readonly string[], opts: BaselineOptions = {}): Promise<string> {
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
    return this.#hostJob('listDomains', opts, () => {
      const states = filter.state === undefined ? undefined : new Set<string>([filter.state].flat());
      const out: DomainRef[] = [];
      for (const d of this.#byUuid.values()) {
        if (filter.active !== undefined && filter.active !== d.id >= 0) continue;
        if (filter.persistent !== undefined && filter.persistent !== d.persistent) continue;
        if (filter.autostart !== undefined && filter.autostart !== d.autostart) continue;
        if (states && !states.has(d.state)) continue;
        out.push(ref(d));
      }
      return out;
    });
  }

  lookupDomain(key: DomainLookup, opts: CallOptions = {}): Promise<DomainRef> {
    return this.#hostJob('lookupDomain', opts, () => ref(this.#find(key)));
  }

  defineDomain(xml: string, opts: CallOptions = {}): Promise<DomainRef> {
    return this.#hostJob(
      'defineDomain',
      opts,
      () => {
        const cfg = this.#parse(xml);
        const existing = this.#claim(cfg);
        if (existing) {
          const hadDef = existing.nextBootDef;
          existing.persistent = true;
          existing.nextBootDef = true;
          existing.config = cfg;
          this.#emit(existing, 'defined', hadDef ? 'updated' : 'added');
          return ref(existing);
        }
        const d = this.#insert(cfg, true);
        this.#emit(d, 'defined', 'added');
        return ref(d);
      },
      xml,
    );
  }

  createDomain(xml: string, opts: CallOptions & { paused?: boolean } = {}): Promise<DomainRef> {
    return this.#hostJob(
      'createDomain',
      opts,
      () => {
        const cfg = this.#parse(xml);
        const existing = this.#claim(cfg);
        if (existing && existing.id >= 0) {
          throw new VirError('OPERATION_INVALID', 'test', `domain '${existing.name}' is already active`);
        }
        // An inactive persistent domain of the same name and UUID boots this definition once.
        const d = existing ?? this.#insert(cfg, false);
        this.#boot(d, cfg, opts.paused === true);
        return ref(d);
      },
      xml,
    );
  }

  domainStart(dom: DomainRef, opts: CallOptions & { paused?: boolean } = {}): Promise<DomainRef> {
    return this.#domainJob('domainStart', dom, opts, (d) => {
      if (d.id >= 0) throw new VirError('INTERNAL_ERROR', 'test', `Domain '${d.name}' is already running`);
      this.#boot(d, d.config, opts.paused === true);
      return ref(d);
    });
  }

  domainSuspend(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainSuspend', dom, opts, (d) => {
      if (d.state !== 'running' && d.state !== 'blocked') {
        throw new VirError('INTERNAL_ERROR', 'test', `domain '${d.name}' not running`);
      }
      this.#setState(d, 'paused', 'user');
      this.#emit(d, 'suspended', 'paused');
    });
  }

  domainResume(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainResume', dom, opts, (d) => {
      if (d.state !== 'paused') throw new VirError('INTERNAL_ERROR', 'test', `domain '${d.name}' not paused`);
      this.#setState(d, 'running', 'unpaused');
      this.#emit(d, 'resumed', 'unpaused');
    });
  }

  domainShutdown(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainShutdown', dom, opts, (d) => {
      if (d.id < 0) throw new VirError('INTERNAL_ERROR', 'test', `domain '${d.name}' not running`);
      this.#stop(d, 'shutdown', 'shutdown');
    });
  }

  domainReboot(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainReboot', dom, opts, (d) => {
      this.#needActive(d);
      // The guest comes straight back: no lifecycle event, as in libvirt's test driver.
      this.#setState(d, 'running', 'booted');
    });
  }

  domainReset(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainReset', dom, opts, (d) => {
      // a reset leaves state and reason as they were, paused included (libvirt's test driver)
      this.#needActive(d);
    });
  }

  domainDestroy(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainDestroy', dom, opts, (d) => {
      this.#needActive(d);
      this.#stop(d, 'destroyed', 'destroyed');
    });
  }

  domainUndefine(dom: DomainRef, opts: CallOptions & { snapshots?: boolean } = {}): Promise<void> {
    return this.#domainJob('domainUndefine', dom, opts, (d) => {
      if (d.managedSave) {
        throw new VirError(
          'OPERATION_INVALID',
          'test',
          `refusing to undefine '${d.name}' while it has a managed save image`,
        );
      }
      const snapshots = d.snapshots?.size ?? 0;
      if (snapshots > 0 && d.id < 0 && !opts.snapshots) {
        throw new VirError(
          'OPERATION_INVALID',
          'test',
          `cannot delete inactive domain with ${snapshots} snapshots`,
        );
      }
      // libvirt's test driver keeps the autostart flag of a domain that lives on as transient.
      if (d.id >= 0) {
        // A running domain carries on as a transient one and vanishes when it stops.
        d.persistent = false;
        this.#emit(d, 'undefined', 'removed');
        return;
      }
      this.#remove(d);
      this.#emit(d, 'undefined', 'removed');
    });
  }

  domainGetState(dom: DomainRef, opts: CallOptions = {}): Promise<DomainState> {
    return this.#domainJob('domainGetState', dom, opts, (d) => ({ state: d.state, reason: d.reason }));
  }

  domainGetInfo(dom: DomainRef, opts: CallOptions = {}): Promise<DomainInfo> {
    return this.#domainJob('domainGetInfo', dom, opts, (d) => {
      const live = d.live;
      return {
        state: d.state,
        maxMem: live ? live.maxMemKiB : d.config.maxMemKiB,
        memory: live ? live.memoryKiB : d.config.memoryKiB,
        nrVirtCpu: live ? live.vcpus : d.config.vcpus,
        cpuTime: live ? process.hrtime.bigint() - live.bootedAt : 0n,
      };
    });
  }

  domainGetXml(dom: DomainRef, opts: GetXmlOptions = {}): Promise<string> {
    return this.#domainJob('domainGetXml', dom, opts, (d) => {
      const secure = opts.secure === true;
      const live = d.live;
      const c = d.config;
      const def = live && !opts.inactive ? live.def : c;
      const facts =
        live && !opts.inactive
          ? {
              id: d.id,
              memoryKiB: live.memoryKiB,
              maxMemKiB: live.maxMemKiB,
              vcpus: live.vcpus,
              maxVcpus: def.maxVcpus,
            }
          : { id: -1, memoryKiB: c.memoryKiB, maxMemKiB: c.maxMemKiB, vcpus: c.vcpus, maxVcpus: c.maxVcpus };
      const key = `${secure}|${facts.id}|${facts.memoryKiB}|${facts.maxMemKiB}|${facts.vcpus}`;
      const cached = d.xmlCache;
      if (cached && cached.def === def && cached.key === key) return cached.xml;
      const xml = formatDomainXml(def, facts, { secure });
      d.xmlCache = { def, key, xml };
      return xml;
    });
  }

  /** Without `config`/`live`, changes the running guest only, like `virDomainSetMemory`. */
  domainSetMemory(dom: DomainRef, kib: number, opts: MemoryFlags = {}): Promise<void> {
    return this.#domainJob('domainSetMemory', dom, opts, (d) => {
      const { live, config } = this.#affect(d, opts);
      if (live && kib > live.maxMemKiB) {
        throw new VirError('INVALID_ARG', 'test', 'cannot set memory higher than max memory');
      }
      if (config && kib > d.config.maxMemKiB) {
        throw new VirError('INVALID_ARG', 'test', 'cannot set memory higher than max memory');
      }
      if (live) live.memoryKiB = kib;
      if (config) d.config = { ...d.config, memoryKiB: kib };
    });
  }

  /** Without `config`/`live`, changes the running guest only, like `virDomainSetVcpus`. */
  domainSetVcpus(dom: DomainRef, count: number, opts: MemoryFlags = {}): Promise<void> {
    return this.#domainJob('domainSetVcpus', dom, opts, (d) => {
      const { live, config } = this.#affect(d, opts);
      if (count > TEST_MAX_VCPUS) {
        throw new VirError(
          'INVALID_ARG',
          'test',
          `requested cpu amount exceeds maximum supported amount (${count} > ${TEST_MAX_VCPUS})`,
        );
      }
      for (const max of [live?.def.maxVcpus, config ? d.config.maxVcpus : undefined]) {
        if (max !== undefined && count > max) {
          throw new VirError(
            'INVALID_ARG',
            'test',
            `requested cpu amount exceeds maximum (${count} > ${max})`,
          );
        }
      }
      if (live) live.vcpus = count;
      if (config) d.config = { ...d.config, vcpus: count };
    });
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
    return this.#domainJob('domainRename', dom, opts, (d) => {
      if (d.id >= 0) throw new VirError('OPERATION_INVALID', 'test', 'cannot rename active domain');
      if (newName.includes('/')) {
        throw new VirError('XML_ERROR', 'test', `name ${newName} cannot contain '/'`);
      }
      if (this.#byName.has(newName)) {
        throw new VirError('OPERATION_INVALID', 'test', `domain with name '${newName}' already exists`);
      }
      this.#emit(d, 'undefined', 'renamed');
      this.#byName.delete(d.name);
      d.name = newName;
      d.config = { ...d.config, name: newName };
      this.#byName.set(newName, d);
      this.#emit(d, 'defined', 'renamed');
      return ref(d);
    });
  }

  domainManagedSave(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    return this.#domainJob('domainManagedSave', dom, opts, (d) => {
      if (!d.persistent) {
        throw new VirError('OPERATION_INVALID', 'test', 'cannot do managed save for transient domain');
      }
      this.#needActive(d);
      this.#stop(d, 'saved', 'saved');
      d.managedSave = true;
    });
  }

  domainHasManagedSave(dom: DomainRef, opts: CallOptions = {}): Promise<boolean> {
    return this.#domainJob('domainHasManagedSave', dom, opts, (d) => d.managedSave);
  }

  domainIsPersistent(dom: DomainRef, opts: CallOptions = {}): Promise<boolean> {
    return this.#domainJob('domainIsPersistent', dom, opts, (d) => d.persistent);
  }

  // --- snapshots -----------------------------------------------------------------

  domainSnapshotCreate(dom: DomainRef, xml: string, opts: CallOptions = {}): Promise<string> {
    return this.#domainJob('domainSnapshotCreate', dom, opts, (d) => {
      const req = parseSnapshotXml(xml);
      const creationTime = Math.floor(Date.now() / 1000);
      // libvirt names an unnamed snapshot after its creation time
      const name = req.name ?? String(creationTime);
      const snaps = d.snapshots ?? new Map<string, TestSnapshot>();
      d.snapshots = snaps;
      if (snaps.has(name))
        throw new VirError('OPERATION_FAILED', 'test', `domain moment ${name} already exists`);
      const live = d.live;
      const def = live ? { ...live.def, memoryKiB: live.memoryKiB, vcpus: live.vcpus } : d.config;
      snaps.set(name, {
        name,
        description: req.description,
        state: live ? d.state : 'shutoff',
        parent: d.currentSnapshot,
        creationTime,
        def,
      });
      d.currentSnapshot = name;
      return name;
    });
  }

  domainSnapshotList(dom: DomainRef, opts: CallOptions = {}): Promise<SnapshotInfo[]> {
    return this.#domainJob('domainSnapshotList', dom, opts, (d) =>
      [...(d.snapshots?.values() ?? [])].map((s) => ({
        name: s.name,
        state: s.state,
        creationTime: s.creationTime,
        current: s.name === d.currentSnapshot,
        ...(s.description !== undefined ? { description: s.description } : {}),
        ...(s.parent !== undefined ? { parent: s.parent } : {}),
      })),
    );
  }

  domainSnapshotGetXml(dom: DomainRef, name: string, opts: CallOptions = {}): Promise<string> {
    return this.#domainJob('domainSnapshotGetXml', dom, opts, (d) => {
      const snap = snapshot(d, name);
      const c = snap.def;
      const domainXml = formatDomainXml(
        c,
        { id: -1, memoryKiB: c.memoryKiB, maxMemKiB: c.maxMemKiB, vcpus: c.vcpus, maxVcpus: c.maxVcpus },
        { secure: false },
      );
      return formatSnapshotXml(snap, domainXml);
    });
  }

  /**
   * Goes back to a snapshot as libvirt's test driver does: a running guest
   * is stopped first (`stopped/from_snapshot`), a snapshot of a running or
   * paused guest boots again with a new id (`started/from_snapshot`, then
   * `suspended/from_snapshot` when paused), and the definition becomes the
   * snapshot's.
   */
  domainSnapshotRevert(dom: DomainRef, name: string, opts: CallOptions = {}): Promise<DomainRef> {
    return this.#domainJob('domainSnapshotRevert', dom, opts, (d) => {
      const snap = snapshot(d, name);
      const toInactive = snap.state === 'shutoff' || snap.state === 'nostate';
      if (toInactive && !d.persistent) {
        throw new VirError(
          'OPERATION_INVALID',
          'test',
          `transient domain '${d.name}' cannot revert to inactive snapshot '${snap.name}'`,
        );
      }
      if (d.persistent) d.config = snap.def;
      d.currentSnapshot = snap.name;
      // The snapshot's definition brings back the name it had then (a rename is undone).
      // libvirt does so even when another domain took that name meanwhile, leaving two
      // domains with one name; we keep the current name in that case.
      if (snap.def.name !== d.name && !this.#byName.has(snap.def.name)) {
        this.#byName.delete(d.name);
        d.name = snap.def.name;
        this.#byName.set(d.name, d);
      } else if (snap.def.name !== d.name && d.persistent) {
        d.config = { ...snap.def, name: d.name };
      }
      const wasActive = d.id >= 0;
      const hadNextBootDef = d.nextBootDef;
      const oldLive = d.live;
      if (wasActive) this.#emit(d, 'stopped', 'from_snapshot', this.#halt(d, 'from_snapshot'));
      if (toInactive) return ref(d);
      // Whether a transient domain has a next-boot definition after a revert flips, as in
      // libvirt's test driver: stopping one without it leaves the domain looking active, so
      // the snapshot's definition is installed as the next-boot one; with it, it is consumed.
      d.nextBootDef = d.persistent || (wasActive && !hadNextBootDef);
      d.id = this.#nextId++;
      this.#byId.set(d.id, d);
      d.live = liveFrom(d.name === snap.def.name ? snap.def : { ...snap.def, name: d.name });
      if (!d.persistent && oldLive && !hadNextBootDef) {
        // libvirt's quirk, kept for fidelity: a transient domain that never had a next-boot
        // definition boots on with its old running one; the snapshot's becomes the next-boot one.
        d.live = { ...oldLive, bootedAt: d.live.bootedAt };
        d.config = snap.def;
      }
      d.managedSave = false;
      this.#setState(d, 'running', 'from_snapshot');
      this.#emit(d, 'started', 'from_snapshot');
      if (snap.state === 'paused') {
        this.#setState(d, 'paused', 'from_snapshot');
        this.#emit(d, 'suspended', 'from_snapshot');
      }
      return ref(d);
    });
  }

  domainSnapshotDelete(
    dom: DomainRef,
    name: string,
    opts: CallOptions & { children?: boolean } = {},
  ): Promise<void> {
    return this.#domainJob('domainSnapshotDelete', dom, opts, (d) => {
      const snap = snapshot(d, name);
      const snaps = d.snapshots ?? new Map<string, TestSnapshot>();
      const doomed = opts.children ? descendants(snaps, name) : new Set([name]);
      for (const s of snaps.values()) {
        // children of a deleted snapshot move up to its parent
        if (s.parent === name && !doomed.has(s.name)) s.parent = snap.parent;
      }
      for (const n of doomed) snaps.delete(n);
      if (d.currentSnapshot !== undefined && doomed.has(d.currentSnapshot)) d.currentSnapshot = undefined;
    });
  }

  subscribe(listener: DomainEventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  // --- what a TestControl can make the guests do ---------------------------------

  crashGuest(key: string): void {
    const d = this.#guest(key);
    this.#emit(d, 'crashed', 'panicked');
    const action = (d.live?.def ?? d.config).onCrash;
    if (action === 'preserve') this.#setState(d, 'crashed', 'panicked');
    else if (action.endsWith('restart')) this.#reboot(d, 'crashed');
    else this.#stop(d, 'crashed', 'crashed');
  }

  guestShutdown(key: string): void {
    const d = this.#guest(key);
    this.#emit(d, 'shutdown', 'guest');
    const action = (d.live?.def ?? d.config).onPoweroff;
    if (action.endsWith('restart')) this.#reboot(d, 'shutdown');
    else this.#stop(d, 'shutdown', 'shutdown');
  }

  guestReboot(key: string): void {
    const d = this.#guest(key);
    const action = (d.live?.def ?? d.config).onReboot;
    if (action === 'destroy' || action === 'coredump-destroy') {
      this.#emit(d, 'shutdown', 'guest');
      this.#stop(d, 'shutdown', 'shutdown');
    } else {
      this.#setState(d, 'running', 'booted');
    }
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
    if (!control && !this.#jobs.busy(dom.uuid)) return fn(this.#find({ uuid: dom.uuid }));
    return this.#jobs.run(
      dom.uuid,
      method,
      async () => {
        if (control) await control._apply({ method, domain: dom }, signal);
        this.#checkOpen();
        throwIfAborted(signal, 'test');
        return fn(this.#find({ uuid: dom.uuid }));
      },
      signal,
    );
  }

  #checkOpen(): void {
    if (this.#closed) throw new VirError('INVALID_CONN', 'test', 'the test connection is closed');
  }

  #parse(xml: string): DomainConfig {
    return parseDomainConfig(xml, { newUuid: randomUUID });
  }

  /**
   * The domain a new definition replaces, if any, after libvirt's identity
   * checks: a UUID already used under another name, or a name already used
   * with another UUID, is refused.
   */
  #claim(cfg: DomainConfig): TestDomain | undefined {
    const same = this.#byUuid.get(cfg.uuid);
    if (same && same.name !== cfg.name) {
      throw new VirError(
        'OPERATION_FAILED',
        'test',
        `domain '${same.name}' is already defined with uuid ${same.uuid}`,
      );
    }
    if (!same) {
      const named = this.#byName.get(cfg.name);
      if (named) {
        throw new VirError(
          'OPERATION_FAILED',
          'test',
          `domain '${named.name}' already exists with uuid ${named.uuid}`,
        );
      }
    }
    return same;
  }

  #insert(cfg: DomainConfig, persistent: boolean): TestDomain {
    const d: TestDomain = {
      uuid: cfg.uuid,
      name: cfg.name,
      id: -1,
      state: 'shutoff',
      reason: 'unknown',
      persistent,
      nextBootDef: persistent,
      autostart: false,
      managedSave: false,
      config: cfg,
      live: undefined,
    };
    this.#byUuid.set(d.uuid, d);
    this.#byName.set(d.name, d);
    return d;
  }

  /** A domain from the initial host setup, placed in its state without events. */
  #adopt(init: InitialDomain): void {
    const cfg = init.config;
    if (this.#byUuid.has(cfg.uuid) || this.#byName.has(cfg.name)) {
      throw new VirError('NO_CONNECT', 'test', `domain '${cfg.name}' is defined twice`);
    }
    const d = this.#insert(cfg, init.persistent);
    if (init.state !== 'shutoff') {
      d.id = this.#nextId++;
      this.#byId.set(d.id, d);
      d.live = liveFrom(cfg);
      d.state = init.state;
    } else {
      d.managedSave = init.hasManagedSave;
    }
  }

  #remove(d: TestDomain): void {
    this.#byUuid.delete(d.uuid);
    if (this.#byName.get(d.name) === d) this.#byName.delete(d.name);
  }

  #boot(d: TestDomain, def: DomainConfig, paused: boolean): void {
    d.id = this.#nextId++;
    this.#byId.set(d.id, d);
    d.live = liveFrom(def);
    d.managedSave = false;
    this.#setState(d, 'running', 'booted');
    this.#emit(d, 'started', 'booted');
    if (paused) {
      this.#setState(d, 'paused', 'user');
      this.#emit(d, 'suspended', 'paused');
    }
  }

  #stop(d: TestDomain, reason: string, detail: string): void {
    const eventId = this.#halt(d, reason);
    if (!d.persistent) this.#remove(d);
    this.#emit(d, 'stopped', detail, eventId);
  }

  /**
   * Takes a domain down to shutoff; returns the id its stop event carries:
   * -1, except for a domain that never had a next-boot definition, whose
   * event keeps the id it ran with (as libvirt's test driver reports it).
   */
  #halt(d: TestDomain, reason: string): number {
    const eventId = d.nextBootDef ? -1 : d.id;
    this.#byId.delete(d.id);
    d.id = -1;
    d.live = undefined;
    this.#setState(d, 'shutoff', reason);
    return eventId;
  }

  /** The guest stops and its hypervisor boots it again (an `on_*` of `restart`). */
  #reboot(d: TestDomain, stopDetail: string): void {
    const def = d.persistent ? d.config : (d.live?.def ?? d.config);
    this.#emit(d, 'stopped', stopDetail, this.#halt(d, stopDetail));
    this.#boot(d, def, false);
  }

  #setState(d: TestDomain, state: DomainStateName, reason: string): void {
    d.state = state;
    d.reason = reason;
  }

  #needActive(d: TestDomain): void {
    if (d.id < 0) throw new VirError('OPERATION_INVALID', 'test', 'domain is not running');
  }

  /** Which definitions a memory/vCPU change touches; the default is the running guest. */
  #affect(d: TestDomain, opts: MemoryFlags): { live: LiveState | undefined; config: boolean } {
    const config = opts.config === true;
    const wantLive = opts.live ?? !config;
    if (wantLive && !d.live) throw new VirError('OPERATION_INVALID', 'test', 'domain is not running');
    if (config && !d.persistent) {
      throw new VirError(
        'OPERATION_INVALID',
        'test',
        'cannot change persistent config of a transient domain',
      );
    }
    return { live: wantLive ? d.live : undefined, config };
  }

  #guest(key: string): TestDomain {
    this.#checkOpen();
    const d = this.#byName.get(key) ?? this.#byUuid.get(key.toLowerCase());
    if (!d) throw new VirError('NO_DOMAIN', 'test', `no domain with matching name or uuid '${key}'`);
    if (d.id < 0) throw new VirError('OPERATION_INVALID', 'test', `domain '${d.name}' is not running`);
    return d;
  }

  #find(key: DomainLookup): TestDomain {
    let d: TestDomain | undefined;
    if ('uuid' in key) d = this.#byUuid.get(key.uuid);
    else if ('name' in key) d = this.#byName.get(key.name);
    else d = this.#byId.get(key.id);
    if (d) return d;
    const what = 'uuid' in key ? `uuid '${key.uuid}'` : 'name' in key ? `name '${key.name}'` : `id ${key.id}`;
    throw new VirError('NO_DOMAIN', 'test', `no domain with matching ${what}`);
  }

  #emit(d: TestDomain, event: DomainEventName, detail: string, id = d.id): void {
    if (this.#listeners.size === 0) return;
    const domain = { name: d.name, uuid: d.uuid, id };
    const ev: DomainEvent = { type: 'lifecycle', domain, event, detail, timestamp: Date.now() };
    for (const l of this.#listeners) {
      try {
        l(ev);
      } catch {
        // A listener's bug must not undo or stop a transition that already happened.
      }
    }
  }
}

function ref(d: TestDomain): DomainRef {
  return { name: d.name, uuid: d.uuid, id: d.id };
}

function snapshot(d: TestDomain, name: string): TestSnapshot {
  const snap = d.snapshots?.get(name);
  if (!snap) {
    throw new VirError('NO_DOMAIN_SNAPSHOT', 'test', `no domain snapshot with matching name '${name}'`);
  }
  return snap;
}

function liveFrom(def: DomainConfig): LiveState {
  return {
    def,
    memoryKiB: def.memoryKiB,
    maxMemKiB: def.maxMemKiB,
    vcpus: def.vcpus,
    bootedAt: process.hrtime.bigint(),
  };
}

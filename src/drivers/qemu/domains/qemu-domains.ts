/**
 * The QEMU driver's domains: persistent definitions on disk, one
 * {@link QemuDomainRunner} per guest that runs, and the libvirt rules that
 * tie them together (identity checks, which transitions are refused with
 * which code, ids, lifecycle events).
 *
 * Like libvirt's daemon, the domain list belongs to the driver, not to one
 * connection: every connection of this process opened on the same roots
 * shares one {@link QemuDomains} (QEMU's monitor takes one client at a
 * time, so two runners could not watch one guest anyway). It is opened by
 * the first connection (re-attaching the guests found in the status files)
 * and detached from its guests, which keep running, when the last one closes.
 *
 * The table of entries and its identity rules are `domain-table.ts`, one
 * entry's questions `domain-entry.ts`, parsing a definition for this driver
 * `prepare-definition.ts`, what an opening driver finds `load-domains.ts`;
 * this class holds the calls and their job order.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import type {
  CallOptions,
  ConsoleStream,
  DomainEventListener,
  DomainInfo,
  DomainLookup,
  DomainRef,
  DomainState,
  GetXmlOptions,
  ListDomainsFilter,
  OpenConsoleOptions,
} from '../../../driver.js';
import { throwIfAborted, VirError } from '../../../errors.js';
import { DomainJobs } from '../../job-lock.js';
import {
  type QemuDomainRunner,
  type RunnerEvent,
  type RunnerOptions,
  removeSwtpmState,
} from '../lifecycle/index.js';
import { bootGuest, guestStopped } from './boot-guest.js';
import { ConfigStore } from './config-store.js';
import { ConsoleSessions } from './consoles.js';
import {
  type Entry,
  entryInfo,
  entryXml,
  isActive,
  refOf,
  signalOpt,
  stateOf,
  type WriteFlags,
} from './domain-entry.js';
import { DomainTable } from './domain-table.js';
import { releasePorts } from './graphics-ports.js';
import { loadDomains } from './load-domains.js';
import { prepareDefinition } from './prepare-definition.js';
import type { QemuDomainsOptions } from './qemu-domains-options.js';
import { setEntryMemory } from './set-memory.js';

export type { CommandLineFor, QemuDomainsOptions } from './qemu-domains-options.js';

/** The job key of changes to the list of domains (define, undefine, create), which must not interleave. */
const LIST = 'domain list';
const shared = new Map<string, { domains: QemuDomains; users: number }>();
/** Next domain id per state root, so ids keep increasing across re-opens, as a daemon's do. */
const nextIds = new Map<string, number>();

export class QemuDomains {
  readonly #options: QemuDomainsOptions;
  readonly #store: ConfigStore;
  readonly #table: DomainTable;
  /** Changes to the domain list (define, undefine, create, start) happen one at a time. */
  readonly #listJobs = new DomainJobs('qemu');
  readonly #ready: Promise<void>;
  #closed = false;

  private constructor(options: QemuDomainsOptions) {
    this.#options = options;
    this.#store = new ConfigStore(options.configRoot);
    this.#table = new DomainTable(this.#store);
    this.#ready = this.#load();
  }

  /** The shared domain list for these roots; pair every call with {@link release}. */
  static acquire(options: QemuDomainsOptions): QemuDomains {
    const key = `${options.configRoot}\0${options.stateRoot}`;
    const found = shared.get(key);
    if (found) {
      found.users++;
      return found.domains;
    }
    const domains = new QemuDomains(options);
    shared.set(key, { domains, users: 1 });
    return domains;
  }

  /** Gives the list back; the last user detaches every runner (guests keep running). */
  async release(): Promise<void> {
    const key = `${this.#options.configRoot}\0${this.#options.stateRoot}`;
    const found = shared.get(key);
    if (!found || found.domains !== this) return;
    found.users--;
    if (found.users > 0) return;
    shared.delete(key);
    this.#closed = true;
    await this.#ready;
    for (const e of this.#table.byUuid.values()) {
      e.unsubscribe?.();
      await e.runner?.detach();
    }
    this.#table.byUuid.clear();
    this.#table.listeners.clear();
  }

  subscribe(listener: DomainEventListener): () => void {
    return this.#table.subscribe(listener);
  }

  // ---------------------------------------------------------------- queries

  async list(filter: ListDomainsFilter, opts: CallOptions = {}): Promise<DomainRef[]> {
    await this.#enter(opts);
    return this.#table.list(filter);
  }

  async lookup(key: DomainLookup, opts: CallOptions = {}): Promise<DomainRef> {
    await this.#enter(opts);
    return this.#table.lookup(key);
  }

  async getState(dom: DomainRef, opts: CallOptions = {}): Promise<DomainState> {
    return stateOf(await this.#find(dom, opts));
  }

  async getInfo(dom: DomainRef, opts: CallOptions = {}): Promise<DomainInfo> {
    return entryInfo(await this.#find(dom, opts));
  }

  /** The live definition while running (with its id and balloon size), else the persistent one. */
  async getXml(dom: DomainRef, opts: GetXmlOptions = {}): Promise<string> {
    return entryXml(await this.#find(dom, opts), opts);
  }

  async isPersistent(dom: DomainRef, opts: CallOptions = {}): Promise<boolean> {
    return (await this.#find(dom, opts)).config !== undefined;
  }

  async getAutostart(dom: DomainRef, opts: CallOptions = {}): Promise<boolean> {
    return this.#table.autostart(await this.#find(dom, opts));
  }

  async setAutostart(dom: DomainRef, autostart: boolean, opts: CallOptions = {}): Promise<void> {
    const e = await this.#find(dom, opts);
    if (!e.config) {
      throw new VirError('OPERATION_INVALID', 'qemu', 'cannot set autostart for transient domain');
    }
    this.#store.setAutostart(e.name, autostart);
  }

  // ---------------------------------------------------------------- definitions

  /**
   * Defines or redefines a persistent domain. A name already used with
   * another UUID, or a UUID used under another name, is refused with
   * `OPERATION_FAILED` as libvirt does; redefining a running domain changes
   * its next boot only.
   */
  async define(xml: string, opts: CallOptions = {}): Promise<DomainRef> {
    await this.#enter(opts);
    const def = await prepareDefinition(xml, this.#options, opts.signal);
    return this.#listJobs.run(
      LIST,
      'define',
      async () => {
        this.#checkOpen();
        const existing = this.#table.claim(def);
        this.#store.write(def.name, def.toXML({ inactive: true }));
        if (existing) {
          const hadConfig = existing.config !== undefined;
          existing.config = def;
          this.#table.emit(existing, 'defined', hadConfig ? 'updated' : 'added');
          return refOf(existing);
        }
        const e = this.#table.insert(def, true);
        this.#table.emit(e, 'defined', 'added');
        return refOf(e);
      },
      opts.signal,
    );
  }

  /** Removes the persistent definition; a running domain carries on as a transient one. */
  async undefine(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    const e = await this.#find(dom, opts);
    await this.#listJobs.run(
      LIST,
      'undefine',
      async () => {
        if (!e.config) throw new VirError('OPERATION_INVALID', 'qemu', 'cannot undefine transient domain');
        this.#store.remove(e.name);
        const tpm = e.config.devices?.tpms?.[0];
        e.config = undefined;
        if (!isActive(e)) {
          this.#table.drop(e);
          removeSwtpmState(this.#options, e.uuid, tpm);
        }
        this.#table.emit(e, 'undefined', 'removed');
      },
      opts.signal,
    );
  }

  /** Starts a transient domain (or boots an inactive persistent one of the same identity once). */
  async create(xml: string, opts: CallOptions & { paused?: boolean } = {}): Promise<DomainRef> {
    await this.#enter(opts);
    const def = await prepareDefinition(xml, this.#options, opts.signal);
    return this.#listJobs.run(
      LIST,
      'create',
      async () => {
        this.#checkOpen();
        const existing = this.#table.claim(def);
        if (existing && isActive(existing)) {
          throw new VirError('OPERATION_INVALID', 'qemu', `domain '${existing.name}' is already active`);
        }
        const e = existing ?? this.#table.insert(def, false);
        try {
          await this.#boot(e, def, opts);
        } catch (err) {
          if (!e.config) this.#table.drop(e);
          throw err;
        }
        return refOf(e);
      },
      opts.signal,
    );
  }

  // ---------------------------------------------------------------- lifecycle

  async start(dom: DomainRef, opts: CallOptions & { paused?: boolean } = {}): Promise<DomainRef> {
    const e = await this.#find(dom, opts);
    return this.#listJobs.run(
      LIST,
      'start',
      async () => {
        this.#checkOpen();
        if (isActive(e) || e.runner?.pid !== undefined) {
          throw new VirError('OPERATION_INVALID', 'qemu', 'domain is already running');
        }
        if (!e.config)
          throw new VirError('OPERATION_INVALID', 'qemu', `domain '${e.name}' has no definition`);
        await this.#boot(e, e.config, opts);
        return refOf(e);
      },
      opts.signal,
    );
  }

  async suspend(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    const runner = await this.#active(dom, opts);
    if (runner.getState().state === 'pmsuspended') {
      throw new VirError('OPERATION_INVALID', 'qemu', 'domain is pmsuspended');
    }
    await runner.suspend(signalOpt(opts));
  }

  async resume(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    const runner = await this.#active(dom, opts);
    const state = runner.getState().state;
    if (state === 'pmsuspended') throw new VirError('OPERATION_INVALID', 'qemu', 'domain is pmsuspended');
    // Unlike suspend on a paused guest, libvirt refuses to resume a running one.
    if (state === 'running') throw new VirError('OPERATION_INVALID', 'qemu', 'domain is already running');
    await runner.resume(signalOpt(opts));
  }

  /** Presses the ACPI power button and returns, as `virDomainShutdown` does. */
  async shutdown(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    const runner = await this.#active(dom, opts);
    // libvirt presses the button only for a running guest: a paused one could not react.
    if (runner.getState().state !== 'running') {
      throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    }
    await runner.shutdown({ ...signalOpt(opts), wait: false });
  }

  async reboot(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    await (await this.#active(dom, opts)).reboot(signalOpt(opts));
  }

  async reset(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    await (await this.#active(dom, opts)).reset(signalOpt(opts));
  }

  /** A byte stream on one of the running guest's character devices (see `consoles.ts`). */
  async openConsole(
    dom: DomainRef,
    name: string | undefined,
    opts: OpenConsoleOptions = {},
  ): Promise<ConsoleStream> {
    const e = await this.#find(dom, opts);
    if (!e.runner || !isActive(e) || !e.live)
      throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    e.consoles ??= new ConsoleSessions();
    return e.consoles.open(e.live, name, opts);
  }

  async destroy(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    const e = await this.#find(dom, opts);
    // A guest still starting can be destroyed too (its start then fails).
    if (!e.runner || e.runner.pid === undefined) {
      throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    }
    await e.runner.destroy(signalOpt(opts));
  }

  /**
   * Sets the balloon target of the running guest (default), and/or the
   * `<currentMemory>` of the next boot with `config`.
   */
  async setMemory(dom: DomainRef, kib: number, opts: WriteFlags = {}): Promise<void> {
    await setEntryMemory(await this.#find(dom, opts), kib, opts, this.#store);
  }

  // ---------------------------------------------------------------- internals

  /** Loads the definitions, then finds the guests left running by an earlier process or connection. */
  async #load(): Promise<void> {
    const maxId = await loadDomains(this.#table, this.#runnerOptions(), (e, runner) =>
      this.#adoptRunner(e, runner),
    );
    const key = this.#options.stateRoot;
    nextIds.set(key, Math.max(nextIds.get(key) ?? 1, maxId + 1));
  }

  async #enter(opts: CallOptions): Promise<void> {
    this.#checkOpen();
    throwIfAborted(opts.signal, 'qemu');
    await this.#ready;
    this.#checkOpen();
  }

  #checkOpen(): void {
    if (this.#closed) throw new VirError('INVALID_CONN', 'qemu', 'connection is closed');
  }

  async #find(dom: DomainRef, opts: CallOptions): Promise<Entry> {
    await this.#enter(opts);
    const e = this.#table.byUuid.get(dom.uuid);
    if (!e)
      throw new VirError('NO_DOMAIN', 'qemu', `no domain with matching uuid '${dom.uuid}' (${dom.name})`);
    return e;
  }

  async #active(dom: DomainRef, opts: CallOptions): Promise<QemuDomainRunner> {
    const e = await this.#find(dom, opts);
    if (!e.runner || !isActive(e)) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    return e.runner;
  }

  #boot(e: Entry, def: DomainDef, opts: CallOptions & { paused?: boolean }): Promise<void> {
    return bootGuest(
      {
        options: this.#options,
        runnerOptions: () => this.#runnerOptions(),
        adoptRunner: (entry, runner) => this.#adoptRunner(entry, runner),
      },
      e,
      def,
      opts,
    );
  }

  #adoptRunner(e: Entry, runner: QemuDomainRunner): void {
    e.unsubscribe?.();
    e.runner = runner;
    e.unsubscribe = runner.subscribe((ev) => this.#onRunnerEvent(e, ev));
  }

  #onRunnerEvent(e: Entry, ev: RunnerEvent): void {
    if (ev.type === 'reboot') this.#table.forward(ev);
    if (ev.type !== 'lifecycle') return;
    if (ev.event === 'stopped') {
      guestStopped(e, this.#options);
      e.live = undefined;
      releasePorts(e.ports);
      e.ports = undefined;
      e.consoles?.closeAll();
      // libvirt reports a stopped domain with id -1; a transient one is gone with it.
      this.#table.forward({ ...ev, domain: { ...ev.domain, id: -1 } });
      if (!e.config) this.#table.drop(e);
      return;
    }
    this.#table.forward(ev);
  }

  #runnerOptions(): RunnerOptions {
    const key = this.#options.stateRoot;
    return {
      stateRoot: this.#options.stateRoot,
      logRoot: this.#options.logRoot,
      allocateId: () => {
        const id = nextIds.get(key) ?? 1;
        nextIds.set(key, id + 1);
        return id;
      },
      ...(this.#options.startTimeoutMs !== undefined ? { startTimeoutMs: this.#options.startTimeoutMs } : {}),
    };
  }
}

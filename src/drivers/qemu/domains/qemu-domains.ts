/**
 * The QEMU driver's domains: persistent definitions on disk, one
 * {@link QemuDomainRunner} per guest that runs, and the libvirt rules that tie them
 * together (identity checks, which transitions are refused with which code,
 * ids, lifecycle events). Like libvirt's daemon, the domain list belongs to
 * the driver, not to one connection: every connection of this process opened
 * on the same roots shares one {@link QemuDomains} (QEMU's monitor takes one
 * client at a time, so two runners could not watch one guest anyway). It is
 * opened by the first connection (re-attaching the guests found in the
 * status files) and detached from its guests, which keep running, when the
 * last one closes.
 *
 * Jobs follow libvirt's: a change to the list itself (define, undefine,
 * the claim of a name by create) is a short job on the list; everything a
 * domain does (start, create's boot, undefine) is a job on that domain, so
 * starts of different domains run side by side and one QEMU slow to open
 * its monitor holds up nobody else. State checks happen inside the job
 * that acts on them.
 *
 * Elsewhere: the table `domain-table.ts`, an entry `domain-entry.ts`, parsing
 * `prepare-definition.ts`, loading `load-domains.ts`, migration `migration.ts`.
 *
 * @module
 */

import { join } from 'node:path';
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
  StartCallOptions,
} from '../../../driver.js';
import { throwIfAborted, VirError } from '../../../errors.js';
import { DomainJobs } from '../../job-lock.js';
import { cleanStaleTemps, type QemuDomainRunner, removeSwtpmState } from '../lifecycle/index.js';
import { claimAutostart, startAll } from './autostart.js';
import { ConfigStore } from './config-store.js';
import { ConsoleSessions } from './consoles.js';
import {
  type Entry,
  entryInfo,
  isActive,
  refOf,
  refuseActive,
  refuseForeign,
  refuseNotRunning,
  refusePmsuspended,
  refuseResume,
  signalOpt,
  stateOf,
  type WriteFlags,
} from './domain-entry.js';
import { DomainTable } from './domain-table.js';
import { GuestRunners } from './guest-runners.js';
import { hostDevicesSettled } from './host-devices-start.js';
import type { DomainListAccess } from './migration.js';
import { ownerPath, releaseOwner } from './owner-lock.js';
import { prepareDefinition } from './prepare-definition.js';
import type { QemuDomainsOptions } from './qemu-domains-options.js';
import { refuseManagedSave, startOrRestore } from './save-restore.js';
import { setEntryMemory } from './set-memory.js';
import { undefineSnapshots } from './snapshots.js';
import { documentXml } from './update-cpu-xml.js';

export type { CommandLineFor, QemuDomainsOptions } from './qemu-domains-options.js';

/** The job key of changes to the list of domains (define, undefine, create's claim); domains' jobs are keyed by UUID. */
const LIST = 'domain list';
const shared = new Map<string, { domains: QemuDomains; users: number }>();

export class QemuDomains {
  readonly #options: QemuDomainsOptions;
  readonly #store: ConfigStore;
  readonly #table: DomainTable;
  readonly #runners: GuestRunners;
  /** Jobs on the domain list (key {@link LIST}) and on each domain (key: its UUID). */
  readonly #jobs = new DomainJobs('qemu');
  readonly #ready: Promise<void>;
  #closed = false;

  private constructor(options: QemuDomainsOptions) {
    this.#options = options;
    this.#store = new ConfigStore(options.configRoot);
    this.#table = new DomainTable(this.#store);
    this.#runners = new GuestRunners(options, this.#table);
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
      // Guests keep running, managed by nobody: the next process to open these roots takes them.
      releaseOwner(ownerPath(this.#options.stateRoot, e.name));
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
    await this.#refreshAllForeign();
    return this.#table.list(filter);
  }

  async lookup(key: DomainLookup, opts: CallOptions = {}): Promise<DomainRef> {
    await this.#enter(opts);
    await this.#refreshAllForeign();
    return this.#table.lookup(key);
  }

  async getState(dom: DomainRef, opts: CallOptions = {}): Promise<DomainState> {
    return stateOf(await this.#find(dom, opts));
  }

  async getInfo(dom: DomainRef, opts: CallOptions = {}): Promise<DomainInfo> {
    return entryInfo(await this.#find(dom, opts));
  }

  /** The live definition while running, else the persistent one; `migratable`: see migratable-xml.ts. */
  async getXml(dom: DomainRef, opts: GetXmlOptions = {}): Promise<string> {
    return documentXml(await this.#find(dom, opts), opts, this.#options.hostCpu);
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
    return this.#jobs.run(
      LIST,
      'define',
      async () => {
        this.#checkOpen();
        const existing = this.#table.claim(def);
        if (existing) this.#runners.notice(existing);
        if (existing) refuseForeign(existing, 'redefine');
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
  async undefine(dom: DomainRef, opts: CallOptions & { snapshots?: boolean } = {}): Promise<void> {
    const e = await this.#owned(dom, opts, 'undefine');
    // The domain's job first (a start in progress decides whether it stays as a transient guest), then the list's.
    await this.#jobs.run(e.uuid, 'undefine', () => this.#undefine(e, opts), opts.signal);
  }

  #undefine(e: Entry, opts: CallOptions & { snapshots?: boolean }): Promise<void> {
    return this.#jobs.run(
      LIST,
      'undefine',
      async () => {
        refuseForeign(e, 'undefine');
        if (!e.config) throw new VirError('OPERATION_INVALID', 'qemu', 'cannot undefine transient domain');
        refuseManagedSave(this.#options.stateRoot, e, 'undefine');
        undefineSnapshots(this.#options.stateRoot, e, opts.snapshots === true);
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
  async create(xml: string, opts: StartCallOptions = {}): Promise<DomainRef> {
    await this.#enter(opts);
    const def = await prepareDefinition(xml, this.#options, opts.signal);
    // The name is claimed on the list; the boot is the domain's job, so other domains need not wait for it.
    const e = await this.#jobs.run(
      LIST,
      'create',
      async () => {
        this.#checkOpen();
        const existing = this.#table.claim(def);
        if (existing) refuseForeign(existing, 'start');
        if (existing && isActive(existing)) {
          throw new VirError('OPERATION_INVALID', 'qemu', `domain '${existing.name}' is already active`);
        }
        return existing ?? this.#table.insert(def, false);
      },
      opts.signal,
    );
    try {
      return await this.#jobs.run(
        e.uuid,
        'create',
        async () => {
          this.#checkOpen();
          await refuseActive(e, `domain '${e.name}' is already active`);
          // A create of the same guest that failed just before ours dropped the entry.
          if (!this.#table.byUuid.has(e.uuid) && !this.#table.byName(e.name))
            this.#table.byUuid.set(e.uuid, e);
          await this.#runners.boot(e, def, opts);
          return refOf(e);
        },
        opts.signal,
      );
    } catch (err) {
      if (!e.config && !isActive(e) && e.runner?.pid === undefined) this.#table.drop(e);
      throw err;
    }
  }

  // ---------------------------------------------------------------- lifecycle

  async start(dom: DomainRef, opts: StartCallOptions = {}): Promise<DomainRef> {
    const e = await this.#owned(dom, opts, 'start');
    return this.#jobs.run(
      e.uuid,
      'start',
      async () => {
        this.#checkOpen();
        refuseForeign(e, 'start');
        await refuseActive(e, 'domain is already running');
        await startOrRestore(this.#runners, e, opts);
        return refOf(e);
      },
      opts.signal,
    );
  }

  async suspend(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    const runner = await this.#active(dom, opts, 'suspend');
    await runner.suspend({ ...signalOpt(opts), check: refusePmsuspended });
  }

  async resume(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    const runner = await this.#active(dom, opts, 'resume');
    // Unlike suspend on a paused guest, libvirt refuses to resume a running one.
    await runner.resume({ ...signalOpt(opts), check: refuseResume });
  }

  /** Presses the ACPI power button and returns, as `virDomainShutdown` does. */
  async shutdown(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    const runner = await this.#active(dom, opts, 'shut down');
    // libvirt presses the button only for a running guest: a paused one could not react.
    await runner.shutdown({ ...signalOpt(opts), wait: false, check: refuseNotRunning });
  }

  async reboot(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    await (await this.#active(dom, opts, 'reboot')).reboot(signalOpt(opts));
  }

  async reset(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    await (await this.#active(dom, opts, 'reset')).reset(signalOpt(opts));
  }

  /** A byte stream on one of the running guest's character devices (see `consoles.ts`). */
  async openConsole(
    dom: DomainRef,
    name: string | undefined,
    opts: OpenConsoleOptions = {},
  ): Promise<ConsoleStream> {
    const e = await this.#owned(dom, opts, 'open a console of');
    if (!e.runner || !isActive(e) || !e.live)
      throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    e.consoles ??= new ConsoleSessions();
    return e.consoles.open(e.live, name, opts);
  }

  async destroy(dom: DomainRef, opts: CallOptions = {}): Promise<void> {
    const e = await this.#owned(dom, opts, 'destroy');
    // A guest still starting can be destroyed too (its start then fails); one ending is waited for.
    if (!e.runner || (e.runner.pid === undefined && !e.runner.isStopping)) {
      throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    }
    await e.runner.destroy(signalOpt(opts));
    await hostDevicesSettled(); // managed host devices given back before destroy returns, as libvirt's
  }

  /**
   * Sets the balloon target of the running guest (default), and/or the
   * `<currentMemory>` of the next boot with `config`.
   */
  async setMemory(dom: DomainRef, kib: number, opts: WriteFlags = {}): Promise<void> {
    await setEntryMemory(await this.#owned(dom, opts, 'change the memory of'), kib, opts, this.#store);
  }

  /** What calls from outside the list (migration, hotplug, stats, tuning, ...) work on its guests with. */
  listAccess(): DomainListAccess {
    const [table, runners, store, jobs] = [this.#table, this.#runners, this.#store, this.#jobs];
    const owned = (dom: DomainRef, opts: CallOptions, what: string) => this.#owned(dom, opts, what);
    const prepare: DomainListAccess['prepare'] = (x, s, live) => prepareDefinition(x, this.#options, s, live);
    return { table, runners, store, jobs, listKey: LIST, owned, enter: (opts) => this.#enter(opts), prepare };
  }

  // ---------------------------------------------------------------- internals

  /** Loads the definitions, then finds the guests left running by an earlier process or connection. */
  async #load(): Promise<void> {
    // What writers killed mid-write left (see atomic-file.ts); the files they were replacing are whole.
    cleanStaleTemps(this.#store.dir);
    cleanStaleTemps(join(this.#options.stateRoot, 'qemu'));
    await this.#runners.load();
    if (claimAutostart(this.#options.stateRoot)) {
      const refs = this.#table.list({ persistent: true, active: false, autostart: true });
      void startAll(refs, (ref) => this.start(ref), this.#options);
    }
  }

  async #refreshAllForeign(): Promise<void> {
    for (const e of [...this.#table.byUuid.values()]) {
      this.#runners.notice(e);
      if (e.foreign) await this.#runners.refresh(e);
    }
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
    const found = this.#table.byUuid.get(dom.uuid);
    if (found) this.#runners.notice(found);
    if (found?.foreign) await this.#runners.refresh(found);
    const e = this.#table.byUuid.get(dom.uuid);
    if (!e)
      throw new VirError('NO_DOMAIN', 'qemu', `no domain with matching uuid '${dom.uuid}' (${dom.name})`);
    return e;
  }

  /** The entry of a domain this process may change: `what` is refused on one another process manages. */
  async #owned(dom: DomainRef, opts: CallOptions, what: string): Promise<Entry> {
    const e = await this.#find(dom, opts);
    refuseForeign(e, what);
    return e;
  }

  async #active(dom: DomainRef, opts: CallOptions, what: string): Promise<QemuDomainRunner> {
    const e = await this.#owned(dom, opts, what);
    if (!e.runner || !isActive(e)) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    return e.runner;
  }
}

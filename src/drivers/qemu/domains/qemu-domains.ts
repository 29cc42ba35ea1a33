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
 * @module
 */
import { DomainDef } from '../../../conf/domain/index.js';
import type {
  CallOptions,
  DomainEventListener,
  DomainEventName,
  DomainInfo,
  DomainLifecycleEvent,
  DomainLookup,
  DomainRef,
  DomainState,
  GetXmlOptions,
  ListDomainsFilter,
} from '../../../driver.js';
import { throwIfAborted, VirError } from '../../../errors.js';
import { DomainJobs } from '../../job-lock.js';
import {
  QemuDomainRunner,
  type RunnerCommand,
  type RunnerEvent,
  type RunnerOptions,
  type RunnerPaths,
  runnerPaths,
} from '../lifecycle/index.js';
import { ConfigStore } from './config-store.js';
import { runnerGuestFromDef } from './runner-guest-from-def.js';

export interface QemuDomainsOptions {
  /** Definitions: `<configRoot>/qemu/<name>.xml`. */
  readonly configRoot: string;
  /** Status files and monitor sockets: `<stateRoot>/qemu/`. */
  readonly stateRoot: string;
  /** Logs: `<logRoot>/qemu/<name>.log`. */
  readonly logRoot: string;
  /** The QEMU binary for a guest architecture, when the definition names none. */
  readonly defaultEmulator: (arch: string, signal?: AbortSignal) => Promise<string | undefined>;
  /** The emulator's default machine, when the definition names none. */
  readonly defaultMachine?: (
    emulator: string,
    arch: string,
    signal?: AbortSignal,
  ) => Promise<string | undefined>;
  /** Milliseconds QEMU has to open its monitor. */
  readonly startTimeoutMs?: number;
  /**
   * QEMU's command line for a guest about to start, for the runner's files
   * (`buildCommandLine` with the probed caps of the guest's emulator).
   */
  readonly commandLine: CommandLineFor;
  /** Define-time defaults (machine, controllers, balloon, ...), applied in place before a definition is stored. */
  readonly applyDefaults?: (def: DomainDef, signal?: AbortSignal) => Promise<void>;
}

/** Builds the command line (binary first) of `def` for the runner's per-guest files. */
export type CommandLineFor = (
  def: DomainDef,
  paths: RunnerPaths,
  signal?: AbortSignal,
) => Promise<RunnerCommand>;

interface Entry {
  name: string;
  uuid: string;
  /** The persistent (next boot) definition; undefined for a transient domain. */
  config: DomainDef | undefined;
  /** The definition the running guest was started from. */
  live: DomainDef | undefined;
  runner: QemuDomainRunner | undefined;
  unsubscribe: (() => void) | undefined;
}

type WriteFlags = CallOptions & { config?: boolean; live?: boolean };

/** The job key of changes to the list of domains (define, undefine, create), which must not interleave. */
const LIST = 'domain list';
const shared = new Map<string, { domains: QemuDomains; users: number }>();
/** Next domain id per state root, so ids keep increasing across re-opens, as a daemon's do. */
const nextIds = new Map<string, number>();

export class QemuDomains {
  readonly #options: QemuDomainsOptions;
  readonly #store: ConfigStore;
  readonly #byUuid = new Map<string, Entry>();
  readonly #listeners = new Set<DomainEventListener>();
  /** Changes to the domain list (define, undefine, create, start) happen one at a time. */
  readonly #listJobs = new DomainJobs('qemu');
  readonly #ready: Promise<void>;
  #closed = false;

  private constructor(options: QemuDomainsOptions) {
    this.#options = options;
    this.#store = new ConfigStore(options.configRoot);
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
    for (const e of this.#byUuid.values()) {
      e.unsubscribe?.();
      await e.runner?.detach();
    }
    this.#byUuid.clear();
    this.#listeners.clear();
  }

  subscribe(listener: DomainEventListener): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  // ---------------------------------------------------------------- queries

  async list(filter: ListDomainsFilter, opts: CallOptions = {}): Promise<DomainRef[]> {
    await this.#enter(opts);
    const states = filter.state === undefined ? undefined : new Set<string>([filter.state].flat());
    const out: DomainRef[] = [];
    for (const e of this.#byUuid.values()) {
      if (filter.active !== undefined && filter.active !== isActive(e)) continue;
      if (filter.persistent !== undefined && filter.persistent !== (e.config !== undefined)) continue;
      if (filter.autostart !== undefined && filter.autostart !== this.#autostart(e)) continue;
      if (states && !states.has(stateOf(e).state)) continue;
      out.push(refOf(e));
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  async lookup(key: DomainLookup, opts: CallOptions = {}): Promise<DomainRef> {
    await this.#enter(opts);
    let found: Entry | undefined;
    if ('uuid' in key) found = this.#byUuid.get(key.uuid);
    else if ('name' in key) found = this.#byName(key.name);
    else if (key.id >= 0)
      found = [...this.#byUuid.values()].find((e) => isActive(e) && refOf(e).id === key.id);
    if (found) return refOf(found);
    const what = 'uuid' in key ? `uuid '${key.uuid}'` : 'name' in key ? `name '${key.name}'` : `id ${key.id}`;
    throw new VirError('NO_DOMAIN', 'qemu', `no domain with matching ${what}`);
  }

  async getState(dom: DomainRef, opts: CallOptions = {}): Promise<DomainState> {
    return stateOf(await this.#find(dom, opts));
  }

  async getInfo(dom: DomainRef, opts: CallOptions = {}): Promise<DomainInfo> {
    const e = await this.#find(dom, opts);
    if (e.runner && isActive(e)) return e.runner.getInfo();
    const def = e.config ?? e.live;
    const maxMem = def?.memory?.value ?? 0;
    return {
      state: stateOf(e).state,
      maxMem,
      memory: def?.currentMemory?.value ?? maxMem,
      nrVirtCpu: def?.vcpu?.current ?? def?.vcpu?.count ?? 1,
      cpuTime: 0n,
    };
  }

  /** The live definition while running (with its id and balloon size), else the persistent one. */
  async getXml(dom: DomainRef, opts: GetXmlOptions = {}): Promise<string> {
    const e = await this.#find(dom, opts);
    if (e.runner && e.live && isActive(e) && !(opts.inactive && e.config)) {
      const live = cloneDef(e.live);
      live.id = e.runner.ref.id;
      live.currentMemory = { unit: 'KiB', value: e.runner.getInfo().memory };
      return live.toXML();
    }
    const def = e.config ?? e.live;
    if (!def) throw new VirError('INTERNAL_ERROR', 'qemu', `domain '${e.name}' has no definition`);
    return def.toXML({ inactive: true });
  }

  async isPersistent(dom: DomainRef, opts: CallOptions = {}): Promise<boolean> {
    return (await this.#find(dom, opts)).config !== undefined;
  }

  async getAutostart(dom: DomainRef, opts: CallOptions = {}): Promise<boolean> {
    return this.#autostart(await this.#find(dom, opts));
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
    const def = await this.#prepare(xml, opts.signal);
    return this.#listJobs.run(
      LIST,
      'define',
      async () => {
        this.#checkOpen();
        const existing = this.#claim(def);
        this.#store.write(def.name, def.toXML({ inactive: true }));
        if (existing) {
          const hadConfig = existing.config !== undefined;
          existing.config = def;
          this.#emit(existing, 'defined', hadConfig ? 'updated' : 'added');
          return refOf(existing);
        }
        const e = this.#insert(def, true);
        this.#emit(e, 'defined', 'added');
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
        e.config = undefined;
        if (!isActive(e)) this.#drop(e);
        this.#emit(e, 'undefined', 'removed');
      },
      opts.signal,
    );
  }

  /** Starts a transient domain (or boots an inactive persistent one of the same identity once). */
  async create(xml: string, opts: CallOptions & { paused?: boolean } = {}): Promise<DomainRef> {
    await this.#enter(opts);
    const def = await this.#prepare(xml, opts.signal);
    return this.#listJobs.run(
      LIST,
      'create',
      async () => {
        this.#checkOpen();
        const existing = this.#claim(def);
        if (existing && isActive(existing)) {
          throw new VirError('OPERATION_INVALID', 'qemu', `domain '${existing.name}' is already active`);
        }
        const e = existing ?? this.#insert(def, false);
        try {
          await this.#boot(e, def, opts);
        } catch (err) {
          if (!e.config) this.#drop(e);
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
    const e = await this.#find(dom, opts);
    const config = opts.config === true;
    const live = opts.live ?? !config;
    if (live && !isActive(e)) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    if (config && !e.config) {
      throw new VirError(
        'OPERATION_INVALID',
        'qemu',
        'cannot change persistent config of a transient domain',
      );
    }
    for (const def of [live ? e.live : undefined, config ? e.config : undefined]) {
      const max = def?.memory?.value;
      if (max !== undefined && kib > max) {
        throw new VirError('INVALID_ARG', 'qemu', 'cannot set memory higher than max memory', {
          field: 'currentMemory',
        });
      }
    }
    if (live && e.runner) {
      await e.runner.setMemory(kib, signalOpt(opts));
      if (e.live) e.live.currentMemory = { unit: 'KiB', value: kib };
    }
    if (config && e.config) {
      const next = cloneDef(e.config);
      next.currentMemory = { unit: 'KiB', value: kib };
      this.#store.write(e.name, next.toXML({ inactive: true }));
      e.config = next;
    }
  }

  // ---------------------------------------------------------------- internals

  /** Loads the definitions, then finds the guests left running by an earlier process or connection. */
  async #load(): Promise<void> {
    for (const name of this.#store.list()) {
      try {
        const def = DomainDef.fromXML(this.#store.read(name));
        if (def.name !== name || !def.uuid || this.#byUuid.has(def.uuid)) continue;
        this.#insert(def, true);
      } catch {
        // A definition we cannot read is left on disk untouched, as libvirt skips it.
      }
    }
    let maxId = 0;
    for (const name of QemuDomainRunner.listStatus(this.#runnerRoots())) {
      let runner: QemuDomainRunner;
      try {
        runner = await QemuDomainRunner.reattach(name, this.#runnerOptions());
      } catch {
        // Unreadable status, or a monitor another process holds: not ours to manage.
        continue;
      }
      const guest = runner.guest;
      let e = this.#byUuid.get(guest.uuid);
      if (e && e.name !== guest.name) {
        await runner.detach();
        continue;
      }
      const alive = runner.isActive;
      if (!e) {
        if (!alive) continue; // a transient guest that died while nobody watched
        e = {
          name: guest.name,
          uuid: guest.uuid,
          config: undefined,
          live: undefined,
          runner: undefined,
          unsubscribe: undefined,
        };
        this.#byUuid.set(e.uuid, e);
      }
      this.#adoptRunner(e, runner);
      if (alive) {
        maxId = Math.max(maxId, runner.ref.id);
        try {
          e.live = DomainDef.fromXML(guest.domainXml);
          if (e.live) delete e.live.id;
        } catch {
          e.live = e.config && cloneDef(e.config);
        }
      }
    }
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
    const e = this.#byUuid.get(dom.uuid);
    if (!e)
      throw new VirError('NO_DOMAIN', 'qemu', `no domain with matching uuid '${dom.uuid}' (${dom.name})`);
    return e;
  }

  async #active(dom: DomainRef, opts: CallOptions): Promise<QemuDomainRunner> {
    const e = await this.#find(dom, opts);
    if (!e.runner || !isActive(e)) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
    return e.runner;
  }

  #byName(name: string): Entry | undefined {
    for (const e of this.#byUuid.values()) if (e.name === name) return e;
    return undefined;
  }

  /** Parses a definition and fills what the driver decides: emulator and default machine. */
  async #prepare(xml: string, signal: AbortSignal | undefined): Promise<DomainDef> {
    const def = DomainDef.fromXML(xml);
    if (def.type !== 'kvm' && def.type !== 'qemu') {
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `domain type '${def.type}' is not supported by the QEMU driver`,
        {
          field: '/domain/@type',
        },
      );
    }
    if (def.name.includes('/')) {
      throw new VirError('XML_ERROR', 'qemu', `name ${def.name} cannot contain '/'`, {
        field: '/domain/name',
      });
    }
    if (/[\n\r\0]/.test(def.name) || def.name === '.' || def.name === '..') {
      throw new VirError('XML_ERROR', 'qemu', 'domain name must not contain a newline or be . or ..', {
        field: '/domain/name',
      });
    }
    const arch = def.os?.type?.arch ?? 'x86_64';
    def.devices ??= {};
    if (!def.devices.emulator) {
      const found = await this.#options.defaultEmulator(arch, signal);
      if (!found) {
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `no QEMU binary found for architecture '${arch}'`, {
          field: '/domain/os/type/@arch',
        });
      }
      def.devices.emulator = found;
    }
    const emulator = def.devices.emulator;
    if (!emulator.startsWith('/')) {
      throw new VirError('XML_DETAIL', 'qemu', 'emulator must be an absolute path', {
        field: '/domain/devices/emulator',
      });
    }
    if (def.os?.type && !def.os.type.machine) {
      const machine = await this.#options.defaultMachine?.(emulator, arch, signal);
      if (machine) def.os.type.machine = machine;
    }
    await this.#options.applyDefaults?.(def, signal);
    return def;
  }

  /** The entry a definition replaces, after libvirt's identity checks. */
  #claim(def: DomainDef): Entry | undefined {
    const same = def.uuid ? this.#byUuid.get(def.uuid) : undefined;
    if (same && same.name !== def.name) {
      throw new VirError(
        'OPERATION_FAILED',
        'qemu',
        `domain '${same.name}' is already defined with uuid ${same.uuid}`,
      );
    }
    if (!same) {
      const named = this.#byName(def.name);
      if (named) {
        throw new VirError(
          'OPERATION_FAILED',
          'qemu',
          `domain '${named.name}' already exists with uuid ${named.uuid}`,
        );
      }
    }
    return same;
  }

  #insert(def: DomainDef, persistent: boolean): Entry {
    const e: Entry = {
      name: def.name,
      uuid: def.uuid ?? '',
      config: persistent ? def : undefined,
      live: undefined,
      runner: undefined,
      unsubscribe: undefined,
    };
    this.#byUuid.set(e.uuid, e);
    return e;
  }

  #drop(e: Entry): void {
    e.unsubscribe?.();
    e.unsubscribe = undefined;
    if (this.#byUuid.get(e.uuid) === e) this.#byUuid.delete(e.uuid);
  }

  async #boot(e: Entry, def: DomainDef, opts: CallOptions & { paused?: boolean }): Promise<void> {
    const live = cloneDef(def);
    const guest = runnerGuestFromDef(live);
    const command = await this.#options.commandLine(
      live,
      runnerPaths(this.#runnerRoots(), guest),
      opts.signal,
    );
    let runner = e.runner;
    if (runner) runner.setGuest(guest);
    else {
      runner = new QemuDomainRunner(guest, this.#runnerOptions());
      this.#adoptRunner(e, runner);
    }
    e.live = live;
    try {
      await runner.start({ command, ...signalOpt(opts), ...(opts.paused ? { paused: true } : {}) });
    } catch (err) {
      e.live = undefined;
      throw err;
    }
  }

  #adoptRunner(e: Entry, runner: QemuDomainRunner): void {
    e.unsubscribe?.();
    e.runner = runner;
    e.unsubscribe = runner.subscribe((ev) => this.#onRunnerEvent(e, ev));
  }

  #onRunnerEvent(e: Entry, ev: RunnerEvent): void {
    if (ev.type !== 'lifecycle') return;
    if (ev.event === 'stopped') {
      e.live = undefined;
      // libvirt reports a stopped domain with id -1; a transient one is gone with it.
      this.#forward({ ...ev, domain: { ...ev.domain, id: -1 } });
      if (!e.config) this.#drop(e);
      return;
    }
    this.#forward(ev);
  }

  #emit(e: Entry, event: DomainEventName, detail: string): void {
    this.#forward({ type: 'lifecycle', domain: refOf(e), event, detail, timestamp: Date.now() });
  }

  #forward(ev: DomainLifecycleEvent): void {
    for (const l of [...this.#listeners]) {
      try {
        l(ev);
      } catch {
        // A listener's bug must not disturb the domain.
      }
    }
  }

  #autostart(e: Entry): boolean {
    return e.config !== undefined && this.#store.isAutostart(e.name);
  }

  #runnerRoots(): { stateRoot: string; logRoot: string } {
    return { stateRoot: this.#options.stateRoot, logRoot: this.#options.logRoot };
  }

  #runnerOptions(): RunnerOptions {
    const key = this.#options.stateRoot;
    return {
      ...this.#runnerRoots(),
      allocateId: () => {
        const id = nextIds.get(key) ?? 1;
        nextIds.set(key, id + 1);
        return id;
      },
      ...(this.#options.startTimeoutMs !== undefined ? { startTimeoutMs: this.#options.startTimeoutMs } : {}),
    };
  }
}

function isActive(e: Entry): boolean {
  return e.runner?.isActive === true;
}

function stateOf(e: Entry): DomainState {
  return e.runner?.getState() ?? { state: 'shutoff', reason: 'unknown' };
}

function refOf(e: Entry): DomainRef {
  return { name: e.name, uuid: e.uuid, id: isActive(e) && e.runner ? e.runner.ref.id : -1 };
}

function cloneDef(def: DomainDef): DomainDef {
  return DomainDef.fromXML(def.toXML());
}

function signalOpt(opts: CallOptions): { signal?: AbortSignal } {
  return opts.signal ? { signal: opts.signal } : {};
}

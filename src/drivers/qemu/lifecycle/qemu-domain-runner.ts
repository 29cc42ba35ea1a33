/**
 * Runs one guest's QEMU process and keeps libvirt's view of it: state and
 * reason, lifecycle events, the `on_*` actions, the status file and the log.
 *
 * The process model follows libvirt's QEMU driver. QEMU starts paused
 * (`-S`) with its QMP monitor listening on a unix socket in a private
 * directory; we connect, finish the setup, then `cont`. QEMU always runs
 * with `-no-shutdown`, so a guest power-off stops the CPUs and tells us
 * (SHUTDOWN) instead of exiting: we then destroy or reset the guest as
 * `on_poweroff` says. A reboot() is an ACPI power-off followed by a reset
 * from our side, as libvirt does it. QEMU is started in its own process group
 * with its output going straight to the log file, so it outlives our process;
 * a new runner finds it again through the status file ({@link QemuDomainRunner.reattach}).
 *
 * Every public call that talks to QEMU runs under the domain's job lock, so
 * two calls never interleave. Reactions to guest events (destroying after a
 * power-off, resetting for a reboot) are jobs too. `destroy()` is the one
 * exception, as in libvirt: it signals the process first and takes the lock
 * afterwards, so a hung call cannot keep a guest from being killed.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, readdirSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type {
  DomainEventName,
  DomainInfo,
  DomainRef,
  DomainState,
  DomainStateName,
} from '../../../driver.js';
import { throwIfAborted, toVirError, VirError } from '../../../errors.js';
import { DomainJobs } from '../../job-lock.js';
import { QmpClient, type QmpEvent } from '../qmp/index.js';
import { appendDomainLog, openDomainLog, readLogTail } from './domain-log.js';
import { isProcessAlive, readProcExe, readProcStat, signalProcess } from './proc-info.js';
import {
  checkRunnerCommand,
  MAX_SOCKET_PATH,
  type RunnerCommand,
  type RunnerPaths,
  type RunnerRoots,
  runnerPaths,
} from './runner-command.js';
import { EventHub, type RunnerEvent, type RunnerEventListener } from './runner-events.js';
import { type RunnerGuest, validateRunnerGuest } from './runner-guest.js';
import { type DomainStatus, readStatus, writeStatus } from './status-file.js';

export interface RunnerOptions extends RunnerRoots {
  /** The domain id while running; default a process-wide counter. */
  readonly allocateId?: () => number;
  /** Milliseconds QEMU has to open its monitor. Default 10 s. */
  readonly startTimeoutMs?: number;
  /** Default QMP command timeout in milliseconds. Default 30 s. */
  readonly commandTimeoutMs?: number;
  /** Called when a job takes and leaves the lock (diagnostics and tests). */
  readonly onJob?: (job: string, phase: 'begin' | 'end') => void;
}

export interface ShutdownOptions {
  signal?: AbortSignal;
  /** Wait until the guest has shut down (default true); false returns once the request is sent. */
  wait?: boolean;
  /** Milliseconds to wait. Default 60 s. */
  timeoutMs?: number;
  /** On timeout throw `OPERATION_TIMEOUT` (default), or destroy the guest. */
  onTimeout?: 'error' | 'destroy';
}

export interface DestroyOptions {
  signal?: AbortSignal;
  /** Milliseconds between SIGTERM and SIGKILL. Default 5 s; 0 sends SIGKILL at once. */
  graceMs?: number;
}

let nextDomainId = 1;
const defaultAllocateId = () => nextDomainId++;

export interface StartOptions {
  /** QEMU's command line for this guest's {@link QemuDomainRunner.paths}, from `buildCommandLine`. */
  readonly command: RunnerCommand;
  readonly signal?: AbortSignal;
  /** Leave the vCPUs paused once started. */
  readonly paused?: boolean;
}

/** A process we watch: our child, or one found again after a restart. */
interface Watched {
  readonly pid: number;
  readonly pidStart: string;
  readonly child: ChildProcess | undefined;
  /** Resolves once the process is gone (exited and reaped, or no longer in /proc). */
  readonly gone: Promise<void>;
}

export class QemuDomainRunner {
  readonly #options: RunnerOptions;
  readonly #jobs = new DomainJobs('qemu');
  readonly #events = new EventHub();
  #guest: RunnerGuest;
  /** The binary of the current (or last) run: the re-attach check compares /proc's exe with it. */
  #emulator = '';
  #state: DomainState = { state: 'shutoff', reason: 'unknown' };
  #id = -1;
  #proc: Watched | undefined;
  #qmp: QmpClient | undefined;
  #balloonKiB: number;
  #gotShutdown = false;
  #fakeReboot = false;
  #panicked = false;
  #shutdownSeen = false;
  #destroying = false;
  #starting = false;
  #stopReason: 'crashed' | undefined;
  #startAbort: AbortController | undefined;
  #goneWaiters: Array<() => void> = [];
  #shutdownWaiters: Array<() => void> = [];
  #stopPolling: (() => void) | undefined;

  constructor(guest: RunnerGuest, options: RunnerOptions) {
    this.#guest = guest;
    this.#options = options;
    this.#balloonKiB = guest.currentMemoryKiB ?? guest.memoryKiB;
  }

  /**
   * Finds a guest started by another runner (or another process) from its
   * status file. When the recorded process still runs (same pid, same start
   * time) the runner reconnects to its monitor and carries on; when it is
   * gone, the stale files are removed and the runner reports `shutoff`
   * with reason `crashed`. `NO_DOMAIN` when there is no status file.
   */
  static async reattach(
    name: string,
    options: RunnerOptions,
    callOptions: { signal?: AbortSignal } = {},
  ): Promise<QemuDomainRunner> {
    const status = readStatus(runnerPaths(options, { name, uuid: '' }).statusFile);
    const runner = new QemuDomainRunner(status.guest, options);
    await runner.#jobs.run(
      runner.name,
      'reattach',
      () => runner.#reattach(status, callOptions.signal),
      callOptions.signal,
    );
    return runner;
  }

  /** Names of guests with a status file under the state root (running, or died while we were away). */
  static listStatus(roots: RunnerRoots): string[] {
    try {
      return readdirSync(join(roots.stateRoot, 'qemu'))
        .filter((f) => f.endsWith('.xml') && !f.startsWith('.'))
        .map((f) => f.slice(0, -4))
        .sort();
    } catch {
      return [];
    }
  }

  get name(): string {
    return this.#guest.name;
  }

  get guest(): RunnerGuest {
    return this.#guest;
  }

  /** This guest's files: give `monitorSocket` and `runDir` to `buildCommandLine`. */
  get paths(): RunnerPaths {
    return runnerPaths(this.#options, this.#guest);
  }

  /** The domain as drivers pass it around; `id` is -1 while inactive. */
  get ref(): DomainRef {
    return { name: this.#guest.name, uuid: this.#guest.uuid, id: this.#id };
  }

  /** QEMU's pid while active. */
  get pid(): number | undefined {
    return this.#proc?.pid;
  }

  get isActive(): boolean {
    return this.#proc !== undefined && !this.#starting;
  }

  /** Path of the live status file. */
  get statusPath(): string {
    return this.paths.statusFile;
  }

  /** Path of the domain log. */
  get logPath(): string {
    return this.paths.logFile;
  }

  /**
   * Replaces the guest of the next start (the definition changed). Refused
   * while the guest runs: the live one belongs to QEMU.
   */
  setGuest(guest: RunnerGuest): void {
    if (this.#proc)
      throw new VirError('OPERATION_INVALID', 'qemu', 'cannot change the guest of a running domain');
    this.#guest = guest;
    this.#balloonKiB = guest.currentMemoryKiB ?? guest.memoryKiB;
  }

  /** Registers a listener called synchronously for every event; returns the unsubscribe function. */
  subscribe(listener: RunnerEventListener): () => void {
    return this.#events.subscribe(listener);
  }

  /** Events from now on as an async iterator, ending when `signal` fires or the loop breaks. */
  events(options: { signal?: AbortSignal; bufferSize?: number } = {}): AsyncIterableIterator<RunnerEvent> {
    return this.#events.iterate(options);
  }

  getState(): DomainState {
    return this.#state;
  }

  getInfo(): DomainInfo {
    const stat = this.#proc ? readProcStat(this.#proc.pid) : undefined;
    return {
      state: this.#state.state,
      maxMem: this.#guest.memoryKiB,
      memory: this.#proc ? this.#balloonKiB : (this.#guest.currentMemoryKiB ?? this.#guest.memoryKiB),
      nrVirtCpu: this.#guest.vcpus,
      cpuTime: stat?.cpuTimeNs ?? 0n,
    };
  }

  /** The domain XML the guest was (or will be) started from. */
  getXml(): string {
    return this.#guest.domainXml;
  }

  // ---------------------------------------------------------------- start

  /**
   * Starts `command` (from `buildCommandLine`, for {@link paths}) paused,
   * connects its monitor, applies the lifecycle actions, checks the vCPUs
   * and CPU features, sets the balloon, and resumes the CPUs unless
   * `paused`. On any failure the process is killed and its files removed
   * before the error (with the tail of QEMU's log) is thrown.
   */
  async start(options: StartOptions): Promise<void> {
    if (this.#starting)
      throw new VirError('OPERATION_INVALID', 'qemu', `domain '${this.name}' is already starting`);
    await this.#job('start', () => this.#start(options), options.signal);
  }

  async #start(options: StartOptions): Promise<void> {
    if (this.#proc)
      throw new VirError('OPERATION_INVALID', 'qemu', `domain '${this.name}' is already running`);
    validateRunnerGuest(this.#guest);
    throwIfAborted(options.signal, 'qemu');
    const guest = this.#guest;
    const paths = this.paths;
    const qemuDir = join(this.#options.stateRoot, 'qemu');
    const runDir = paths.runDir;
    const socketPath = paths.monitorSocket;
    if (Buffer.byteLength(socketPath) > MAX_SOCKET_PATH) {
      throw new VirError(
        'INVALID_ARG',
        'qemu',
        `monitor socket path ${socketPath} is longer than ${MAX_SOCKET_PATH} bytes; use a shorter state root`,
        { field: 'stateRoot' },
      );
    }
    const { command } = options;
    checkRunnerCommand(command, paths);
    const emulator = command.argv[0] ?? '';
    this.#refuseIfOwnedElsewhere();
    try {
      mkdirSync(qemuDir, { recursive: true, mode: 0o700 });
      mkdirSync(join(this.#options.logRoot, 'qemu'), { recursive: true, mode: 0o700 });
      rmSync(runDir, { recursive: true, force: true });
      mkdirSync(runDir, { mode: 0o700 });
      // A process killed mid-write leaves its temporary status file behind.
      const tmpPrefix = `.${guest.name}.xml.`;
      for (const f of readdirSync(qemuDir)) {
        if (f.startsWith(tmpPrefix) && f.endsWith('.tmp')) rmSync(join(qemuDir, f), { force: true });
      }
    } catch (err) {
      throw toVirError(err, 'SYSTEM_ERROR', 'qemu', 'cannot create the domain directories');
    }
    const env = { ...command.env };
    const logFd = openDomainLog(this.logPath, emulator, command.argv.slice(1), env);
    this.#emulator = emulator;

    this.#starting = true;
    this.#destroying = false;
    this.#gotShutdown = false;
    this.#shutdownSeen = false;
    this.#fakeReboot = false;
    this.#panicked = false;
    this.#stopReason = undefined;
    this.#balloonKiB = guest.currentMemoryKiB ?? guest.memoryKiB;
    const abort = new AbortController();
    this.#startAbort = abort;
    const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;

    let child: ChildProcess;
    try {
      child = spawn(emulator, command.argv.slice(1), {
        detached: true,
        stdio: ['ignore', logFd, logFd],
        env,
      });
    } catch (err) {
      this.#starting = false;
      closeSync(logFd);
      rmSync(runDir, { recursive: true, force: true });
      throw toVirError(err, 'OPERATION_FAILED', 'qemu', `cannot start ${emulator}`);
    }
    closeSync(logFd);
    let exitInfo: string | undefined;
    const gone = new Promise<void>((resolve) => {
      child.once('error', (err) => {
        exitInfo = `could not be run (${err.message})`;
        resolve();
      });
      child.once('exit', (code, sig) => {
        exitInfo = `exited with ${sig ? `signal ${sig}` : `status ${code}`}`;
        resolve();
      });
    });
    // The child stays referenced while we watch it, or Node could exit between
    // QEMU's death and our reaping it; detach() lets go.
    const pid = child.pid ?? -1;
    this.#proc = { pid, pidStart: readProcStat(pid)?.startTicks ?? '0', child, gone };
    this.#id = (this.#options.allocateId ?? defaultAllocateId)();
    this.#setState('paused', 'starting up', false);

    try {
      const qmp = await Promise.race([
        QmpClient.connect(socketPath, {
          retryForMs: this.#options.startTimeoutMs ?? 10_000,
          greetingTimeoutMs: this.#options.startTimeoutMs ?? 10_000,
          commandTimeoutMs: this.#options.commandTimeoutMs ?? 30_000,
          signal,
        }),
        gone.then((): never => {
          throw new VirError(
            'OPERATION_FAILED',
            'qemu',
            `${emulator} ${exitInfo ?? 'exited'} before its monitor was ready${logTail(this.logPath)}`,
          );
        }),
      ]);
      if (this.#proc?.child !== child) {
        await qmp.close();
        throw new VirError('OPERATION_ABORTED', 'qemu', 'start was cancelled');
      }
      this.#attachMonitor(qmp);
      this.#writeStatus();
      // As libvirt does with a QEMU that has set-action (6.0 on): the command line always says
      // -no-shutdown, and a guest reboot that must end the guest is turned into a power-off here.
      if (guest.onReboot === 'destroy') await qmp.execute('set-action', { reboot: 'shutdown' }, { signal });
      this.#checkCpuFeatures();
      // QEMU accepted -smp; make sure it created the vCPUs the guest expects.
      const cpus = await qmp.execute<unknown[]>('query-cpus-fast', undefined, { signal });
      if (Array.isArray(cpus) && cpus.length !== guest.vcpus) {
        throw new VirError(
          'INTERNAL_ERROR',
          'qemu',
          `QEMU created ${cpus.length} vCPUs, the guest needs ${guest.vcpus}`,
        );
      }
      if (guest.memballoon && this.#balloonKiB < guest.memoryKiB) {
        await qmp.execute('balloon', { value: this.#balloonKiB * 1024 }, { signal });
      }
      throwIfAborted(signal, 'qemu');
      if (!options.paused) {
        await qmp.execute('cont', undefined, { signal });
      }
      this.#starting = false;
      this.#startAbort = undefined;
      this.#setState(options.paused ? 'paused' : 'running', options.paused ? 'user' : 'booted');
      appendDomainLog(this.logPath, `started, pid ${pid}`);
      this.#lifecycle('started', 'booted');
      if (options.paused) this.#lifecycle('suspended', 'paused');
    } catch (err) {
      const destroyed = this.#destroying;
      this.#starting = false;
      this.#startAbort = undefined;
      await this.#abandonStart(child, gone);
      this.#setState('shutoff', destroyed ? 'destroyed' : 'failed', false);
      appendDomainLog(this.logPath, `start failed: ${(err as Error).message}`);
      if (destroyed) {
        throw new VirError('OPERATION_ABORTED', 'qemu', `start of '${this.name}' cancelled by destroy`, {
          cause: err,
        });
      }
      if (err instanceof VirError && err.code === 'CPU_INCOMPATIBLE') throw err;
      const wrapped = toVirError(err, 'OPERATION_FAILED', 'qemu');
      // QEMU's own words (its stderr, in the log) say why better than a closed monitor does.
      const tail = wrapped.message.includes('before its monitor was ready') ? '' : logTail(this.logPath);
      throw new VirError(wrapped.code, 'qemu', `starting '${this.name}': ${wrapped.message}${tail}`, {
        cause: err,
      });
    }
  }

  /**
   * QEMU warns about each requested CPU feature it cannot give while it
   * creates the vCPUs, before its monitor answers; with a checked model any
   * such warning fails the start, as libvirt's check of the guest CPU does.
   */
  #checkCpuFeatures(): void {
    const check = this.#guest.cpuCheck;
    if (!check) return;
    const missing = missingCpuFeatures(readLogTail(this.logPath, 8192));
    if (missing.length === 0) return;
    throw new VirError(
      'CPU_INCOMPATIBLE',
      'qemu',
      `starting '${this.name}': the host cannot give CPU '${check.model}' these features: ${missing.join(', ')}`,
      { field: 'cpu' },
    );
  }

  async #abandonStart(child: ChildProcess, gone: Promise<void>): Promise<void> {
    const qmp = this.#qmp;
    this.#qmp = undefined;
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
      signalProcess(child.pid, 'SIGKILL');
    }
    await gone;
    await qmp?.close();
    this.#clearRuntime();
  }

  /** Refuses to start over a guest another runner or process still runs. */
  #refuseIfOwnedElsewhere(): void {
    let status: DomainStatus;
    try {
      status = readStatus(this.statusPath);
    } catch {
      return;
    }
    if (isProcessAlive(status.pid) && readProcStat(status.pid)?.startTicks === status.pidStart) {
      throw new VirError(
        'OPERATION_INVALID',
        'qemu',
        `domain '${this.name}' is already running (pid ${status.pid}); re-attach to it instead`,
      );
    }
  }

  // ---------------------------------------------------------------- re-attach

  async #reattach(status: DomainStatus, signal: AbortSignal | undefined): Promise<void> {
    const stat = readProcStat(status.pid);
    // Same pid, same start time and still running the emulator: our QEMU, not a re-used pid.
    const exe = readProcExe(status.pid)?.replace(/ \(deleted\)$/, '');
    const alive =
      stat !== undefined &&
      stat.state !== 'Z' &&
      stat.startTicks === status.pidStart &&
      (exe === undefined || exe === realpathOr(status.emulator));
    this.#id = status.id;
    this.#emulator = status.emulator;
    if (!alive) {
      appendDomainLog(this.logPath, `found dead after a restart (pid ${status.pid}); cleaning up`);
      this.#clearRuntime();
      this.#setState('shutoff', 'crashed', false);
      return;
    }
    let qmp: QmpClient;
    try {
      const connectOpts: Parameters<typeof QmpClient.connect>[1] = {
        greetingTimeoutMs: this.#options.startTimeoutMs ?? 10_000,
        commandTimeoutMs: this.#options.commandTimeoutMs ?? 30_000,
      };
      if (signal) connectOpts.signal = signal;
      qmp = await QmpClient.connect(status.monitorPath, connectOpts);
    } catch (err) {
      this.#id = -1;
      throw toVirError(
        err,
        'OPERATION_FAILED',
        'qemu',
        `cannot re-attach to '${this.name}' (pid ${status.pid})`,
      );
    }
    this.#gotShutdown = status.gotShutdown;
    this.#fakeReboot = status.fakeReboot;
    this.#balloonKiB = status.balloonKiB;
    const gone = this.#pollUntilGone(status.pid);
    this.#proc = { pid: status.pid, pidStart: status.pidStart, child: undefined, gone };
    this.#attachMonitor(qmp);
    // QEMU's own run state is the truth; our file may predate the last event.
    try {
      const qs = await qmp.execute<{ status?: string; running?: boolean }>(
        'query-status',
        undefined,
        signal ? { signal } : {},
      );
      const [state, reason] = stateFromRunState(qs.status, status);
      this.#panicked = qs.status === 'guest-panicked';
      this.#setState(state, reason);
      // The guest powered off while nobody watched: do now what its SHUTDOWN asked for.
      if (qs.status === 'shutdown') this.#onShutdownEvent({ guest: true, reason: 'guest-shutdown' }, false);
    } catch (err) {
      // The process died while we reconnected: the gone handler reports it.
      if (this.#proc) throw toVirError(err, 'OPERATION_FAILED', 'qemu', `re-attaching to '${this.name}'`);
    }
  }

  /** Watches a process that is not our child: its monitor closing prompts a look in /proc. */
  #pollUntilGone(pid: number): Promise<void> {
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const check = (delay: number) => {
        timer = setTimeout(() => {
          if (!isProcessAlive(pid)) {
            this.#stopPolling = undefined;
            resolve();
          } else check(Math.min(delay * 2, 500));
        }, delay);
        timer.unref();
      };
      this.#stopPolling = () => {
        if (timer) clearTimeout(timer);
      };
      // Slow polling until the monitor closes; fast once it has.
      check(1000);
      this.#onMonitorClosed = () => {
        if (timer) clearTimeout(timer);
        check(10);
      };
    });
  }

  #onMonitorClosed: (() => void) | undefined;

  /**
   * Forgets the guest without stopping it: closes the monitor and stops
   * watching the process. A later {@link reattach} picks it up again. This is
   * what a driver does on `close()`.
   */
  async detach(): Promise<void> {
    const qmp = this.#qmp;
    this.#qmp = undefined;
    this.#stopPolling?.();
    this.#stopPolling = undefined;
    this.#onMonitorClosed = undefined;
    this.#proc?.child?.unref();
    this.#proc = undefined;
    this.#id = -1;
    this.#state = { state: 'shutoff', reason: 'unknown' };
    await qmp?.close();
  }

  // ---------------------------------------------------------------- monitor events

  #attachMonitor(qmp: QmpClient): void {
    this.#qmp = qmp;
    qmp.onEvent((ev) => this.#onQmpEvent(ev));
    const proc = this.#proc;
    void qmp.closed.then(() => {
      if (this.#qmp === qmp) this.#onMonitorClosed?.();
    });
    void proc?.gone.then(() => {
      if (this.#proc === proc) this.#onProcessGone();
    });
  }

  #onQmpEvent(ev: QmpEvent): void {
    this.#events.emit({ type: 'monitor', domain: this.ref, event: ev, timestamp: Date.now() });
    switch (ev.event) {
      case 'RESET':
        this.#events.emit({ type: 'reboot', domain: this.ref, timestamp: Date.now() });
        return;
      case 'SHUTDOWN':
        // Known at once, so that an exit racing the handler below still counts as a shutdown.
        this.#shutdownSeen = true;
        break;
      case 'STOP':
      case 'RESUME':
      case 'GUEST_PANICKED':
      case 'SUSPEND':
      case 'SUSPEND_DISK':
      case 'WAKEUP':
        break;
      default:
        return;
    }
    // State changes wait for the job in progress (libvirt, too, handles these
    // events as jobs): a command's effect and the events QEMU sent around its
    // reply are then applied in order, and a job never sees its state change
    // under it. Events caused by our own stop/cont find the state already set.
    void this.#jobs
      .run(this.name, `event ${ev.event}`, async () => this.#applyEvent(ev))
      .catch((err: unknown) =>
        appendDomainLog(this.logPath, `handling ${ev.event}: ${(err as Error).message}`),
      );
  }

  #applyEvent(ev: QmpEvent): void {
    if (!this.#proc || !this.#qmp || this.#destroying || this.#starting) return;
    switch (ev.event) {
      case 'STOP':
        // The pause after a power-off (-no-shutdown) and after a panic are reported by their own handlers.
        if (this.#gotShutdown || this.#panicked) return;
        if (this.#state.state === 'running') {
          this.#setState('paused', 'unknown');
          this.#lifecycle('suspended', 'paused');
        }
        return;
      case 'RESUME':
        if (this.#state.state === 'paused') {
          this.#setState('running', 'unpaused');
          this.#lifecycle('resumed', 'unpaused');
        }
        return;
      case 'SHUTDOWN':
        this.#onShutdownEvent(ev.data);
        return;
      case 'GUEST_PANICKED':
        this.#onPanicEvent();
        return;
      case 'SUSPEND':
      case 'SUSPEND_DISK':
        // The guest entered S3 (or S4, after which QEMU exits on its own).
        this.#setState('pmsuspended', 'unknown');
        this.#lifecycle('pmsuspended', ev.event === 'SUSPEND' ? 'memory' : 'disk');
        return;
      case 'WAKEUP':
        if (this.#state.state === 'pmsuspended') {
          this.#setState('running', 'wakeup');
          this.#lifecycle('started', 'wakeup');
        }
        return;
      default:
        return;
    }
  }

  #onShutdownEvent(data: Record<string, unknown>, announce = true): void {
    // Our own SIGTERM after a guest power-off makes QEMU say SHUTDOWN again.
    if (this.#gotShutdown && announce) return;
    this.#gotShutdown = true;
    const detail = data.guest === true ? 'guest' : data.guest === false ? 'host' : 'finished';
    this.#setState('shutdown', 'user');
    if (announce) this.#lifecycle('shutdown', detail);
    // A host-side shutdown (SIGTERM from someone else, `quit`) ends the process by itself.
    if (data.guest === false) return;
    // With -no-reboot a guest reboot arrives as a shutdown whose reason is the reset.
    const isReboot = data.reason === 'guest-reset';
    const action = this.#fakeReboot
      ? 'restart'
      : isReboot
        ? 'destroy'
        : (this.#guest.onPoweroff ?? 'destroy');
    if (action === 'restart') this.#background('fake-reboot', () => this.#restartGuest('booted'));
    else this.#background('shutdown-destroy', () => this.#terminate(5000));
  }

  #onPanicEvent(): void {
    this.#panicked = true;
    this.#setState('crashed', 'panicked');
    this.#lifecycle('crashed', 'panicked');
    const action = this.#guest.onCrash ?? 'destroy';
    if (action === 'preserve') return;
    if (action === 'restart') {
      this.#background('crash-restart', () => this.#restartGuest('crashed'));
      return;
    }
    this.#stopReason = 'crashed';
    this.#background('crash-destroy', () => this.#terminate(0));
  }

  /** Runs a reaction to a guest event as a job; its failure is logged, never thrown at nobody. */
  #background(job: string, fn: () => Promise<void>): void {
    void this.#job(job, async () => {
      if (!this.#proc || this.#destroying) return;
      await fn();
    }).catch((err: unknown) => {
      appendDomainLog(this.logPath, `${job} failed: ${(err as Error).message}`);
    });
  }

  /** Resets the guest and lets it run again: libvirt's "fake reboot". */
  async #restartGuest(reason: 'booted' | 'crashed'): Promise<void> {
    const qmp = this.#requireMonitor();
    await qmp.execute('system_reset');
    await qmp.execute('cont');
    this.#gotShutdown = false;
    this.#shutdownSeen = false;
    this.#fakeReboot = false;
    this.#panicked = false;
    this.#setState('running', reason);
    this.#lifecycle('resumed', 'unpaused');
    for (const w of this.#shutdownWaiters.splice(0)) w();
  }

  #onProcessGone(): void {
    if (this.#starting || !this.#proc) return;
    const [reason, detail] = this.#destroying
      ? (['destroyed', 'destroyed'] as const)
      : this.#stopReason === 'crashed'
        ? (['crashed', 'crashed'] as const)
        : this.#gotShutdown || this.#shutdownSeen
          ? (['shutdown', 'shutdown'] as const)
          : (['crashed', 'failed'] as const);
    const qmp = this.#qmp;
    this.#qmp = undefined;
    void qmp?.close();
    this.#clearRuntime();
    this.#setState('shutoff', reason, false);
    appendDomainLog(this.logPath, `shutting down, reason=${reason}`);
    this.#lifecycle('stopped', detail);
    this.#id = -1;
    this.#destroying = false;
    for (const w of this.#goneWaiters.splice(0)) w();
    for (const w of this.#shutdownWaiters.splice(0)) w();
  }

  /** Removes the status file and the socket directory and forgets the process. */
  #clearRuntime(): void {
    this.#proc = undefined;
    this.#stopPolling?.();
    this.#stopPolling = undefined;
    this.#onMonitorClosed = undefined;
    rmSync(this.statusPath, { force: true });
    rmSync(this.#runDir(), { recursive: true, force: true });
  }

  // ---------------------------------------------------------------- lifecycle calls

  /** Pauses the vCPUs. A paused guest stays paused; an inactive one is `OPERATION_INVALID`. */
  async suspend(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#job(
      'suspend',
      async () => {
        const qmp = this.#requireMonitor();
        if (this.#state.state === 'paused') return;
        await qmp.execute('stop', undefined, callOpts(options.signal));
        this.#setState('paused', 'user');
        this.#lifecycle('suspended', 'paused');
      },
      options.signal,
    );
  }

  /** Resumes paused (or crashed and preserved) vCPUs. A running guest is left alone. */
  async resume(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#job(
      'resume',
      async () => {
        const qmp = this.#requireMonitor();
        const s = this.#state.state;
        if (s === 'running') return;
        if (s !== 'paused' && s !== 'crashed') {
          throw new VirError(
            'OPERATION_INVALID',
            'qemu',
            `domain '${this.name}' is ${s} and cannot be resumed`,
          );
        }
        await qmp.execute('cont', undefined, callOpts(options.signal));
        this.#panicked = false;
        this.#setState('running', 'unpaused');
        this.#lifecycle('resumed', 'unpaused');
      },
      options.signal,
    );
  }

  /**
   * Presses the ACPI power button and (by default) waits until the guest
   * has shut down: the process ended, or for `on_poweroff='restart'` the
   * guest was reset. A guest that ignores the button ends in
   * `OPERATION_TIMEOUT`, or is destroyed with `onTimeout: 'destroy'`.
   */
  async shutdown(options: ShutdownOptions = {}): Promise<void> {
    let done: Promise<void> | undefined;
    await this.#job(
      'shutdown',
      async () => {
        const qmp = this.#requireMonitor();
        done = this.#whenShutDown();
        await qmp.execute('system_powerdown', undefined, callOpts(options.signal));
      },
      options.signal,
    );
    if (options.wait === false || !done) return;
    const timeoutMs = options.timeoutMs ?? 60_000;
    const outcome = await raceTimeout(done, timeoutMs, options.signal);
    if (outcome === 'done') return;
    if (outcome === 'aborted') {
      throw new VirError('OPERATION_ABORTED', 'qemu', `stopped waiting for '${this.name}' to shut down`, {
        cause: options.signal?.reason,
      });
    }
    if (options.onTimeout === 'destroy') {
      appendDomainLog(this.logPath, `no shutdown within ${timeoutMs} ms; destroying`);
      await this.destroy(options.signal ? { signal: options.signal } : {});
      return;
    }
    throw new VirError(
      'OPERATION_TIMEOUT',
      'qemu',
      `domain '${this.name}' did not shut down within ${timeoutMs} ms`,
    );
  }

  /**
   * Reboots through ACPI as libvirt does: the power button is pressed and,
   * when the guest powers off, it is reset and resumed instead of destroyed.
   * Returns once the request is sent; a `reboot` event follows the reset.
   */
  async reboot(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#job(
      'reboot',
      async () => {
        const qmp = this.#requireMonitor();
        this.#fakeReboot = true;
        this.#writeStatus();
        try {
          await qmp.execute('system_powerdown', undefined, callOpts(options.signal));
        } catch (err) {
          this.#fakeReboot = false;
          throw err;
        }
      },
      options.signal,
    );
  }

  /** Wakes a guest that suspended itself to RAM (S3), as libvirt's `virDomainPMWakeup`. */
  async pmWakeup(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#job(
      'pm-wakeup',
      async () => {
        const qmp = this.#requireMonitor();
        if (this.#state.state !== 'pmsuspended') {
          throw new VirError(
            'OPERATION_INVALID',
            'qemu',
            `domain '${this.name}' is not suspended by the guest`,
          );
        }
        await qmp.execute('system_wakeup', undefined, callOpts(options.signal));
      },
      options.signal,
    );
  }

  /** Resets the guest at once, like pressing the reset button. */
  async reset(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#job(
      'reset',
      async () => {
        await this.#requireMonitor().execute('system_reset', undefined, callOpts(options.signal));
      },
      options.signal,
    );
  }

  /**
   * Stops the guest now: SIGTERM, then SIGKILL after `graceMs`. Works during
   * a start (which then fails with `OPERATION_ABORTED`) and while another
   * call waits on the monitor.
   */
  async destroy(options: DestroyOptions = {}): Promise<void> {
    throwIfAborted(options.signal, 'qemu');
    if (!this.#proc) throw new VirError('OPERATION_INVALID', 'qemu', `domain '${this.name}' is not running`);
    this.#destroying = true;
    if (this.#starting) {
      this.#startAbort?.abort(new VirError('OPERATION_ABORTED', 'qemu', 'start cancelled by destroy'));
      // The start job kills the process and cleans up; wait for it.
      await this.#jobs.run(this.name, 'destroy', async () => {}, options.signal);
      return;
    }
    await this.#terminate(options.graceMs ?? 5000, options.signal);
    await this.#job('destroy', async () => {}, options.signal);
  }

  /** SIGTERM, wait up to `graceMs`, SIGKILL, wait until the process is gone. */
  async #terminate(graceMs: number, signal?: AbortSignal): Promise<void> {
    const proc = this.#proc;
    if (!proc) return;
    if (graceMs > 0) {
      signalProcess(proc.pid, 'SIGTERM');
      if ((await raceTimeout(proc.gone, graceMs, signal)) === 'done') return;
      throwIfAborted(signal, 'qemu');
    }
    signalProcess(proc.pid, 'SIGKILL');
    if ((await raceTimeout(proc.gone, 0, signal)) === 'aborted') throwIfAborted(signal, 'qemu');
  }

  /**
   * Sets the balloon target. Needs a running guest with a balloon device;
   * the guest reaches the target only if it runs a balloon driver.
   */
  async setMemory(kib: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (!Number.isSafeInteger(kib) || kib < 1 || kib > this.#guest.memoryKiB) {
      throw new VirError(
        'INVALID_ARG',
        'qemu',
        `memory ${kib} KiB is outside 1..${this.#guest.memoryKiB} KiB (the domain's maximum)`,
        { field: 'currentMemory' },
      );
    }
    await this.#job(
      'set-memory',
      async () => {
        const qmp = this.#requireMonitor();
        if (!this.#guest.memballoon) {
          throw new VirError('OPERATION_INVALID', 'qemu', `domain '${this.name}' has no memory balloon`);
        }
        await qmp.execute('balloon', { value: kib * 1024 }, callOpts(options.signal));
        this.#balloonKiB = kib;
        this.#writeStatus();
      },
      options.signal,
    );
  }

  // ---------------------------------------------------------------- helpers

  async #job<T>(job: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.#jobs.run(
      this.name,
      job,
      async () => {
        this.#options.onJob?.(job, 'begin');
        try {
          return await fn();
        } finally {
          this.#options.onJob?.(job, 'end');
        }
      },
      signal,
    );
  }

  #requireMonitor(): QmpClient {
    if (!this.#proc || !this.#qmp || this.#state.state === 'shutoff') {
      throw new VirError('OPERATION_INVALID', 'qemu', `domain '${this.name}' is not running`);
    }
    return this.#qmp;
  }

  #whenShutDown(): Promise<void> {
    return new Promise((resolve) => {
      this.#goneWaiters.push(resolve);
      if (this.#guest.onPoweroff === 'restart') this.#shutdownWaiters.push(resolve);
    });
  }

  #runDir(): string {
    return this.paths.runDir;
  }

  #setState(state: DomainStateName, reason: string, persist = true): void {
    this.#state = { state, reason };
    if (persist && this.#proc && this.#qmp) this.#writeStatus();
  }

  #writeStatus(): void {
    const proc = this.#proc;
    if (!proc) return;
    try {
      writeStatus(this.statusPath, {
        state: this.#state.state,
        reason: this.#state.reason,
        id: this.#id,
        pid: proc.pid,
        pidStart: proc.pidStart,
        monitorPath: this.paths.monitorSocket,
        emulator: this.#emulator,
        gotShutdown: this.#gotShutdown,
        fakeReboot: this.#fakeReboot,
        balloonKiB: this.#balloonKiB,
        guest: this.#guest,
      });
    } catch (err) {
      // Losing the status file costs re-attach, not the guest: log it, keep going.
      appendDomainLog(this.logPath, `cannot write status: ${(err as Error).message}`);
    }
  }

  #lifecycle(event: DomainEventName, detail: string): void {
    this.#events.emit({ type: 'lifecycle', domain: this.ref, event, detail, timestamp: Date.now() });
  }
}

function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

function callOpts(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

function logTail(path: string): string {
  const tail = readLogTail(path, 1024)
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\d{4}-\d\d-\d\dT[\d:.]+Z: (starting up|start failed: )/.test(l))
    .slice(-5)
    .join('\n');
  return tail ? `: ${tail}` : '';
}

/** Feature names from QEMU's "doesn't support requested feature" warnings of the last start. */
function missingCpuFeatures(log: string): string[] {
  const lastStart = log.lastIndexOf(': starting up\n');
  const text = lastStart >= 0 ? log.slice(lastStart) : log;
  const names = [...text.matchAll(/support requested feature: \S+?\.([A-Za-z0-9_.-]+) \[bit/g)].map(
    (m) => m[1] ?? '',
  );
  return [...new Set(names.filter((n) => n !== ''))];
}

/** Waits for `p`; 'timeout' after `ms` (0 = never), 'aborted' when the signal fires. */
function raceTimeout(
  p: Promise<void>,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<'done' | 'timeout' | 'aborted'> {
  if (signal?.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const timer = ms > 0 ? setTimeout(() => finish('timeout'), ms) : undefined;
    const onAbort = () => finish('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    function finish(r: 'done' | 'timeout' | 'aborted') {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    }
    void p.then(() => finish('done'));
  });
}

/** libvirt's state for QEMU's run state after a re-attach, keeping our recorded reason when it still fits. */
function stateFromRunState(runState: string | undefined, recorded: DomainStatus): [DomainStateName, string] {
  switch (runState) {
    case 'running':
      return ['running', recorded.state === 'running' ? recorded.reason : 'unpaused'];
    case 'paused':
    case 'prelaunch':
      return ['paused', recorded.state === 'paused' ? recorded.reason : 'unknown'];
    case 'shutdown':
      return ['shutdown', 'user'];
    case 'guest-panicked':
      return ['crashed', 'panicked'];
    default:
      return [recorded.state, recorded.reason];
  }
}

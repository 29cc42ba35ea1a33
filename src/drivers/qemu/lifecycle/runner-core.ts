/**
 * The state of one supervised guest and what changes it: the process and
 * its monitor, QEMU's events turned into libvirt states, reasons and
 * lifecycle events, the `on_*` reactions, the status file, the job lock.
 * {@link QemuDomainRunner} is the public face; this class is internal to
 * the lifecycle folder, which is why its members are not private.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import type { DomainEventName, DomainRef, DomainState, DomainStateName } from '../../../driver.js';
import { throwIfAborted, VirError } from '../../../errors.js';
import { DomainJobs } from '../../job-lock.js';
import type { QmpClient, QmpEvent } from '../qmp/index.js';
import { appendDomainLog } from './domain-log.js';
import { isProcessAlive, signalProcess } from './proc-info.js';
import { raceTimeout } from './race-timeout.js';
import { type RunnerPaths, type RunnerRoots, runnerPaths } from './runner-command.js';
import { EventHub, monitorBroke } from './runner-events.js';
import type { RunnerGuest } from './runner-guest.js';
import { endReasonOf, endRun } from './runner-stop.js';
import { writeStatus } from './status-file.js';

export interface RunnerOptions extends RunnerRoots {
  /** The domain id while running; default a process-wide counter. */
  readonly allocateId?: () => number;
  /** Milliseconds QEMU has to open its monitor. Default 10 s. */
  readonly startTimeoutMs?: number;
  /** Default QMP command timeout in milliseconds. Default 30 s. */
  readonly commandTimeoutMs?: number;
  /** Milliseconds QEMU has to end after SIGTERM (destroy, a guest's power-off) before SIGKILL. Default 5 s. */
  readonly killTimeoutMs?: number;
  /** Called when a job takes and leaves the lock (diagnostics and tests). */
  readonly onJob?: (job: string, phase: 'begin' | 'end') => void;
}

/** A process we watch: our child, or one found again after a restart. */
export interface Watched {
  readonly pid: number;
  readonly pidStart: string;
  readonly child: ChildProcess | undefined;
  /** Resolves once the process is gone (exited and reaped, or no longer in /proc). */
  readonly gone: Promise<void>;
}

export class RunnerCore {
  readonly jobs = new DomainJobs('qemu');
  readonly events = new EventHub();
  guest: RunnerGuest;
  /** The binary of the current (or last) run: the re-attach check compares /proc's exe with it. */
  emulator = '';
  state: DomainState = { state: 'shutoff', reason: 'unknown' };
  id = -1;
  /** The id the run directory is named after (see `runnerPaths`), while a run has one. */
  runId: number | undefined;
  proc: Watched | undefined;
  qmp: QmpClient | undefined;
  balloonKiB: number;
  /** The guest sent SHUTDOWN and waits for us to act on it. */
  gotShutdown = false;
  /** reboot() asked for a reset at the next power-off. */
  fakeReboot = false;
  panicked = false;
  /** A SHUTDOWN event arrived, even if its handler has not run yet. */
  shutdownSeen = false;
  /**
   * STOP and RESUME events our own `stop` and `cont` caused and not yet
   * seen. Their handlers run as jobs, so behind calls already queued: a
   * suspend, resume, suspend issued together would otherwise meet the first
   * STOP after the resume and take it for a pause of the guest's own.
   */
  ownStops = 0;
  ownResumes = 0;
  /** The last signal `terminate` sent this run's QEMU. */
  lastSignal: 'SIGTERM' | 'SIGKILL' | undefined;
  /** A SHUTDOWN or GUEST_PANICKED came: the STOP that follows is its pause (see onQmpEvent). */
  stopBelongsToEvent = false;
  /** QEMU stops the guest after an I/O error under a `stop` policy: that pause is `paused/ioerror`. */
  stopForIoError = false;
  destroying = false;
  starting = false;
  stopReason: 'crashed' | 'migrated' | 'failed' | 'saved' | 'from snapshot' | undefined;
  startAbort: AbortController | undefined;
  goneWaiters: Array<() => void> = [];
  shutdownWaiters: Array<() => void> = [];
  /** Stops watching a process that is not our child. */
  stopPolling: (() => void) | undefined;
  /** Called when the monitor of such a process closes (it is probably gone). */
  onMonitorClosed: (() => void) | undefined;
  /** What the runner's owner gives back once QEMU is gone (ports, taps, helpers, devices). */
  teardown: (() => Promise<void>) | undefined;
  /** The release of a run whose QEMU is gone, until `stopped` is told (see onProcessGone). */
  stopping: Promise<void> | undefined;

  constructor(
    guest: RunnerGuest,
    readonly options: RunnerOptions,
  ) {
    this.guest = guest;
    this.balloonKiB = guest.currentMemoryKiB ?? guest.memoryKiB;
  }

  get name(): string {
    return this.guest.name;
  }

  get killTimeoutMs(): number {
    return this.options.killTimeoutMs ?? 5000;
  }

  get paths(): RunnerPaths {
    return runnerPaths(this.options, this.guest, this.runId);
  }

  get logPath(): string {
    return this.paths.logFile;
  }

  get statusPath(): string {
    return this.paths.statusFile;
  }

  /** The domain as drivers pass it around; `id` is -1 while inactive. */
  get ref(): DomainRef {
    return { name: this.guest.name, uuid: this.guest.uuid, id: this.id };
  }

  attachMonitor(qmp: QmpClient): void {
    this.qmp = qmp;
    qmp.onEvent((ev) => this.onQmpEvent(ev));
    const proc = this.proc;
    void qmp.closed.then((why) => {
      if (this.qmp !== qmp) return;
      // libvirt's monitor error, not its end of file: garbage, or an I/O error, while QEMU lives
      if (monitorBroke(why) && proc && isProcessAlive(proc.pid))
        this.events.emit({ type: 'control-error', domain: this.ref, timestamp: Date.now() });
      this.onMonitorClosed?.();
    });
    void proc?.gone.then(() => {
      if (this.proc === proc) this.onProcessGone();
    });
  }

  onQmpEvent(ev: QmpEvent): void {
    this.events.emit({ type: 'monitor', domain: this.ref, event: ev, timestamp: Date.now() });
    switch (ev.event) {
      case 'RESET':
        // As libvirt: a reset while the start is still setting up (paused, starting up) is not the
        // guest's, so it is no reboot event; any later one is, and it ends a pending reboot() request.
        if (this.starting) return;
        this.fakeReboot = false;
        this.events.emit({ type: 'reboot', domain: this.ref, timestamp: Date.now() });
        return;
      case 'SHUTDOWN':
        // Known at once, so that an exit racing the handler below still counts as a shutdown.
        this.shutdownSeen = true;
        this.stopBelongsToEvent = true;
        break;
      case 'GUEST_PANICKED':
        this.stopBelongsToEvent = true;
        break;
      case 'STOP':
        // QEMU pauses the guest right after a power-off (-no-shutdown) or a panic. That pause is
        // the event's, not the guest's: decided now, as its handler may only run after the
        // reaction to the event (a fake reboot's reset and cont) and would take it for a new pause.
        if (this.stopBelongsToEvent) {
          this.stopBelongsToEvent = false;
          return;
        }
        break;
      case 'RESUME':
        this.stopBelongsToEvent = false;
        this.stopForIoError = false;
        break;
      case 'BLOCK_IO_ERROR':
        // QEMU sends it before the STOP it requests (werror/rerror=stop), as libvirt relies on
        if (ev.data?.action === 'stop') this.stopForIoError = true;
        return;
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
    // under it. Events our own stop/cont caused are counted off (ownStops,
    // ownResumes), since calls queued before them may have changed the state again.
    void this.jobs
      .run(this.name, `event ${ev.event}`, async () => this.applyEvent(ev))
      .catch((err: unknown) =>
        appendDomainLog(this.logPath, `handling ${ev.event}: ${(err as Error).message}`),
      );
  }

  applyEvent(ev: QmpEvent): void {
    if (!this.proc || !this.qmp || this.destroying || this.starting) return;
    switch (ev.event) {
      case 'STOP':
        if (this.ownStops > 0) {
          this.ownStops--;
          return;
        }
        // The pause after a power-off (-no-shutdown) and after a panic are reported by their own handlers.
        if (this.gotShutdown || this.panicked) return;
        if (this.state.state === 'running') {
          // libvirt: a guest stopped by its I/O error is paused/ioerror, its event suspended/ioerror
          const io = this.stopForIoError;
          this.stopForIoError = false;
          this.setState('paused', io ? 'ioerror' : 'unknown');
          this.lifecycle('suspended', io ? 'ioerror' : 'paused');
        }
        return;
      case 'RESUME':
        if (this.ownResumes > 0) {
          this.ownResumes--;
          return;
        }
        if (this.state.state === 'paused') {
          this.setState('running', 'unpaused');
          this.lifecycle('resumed', 'unpaused');
        }
        return;
      case 'SHUTDOWN':
        this.onShutdownEvent(ev.data);
        return;
      case 'GUEST_PANICKED':
        this.onPanicEvent();
        return;
      case 'SUSPEND':
      case 'SUSPEND_DISK':
        // The guest entered S3 (or S4, after which QEMU exits on its own).
        this.setState('pmsuspended', 'unknown');
        this.lifecycle('pmsuspended', ev.event === 'SUSPEND' ? 'memory' : 'disk');
        return;
      case 'WAKEUP':
        if (this.state.state === 'pmsuspended') {
          this.setState('running', 'wakeup');
          this.lifecycle('started', 'wakeup');
        }
        return;
      default:
        return;
    }
  }

  onShutdownEvent(data: Record<string, unknown>, announce = true): void {
    // Our own SIGTERM after a guest power-off makes QEMU say SHUTDOWN again.
    if (this.gotShutdown && announce) return;
    this.gotShutdown = true;
    const detail = data.guest === true ? 'guest' : data.guest === false ? 'host' : 'finished';
    this.setState('shutdown', 'user');
    if (announce) this.lifecycle('shutdown', detail);
    // A host-side shutdown (SIGTERM from someone else, `quit`) ends the process by itself.
    if (data.guest === false) return;
    // With -no-reboot a guest reboot arrives as a shutdown whose reason is the reset.
    const isReboot = data.reason === 'guest-reset';
    const action = this.fakeReboot ? 'restart' : isReboot ? 'destroy' : (this.guest.onPoweroff ?? 'destroy');
    if (action === 'restart') this.background('fake-reboot', () => this.restartGuest('booted'));
    else this.background('shutdown-destroy', () => this.terminate(this.killTimeoutMs));
  }

  onPanicEvent(): void {
    this.panicked = true;
    this.setState('crashed', 'panicked');
    this.lifecycle('crashed', 'panicked');
    const action = this.guest.onCrash ?? 'destroy';
    if (action === 'preserve') return;
    if (action === 'restart') {
      this.background('crash-restart', () => this.restartGuest('crashed'));
      return;
    }
    this.stopReason = 'crashed';
    this.background('crash-destroy', () => this.terminate(0));
  }

  /** Runs a reaction to a guest event as a job; its failure is logged, never thrown at nobody. */
  background(job: string, fn: () => Promise<void>): void {
    void this.job(job, async () => {
      if (!this.proc || this.destroying) return;
      await fn();
    }).catch((err: unknown) => {
      appendDomainLog(this.logPath, `${job} failed: ${(err as Error).message}`);
    });
  }

  /** Resets the guest and lets it run again: libvirt's "fake reboot". */
  async restartGuest(reason: 'booted' | 'crashed'): Promise<void> {
    const qmp = this.requireMonitor();
    await qmp.execute('system_reset');
    await qmp.execute('cont');
    this.ownResumes++;
    this.gotShutdown = false;
    this.shutdownSeen = false;
    this.fakeReboot = false;
    this.panicked = false;
    this.setState('running', reason);
    this.lifecycle('resumed', 'unpaused');
    for (const w of this.shutdownWaiters.splice(0)) w();
  }

  /**
   * QEMU is gone: its release (`runner-stop.ts`) runs once, as the domain's job, so a destroy,
   * a save's or migration's end (each waits for the job once the process is gone) and a start follow it.
   */
  onProcessGone(): void {
    if (this.starting || !this.proc) return;
    // QEMU answers SIGTERM with SHUTDOWN (guest false), which libvirt tells before a destroy's
    // `stopped`; known from the signal, as the event may be unread when the exit is seen.
    const obeyedTerm = this.destroying && !this.stopReason && this.lastSignal === 'SIGTERM';
    if (obeyedTerm && this.state.state !== 'shutdown') this.lifecycle('shutdown', 'host');
    this.lastSignal = undefined;
    const [reason, detail] = endReasonOf(this);
    const qmp = this.qmp;
    this.qmp = undefined;
    void qmp?.close();
    this.forgetProcess();
    appendDomainLog(this.logPath, `shutting down, reason=${reason}`);
    this.stopping = this.jobs.run(this.name, 'stop', () => endRun(this, reason, detail));
  }

  /** Removes the status file and the socket directory and forgets the process. */
  clearRuntime(): void {
    this.forgetProcess();
    this.removeRuntimeFiles();
  }

  forgetProcess(): void {
    this.proc = undefined;
    this.stopPolling?.();
    this.stopPolling = undefined;
    this.onMonitorClosed = undefined;
  }

  removeRuntimeFiles(): void {
    rmSync(this.statusPath, { force: true });
    rmSync(this.paths.runDir, { recursive: true, force: true });
  }

  /** SIGTERM, wait up to `graceMs`, SIGKILL, wait until the process is gone. */
  async terminate(graceMs: number, signal?: AbortSignal): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    if (graceMs > 0) {
      this.lastSignal = 'SIGTERM';
      signalProcess(proc.pid, 'SIGTERM');
      if ((await raceTimeout(proc.gone, graceMs, signal)) === 'done') return;
      throwIfAborted(signal, 'qemu');
    }
    this.lastSignal = 'SIGKILL';
    signalProcess(proc.pid, 'SIGKILL');
    if ((await raceTimeout(proc.gone, 0, signal)) === 'aborted') throwIfAborted(signal, 'qemu');
  }

  async job<T>(job: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.jobs.run(
      this.name,
      job,
      async () => {
        this.options.onJob?.(job, 'begin');
        try {
          return await fn();
        } finally {
          this.options.onJob?.(job, 'end');
        }
      },
      signal,
    );
  }

  requireMonitor(): QmpClient {
    if (!this.proc || !this.qmp || this.state.state === 'shutoff') {
      throw new VirError('OPERATION_INVALID', 'qemu', `domain '${this.name}' is not running`);
    }
    return this.qmp;
  }

  whenShutDown(): Promise<void> {
    return new Promise((resolve) => {
      this.goneWaiters.push(resolve);
      if (this.guest.onPoweroff === 'restart') this.shutdownWaiters.push(resolve);
    });
  }

  setState(state: DomainStateName, reason: string, persist = true): void {
    this.state = { state, reason };
    if (persist && this.proc && this.qmp) this.writeStatus();
  }

  writeStatus(): void {
    const proc = this.proc;
    if (!proc) return;
    try {
      writeStatus(this.statusPath, {
        state: this.state.state,
        reason: this.state.reason,
        id: this.id,
        pid: proc.pid,
        pidStart: proc.pidStart,
        monitorPath: this.paths.monitorSocket,
        emulator: this.emulator,
        gotShutdown: this.gotShutdown,
        fakeReboot: this.fakeReboot,
        balloonKiB: this.balloonKiB,
        guest: this.guest,
      });
    } catch (err) {
      // Losing the status file costs re-attach, not the guest: log it, keep going.
      appendDomainLog(this.logPath, `cannot write status: ${(err as Error).message}`);
    }
  }

  lifecycle(event: DomainEventName, detail: string): void {
    this.events.emit({ type: 'lifecycle', domain: this.ref, event, detail, timestamp: Date.now() });
  }
}

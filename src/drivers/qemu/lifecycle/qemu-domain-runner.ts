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
 * This class is the public face. The state, events and reactions live in
 * `runner-core.ts`, the start and re-attach sequences in `runner-start.ts`.
 *
 * @module
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { DomainInfo, DomainRef, DomainState } from '../../../driver.js';
import { throwIfAborted, VirError } from '../../../errors.js';
import { appendDomainLog } from './domain-log.js';
import { readProcStat } from './proc-info.js';
import { raceTimeout } from './race-timeout.js';
import { type RunnerPaths, type RunnerRoots, runnerPaths } from './runner-command.js';
import { RunnerCore, type RunnerOptions } from './runner-core.js';
import type { RunnerEvent, RunnerEventListener } from './runner-events.js';
import type { RunnerGuest } from './runner-guest.js';
import { RunnerHotplug } from './runner-hotplug.js';
import { RunnerMigration } from './runner-migration.js';
import { RunnerMonitor } from './runner-monitor.js';
import { RunnerSnapshot } from './runner-snapshot.js';
import { reattachGuest, type StartOptions, startGuest } from './runner-start.js';
import { readStatus } from './status-file.js';

export type { RunnerOptions } from './runner-core.js';
export type { StartOptions } from './runner-start.js';

/**
 * The caller's own refusals, run inside the job once the domain is known to
 * run, against the state as it is then: a check made before queueing would
 * judge a state an earlier queued call is about to change.
 */
export type StateCheck = (state: DomainState) => void;

export interface ShutdownOptions {
  signal?: AbortSignal;
  check?: StateCheck;
  /** Wait until the guest has shut down (default true); false returns once the request is sent. */
  wait?: boolean;
  /** Milliseconds to wait. Default 60 s. */
  timeoutMs?: number;
  /** On timeout throw `OPERATION_TIMEOUT` (default), or destroy the guest. */
  onTimeout?: 'error' | 'destroy';
}

export interface DestroyOptions {
  signal?: AbortSignal;
  /** Milliseconds between SIGTERM and SIGKILL. Default the runner's `killTimeoutMs` (5 s); 0 sends SIGKILL at once. */
  graceMs?: number;
}

export class QemuDomainRunner {
  readonly #core: RunnerCore;

  constructor(guest: RunnerGuest, options: RunnerOptions) {
    this.#core = new RunnerCore(guest, options);
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
    await runner.#core.jobs.run(
      runner.name,
      'reattach',
      () => reattachGuest(runner.#core, status, callOptions.signal),
      callOptions.signal,
    );
    return runner;
  }

  /**
   * Names of guests with a status file under the state root (running, or
   * died while we were away). A name may start with a dot: temporary files
   * end in `.tmp`, never `.xml`.
   */
  static listStatus(roots: RunnerRoots): string[] {
    try {
      return readdirSync(join(roots.stateRoot, 'qemu'))
        .filter((f) => f.endsWith('.xml'))
        .map((f) => f.slice(0, -4))
        .sort();
    } catch {
      return [];
    }
  }

  get name(): string {
    return this.#core.guest.name;
  }

  get guest(): RunnerGuest {
    return this.#core.guest;
  }

  /**
   * This guest's files: give `monitorSocket` and `runDir` to `buildCommandLine`.
   * While it runs, those of this run (its directory is named after the run's id).
   */
  get paths(): RunnerPaths {
    return this.#core.paths;
  }

  /** The domain as drivers pass it around; `id` is -1 while inactive. */
  get ref(): DomainRef {
    return { name: this.#core.guest.name, uuid: this.#core.guest.uuid, id: this.#core.id };
  }

  /** QEMU's pid while active. */
  get pid(): number | undefined {
    return this.#core.proc?.pid;
  }

  /** The QMP client, for read-only queries (statistics); `OPERATION_INVALID` once the guest is gone. */
  get qmp(): ReturnType<RunnerCore['requireMonitor']> {
    return this.#core.requireMonitor();
  }
  /** Running, or ended and still releasing what it held (its `stopped` not told yet), as libvirt's domain stays active through its stop. */
  get isActive(): boolean {
    return (this.#core.proc !== undefined || this.#core.stopping !== undefined) && !this.#core.starting;
  }

  /** QEMU is gone and what the run held is being released (see `runner-stop.ts`). */
  get isStopping(): boolean {
    return this.#core.stopping !== undefined;
  }

  /** Resolves once no release of an ended run is in progress (at once when none is). */
  async settled(): Promise<void> {
    await this.#core.stopping;
  }

  /**
   * What the owner gives back once QEMU is gone (helpers, taps, network ports, host devices,
   * cgroups): awaited before the domain is `shutoff` and `stopped` is told; a rejection is
   * written to the domain log and the end carries on.
   */
  setTeardown(teardown: () => Promise<void>): void {
    this.#core.teardown = teardown;
  }

  /** Path of the live status file. */
  get statusPath(): string {
    return this.paths.statusFile;
  }
  /** Path of the domain log. */
  get logPath(): string {
    return this.paths.logFile;
  }

  /** Replaces the guest of the next start (the definition changed); refused while it runs (QEMU owns that one). */
  setGuest(guest: RunnerGuest): void {
    if (this.#core.proc)
      throw new VirError('OPERATION_INVALID', 'qemu', 'cannot change the guest of a running domain');
    this.#core.guest = guest;
    this.#core.balloonKiB = guest.currentMemoryKiB ?? guest.memoryKiB;
  }

  /** This guest's side of a live migration (see `runner-migration.ts`). */
  get migration(): RunnerMigration {
    return new RunnerMigration(this.#core);
  }
  /** Internal snapshots of the running guest: QEMU's snapshot jobs (see `runner-snapshot.ts`). */
  get snapshot(): RunnerSnapshot {
    return new RunnerSnapshot(this.#core);
  }
  /** What device hotplug runs with: the monitor in the domain's job, the live XML (see `runner-hotplug.ts`). */
  get hotplug(): RunnerHotplug {
    return new RunnerHotplug(this.#core);
  }
  /** Passthrough commands and screendumps on this guest's monitor (see `runner-monitor.ts`). */
  get monitor(): RunnerMonitor {
    return new RunnerMonitor(this.#core);
  }

  /** Registers a listener called synchronously for every event; returns the unsubscribe function. */
  subscribe(listener: RunnerEventListener): () => void {
    return this.#core.events.subscribe(listener);
  }

  /** Events from now on as an async iterator, ending when `signal` fires or the loop breaks. */
  events(options: { signal?: AbortSignal; bufferSize?: number } = {}): AsyncIterableIterator<RunnerEvent> {
    return this.#core.events.iterate(options);
  }

  getState(): DomainState {
    return this.#core.state;
  }

  getInfo(): DomainInfo {
    const stat = this.#core.proc ? readProcStat(this.#core.proc.pid) : undefined;
    return {
      state: this.#core.state.state,
      maxMem: this.#core.guest.memoryKiB,
      memory: this.#core.proc
        ? this.#core.balloonKiB
        : (this.#core.guest.currentMemoryKiB ?? this.#core.guest.memoryKiB),
      nrVirtCpu: this.#core.guest.vcpus,
      cpuTime: stat?.cpuTimeNs ?? 0n,
    };
  }

  /** The domain XML the guest was (or will be) started from. */
  getXml(): string {
    return this.#core.guest.domainXml;
  }

  /**
   * Starts `command` (from `buildCommandLine`, for {@link paths}) paused,
   * connects its monitor, applies the lifecycle actions, checks the vCPUs
   * and CPU features, sets the balloon, and resumes the CPUs unless
   * `paused`. On any failure the process is killed and its files removed
   * before the error (with the tail of QEMU's log) is thrown.
   */
  async start(options: StartOptions): Promise<void> {
    if (this.#core.starting)
      throw new VirError('OPERATION_INVALID', 'qemu', `domain '${this.name}' is already starting`);
    await this.#core.job('start', () => startGuest(this.#core, options), options.signal);
  }

  /**
   * Forgets the guest without stopping it: closes the monitor and stops watching the process.
   * A later {@link reattach} picks it up again. This is what a driver does on `close()`.
   */
  async detach(): Promise<void> {
    // a run that ended is released first: nobody would give back what it held otherwise
    await this.#core.stopping;
    const qmp = this.#core.qmp;
    this.#core.qmp = undefined;
    this.#core.stopPolling?.();
    this.#core.stopPolling = undefined;
    this.#core.onMonitorClosed = undefined;
    this.#core.proc?.child?.unref();
    this.#core.proc = undefined;
    this.#core.id = -1;
    this.#core.state = { state: 'shutoff', reason: 'unknown' };
    await qmp?.close();
  }

  /** Pauses the vCPUs. A paused guest stays paused; an inactive one is `OPERATION_INVALID`. */
  async suspend(options: { signal?: AbortSignal; check?: StateCheck } = {}): Promise<void> {
    await this.#core.job(
      'suspend',
      async () => {
        const qmp = this.#core.requireMonitor();
        options.check?.(this.#core.state);
        if (this.#core.state.state === 'paused') return;
        await qmp.execute('stop', undefined, callOpts(options.signal));
        this.#core.ownStops++;
        this.#core.setState('paused', 'user');
        this.#core.lifecycle('suspended', 'paused');
      },
      options.signal,
    );
  }

  /** Resumes paused (or crashed and preserved) vCPUs. A running guest is left alone. */
  async resume(options: { signal?: AbortSignal; check?: StateCheck } = {}): Promise<void> {
    await this.#core.job(
      'resume',
      async () => {
        const qmp = this.#core.requireMonitor();
        options.check?.(this.#core.state);
        const s = this.#core.state.state;
        if (s === 'running') return;
        if (s !== 'paused' && s !== 'crashed') {
          throw new VirError(
            'OPERATION_INVALID',
            'qemu',
            `domain '${this.name}' is ${s} and cannot be resumed`,
          );
        }
        await qmp.execute('cont', undefined, callOpts(options.signal));
        this.#core.ownResumes++;
        this.#core.panicked = false;
        this.#core.setState('running', 'unpaused');
        this.#core.lifecycle('resumed', 'unpaused');
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
    await this.#core.job(
      'shutdown',
      async () => {
        const qmp = this.#core.requireMonitor();
        options.check?.(this.#core.state);
        done = this.#core.whenShutDown();
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
    await this.#core.job(
      'reboot',
      async () => {
        const qmp = this.#core.requireMonitor();
        this.#core.fakeReboot = true;
        this.#core.writeStatus();
        try {
          await qmp.execute('system_powerdown', undefined, callOpts(options.signal));
        } catch (err) {
          this.#core.fakeReboot = false;
          throw err;
        }
      },
      options.signal,
    );
  }

  /** Wakes a guest that suspended itself to RAM (S3), as libvirt's `virDomainPMWakeup`. */
  async pmWakeup(options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.#core.job(
      'pm-wakeup',
      async () => {
        const qmp = this.#core.requireMonitor();
        if (this.#core.state.state !== 'pmsuspended') {
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
    await this.#core.job(
      'reset',
      async () => {
        await this.#core.requireMonitor().execute('system_reset', undefined, callOpts(options.signal));
      },
      options.signal,
    );
  }

  /**
   * Stops the guest now: SIGTERM, then SIGKILL after `graceMs`. Works during
   * a start (which then fails with `OPERATION_ABORTED`) and while another
   * call waits on the monitor. Resolves once what the run held is released
   * and `stopped` is told (see `runner-stop.ts`). A guest already ending (its
   * QEMU gone) is waited for and then refused as not running, as libvirt's
   * destroy that waits for the stop job of a guest that ended by itself.
   */
  async destroy(options: DestroyOptions = {}): Promise<void> {
    throwIfAborted(options.signal, 'qemu');
    if (!this.#core.proc) {
      if (this.#core.stopping) await raceTimeout(this.#core.stopping, 0, options.signal);
      throwIfAborted(options.signal, 'qemu');
      throw new VirError('OPERATION_INVALID', 'qemu', `domain '${this.name}' is not running`);
    }
    this.#core.destroying = true;
    if (this.#core.starting) {
      this.#core.startAbort?.abort(new VirError('OPERATION_ABORTED', 'qemu', 'start cancelled by destroy'));
      // The start job kills the process and cleans up; wait for it.
      await this.#core.jobs.run(this.name, 'destroy', async () => {}, options.signal);
      return;
    }
    await this.#core.terminate(options.graceMs ?? this.#core.killTimeoutMs, options.signal);
    // the release was queued as a job when the process went (onProcessGone): this waits for it
    await this.#core.job('destroy', async () => {}, options.signal);
    await this.#core.stopping;
  }

  /**
   * Sets the balloon target. Needs a running guest with a balloon device;
   * the guest reaches the target only if it runs a balloon driver.
   */
  async setMemory(kib: number, options: { signal?: AbortSignal } = {}): Promise<void> {
    if (!Number.isSafeInteger(kib) || kib < 1 || kib > this.#core.guest.memoryKiB) {
      throw new VirError(
        'INVALID_ARG',
        'qemu',
        `memory ${kib} KiB is outside 1..${this.#core.guest.memoryKiB} KiB (the domain's maximum)`,
        { field: 'currentMemory' },
      );
    }
    await this.#core.job(
      'set-memory',
      async () => {
        const qmp = this.#core.requireMonitor();
        if (!this.#core.guest.memballoon) {
          throw new VirError('OPERATION_INVALID', 'qemu', `domain '${this.name}' has no memory balloon`);
        }
        await qmp.execute('balloon', { value: kib * 1024 }, callOpts(options.signal));
        this.#core.balloonKiB = kib;
        this.#core.writeStatus();
      },
      options.signal,
    );
  }
}

function callOpts(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

/**
 * Bringing a guest's process up, and finding one again: the start
 * sequence (directories, log, spawn in its own process group, monitor,
 * lifecycle actions, vCPU and CPU feature checks, balloon, `cont`) and the
 * re-attach from a status file (same pid, start time and binary, then the
 * monitor and QEMU's run state). Both work on a {@link RunnerCore}.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { DomainStateName } from '../../../driver.js';
import { throwIfAborted, toVirError, VirError } from '../../../errors.js';
import { QmpClient } from '../qmp/index.js';
import { cleanStaleTemps } from './atomic-file.js';
import {
  appendDomainLog,
  logTail,
  missingCpuFeatures,
  openDomainLog,
  qemuSaid,
  readLogTail,
} from './domain-log.js';
import { isProcessAlive, readProcExe, readProcStat, realpathOr, signalProcess } from './proc-info.js';
import { raceTimeout } from './race-timeout.js';
import { checkRunnerCommand, MAX_SOCKET_PATH, type RunnerCommand } from './runner-command.js';
import type { RunnerCore } from './runner-core.js';
import { validateRunnerGuest } from './runner-guest.js';
import { type DomainStatus, readStatus } from './status-file.js';
import { type HotpluggableCpu, vcpuHotplugCommands } from './vcpu-hotplug.js';

let nextDomainId = 1;
const defaultAllocateId = () => nextDomainId++;

export interface StartOptions {
  /** QEMU's command line for this guest's `paths`, from `buildCommandLine`. */
  readonly command: RunnerCommand;
  readonly signal?: AbortSignal;
  /** Leave the vCPUs paused once started. */
  readonly paused?: boolean;
  /** Milliseconds QEMU has to open its monitor this time; default the runner's `startTimeoutMs`. */
  readonly startTimeoutMs?: number;
  /**
   * The domain id of this run, when the caller allocated it to build the
   * command line for `runnerPaths(roots, guest, id)`; default a new one,
   * with the run directory named after the UUID.
   */
  readonly id?: number;
  /**
   * The driver's own work while QEMU waits at `-S` with its devices created
   * (read back pty paths and the vCPU's features, refuse a CPU it did not
   * get); returns the live XML to record from then on, if it changed.
   */
  readonly prepare?: (qmp: QmpClient, signal: AbortSignal) => Promise<string | undefined>;
  /** The guest receives a live migration (`-incoming`): it stays paused, started for `migrated`. */
  readonly incoming?: boolean;
  /** With `incoming`: the state comes from a save image, started for `restored`. */
  readonly restore?: boolean;
  /**
   * A revert to a snapshot boots the guest: it stays paused for
   * `snapshot-load` (or, with `incoming`, for an external snapshot's memory
   * file), started for `from snapshot`.
   */
  readonly fromSnapshot?: boolean;
}

export async function startGuest(core: RunnerCore, options: StartOptions): Promise<void> {
  if (core.proc) throw new VirError('OPERATION_INVALID', 'qemu', `domain '${core.name}' is already running`);
  validateRunnerGuest(core.guest);
  throwIfAborted(options.signal, 'qemu');
  core.runId = options.id;
  const guest = core.guest;
  const paths = core.paths;
  const qemuDir = join(core.options.stateRoot, 'qemu');
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
  refuseIfOwnedElsewhere(core);
  try {
    mkdirSync(qemuDir, { recursive: true, mode: 0o700 });
    mkdirSync(join(core.options.logRoot, 'qemu'), { recursive: true, mode: 0o700 });
    rmSync(runDir, { recursive: true, force: true });
    mkdirSync(runDir, { mode: 0o700 });
    // A process killed mid-write leaves its temporary status file behind.
    cleanStaleTemps(qemuDir);
  } catch (err) {
    throw toVirError(err, 'SYSTEM_ERROR', 'qemu', 'cannot create the domain directories');
  }
  const env = { ...command.env };
  const logFd = openDomainLog(core.logPath, emulator, command.argv.slice(1), env);
  core.emulator = emulator;

  core.starting = true;
  core.destroying = false;
  core.gotShutdown = false;
  core.shutdownSeen = false;
  core.ownStops = 0;
  core.ownResumes = 0;
  core.stopBelongsToEvent = false;
  core.fakeReboot = false;
  core.panicked = false;
  core.stopReason = undefined;
  core.balloonKiB = guest.currentMemoryKiB ?? guest.memoryKiB;
  const abort = new AbortController();
  core.startAbort = abort;
  const signal = options.signal ? AbortSignal.any([options.signal, abort.signal]) : abort.signal;

  let child: ChildProcess;
  try {
    child = spawn(emulator, command.argv.slice(1), {
      detached: true,
      stdio: ['ignore', logFd, logFd, ...(command.passFds ?? [])],
      env,
    });
  } catch (err) {
    core.starting = false;
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
  core.proc = { pid, pidStart: readProcStat(pid)?.startTicks ?? '0', child, gone };
  core.id = options.id ?? (core.options.allocateId ?? defaultAllocateId)();
  core.setState('paused', 'starting up', false);

  try {
    const qmp = await Promise.race([
      QmpClient.connect(socketPath, {
        retryForMs: options.startTimeoutMs ?? core.options.startTimeoutMs ?? 10_000,
        greetingTimeoutMs: options.startTimeoutMs ?? core.options.startTimeoutMs ?? 10_000,
        commandTimeoutMs: core.options.commandTimeoutMs ?? 30_000,
        signal,
      }),
      gone.then((): never => {
        // QEMU's own reason first: it names the option at fault, which our words cannot.
        const said = qemuSaid(core.logPath);
        const exit = `${emulator} ${exitInfo ?? 'exited'} before its monitor was ready`;
        throw new VirError('OPERATION_FAILED', 'qemu', said ? `${said} (${exit})` : exit);
      }),
    ]);
    if (core.proc?.child !== child) {
      await qmp.close();
      throw new VirError('OPERATION_ABORTED', 'qemu', 'start was cancelled');
    }
    core.attachMonitor(qmp);
    core.writeStatus();
    // As libvirt does with a QEMU that has set-action (6.0 on): the command line always says
    // -no-shutdown, and a guest reboot that must end the guest is turned into a power-off here.
    if (guest.onReboot === 'destroy') await qmp.execute('set-action', { reboot: 'shutdown' }, { signal });
    checkCpuFeatures(core);
    if (command.hotplugVcpus && command.hotplugVcpus.length > 0) {
      const slots = await qmp.execute<HotpluggableCpu[]>('query-hotpluggable-cpus', undefined, { signal });
      for (const dev of vcpuHotplugCommands(slots, command.hotplugVcpus))
        await qmp.execute('device_add', dev, { signal });
    }
    // QEMU accepted -smp (and the hot-plugged vCPUs); make sure it has the vCPUs the guest expects.
    const cpus = await qmp.execute<unknown[]>('query-cpus-fast', undefined, { signal });
    if (Array.isArray(cpus) && cpus.length !== guest.vcpus) {
      throw new VirError(
        'INTERNAL_ERROR',
        'qemu',
        `QEMU created ${cpus.length} vCPUs, the guest needs ${guest.vcpus}`,
      );
    }
    if (guest.memballoon && core.balloonKiB < guest.memoryKiB) {
      await qmp.execute('balloon', { value: core.balloonKiB * 1024 }, { signal });
    }
    for (const c of command.monitorCommands ?? []) await qmp.execute(c.execute, c.arguments, { signal });
    if (options.prepare) {
      const domainXml = await options.prepare(qmp, signal);
      if (domainXml !== undefined) core.guest = { ...core.guest, domainXml };
    }
    throwIfAborted(signal, 'qemu');
    const paused = options.paused === true || options.incoming === true || options.fromSnapshot === true;
    if (!paused) {
      await qmp.execute('cont', undefined, { signal });
      core.ownResumes++;
    }
    core.starting = false;
    core.startAbort = undefined;
    // a revert to an external memory snapshot is incoming (the memory file) and from snapshot
    const reason =
      options.incoming && !options.fromSnapshot
        ? 'migration'
        : options.fromSnapshot
          ? 'from snapshot'
          : paused
            ? 'user'
            : 'booted';
    core.setState(paused ? 'paused' : 'running', reason);
    appendDomainLog(core.logPath, `started, pid ${pid}`);
    for (const flag of command.taints ?? [])
      appendDomainLog(core.logPath, `Domain id=${core.id} is tainted: ${flag}`);
    const detail =
      options.incoming && !options.fromSnapshot
        ? options.restore
          ? 'restored'
          : 'migrated'
        : options.fromSnapshot
          ? 'from snapshot'
          : 'booted';
    // libvirt's RESUME handler turns the boot's `cont` into `resumed/unpaused`, and it
    // runs while `cont` is still pending, so it reaches listeners before `started`.
    if (!paused) core.lifecycle('resumed', 'unpaused');
    core.lifecycle('started', detail);
    if (options.paused && !options.incoming && !options.fromSnapshot) core.lifecycle('suspended', 'paused');
  } catch (err) {
    const destroyed = core.destroying;
    core.starting = false;
    core.startAbort = undefined;
    // Whether QEMU ended by itself rather than by our kill: then its own words say why.
    const qemuQuit = !(await abandonStart(core, child, gone));
    core.setState('shutoff', destroyed ? 'destroyed' : 'failed', false);
    appendDomainLog(core.logPath, `start failed: ${(err as Error).message}`);
    if (destroyed) {
      throw new VirError('OPERATION_ABORTED', 'qemu', `start of '${core.name}' cancelled by destroy`, {
        cause: err,
      });
    }
    if (err instanceof VirError && err.code === 'CPU_INCOMPATIBLE') throw err;
    const wrapped = toVirError(err, 'OPERATION_FAILED', 'qemu');
    // QEMU's own words (its stderr, in the log) say why better than a closed monitor does.
    const said = qemuQuit ? qemuSaid(core.logPath) : '';
    const message = wrapped.message.includes('before its monitor was ready')
      ? wrapped.message
      : said
        ? `${said} (${wrapped.message})`
        : `${wrapped.message}${logTail(core.logPath)}`;
    // the field at fault stays named (a tunable the start's cgroups refused)
    throw new VirError(wrapped.code, 'qemu', `starting '${core.name}': ${message}`, {
      cause: err,
      ...(wrapped.field !== undefined ? { field: wrapped.field } : {}),
    });
  }
}

/**
 * QEMU warns about each requested CPU feature it cannot give while it
 * creates the vCPUs, before its monitor answers; with a checked model any
 * such warning fails the start, as libvirt's check of the guest CPU does.
 */
function checkCpuFeatures(core: RunnerCore): void {
  const check = core.guest.cpuCheck;
  if (!check) return;
  const missing = missingCpuFeatures(readLogTail(core.logPath, 8192));
  if (missing.length === 0) return;
  throw new VirError(
    'CPU_INCOMPATIBLE',
    'qemu',
    `starting '${core.name}': the host cannot give CPU '${check.model}' these features: ${missing.join(', ')}`,
    { field: 'cpu' },
  );
}

/** Kills what is left of a failed start; true when QEMU was still running and had to be killed. */
async function abandonStart(core: RunnerCore, child: ChildProcess, gone: Promise<void>): Promise<boolean> {
  const qmp = core.qmp;
  core.qmp = undefined;
  let killed = false;
  if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
    // A QEMU that closed its monitor on the way out may not have been reaped yet.
    killed = (await raceTimeout(gone, 100, undefined)) !== 'done';
    if (killed) signalProcess(child.pid, 'SIGKILL');
  }
  await gone;
  await qmp?.close();
  core.clearRuntime();
  return killed;
}

/** Refuses to start over a guest another runner or process still runs. */
function refuseIfOwnedElsewhere(core: RunnerCore): void {
  let status: DomainStatus;
  try {
    status = readStatus(core.statusPath);
  } catch {
    return;
  }
  if (isProcessAlive(status.pid) && readProcStat(status.pid)?.startTicks === status.pidStart) {
    throw new VirError(
      'OPERATION_INVALID',
      'qemu',
      `domain '${core.name}' is already running (pid ${status.pid}); re-attach to it instead`,
    );
  }
}

export async function reattachGuest(
  core: RunnerCore,
  status: DomainStatus,
  signal: AbortSignal | undefined,
): Promise<void> {
  const stat = readProcStat(status.pid);
  // Same pid, same start time and still running the emulator: our QEMU, not a re-used pid.
  const exe = readProcExe(status.pid)?.replace(/ \(deleted\)$/, '');
  const alive =
    stat !== undefined &&
    stat.state !== 'Z' &&
    stat.startTicks === status.pidStart &&
    (exe === undefined || exe === realpathOr(status.emulator));
  core.id = status.id;
  // The run directory was named after the id when its name says so (see runnerPaths).
  core.runId = basename(dirname(status.monitorPath)).startsWith(`domain-${status.id}-`)
    ? status.id
    : undefined;
  core.emulator = status.emulator;
  if (!alive) {
    appendDomainLog(core.logPath, `found dead after a restart (pid ${status.pid}); cleaning up`);
    core.clearRuntime();
    core.setState('shutoff', 'crashed', false);
    return;
  }
  let qmp: QmpClient;
  try {
    const connectOpts: Parameters<typeof QmpClient.connect>[1] = {
      greetingTimeoutMs: core.options.startTimeoutMs ?? 10_000,
      commandTimeoutMs: core.options.commandTimeoutMs ?? 30_000,
    };
    if (signal) connectOpts.signal = signal;
    qmp = await QmpClient.connect(status.monitorPath, connectOpts);
  } catch (err) {
    core.id = -1;
    throw toVirError(
      err,
      'OPERATION_FAILED',
      'qemu',
      `cannot re-attach to '${core.name}' (pid ${status.pid})`,
    );
  }
  core.gotShutdown = status.gotShutdown;
  core.fakeReboot = status.fakeReboot;
  core.balloonKiB = status.balloonKiB;
  const gone = pollUntilGone(core, status.pid);
  core.proc = { pid: status.pid, pidStart: status.pidStart, child: undefined, gone };
  core.attachMonitor(qmp);
  // QEMU's own run state is the truth; our file may predate the last event.
  try {
    const qs = await qmp.execute<{ status?: string; running?: boolean }>(
      'query-status',
      undefined,
      signal ? { signal } : {},
    );
    const [state, reason] = stateFromRunState(qs.status, status);
    core.panicked = qs.status === 'guest-panicked';
    core.setState(state, reason);
    // The guest powered off while nobody watched: do now what its SHUTDOWN asked for.
    if (qs.status === 'shutdown') core.onShutdownEvent({ guest: true, reason: 'guest-shutdown' }, false);
  } catch (err) {
    // The process died while we reconnected: the gone handler reports it.
    if (core.proc) throw toVirError(err, 'OPERATION_FAILED', 'qemu', `re-attaching to '${core.name}'`);
  }
}

/** Watches a process that is not our child: its monitor closing prompts a look in /proc. */
function pollUntilGone(core: RunnerCore, pid: number): Promise<void> {
  return new Promise((resolve) => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = (delay: number) => {
      timer = setTimeout(() => {
        if (!isProcessAlive(pid)) {
          core.stopPolling = undefined;
          resolve();
        } else check(Math.min(delay * 2, 500));
      }, delay);
      timer.unref();
    };
    core.stopPolling = () => {
      if (timer) clearTimeout(timer);
    };
    // Slow polling until the monitor closes; fast once it has.
    check(1000);
    core.onMonitorClosed = () => {
      if (timer) clearTimeout(timer);
      check(10);
    };
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

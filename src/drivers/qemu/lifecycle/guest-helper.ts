/**
 * A helper process a guest needs beside QEMU (swtpm for an emulated TPM;
 * virtiofsd and passt are the same shape): started before QEMU, ready once
 * it has created its socket, stopped after QEMU, and watched in between.
 *
 * A helper is described by a {@link HelperSpec} (argv, log, the socket that
 * says it is ready, files it leaves behind); {@link startHelper} runs it or
 * throws a typed error having killed it and removed its files, so a refused
 * start leaves nothing running and nothing on disk.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, fstatSync, mkdirSync, openSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { VirError } from '../../../errors.js';
import { readLogTail } from './domain-log.js';
import { signalProcess } from './proc-info.js';

export interface HelperSpec {
  /** What the helper is, for messages (`swtpm`). */
  readonly name: string;
  /** Binary first, one argument per element. */
  readonly argv: readonly string[];
  /** Where its stdout and stderr go (appended), and where a failure's reason is read from. */
  readonly logFile: string;
  /** The socket the helper creates once it serves; its existence is the readiness signal. */
  readonly socket: string;
  /** Runtime files (socket, pid file) removed when the helper is stopped or fails. */
  readonly runtimeFiles: readonly string[];
  /** Milliseconds the helper has to create its socket. */
  readonly readyTimeoutMs?: number;
  readonly env?: Readonly<Record<string, string>>;
}

/** How a helper ended, for the domain log and the lifecycle reaction. */
export interface HelperExit {
  readonly name: string;
  readonly code: number | null;
  readonly signal: string | null;
}

export interface RunningHelper {
  readonly name: string;
  readonly pid: number;
  readonly socket: string;
  /** Called once if the helper ends before {@link stop} was asked. */
  onUnexpectedExit(listener: (exit: HelperExit) => void): void;
  /** SIGTERM, SIGKILL after `graceMs`, waits for the process, removes its runtime files. */
  stop(graceMs?: number): Promise<void>;
}

const POLL_MS = 20;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function logSize(path: string): number {
  try {
    const fd = openSync(path, 'r');
    try {
      return fstatSync(fd).size;
    } finally {
      closeSync(fd);
    }
  } catch {
    return 0;
  }
}

function removeFiles(files: readonly string[]): void {
  for (const f of files) rmSync(f, { force: true });
}

/**
 * Runs the helper and waits for its socket. Throws `OPERATION_FAILED` with
 * the end of its log when it exits first, `OPERATION_TIMEOUT` when it does
 * not get ready in time (it is killed), `OPERATION_ABORTED` on `signal`.
 */
export async function startHelper(spec: HelperSpec, signal?: AbortSignal): Promise<RunningHelper> {
  const binary = spec.argv[0];
  if (binary === undefined || !binary.startsWith('/'))
    throw new VirError('INVALID_ARG', 'qemu', `${spec.name}: the binary must be an absolute path`);
  for (const f of spec.runtimeFiles) mkdirSync(dirname(f), { recursive: true, mode: 0o700 });
  mkdirSync(dirname(spec.logFile), { recursive: true, mode: 0o700 });
  // A socket left by a helper that died with the host would look ready at once.
  removeFiles(spec.runtimeFiles);
  const logFd = openSync(spec.logFile, 'a', 0o600);
  const logStart = fstatSync(logFd).size;
  let child: ChildProcess;
  try {
    // Its own process group, like QEMU: a guest that outlives this Node process keeps its helper.
    child = spawn(binary, spec.argv.slice(1), {
      detached: true,
      stdio: ['ignore', logFd, logFd],
      env: { ...(spec.env ?? { PATH: '/usr/bin:/bin' }) },
    });
  } finally {
    closeSync(logFd);
  }
  let exit: HelperExit | undefined;
  let stopping = false;
  const listeners: Array<(e: HelperExit) => void> = [];
  const gone = new Promise<void>((resolve) => {
    child.once('error', () => {
      exit ??= { name: spec.name, code: null, signal: null };
      resolve();
    });
    child.once('exit', (code, sig) => {
      exit = { name: spec.name, code, signal: sig };
      resolve();
    });
  });
  void gone.then(() => {
    removeFiles(spec.runtimeFiles);
    if (!stopping && exit) for (const l of listeners.splice(0)) l(exit);
  });
  const pid = child.pid ?? -1;
  const stop = async (graceMs = 3000): Promise<void> => {
    stopping = true;
    if (!exit && pid > 0) {
      signalProcess(pid, 'SIGTERM');
      const done = await Promise.race([gone.then(() => true), sleep(graceMs).then(() => false)]);
      if (!done) signalProcess(pid, 'SIGKILL');
    }
    await gone;
    removeFiles(spec.runtimeFiles);
  };
  const deadline = Date.now() + (spec.readyTimeoutMs ?? 10_000);
  for (;;) {
    // Only the file's existence: a probing connection could count as the client (swtpm --terminate).
    if (exit === undefined && existsSync(spec.socket)) break;
    if (exit !== undefined) {
      await stop();
      const how = exit.signal ? `signal ${exit.signal}` : `status ${exit.code ?? '?'}`;
      // what this run wrote, not an earlier run's lines
      const written = logSize(spec.logFile) - logStart;
      const tail = written > 0 ? readLogTail(spec.logFile, Math.min(written, 2048)).trim() : '';
      throw new VirError(
        'OPERATION_FAILED',
        'qemu',
        `${spec.name} exited with ${how} before it was ready${tail ? `: ${tail}` : ''}`,
      );
    }
    if (signal?.aborted) {
      await stop(0);
      throw new VirError('OPERATION_ABORTED', 'qemu', `start of ${spec.name} cancelled`);
    }
    if (Date.now() > deadline) {
      await stop(0);
      throw new VirError(
        'OPERATION_TIMEOUT',
        'qemu',
        `${spec.name} did not create ${spec.socket} within ${spec.readyTimeoutMs ?? 10_000} ms`,
      );
    }
    await sleep(POLL_MS);
  }
  return {
    name: spec.name,
    pid,
    socket: spec.socket,
    onUnexpectedExit: (l) => {
      if (exit && !stopping) l(exit);
      else listeners.push(l);
    },
    stop,
  };
}

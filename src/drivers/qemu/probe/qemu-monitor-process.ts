/**
 * Starts a QEMU process with its QMP monitor connected to us, and stops it.
 *
 * We listen on a unix socket in a private directory and let QEMU connect to
 * it as a client (`-chardev socket,path=...` without `server`), so there is
 * no polling for a socket file: the greeting arrives as soon as QEMU is up,
 * and a QEMU that dies first is seen through its exit. Every failure kills
 * the process and removes the socket before it is reported.
 *
 * @module
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { VirError } from '../../../errors.js';
import { optValue } from '../command-line/escape.js';
import { QmpClient } from '../qmp/qmp-client.js';
import { QmpError } from '../qmp/qmp-error.js';

export interface MonitorProcessOptions {
  /** The QEMU binary. */
  binary: string;
  /** Arguments besides the monitor ones. */
  args: readonly string[];
  /** A private directory for the socket (created by the caller, removed by the caller). */
  dir: string;
  signal?: AbortSignal;
  /** Milliseconds QEMU has to connect and greet. Default 10 s. */
  startTimeoutMs?: number;
  /** Default per-command timeout for the QMP client. */
  commandTimeoutMs?: number;
  /** Environment for QEMU; default a minimal one (PATH, HOME, LC_ALL=C). */
  env?: NodeJS.ProcessEnv;
}

export interface MonitorProcess {
  readonly child: ChildProcess;
  readonly qmp: QmpClient;
  /** What QEMU wrote to stderr so far (capped). */
  stderr(): string;
  /** Kills QEMU (SIGKILL unless it already exited) and waits for it to be reaped. Idempotent. */
  kill(): Promise<void>;
}

const STDERR_CAP = 64 * 1024;

export async function startMonitorProcess(opts: MonitorProcessOptions): Promise<MonitorProcess> {
  const socketPath = join(opts.dir, 'qmp.sock');
  // The directory is the caller's: a comma in it must not end QEMU's path option,
  // and a newline cannot be passed at all (refused before anything starts).
  const monitorOption = `socket,id=vkmon,path=${optValue(socketPath, 'runDir')}`;
  const server = createServer();
  await listen(server, socketPath);
  let child: ChildProcess;
  try {
    child = spawn(
      opts.binary,
      [...opts.args, '-chardev', monitorOption, '-mon', 'chardev=vkmon,mode=control'],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: opts.env ?? {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          HOME: process.env.HOME ?? '/',
          LC_ALL: 'C',
        },
      },
    );
  } catch (err) {
    server.close();
    rmSync(socketPath, { force: true });
    throw new VirError('OPERATION_FAILED', 'qemu', `cannot start ${opts.binary}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (s: string) => {
    if (stderr.length < STDERR_CAP) stderr += s.slice(0, STDERR_CAP - stderr.length);
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => resolve({ code, signal }));
    },
  );
  let reaped = false;
  void exited.then(() => {
    reaped = true;
  });

  const kill = async (): Promise<void> => {
    if (!reaped && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    // stderr may still be open a moment after exit; make sure no handle stays behind.
    child.stderr?.destroy();
  };

  const timeoutMs = opts.startTimeoutMs ?? 10_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    const socket = await new Promise<Socket>((resolve, reject) => {
      server.once('connection', resolve);
      timer = setTimeout(
        () =>
          reject(
            new QmpError('timeout', `${opts.binary} did not connect its monitor within ${timeoutMs} ms`),
          ),
        timeoutMs,
      );
      onAbort = () =>
        reject(new QmpError('aborted', 'starting QEMU aborted', { cause: opts.signal?.reason }));
      if (opts.signal?.aborted) onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      void exited.then(({ code, signal, error }) => {
        if (error) {
          reject(
            new VirError('OPERATION_FAILED', 'qemu', `cannot start ${opts.binary}: ${error.message}`, {
              cause: error,
            }),
          );
        } else {
          const how = signal ? `signal ${signal}` : `status ${code}`;
          reject(
            new VirError(
              'OPERATION_FAILED',
              'qemu',
              `${opts.binary} exited with ${how} before its monitor was ready${stderrTail(stderr)}`,
            ),
          );
        }
      });
    });
    const openOpts: { signal?: AbortSignal; greetingTimeoutMs: number; commandTimeoutMs?: number } = {
      greetingTimeoutMs: timeoutMs,
    };
    if (opts.signal) openOpts.signal = opts.signal;
    if (opts.commandTimeoutMs !== undefined) openOpts.commandTimeoutMs = opts.commandTimeoutMs;
    const qmp = await Promise.race([
      QmpClient.open(socket, openOpts),
      exited.then(({ code, signal }) => {
        throw new VirError(
          'OPERATION_FAILED',
          'qemu',
          `${opts.binary} exited with ${signal ? `signal ${signal}` : `status ${code}`} during the QMP handshake${stderrTail(stderr)}`,
        );
      }),
    ]);
    return {
      child,
      qmp,
      stderr: () => stderr,
      async kill() {
        await qmp.close();
        await kill();
      },
    };
  } catch (err) {
    await kill();
    throw err;
  } finally {
    if (timer) clearTimeout(timer);
    if (onAbort) opts.signal?.removeEventListener('abort', onAbort);
    server.close();
    rmSync(socketPath, { force: true });
  }
}

function listen(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new VirError('OPERATION_FAILED', 'qemu', `cannot listen on ${path}: ${err.message}`, { cause: err }),
      ),
    );
    server.listen(path, () => resolve());
  });
}

function stderrTail(stderr: string): string {
  const t = stderr.trim();
  if (t === '') return '';
  return `: ${t.length > 500 ? `...${t.slice(-500)}` : t}`;
}

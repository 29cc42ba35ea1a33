/**
 * A running guest's side of a save and of a restore: a migration whose
 * other end is a file. QEMU 7.2 has no `file:` migration URI and Node
 * cannot pass a descriptor over the monitor socket (SCM_RIGHTS), so the
 * stream goes through a unix socket this process serves: on save QEMU
 * connects to ours and we write what it sends into the image after its
 * header; on restore QEMU listens (`-incoming defer`, `migrate-incoming`)
 * and we send it the image. Memory stays bounded (streams with
 * back-pressure); no shell, no `exec:`.
 *
 * States and events as libvirt's: the guest pauses for the save
 * (`paused/save`, `suspended/paused`) and ends `shutoff/saved`
 * (`stopped/saved`); a save that fails resumes it (`running/save
 * canceled`). A restored guest starts `started/restored`, then runs
 * `running/restored` with the event libvirt 9.0 sends for that reason,
 * `resumed/from snapshot`; or it stays `paused/migration`, the state of
 * an incoming migration, with `suspended/restored`, or `suspended/paused`
 * when a start from a managed save image was asked to pause.
 *
 * @module
 */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { VirError } from '../../../errors.js';
import type { QmpClient } from '../qmp/index.js';
import type { RunnerMigration } from './runner-migration.js';

/** How long the stream may make no progress before the save or restore is failed. */
const STALL_MS = 30_000;

/** Pauses a running guest for its save; returns whether it did (a paused guest stays as it is). */
export function pauseForSave(m: RunnerMigration): Promise<boolean> {
  const core = m.core;
  return core.job('save pause', async () => {
    const qmp = core.requireMonitor();
    if (core.state.state !== 'running') return false;
    await qmp.execute('stop');
    core.ownStops++;
    core.setState('paused', 'save');
    core.lifecycle('suspended', 'paused');
    return true;
  });
}

/** A save that failed after {@link pauseForSave}: the guest runs on. */
export function resumeAfterSave(m: RunnerMigration): Promise<void> {
  const core = m.core;
  return core.job('save resume', async () => {
    const qmp = core.requireMonitor();
    if (core.state.state !== 'paused' || core.state.reason !== 'save') return;
    await qmp.execute('cont');
    core.ownResumes++;
    core.setState('running', 'save canceled');
    core.lifecycle('resumed', 'unpaused');
  });
}

/** Ends QEMU once its state is in the image: `shutoff/saved`, event `stopped/saved`. */
export async function endSaved(m: RunnerMigration): Promise<void> {
  const core = m.core;
  core.stopReason = 'saved';
  // Like a destroy: QEMU's SHUTDOWN on our SIGTERM is no shutdown of the guest's.
  core.destroying = true;
  await core.terminate(core.killTimeoutMs);
  await core.job('save end', async () => {});
}

/**
 * Once the image is sent: waits until QEMU has loaded the whole state, then
 * runs the guest (`run`) or leaves it paused (`pausedByCaller`: by a start's
 * paused flag, where a restore's own paused flag counts as the image's state).
 */
export function finishRestore(m: RunnerMigration, run: boolean, pausedByCaller: boolean): Promise<void> {
  const core = m.core;
  return core.job('restore', async () => {
    const qmp = core.requireMonitor();
    await untilStreamLoaded(qmp, STALL_MS, `restore of '${core.name}' did not complete`);
    if (run) {
      await qmp.execute('cont');
      core.ownResumes++;
      core.setState('running', 'restored');
      // libvirt's RESUME handler words a restore's running reason as a snapshot's.
      core.lifecycle('resumed', 'from snapshot');
      return;
    }
    core.setState('paused', 'migration');
    core.lifecycle('suspended', pausedByCaller ? 'paused' : 'restored');
  });
}

/**
 * Waits until QEMU has loaded the whole incoming stream (a save image, a
 * memory snapshot's file): `query-migrate` says completed. A stream that
 * failed, was cancelled or is still not loaded after `ms` is
 * `OPERATION_FAILED`: `failure`, then QEMU's reason.
 */
export async function untilStreamLoaded(qmp: QmpClient, ms: number, failure: string): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const q = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
    if (q.status === 'completed') return;
    if (q.status === 'failed' || q.status === 'cancelled' || Date.now() > until) {
      const why = q['error-desc'] ?? q.status ?? 'no status';
      throw new VirError('OPERATION_FAILED', 'qemu', `${failure}: ${why}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A socket QEMU's outgoing migration connects to, written into `file` from `offset`. */
export interface SaveSink {
  /** The `migrate` URI. */
  readonly uri: string;
  /** Settles once QEMU's stream has ended and is written (rejects on a write error or a stall). */
  readonly done: Promise<void>;
  /** Stops listening and drops a connection still open. */
  close(): void;
}

/** Listens on `socketPath` for one connection and writes it into `file` at `offset`. */
export async function listenForSave(socketPath: string, file: string, offset: number): Promise<SaveSink> {
  let conn: Socket | undefined;
  let settle: { resolve: () => void; reject: (e: unknown) => void } | undefined;
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject };
  });
  done.catch(() => {});
  const server: Server = createServer((socket) => {
    if (conn) {
      socket.destroy();
      return;
    }
    conn = socket;
    server.close();
    watchStall(socket, 'save');
    pipeline(socket, createWriteStream(file, { flags: 'r+', start: offset })).then(
      () => settle?.resolve(),
      (err: unknown) => settle?.reject(err),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    uri: `unix:${socketPath}`,
    done,
    close() {
      server.close();
      conn?.destroy();
    },
  };
}

/** Sends `file` from `offset` to the QEMU listening on `socketPath` (its `migrate-incoming`). */
export async function sendImage(socketPath: string, file: string, offset: number): Promise<void> {
  const socket = connect(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  watchStall(socket, 'restore');
  const length = statSync(file).size - offset;
  const image = createReadStream(file, { start: offset });
  try {
    await pipeline(image, socket);
  } catch (err) {
    // QEMU closes its end once it has read the stream's last section, which on a busy host can
    // come before our half-close is acknowledged, even before the file's end is signalled: Node
    // calls that a premature close. Every byte was read from the image by then, and whether the
    // stream was whole is QEMU's to say: the caller waits for the incoming migration to
    // complete (or fail) next.
    if (image.bytesRead >= length && (err as { code?: string }).code === 'ERR_STREAM_PREMATURE_CLOSE') return;
    throw err;
  }
}

/** Fails a stream that moves no byte for {@link STALL_MS} (a QEMU that stopped reading or writing). */
function watchStall(socket: Socket, what: string): void {
  socket.setTimeout(STALL_MS, () => {
    socket.destroy(
      new VirError('OPERATION_TIMEOUT', 'qemu', `${what} stream made no progress for ${STALL_MS} ms`),
    );
  });
}

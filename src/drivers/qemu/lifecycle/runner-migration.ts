/**
 * A running guest's side of a live migration, over its monitor: the
 * migration capabilities both QEMUs must agree on, the outgoing `migrate`
 * watched with `query-migrate` until it ends (progress as libvirt's job
 * info, abort with `migrate_cancel`), the incoming side's `migrate-incoming`
 * and its resume, and the source's end once the guest runs elsewhere.
 *
 * The states and events follow libvirt's QEMU driver: the source pauses for
 * `migration` when QEMU stops its vCPUs for the last pass and ends
 * `shutoff/migrated` (event `stopped/migrated`); the destination starts
 * paused for `migration` (`started/migrated`) and runs once the state has
 * arrived (`resumed/migrated`, running reason `migrated`). A migration that
 * does not complete leaves the source running (QEMU resumes a guest it
 * stopped for a pass that failed; we resume one it completed when the
 * destination could not take it).
 *
 * @module
 */
import type { DomainJobInfo } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import type { QmpClient } from '../qmp/index.js';
import type { QmpMigrationStats } from './job-stats.js';
import type { RunnerCore } from './runner-core.js';

/** The optional migration features (`VIR_MIGRATE_COMPRESSED` xbzrle, `AUTO_CONVERGE`, `POSTCOPY`). */
export interface MigrationCapabilities {
  readonly xbzrle?: boolean;
  readonly autoConverge?: boolean;
  readonly postcopy?: boolean;
}

/** Progress of a migration, as libvirt's job info (see {@link DomainJobInfo}). */
export type MigrationJobInfo = DomainJobInfo;

export interface MigrateOutOptions {
  /** Where the destination QEMU listens (`unix:<path>`, `tcp:host:port`). */
  readonly uri: string;
  readonly capabilities?: MigrationCapabilities;
  /** MiB/s, libvirt's unit for migration bandwidth; default unlimited. */
  readonly bandwidth?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (info: MigrationJobInfo) => void;
  /** Milliseconds between two `query-migrate` (default 50). */
  readonly pollMs?: number;
  /**
   * The state reason and event detail of QEMU's own pause at the end of a
   * live stream (default `migration` / `migrated`): a live memory snapshot
   * ends `paused/snapshot`, its event `suspended/paused`, as libvirt's.
   */
  readonly pausedAs?: { readonly reason: string; readonly detail: string };
}

/** libvirt's "unlimited" bandwidth: QEMU's largest rate, in bytes per second. */
const UNLIMITED_BYTES_PER_S = 2 ** 53 - 1;
const MIB = 1024 * 1024;

interface QmpMigrateInfo extends QmpMigrationStats {
  'expected-downtime'?: number;
  'error-desc'?: string;
}

/** Sets the capabilities on one side; both QEMUs of a migration must have the same. */
export async function setMigrationCapabilities(
  qmp: QmpClient,
  caps: MigrationCapabilities,
  signal?: AbortSignal,
): Promise<void> {
  const list = [
    { capability: 'xbzrle', state: caps.xbzrle === true },
    { capability: 'auto-converge', state: caps.autoConverge === true },
    { capability: 'postcopy-ram', state: caps.postcopy === true },
  ];
  await qmp.execute('migrate-set-capabilities', { capabilities: list }, signal ? { signal } : {});
}

/** The destination's listening side of `-incoming defer`. */
export async function startIncoming(qmp: QmpClient, uri: string, signal?: AbortSignal): Promise<void> {
  await qmp.execute('migrate-incoming', { uri }, signal ? { signal } : {});
}

export function jobInfoOf(m: QmpMigrateInfo): MigrationJobInfo {
  const status = m.status ?? 'none';
  const type =
    status === 'completed'
      ? 'completed'
      : status === 'failed'
        ? 'failed'
        : status === 'cancelled'
          ? 'cancelled'
          : 'unbounded';
  const total = m.ram?.total ?? 0;
  const remaining = m.ram?.remaining ?? 0;
  const processed = m.ram?.transferred ?? 0;
  const downtime = type === 'completed' ? m.downtime : m['expected-downtime'];
  return {
    type,
    status,
    timeElapsed: m['total-time'] ?? 0,
    dataTotal: total,
    dataProcessed: processed,
    dataRemaining: remaining,
    memTotal: total,
    memProcessed: processed,
    memRemaining: remaining,
    ...(downtime !== undefined ? { downtime } : {}),
  };
}

const ENDED = new Set(['completed', 'failed', 'cancelled']);

/** A completed migration out: its last progress, and QEMU's last `query-migrate` (the job's statistics). */
export interface MigrationOutcome extends MigrationJobInfo {
  readonly stats: QmpMigrationStats;
}

export class RunnerMigration {
  constructor(readonly core: RunnerCore) {}

  /**
   * Sends the guest to `uri` and waits for the end. Completed: the source
   * is left paused for `migration` (call {@link endMigrated} once the
   * destination runs, or {@link resumeSource} when it cannot). Cancelled
   * through `signal`: `OPERATION_ABORTED`; failed: `OPERATION_FAILED` with
   * QEMU's reason; the source runs on in both.
   */
  migrateOut(opts: MigrateOutOptions): Promise<MigrationOutcome> {
    const core = this.core;
    return core.job('migration out', async () => {
      const qmp = core.requireMonitor();
      if (opts.signal?.aborted) throw aborted(core.name);
      await setMigrationCapabilities(qmp, opts.capabilities ?? {});
      const rate = opts.bandwidth !== undefined ? opts.bandwidth * MIB : UNLIMITED_BYTES_PER_S;
      await qmp.execute('migrate-set-parameters', { 'max-bandwidth': rate });
      await qmp.execute('migrate', { uri: opts.uri });
      let cancelSent = false;
      let info: MigrationJobInfo;
      let raw: QmpMigrateInfo;
      for (;;) {
        if (opts.signal?.aborted && !cancelSent) {
          cancelSent = true;
          await qmp.execute('migrate_cancel');
        }
        raw = await qmp.execute<QmpMigrateInfo>('query-migrate');
        info = jobInfoOf(raw);
        if (ENDED.has(info.status)) {
          if (info.type === 'failed') {
            const m = await qmp.execute<QmpMigrateInfo>('query-migrate');
            const why = m['error-desc'] ?? 'QEMU gave no reason';
            if (cancelSent) throw aborted(core.name);
            throw new VirError('OPERATION_FAILED', 'qemu', `migration of '${core.name}' failed: ${why}`);
          }
          break;
        }
        opts.onProgress?.(info);
        await sleep(opts.pollMs ?? 50);
      }
      // QEMU paused the vCPUs for the last pass; the STOP event's handler, queued behind this job, sees it done.
      if (info.type === 'completed' && core.state.state === 'running') {
        core.setState('paused', opts.pausedAs?.reason ?? 'migration');
        core.lifecycle('suspended', opts.pausedAs?.detail ?? 'migrated');
      }
      opts.onProgress?.(info);
      if (info.type === 'cancelled' || cancelSent) {
        if (info.type === 'completed') await this.#resume(qmp);
        throw aborted(core.name);
      }
      return { ...info, stats: raw };
    });
  }

  /** The destination side: waits until QEMU has the whole state, then runs the guest. */
  finishIncoming(signal?: AbortSignal, timeoutMs = 30_000): Promise<void> {
    const core = this.core;
    return core.job(
      'migration in',
      async () => {
        const qmp = core.requireMonitor();
        const until = Date.now() + timeoutMs;
        for (;;) {
          const m = await qmp.execute<QmpMigrateInfo>('query-migrate');
          if (m.status === 'completed') break;
          if (m.status === 'failed' || m.status === 'cancelled' || Date.now() > until) {
            throw new VirError(
              'OPERATION_FAILED',
              'qemu',
              `incoming migration of '${core.name}' did not complete: ${m['error-desc'] ?? m.status ?? 'no status'}`,
            );
          }
          await sleep(20);
        }
        await qmp.execute('cont', undefined, signal ? { signal } : {});
        core.ownResumes++;
        core.setState('running', 'migrated');
        core.lifecycle('resumed', 'migrated');
      },
      signal,
    );
  }

  /** A migration without `live`: the vCPUs stop for the whole copy (`paused/migration`, `suspended/migrated`). */
  pauseForCopy(): Promise<void> {
    const core = this.core;
    return core.job('migration pause', async () => {
      const qmp = core.requireMonitor();
      if (core.state.state !== 'running') return;
      await qmp.execute('stop');
      core.ownStops++;
      core.setState('paused', 'migration');
      core.lifecycle('suspended', 'migrated');
    });
  }

  /** A migration that did not complete after the source paused for it: the source carries on. */
  resumeSource(): Promise<void> {
    return this.core.job('migration resume', async () => {
      const qmp = this.core.requireMonitor();
      if (this.core.state.state === 'paused' && this.core.state.reason === 'migration')
        await this.#resume(qmp);
    });
  }

  /** Ends the source QEMU once the guest runs on the destination: `stopped/migrated`. */
  async endMigrated(): Promise<void> {
    const core = this.core;
    core.stopReason = 'migrated';
    // Like a destroy: QEMU's SHUTDOWN on our SIGTERM is no shutdown of the guest's.
    core.destroying = true;
    await core.terminate(core.killTimeoutMs);
    await core.job('migration end', async () => {});
  }

  /** Ends a destination whose migration did not complete: `stopped/failed`, as libvirt reports it. */
  async abandonIncoming(): Promise<void> {
    const core = this.core;
    if (!core.proc) return;
    core.stopReason = 'failed';
    core.destroying = true;
    await core.terminate(0);
    await core.job('migration abandon', async () => {});
  }

  async #resume(qmp: QmpClient): Promise<void> {
    await qmp.execute('cont');
    this.core.ownResumes++;
    this.core.setState('running', 'migration canceled');
    this.core.lifecycle('resumed', 'migrated');
  }
}

function aborted(name: string): VirError {
  return new VirError('OPERATION_ABORTED', 'qemu', `migration of '${name}' was cancelled; it runs on here`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

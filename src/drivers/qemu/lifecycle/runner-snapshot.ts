/**
 * A running guest's side of internal snapshots: QEMU's `snapshot-save`,
 * `snapshot-load` and `snapshot-delete` (QEMU 6.0 on), which run as
 * background jobs. Each is started with a job id of ours and read to its end:
 * the `JOB_STATUS_CHANGE` event to `concluded`, then `query-jobs` for its
 * error, then `job-dismiss` so no finished job stays behind in QEMU.
 *
 * States and events as libvirt's: a running guest is paused around a save
 * (`paused/snapshot`, `suspended/paused`) and runs again afterwards
 * (`running/unpaused`, `resumed/unpaused`), also when the save failed. A
 * revert pauses it `paused/from snapshot` (`suspended/from snapshot`),
 * loads the state and runs it (`running/from snapshot`, `resumed/from
 * snapshot`) or leaves it paused, as the snapshot's state says.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import type { QmpClient, QmpEvent } from '../qmp/index.js';
import { nextNodeNumber } from './node-numbers.js';
import { blockCommit, blockJobsRunning, type CommitRequest } from './runner-block-commit.js';
import type { RunnerCore } from './runner-core.js';

/** How long one snapshot job may run (saving several GiB of RAM to a slow disk takes a while). */
const JOB_TIMEOUT_MS = 10 * 60_000;

let jobCounter = 0;

/** The QMP block node of each disk, by the disk's device id (its alias). */
export type DiskNodes = ReadonlyMap<string, string>;

export class RunnerSnapshot {
  constructor(readonly core: RunnerCore) {}

  /**
   * The top block node of every disk with a medium, by device id: what the
   * snapshot jobs take as `vmstate` and `devices`. QEMU names a disk's
   * device by its qdev id or, for virtio, by a path ending in it.
   */
  diskNodes(): Promise<DiskNodes> {
    return this.core.job('snapshot disks', async () => nodesOf(this.core.requireMonitor()));
  }

  /** `snapshot-save` with the guest paused around it, as libvirt pauses it. */
  save(tag: string, vmstate: string, devices: readonly string[], signal?: AbortSignal): Promise<void> {
    const core = this.core;
    return core.job(
      'snapshot save',
      async () => {
        const qmp = core.requireMonitor();
        const wasRunning = core.state.state === 'running';
        if (wasRunning) {
          await qmp.execute('stop');
          core.ownStops++;
          core.setState('paused', 'snapshot');
          core.lifecycle('suspended', 'paused');
        }
        try {
          await runJob(qmp, 'snapshot-save', { tag, vmstate, devices: [...devices] }, signal);
        } finally {
          if (wasRunning && core.proc) {
            await qmp.execute('cont');
            core.ownResumes++;
            core.setState('running', 'unpaused');
            core.lifecycle('resumed', 'unpaused');
          }
        }
      },
      signal,
    );
  }

  /**
   * `snapshot-load`: the guest's memory and disks back to `tag`, then run
   * (`run`) or left paused. A load that fails leaves the guest paused, as
   * libvirt's does: its state is no longer the one it had.
   */
  load(
    tag: string,
    vmstate: string,
    devices: readonly string[],
    run: boolean,
    signal?: AbortSignal,
  ): Promise<void> {
    const core = this.core;
    return core.job(
      'snapshot load',
      async () => {
        const qmp = core.requireMonitor();
        if (core.state.state === 'running') {
          await qmp.execute('stop');
          core.ownStops++;
          core.setState('paused', 'from snapshot');
          core.lifecycle('suspended', 'from snapshot');
        }
        await runJob(qmp, 'snapshot-load', { tag, vmstate, devices: [...devices] }, signal);
        if (run) {
          await qmp.execute('cont');
          core.ownResumes++;
          core.setState('running', 'from snapshot');
          core.lifecycle('resumed', 'from snapshot');
        } else core.setState('paused', 'from snapshot');
      },
      signal,
    );
  }

  /**
   * Puts each disk (by device id) on its new overlay: the overlays opened
   * (`blockdev-add`, no backing yet), then one `transaction` of
   * `blockdev-snapshot`s, so all disks switch or none. What was added is
   * removed again on failure. The overlays' nodes are numbered as libvirt
   * numbers a new image, after every `libvirt-N-*` node QEMU has; the number
   * of each disk's overlay (by device id) is returned.
   */
  external(
    disks: ReadonlyArray<{ alias: string; overlay: string }>,
    signal?: AbortSignal,
  ): Promise<Map<string, number>> {
    const core = this.core;
    return core.job(
      'snapshot external',
      async () => {
        const qmp = core.requireMonitor();
        const nodes = await nodesOf(qmp);
        let next = await nextNodeNumber(qmp);
        const numbers = new Map<string, number>();
        const added: string[] = [];
        try {
          const actions: Array<{ type: string; data: Record<string, unknown> }> = [];
          for (const d of disks) {
            const top = nodes.get(d.alias);
            if (!top)
              throw new VirError('OPERATION_FAILED', 'qemu', `QEMU shows no block node for ${d.alias}`);
            numbers.set(d.alias, next);
            const base = `libvirt-${next++}`;
            await qmp.execute(
              'blockdev-add',
              {
                driver: 'file',
                filename: d.overlay,
                'node-name': `${base}-storage`,
                'auto-read-only': true,
                discard: 'unmap',
              },
              signal ? { signal } : {},
            );
            added.unshift(`${base}-storage`);
            await qmp.execute(
              'blockdev-add',
              { driver: 'qcow2', 'node-name': `${base}-format`, file: `${base}-storage`, backing: null },
              signal ? { signal } : {},
            );
            added.unshift(`${base}-format`);
            actions.push({ type: 'blockdev-snapshot', data: { node: top, overlay: `${base}-format` } });
          }
          await qmp.execute('transaction', { actions }, signal ? { signal } : {});
          return numbers;
        } catch (err) {
          for (const node of added) await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => {});
          throw err instanceof VirError
            ? err
            : new VirError(
                'OPERATION_FAILED',
                'qemu',
                `external snapshot failed: ${(err as Error).message}`,
                {
                  cause: err,
                },
              );
        }
      },
      signal,
    );
  }

  /** Ends QEMU for a revert that cannot load into this process: `shutoff/from snapshot`, event `stopped/from snapshot`. */
  end(): Promise<void> {
    return endForRevert(this.core);
  }

  /** The devices of the block jobs QEMU runs now. */
  blockJobs(): Promise<string[]> {
    return this.core.job('snapshot block jobs', async () => blockJobsRunning(this.core.requireMonitor()));
  }

  /**
   * Merges an external snapshot's overlay into its base (`block-commit`) on
   * the disk with device id `alias`; the guest runs on.
   */
  commit(alias: string, req: Omit<CommitRequest, 'device'>, signal?: AbortSignal): Promise<void> {
    const core = this.core;
    return core.job(
      'snapshot commit',
      async () => {
        const qmp = core.requireMonitor();
        const device = (await nodesOf(qmp)).get(alias);
        if (!device) throw new VirError('OPERATION_FAILED', 'qemu', `QEMU shows no block node for ${alias}`);
        await blockCommit(qmp, { ...req, device }, signal);
      },
      signal,
    );
  }

  /** `snapshot-delete` of `tag` on `devices`; the guest runs on. */
  remove(tag: string, devices: readonly string[], signal?: AbortSignal): Promise<void> {
    return this.core.job(
      'snapshot delete',
      async () =>
        runJob(this.core.requireMonitor(), 'snapshot-delete', { tag, devices: [...devices] }, signal),
      signal,
    );
  }
}

async function nodesOf(qmp: QmpClient): Promise<Map<string, string>> {
  const blocks =
    await qmp.execute<Array<{ qdev?: string; inserted?: { 'node-name'?: string } }>>('query-block');
  const out = new Map<string, string>();
  for (const b of blocks) {
    const node = b.inserted?.['node-name'];
    if (!node || !b.qdev) continue;
    // `/machine/peripheral/<id>/virtio-backend` for virtio, `<id>` for the others
    const m = /^\/machine\/peripheral\/([^/]+)(?:\/|$)/.exec(b.qdev);
    out.set(m ? m[1]! : b.qdev, node);
  }
  return out;
}

interface QmpJobInfo {
  id: string;
  status: string;
  error?: string;
}

/** Starts one QMP job and waits for it to conclude; its error becomes an `OPERATION_FAILED`. */
async function runJob(
  qmp: QmpClient,
  command: string,
  args: Record<string, unknown>,
  signal: AbortSignal | undefined,
): Promise<void> {
  jobCounter++;
  const id = `vk-snapshot-${process.pid}-${jobCounter}`;
  let concluded!: () => void;
  const done = new Promise<void>((resolve) => {
    concluded = resolve;
  });
  // subscribed before the command: a short job may conclude before its reply arrives
  const off = qmp.onEvent((ev: QmpEvent) => {
    const data = ev.data as { id?: string; status?: string } | undefined;
    if (ev.event === 'JOB_STATUS_CHANGE' && data?.id === id && data.status === 'concluded') concluded();
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  try {
    await qmp.execute(command, { 'job-id': id, ...args }, signal ? { signal } : {});
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), JOB_TIMEOUT_MS);
    });
    const aborted = new Promise<'aborted'>((resolve) => {
      if (signal?.aborted) resolve('aborted');
      onAbort = () => resolve('aborted');
      signal?.addEventListener('abort', onAbort, { once: true });
    });
    const closed = qmp.closed.then(() => 'closed' as const);
    const how = await Promise.race([done.then(() => 'done' as const), timedOut, aborted, closed]);
    if (how === 'closed')
      throw new VirError('OPERATION_FAILED', 'qemu', `${command}: QEMU ended before the job finished`);
    if (how !== 'done') {
      // the job goes on in QEMU; cancel it so it does not finish behind our back
      await qmp.execute('job-cancel', { id }).catch(() => {});
      throw new VirError(
        how === 'timeout' ? 'OPERATION_TIMEOUT' : 'OPERATION_ABORTED',
        'qemu',
        `${command} ${how === 'timeout' ? `did not finish in ${JOB_TIMEOUT_MS / 1000} s` : 'aborted'}`,
      );
    }
    const jobs = await qmp.execute<QmpJobInfo[]>('query-jobs');
    const job = jobs.find((j) => j.id === id);
    await qmp.execute('job-dismiss', { id }).catch(() => {});
    if (job?.error !== undefined)
      throw new VirError('OPERATION_FAILED', 'qemu', `${command} failed: ${job.error}`);
  } finally {
    off();
    if (timer) clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/** Ends QEMU for a revert (to a shut-off snapshot, or one whose definition differs): `shutoff/from snapshot`. */
export async function endForRevert(core: RunnerCore): Promise<void> {
  core.stopReason = 'from snapshot';
  // like a destroy: QEMU's SHUTDOWN on our SIGTERM is no shutdown of the guest's
  core.destroying = true;
  await core.terminate(core.killTimeoutMs);
  await core.job('snapshot revert end', async () => {});
}

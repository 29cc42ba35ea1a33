/**
 * A running guest's side of deleting an external snapshot: QEMU's
 * `block-commit` of the snapshot's overlay into the image below it.
 *
 * - The overlay is the disk's active layer: an active commit, which
 *   reaches `ready` (the base mirrors every new write) and is then
 *   completed (`job-complete`), putting the device on the base.
 * - The overlay is further down the chain: an intermediate commit, which
 *   concludes by itself; QEMU rewrites the backing file name of the image
 *   above it.
 *
 * Nodes are found by their image's file name (`query-named-block-nodes`),
 * so it works for disks from the command line and overlays added by
 * `blockdev-add` alike. The job runs under our id with `auto-dismiss` off,
 * so its error can be read after it concluded; an abort or timeout cancels
 * it (the chain stays as it was), and the nodes of the committed overlay
 * that were ours (`blockdev-add`) are deleted afterwards.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import type { QmpClient, QmpEvent } from '../qmp/index.js';

/** How long one commit may run (a large overlay on a slow disk takes a while). */
const COMMIT_TIMEOUT_MS = 30 * 60_000;

let commitCounter = 0;

interface NamedNode {
  'node-name': string;
  drv: string;
  file: string;
}

/** The format node (not the protocol node) whose image is `path`. */
async function formatNode(qmp: QmpClient, path: string): Promise<string> {
  const nodes = await qmp.execute<NamedNode[]>('query-named-block-nodes', { flat: true });
  const found = nodes.find((n) => n.file === path && n.drv !== 'file' && n.drv !== 'host_device');
  if (!found)
    throw new VirError('OPERATION_FAILED', 'qemu', `QEMU has no block node for image '${path}'`, {
      field: '/domainsnapshot/disks',
    });
  return found['node-name'];
}

/** Whether QEMU runs any block job now (libvirt refuses an external delete then). */
export async function blockJobsRunning(qmp: QmpClient): Promise<string[]> {
  const jobs = await qmp.execute<Array<{ device: string }>>('query-block-jobs');
  return jobs.map((j) => j.device);
}

/** What `blockCommit` merges: in the chain of the disk whose top node is `device`, `top` into `base`. */
export interface CommitRequest {
  readonly device: string;
  readonly top: string;
  readonly base: string;
  /** `top` is the disk's active layer. */
  readonly active: boolean;
}

/** Runs one block commit to its end; see the module comment. */
export async function blockCommit(qmp: QmpClient, req: CommitRequest, signal?: AbortSignal): Promise<void> {
  const topNode = await formatNode(qmp, req.top);
  const baseNode = await formatNode(qmp, req.base);
  commitCounter++;
  const id = `vk-commit-${process.pid}-${commitCounter}`;
  let settle!: (status: 'ready' | 'concluded') => void;
  let readySeen = false;
  let concludedSeen = false;
  let wake = new Promise<'ready' | 'concluded'>((resolve) => {
    settle = resolve;
  });
  // subscribed before the command: a small commit may conclude before its reply arrives
  const off = qmp.onEvent((ev: QmpEvent) => {
    const data = ev.data as { id?: string; status?: string } | undefined;
    if (ev.event !== 'JOB_STATUS_CHANGE' || data?.id !== id) return;
    if (data.status === 'ready' && !readySeen) {
      readySeen = true;
      settle('ready');
    } else if (data.status === 'concluded') {
      concludedSeen = true;
      settle('concluded');
    }
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onAbort: (() => void) | undefined;
  const stop = new Promise<'timeout' | 'aborted' | 'closed'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), COMMIT_TIMEOUT_MS);
    if (signal?.aborted) resolve('aborted');
    onAbort = () => resolve('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    void qmp.closed.then(() => resolve('closed'));
  });
  try {
    await qmp.execute(
      'block-commit',
      {
        'job-id': id,
        device: req.device,
        ...(req.active ? {} : { 'top-node': topNode }),
        'base-node': baseNode,
        'auto-dismiss': false,
      },
      signal ? { signal } : {},
    );
    for (;;) {
      const how = await Promise.race([wake, stop]);
      if (how === 'ready') {
        wake = new Promise((resolve) => {
          settle = resolve;
          // both events in one read: the second settled the promise already done with
          if (concludedSeen) resolve('concluded');
        });
        await qmp.execute('job-complete', { id });
        continue;
      }
      if (how === 'concluded') break;
      if (how === 'closed')
        throw new VirError('OPERATION_FAILED', 'qemu', 'block-commit: QEMU ended before the job finished');
      // cancelled, the chain stays as it was; the job is then dismissed
      await qmp.execute('job-cancel', { id, force: true }).catch(() => {});
      await Promise.race([wake, new Promise((r) => setTimeout(r, 5000))]);
      await qmp.execute('job-dismiss', { id }).catch(() => {});
      throw new VirError(
        how === 'timeout' ? 'OPERATION_TIMEOUT' : 'OPERATION_ABORTED',
        'qemu',
        `block-commit of '${req.top}' ${how === 'timeout' ? `did not finish in ${COMMIT_TIMEOUT_MS / 1000} s` : 'aborted'}`,
      );
    }
    const jobs = await qmp.execute<Array<{ id: string; error?: string }>>('query-jobs');
    const job = jobs.find((j) => j.id === id);
    await qmp.execute('job-dismiss', { id }).catch(() => {});
    if (job?.error !== undefined)
      throw new VirError('OPERATION_FAILED', 'qemu', `block commit of '${req.top}' failed: ${job.error}`);
    // the overlay is out of the chain; nodes we added for it are ours to delete
    if (topNode.endsWith('-format')) {
      await qmp.execute('blockdev-del', { 'node-name': topNode }).catch(() => {});
      await qmp
        .execute('blockdev-del', { 'node-name': topNode.replace(/-format$/, '-storage') })
        .catch(() => {});
    }
  } finally {
    off();
    if (timer) clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

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
 * it (`job-cancel`, then waits until QEMU has stopped it: the chain stays as
 * it was, or, when the job had finished first, the commit counts as done),
 * and the nodes of the committed overlay
 * that were ours (`blockdev-add`) are deleted afterwards.
 *
 * @module
 */
import { throwIfAborted, VirError } from '../../../errors.js';
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

/** How long a cancelled commit may take to stop (it waits for the requests it has in flight). */
const CANCEL_TIMEOUT_MS = 5 * 60_000;

/** Deletes the nodes we added (`blockdev-add`) for an overlay that is out of the chain now. */
async function dropOwnNodes(qmp: QmpClient, path: string): Promise<void> {
  const node = await formatNode(qmp, path).catch(() => undefined);
  if (!node?.endsWith('-format')) return;
  await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => {});
  await qmp.execute('blockdev-del', { 'node-name': node.replace(/-format$/, '-storage') }).catch(() => {});
}

/** Runs one block commit to its end; see the module comment. */
export async function blockCommit(qmp: QmpClient, req: CommitRequest, signal?: AbortSignal): Promise<void> {
  // an active commit names the device; only an intermediate one names its top node
  const topNode = req.active ? undefined : await formatNode(qmp, req.top);
  const baseNode = await formatNode(qmp, req.base);
  throwIfAborted(signal, 'qemu');
  commitCounter++;
  const id = `vk-commit-${process.pid}-${commitCounter}`;
  let settle!: (status: 'ready' | 'concluded') => void;
  let readySeen = false;
  let concludedSeen = false;
  let onConcluded!: () => void;
  const concluded = new Promise<'concluded'>((resolve) => {
    onConcluded = () => resolve('concluded');
  });
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
      onConcluded();
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
    // not aborted half-way: once QEMU has the command the job exists, and only
    // a cancel below (which knows its id) puts the chain back
    await qmp.execute('block-commit', {
      'job-id': id,
      device: req.device,
      ...(topNode !== undefined ? { 'top-node': topNode } : {}),
      'base-node': baseNode,
      'auto-dismiss': false,
    });
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
      if (await cancelled(qmp, id, concluded)) {
        throw new VirError(
          how === 'timeout' ? 'OPERATION_TIMEOUT' : 'OPERATION_ABORTED',
          'qemu',
          `block-commit of '${req.top}' ${how === 'timeout' ? `did not finish in ${COMMIT_TIMEOUT_MS / 1000} s` : 'aborted'}`,
        );
      }
      // the job finished before the cancel reached it: the chain has changed, so carry on as done
      break;
    }
    const jobs = await qmp.execute<Array<{ id: string; error?: string }>>('query-jobs');
    const job = jobs.find((j) => j.id === id);
    await qmp.execute('job-dismiss', { id }).catch(() => {});
    if (job?.error !== undefined)
      throw new VirError('OPERATION_FAILED', 'qemu', `block commit of '${req.top}' failed: ${job.error}`);
    // the overlay is out of the chain; nodes we added for it are ours to delete
    await dropOwnNodes(qmp, req.top);
  } finally {
    off();
    if (timer) clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Cancels job `id` (`job-cancel`: QEMU abandons it at once, also when it
 * is ready, so the chain stays as it was) and waits until it concluded.
 * True when it was cancelled (then it is dismissed here), false when it
 * had finished its work before the cancel reached it.
 */
async function cancelled(qmp: QmpClient, id: string, concluded: Promise<'concluded'>): Promise<boolean> {
  // refused when the job already concluded; the wait below then ends at once
  await qmp.execute('job-cancel', { id }).catch(() => {});
  let timer: ReturnType<typeof setTimeout> | undefined;
  const how = await Promise.race([
    concluded,
    qmp.closed.then(() => 'closed' as const),
    new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), CANCEL_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
  if (how === 'closed') return true;
  if (how === 'timeout')
    throw new VirError('OPERATION_FAILED', 'qemu', `block job '${id}' did not stop after it was cancelled`);
  const jobs = await qmp.execute<Array<{ id: string; error?: string }>>('query-jobs');
  const failed = jobs.find((j) => j.id === id)?.error !== undefined;
  if (failed) await qmp.execute('job-dismiss', { id }).catch(() => {});
  return failed;
}

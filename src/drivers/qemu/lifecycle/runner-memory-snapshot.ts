/**
 * A running guest's side of an external memory snapshot (the memory into a
 * file, libvirt's `<memory snapshot='external' file=…>`) and of the revert
 * to one. The file is a save image (`save-image.ts`) written through the
 * same migration-to-a-socket as a save (`runner-save.ts`), but QEMU stays:
 *
 * - take: the guest pauses (`paused/snapshot`, event `suspended/paused`)
 *   unless the snapshot is `live` (then QEMU pauses it itself once the
 *   stream has converged, with the same state and event), the disks go
 *   onto their overlays, and the guest runs again (`running/unpaused`,
 *   `resumed/unpaused`) if it ran before, as libvirt's;
 * - revert: QEMU started `-incoming defer` is fed the file; once the whole
 *   state is loaded it runs (`running/from snapshot`, `resumed/from
 *   snapshot`) or stays paused (`paused/from snapshot`, `suspended/from
 *   snapshot`).
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import type { RunnerMigration } from './runner-migration.js';

/** How long a loaded stream may take to be reported complete before the revert fails. */
const LOAD_MS = 30_000;

/** Pauses a running guest for its memory snapshot; returns whether it did. */
export function pauseForSnapshot(m: RunnerMigration): Promise<boolean> {
  const core = m.core;
  return core.job('snapshot pause', async () => {
    const qmp = core.requireMonitor();
    if (core.state.state !== 'running') return false;
    await qmp.execute('stop');
    core.ownStops++;
    core.setState('paused', 'snapshot');
    core.lifecycle('suspended', 'paused');
    return true;
  });
}

/**
 * After the snapshot (or its failure): runs the guest again if it is
 * paused for it. After a completed stream QEMU is `postmigrate`; its `cont`
 * takes the images back (they were handed over at the stream's end).
 */
export function resumeAfterSnapshot(m: RunnerMigration): Promise<void> {
  const core = m.core;
  return core.job('snapshot resume', async () => {
    const qmp = core.requireMonitor();
    if (core.state.state !== 'paused' || core.state.reason !== 'snapshot') return;
    await qmp.execute('cont');
    core.ownResumes++;
    core.setState('running', 'unpaused');
    core.lifecycle('resumed', 'unpaused');
  });
}

/** Once the memory file is sent: waits until QEMU has loaded all of it (the guest stays paused). */
export function awaitSnapshotLoaded(m: RunnerMigration): Promise<void> {
  const core = m.core;
  return core.job('snapshot memory load', async () => {
    const qmp = core.requireMonitor();
    const until = Date.now() + LOAD_MS;
    for (;;) {
      const q = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
      if (q.status === 'completed') return;
      if (q.status === 'failed' || q.status === 'cancelled' || Date.now() > until) {
        const why = q['error-desc'] ?? q.status ?? 'no status';
        throw new VirError(
          'OPERATION_FAILED',
          'qemu',
          `loading the memory of '${core.name}' from its snapshot did not complete: ${why}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  });
}

/** The end of a revert that booted the guest paused: run it, or leave it paused, both `from snapshot`. */
export function endRevertStart(m: RunnerMigration, run: boolean): Promise<void> {
  const core = m.core;
  return core.job('snapshot revert run', async () => {
    const qmp = core.requireMonitor();
    if (run) {
      await qmp.execute('cont');
      core.ownResumes++;
      core.setState('running', 'from snapshot');
      core.lifecycle('resumed', 'from snapshot');
      return;
    }
    core.setState('paused', 'from snapshot');
    core.lifecycle('suspended', 'from snapshot');
  });
}

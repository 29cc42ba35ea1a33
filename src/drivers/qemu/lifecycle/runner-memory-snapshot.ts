import type { RunnerMigration } from './runner-migration.js';
import { untilStreamLoaded } from './runner-save.js';

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
    await untilStreamLoaded(
      qmp,
      LOAD_MS,
      `loading the memory of '${core.name}' from its snapshot did not complete`,
    );
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

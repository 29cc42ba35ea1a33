/**
 * Runs Debian's `virsh` for the differential tests, bounded in time.
 *
 * `spawnSync` blocks the test worker, so a virsh that never exits would
 * hang the whole run past every vitest timeout. Seen in CI: `virsh -c
 * test:///default 'managedsave test; ...'` sleeping forever once, under
 * load. So each run is killed after {@link VIRSH_TIMEOUT_MS} and tried once
 * more; a second hang is reported as a failure of the test, with the command.
 * Both attempts together must fit in one vitest test timeout (30 s) with room
 * for our own side of the comparison: a 30 s limit per attempt once let the
 * test time out before the retry could run. A healthy run takes well under a
 * second, so 10 s only ever cuts off a hung virsh.
 * stdin is closed (virsh's job watcher looks at it for Ctrl-C).
 */
import {
  type SpawnSyncOptionsWithStringEncoding,
  type SpawnSyncReturns,
  spawnSync,
} from 'node:child_process';

export const VIRSH_TIMEOUT_MS = 10_000;

export function spawnVirsh(
  args: string[],
  opts: Omit<SpawnSyncOptionsWithStringEncoding, 'encoding'> = {},
): SpawnSyncReturns<string> {
  for (let attempt = 1; ; attempt++) {
    const r = spawnSync('virsh', args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: VIRSH_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      ...opts,
      encoding: 'utf8',
    });
    const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
    if (!timedOut) return r;
    if (attempt === 2)
      throw new Error(`virsh ${args.join(' ')} did not finish within ${VIRSH_TIMEOUT_MS} ms, twice`);
  }
}

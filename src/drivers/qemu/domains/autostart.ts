/**
 * Autostart, as libvirtd does it when the daemon starts: every persistent
 * domain marked autostart that is not running is started. An embedded
 * driver has no daemon start, so the first process to open a state root
 * after the host booted does it, and leaves a stamp naming that boot
 * (`<stateRoot>/qemu/autostarted-<boot id>.stamp`, created exclusively) so
 * that neither a later connection of the same process nor another process
 * (a CLI next to a service) starts them again; a guest destroyed on
 * purpose stays down until the next boot.
 *
 * @module
 */
import { linkSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DomainRef } from '../../../driver.js';
import { appendDomainLog, type RunnerRoots, runnerPaths } from '../lifecycle/index.js';

const STAMP = /^autostarted-[0-9a-f-]+\.stamp$/;

/** The kernel's id of this boot; a fixed word where /proc has none (the stamp then never expires). */
function bootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return '0';
  }
}

/**
 * True once per boot and state root, for the one process that claims it:
 * that process then starts the autostart domains.
 */
export function claimAutostart(stateRoot: string): boolean {
  const dir = join(stateRoot, 'qemu');
  const name = `autostarted-${bootId()}.stamp`;
  const tmp = join(dir, `.vk-${process.pid}-autostart.tmp`);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeFileSync(tmp, `${process.pid}\n`, { mode: 0o600 });
    linkSync(tmp, join(dir, name));
  } catch {
    // EEXIST: this boot's autostart is done (or being done) elsewhere; an unwritable root cannot record it either.
    return false;
  } finally {
    rmSync(tmp, { force: true });
  }
  for (const f of readdirSync(dir)) if (STAMP.test(f) && f !== name) rmSync(join(dir, f), { force: true });
  return true;
}

/** Starts the autostart domains side by side; a failure goes to the domain's log, as libvirtd logs it. */
export async function startAll(
  refs: readonly DomainRef[],
  start: (ref: DomainRef) => Promise<unknown>,
  roots: RunnerRoots,
): Promise<void> {
  await Promise.all(
    refs.map(async (ref) => {
      try {
        await start(ref);
      } catch (err) {
        if ((err as { code?: unknown }).code === 'INVALID_CONN') return;
        appendDomainLog(runnerPaths(roots, ref).logFile, `autostart failed: ${(err as Error).message}`);
      }
    }),
  );
}

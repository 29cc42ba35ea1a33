/**
 * Starting one domain of the table: the live copy of its definition, the
 * display ports chosen for it, its command line and runner, and what is
 * read back from QEMU before the guest runs (pty paths, the CPU it got),
 * which the live definition then shows.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/index.js';
import type { CallOptions } from '../../../driver.js';
import { QemuDomainRunner, type RunnerOptions, runnerPaths } from '../lifecycle/index.js';
import type { QmpClient } from '../qmp/index.js';
import { applyPtyPaths, type QmpChardevInfo } from './chardev-aliases.js';
import { cloneDef, type Entry, signalOpt } from './domain-entry.js';
import { allocateGraphicsPorts, releasePorts } from './graphics-ports.js';
import { verifyLiveCpu } from './live-cpu.js';
import type { QemuDomainsOptions } from './qemu-domains-options.js';
import { runnerGuestFromDef } from './runner-guest-from-def.js';

export interface BootDeps {
  readonly options: QemuDomainsOptions;
  readonly runnerOptions: () => RunnerOptions;
  readonly adopt: (e: Entry, runner: QemuDomainRunner) => void;
}

/** Boots `e` from `def`; on failure nothing of the run is left (ports, live definition). */
export async function bootEntry(
  e: Entry,
  def: DomainDef,
  opts: CallOptions & { paused?: boolean },
  deps: BootDeps,
): Promise<void> {
  const live = cloneDef(def);
  const lease = await allocateGraphicsPorts(live);
  try {
    const guest = runnerGuestFromDef(live);
    // The id first: the run directory (and the monitor socket in it) is named after it, as libvirt's.
    const id = deps.runnerOptions().allocateId?.();
    const command = await deps.options.commandLine(live, runnerPaths(deps.options, guest, id), opts.signal);
    let runner = e.runner;
    if (runner) runner.setGuest(guest);
    else {
      runner = new QemuDomainRunner(guest, deps.runnerOptions());
      deps.adopt(e, runner);
    }
    e.live = live;
    e.ports = lease;
    await runner.start({
      command,
      ...(id !== undefined ? { id } : {}),
      ...signalOpt(opts),
      ...(opts.paused ? { paused: true } : {}),
      prepare: (qmp, signal) => readBackLive(live, qmp, signal),
    });
  } catch (err) {
    e.live = undefined;
    e.ports = undefined;
    releasePorts(lease);
    throw err;
  }
}

/** What QEMU decided while it waits at `-S`, into the live definition; returns its XML for the status file. */
async function readBackLive(live: DomainDef, qmp: QmpClient, signal: AbortSignal): Promise<string> {
  const chardevs = await qmp.execute<QmpChardevInfo[]>('query-chardev', undefined, { signal });
  applyPtyPaths(live, Array.isArray(chardevs) ? chardevs : []);
  await verifyLiveCpu(live, qmp, signal);
  return live.toXML();
}

/**
 * The end of a run whose QEMU is gone, in libvirt's order (its
 * `qemuProcessStop`, then the caller's event): what the run held on the
 * host is given back first (the owner's teardown: helpers, devices, taps,
 * network ports, cgroups; then the status file and the run directory),
 * and only then is the domain `shutoff` and `stopped` told, and the calls
 * waiting for the end (a destroy, a shutdown that waits) let go. A step
 * that fails is written to the domain log and the others still run: the
 * domain never stays half stopped.
 *
 * @module
 */
import type { DomainEventName, DomainState, DomainStateName } from '../../../driver.js';
import { appendDomainLog } from './domain-log.js';

/** What decides the shut-off reason of a run that ended. */
export interface EndFacts {
  readonly stopReason: 'crashed' | 'migrated' | 'failed' | 'saved' | 'from snapshot' | undefined;
  readonly destroying: boolean;
  readonly gotShutdown: boolean;
  readonly shutdownSeen: boolean;
}

/** The `shutoff` reason and the `stopped` event's detail of a run that ended. */
export function endReasonOf(f: EndFacts): readonly [reason: string, detail: string] {
  if (f.stopReason !== undefined && f.stopReason !== 'crashed') return [f.stopReason, f.stopReason];
  if (f.destroying) return ['destroyed', 'destroyed'];
  if (f.stopReason === 'crashed') return ['crashed', 'crashed'];
  if (f.gotShutdown || f.shutdownSeen) return ['shutdown', 'shutdown'];
  return ['crashed', 'failed'];
}

/** The side of the runner an ending run works on (the runner core). */
export interface EndingRun {
  readonly logPath: string;
  readonly teardown: (() => Promise<void>) | undefined;
  /** The end in progress (this one): cleared once it is done. */
  stopping: Promise<void> | undefined;
  readonly state: DomainState;
  id: number;
  destroying: boolean;
  readonly goneWaiters: Array<() => void>;
  readonly shutdownWaiters: Array<() => void>;
  removeRuntimeFiles(): void;
  setState(state: DomainStateName, reason: string, persist?: boolean): void;
  lifecycle(event: DomainEventName, detail: string): void;
}

/** Releases what the run held, then reports the domain shut off; never throws. */
export async function endRun(run: EndingRun, reason: string, detail: string): Promise<void> {
  try {
    await run.teardown?.();
  } catch (err) {
    appendDomainLog(run.logPath, `releasing the guest's host resources: ${(err as Error).message}`);
  }
  try {
    run.removeRuntimeFiles();
  } catch (err) {
    appendDomainLog(run.logPath, `removing the run's files: ${(err as Error).message}`);
  }
  // a start that failed after its monitor opened has set its own reason (`failed`) meanwhile
  if (run.state.state !== 'shutoff') run.setState('shutoff', reason, false);
  run.lifecycle('stopped', detail);
  run.id = -1;
  run.destroying = false;
  run.stopping = undefined;
  for (const w of run.goneWaiters.splice(0)) w();
  for (const w of run.shutdownWaiters.splice(0)) w();
}

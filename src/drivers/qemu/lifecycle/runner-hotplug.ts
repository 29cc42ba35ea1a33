/**
 * One guest's side of device hotplug (`domains/hotplug.ts`): monitor
 * commands run inside the domain's job, so they never interleave with
 * other calls or with the reactions to guest events, and the live domain
 * XML the status file keeps, replaced once a device is plugged or unplugged
 * (a re-attached guest keeps it).
 *
 * @module
 */
import type { QmpClient } from '../qmp/index.js';
import type { RunnerCore } from './runner-core.js';

export class RunnerHotplug {
  readonly #core: RunnerCore;

  constructor(core: RunnerCore) {
    this.#core = core;
  }

  /** Runs `fn` with the monitor inside the domain's job; `OPERATION_INVALID` when the guest is not running. */
  monitorJob<T>(job: string, fn: (qmp: QmpClient) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.#core.job(job, () => fn(this.#core.requireMonitor()), signal);
  }

  /** Replaces the live domain XML the status file keeps, and with `driverData` the driver's facts (else kept). */
  setLiveXml(domainXml: string, driverData?: unknown): void {
    this.#core.guest = {
      ...this.#core.guest,
      domainXml,
      ...(driverData !== undefined ? { driverData } : {}),
    };
    this.#core.writeStatus();
  }

  /** The guest's memory total and balloon size after memory devices came, went or resized (KiB). */
  setMemory(totalKiB: number, balloonKiB: number): void {
    this.#core.guest = { ...this.#core.guest, memoryKiB: totalKiB };
    this.#core.balloonKiB = balloonKiB;
    this.#core.writeStatus();
  }
}

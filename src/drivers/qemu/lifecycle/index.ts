/**
 * Running real QEMU guests: start, pause, power off, reboot, destroy,
 * events, crash detection, status files and re-attach.
 *
 * How the qemu driver uses it (one {@link QemuDomainRunner} per domain):
 * - `open()`: for each name in `QemuDomainRunner.listStatus(roots)`,
 *   `QemuDomainRunner.reattach(name, options)`; a runner that comes back
 *   `shutoff`/`crashed` was a guest that died while nobody watched.
 * - start: `runnerGuestFromDef(def)` gives the {@link RunnerGuest};
 *   `buildCommandLine(def, caps, { domainDir: paths.runDir, monitor: { path:
 *   paths.monitorSocket } })` with the runner's {@link RunnerPaths} gives the
 *   command, which `start({ command })` checks for `-S`, the monitor and
 *   `-no-shutdown` before running it.
 * - `domainStart/Suspend/Resume/Shutdown/Reboot/Reset/Destroy/SetMemory`,
 *   `domainGetState`, `domainGetInfo`, `domainGetXml` map one to one.
 * - `subscribe`: forward each runner's `lifecycle` and `reboot` events (the
 *   `monitor` ones have no place in the driver seam yet).
 * - `close()`: `detach()` every runner; guests keep running.
 *
 * @module
 */

export { cleanStaleTemps } from './atomic-file.js';
export { type BridgeTap, deleteTap, madeTap, type PluggedTap, plugTap, tapName } from './bridge-taps.js';
export { appendDomainLog } from './domain-log.js';
export { type HelperExit, type HelperSpec, type RunningHelper, startHelper } from './guest-helper.js';
export {
  forgetGuestHelpers,
  type GuestHelpers,
  type HelperBinaries,
  type HelperSockets,
  startGuestHelpers,
} from './guest-helpers.js';
export { nameHelperTaps, tapsHeldBy } from './held-taps.js';
export { nvramFile, prepareNvram, resetNvram } from './nvram-file.js';
export {
  type DestroyOptions,
  QemuDomainRunner,
  type RunnerOptions,
  type ShutdownOptions,
  type StartOptions,
  type StateCheck,
} from './qemu-domain-runner.js';
export {
  checkRunnerCommand,
  type RunnerCommand,
  type RunnerPaths,
  type RunnerRoots,
  runnerPaths,
} from './runner-command.js';
export type {
  DomainMonitorEvent,
  DomainRebootEvent,
  RunnerEvent,
  RunnerEventListener,
} from './runner-events.js';
export {
  type LifecycleAction,
  MAX_NAME_BYTES,
  type RunnerGuest,
  validateRunnerGuest,
} from './runner-guest.js';
export {
  awaitSnapshotLoaded,
  endRevertStart,
  pauseForSnapshot,
  resumeAfterSnapshot,
} from './runner-memory-snapshot.js';
export {
  type MigrateOutOptions,
  type MigrationCapabilities,
  type MigrationJobInfo,
  RunnerMigration,
  setMigrationCapabilities,
  startIncoming,
} from './runner-migration.js';
export { type MonitorCallOptions, RunnerMonitor, type Screendump } from './runner-monitor.js';
export {
  endSaved,
  finishRestore,
  listenForSave,
  pauseForSave,
  resumeAfterSave,
  type SaveSink,
  sendImage,
} from './runner-save.js';
export { type DiskNodes, RunnerSnapshot } from './runner-snapshot.js';
export { setLiveVcpus, VCPU_UNPLUG_TIMEOUT_MS } from './runner-vcpus.js';
export {
  completeHeader,
  isPartialImage,
  readSaveHeader,
  type SaveImageHeader,
  writePartialHeader,
} from './save-image.js';
export { removeSwtpmState, swtpmFiles } from './swtpm.js';
export { clearBandwidth, setBandwidth } from './tap-bandwidth.js';

/**
 * Running real QEMU guests: start, pause, power off, reboot, destroy,
 * events, crash detection, status files and re-attach.
 *
 * @module
 */
export { type LifecycleAction, type QemuGuestSpec, validateGuestSpec } from './guest-spec.js';
export { JobLock } from './job-lock.js';
export {
  buildSpecCommandLine,
  cpuArg,
  type QemuCommandLine,
  type QemuRunPaths,
  qemuOptValue,
  runnerArgs,
} from './qemu-argv.js';
export {
  type DestroyOptions,
  QemuDomainRunner,
  type RunnerOptions,
  type RunnerRoots,
  type ShutdownOptions,
} from './qemu-domain-runner.js';
export type {
  DomainMonitorEvent,
  DomainRebootEvent,
  RunnerEvent,
  RunnerEventListener,
} from './runner-events.js';

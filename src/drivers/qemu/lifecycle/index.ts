/**
 * Running real QEMU guests: start, pause, power off, reboot, destroy,
 * events, crash detection, status files and re-attach.
 *
 * How the qemu driver uses it (one {@link QemuDomainRunner} per domain):
 * - `open()`: for each name in `QemuDomainRunner.listStatus(roots)`,
 *   `QemuDomainRunner.reattach(name, options)`; a runner that comes back
 *   `shutoff`/`crashed` was a guest that died while nobody watched.
 * - `defineDomain` / `createDomain`: derive a {@link QemuGuestSpec} from the
 *   `DomainDef` (name, uuid, type, memory, currentMemory, vcpu, os machine,
 *   the `-cpu` value from the CPU engine, emulator, on_* actions, memballoon,
 *   `domainXml` = the live XML) and pass `commandLine: (spec, paths) =>
 *   ({ argv: [...runnerArgs(spec, paths), ...buildCommandLine(def, caps).argv] })`
 *   so the runner keeps owning `-S`, the monitor, `-no-shutdown`/`-no-reboot`.
 * - `domainStart/Suspend/Resume/Shutdown/Reboot/Reset/Destroy/SetMemory`,
 *   `domainGetState`, `domainGetInfo`, `domainGetXml` map one to one.
 * - `subscribe`: forward each runner's `lifecycle` events (the `reboot` and
 *   `monitor` ones have no place in `DomainEvent` yet).
 * - `close()`: `detach()` every runner; guests keep running.
 *
 * @module
 */
export { type LifecycleAction, type QemuGuestSpec, validateGuestSpec } from './guest-spec.js';
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

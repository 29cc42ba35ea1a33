/**
 * The part of the QEMU command line the runner owns: identity, memory,
 * CPUs, the monitor socket and the flags that make lifecycle handling ours
 * (`-S` to start paused, `-no-shutdown` so a guest power-off stops instead of
 * exiting, `-no-reboot` when a guest reboot must end the guest).
 *
 * Everything goes into an argv array for `spawn`, never through a shell.
 * Values inside QEMU's `key=value,key=value` option strings are escaped by
 * doubling commas, which is how QEMU's option parser reads a literal comma;
 * a value can hold any other character (`=`, quotes, spaces, newlines) as is
 * because argv carries it byte for byte.
 *
 * @module
 */
import type { QemuGuestSpec } from './guest-spec.js';

/** Escapes one value for a QEMU `-opt a=VALUE,b=...` string. */
export function qemuOptValue(value: string): string {
  return value.replaceAll(',', ',,');
}

/** Files the runner gives QEMU. */
export interface QemuRunPaths {
  /** The QMP unix socket QEMU listens on. */
  readonly monitorSocket: string;
}

export interface QemuCommandLine {
  readonly argv: readonly string[];
  /** Extra environment variables for QEMU. */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * The default command line for a spec. The qemu driver can replace it through
 * `RunnerOptions.commandLine`, keeping {@link runnerArgs} in front.
 */
export function buildSpecCommandLine(spec: QemuGuestSpec, paths: QemuRunPaths): QemuCommandLine {
  const argv: string[] = [
    ...runnerArgs(spec, paths),
    '-machine',
    `${qemuOptValue(spec.machine)},accel=${spec.virtType === 'kvm' ? 'kvm' : 'tcg'}`,
    '-m',
    `size=${spec.memoryKiB}k`,
    '-smp',
    String(spec.vcpus),
  ];
  if (spec.cpu !== undefined) argv.push('-cpu', cpuArg(spec.cpu, spec.cpuEnforce !== false));
  if (spec.memballoon !== false) argv.push('-device', 'virtio-balloon-pci,id=balloon0');
  argv.push(...(spec.extraArgs ?? []));
  return { argv };
}

/**
 * The `-cpu` value. It is a QEMU option string by design (`Model,+f,-g`), so
 * it is passed through; a named model gets `enforce` so that missing
 * features stop QEMU instead of being silently dropped.
 */
export function cpuArg(cpu: string, enforce: boolean): string {
  if (!enforce || cpu === 'host' || cpu === 'max' || cpu.split(',').includes('enforce')) return cpu;
  return `${cpu},enforce`;
}

/**
 * Arguments every command line needs for the runner to manage the process,
 * whoever builds the rest.
 */
export function runnerArgs(spec: QemuGuestSpec, paths: QemuRunPaths): string[] {
  const argv = [
    '-name',
    `guest=${qemuOptValue(spec.name)},debug-threads=on`,
    '-uuid',
    spec.uuid,
    '-no-user-config',
    '-nodefaults',
    '-display',
    'none',
    '-chardev',
    `socket,id=charmonitor,path=${qemuOptValue(paths.monitorSocket)},server=on,wait=off`,
    '-mon',
    'chardev=charmonitor,id=monitor,mode=control',
    '-no-shutdown',
    '-S',
    '-msg',
    'timestamp=on',
  ];
  if ((spec.onReboot ?? 'restart') === 'destroy') argv.push('-no-reboot');
  return argv;
}

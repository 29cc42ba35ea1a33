/**
 * Where a runner keeps one guest's files, and the few command-line options
 * it depends on. The command line is built elsewhere (`buildCommandLine`,
 * which writes libvirt's options); the runner only checks that the ones its
 * process model rests on are there, so a hand-made or future command line
 * cannot silently break start-up or power-off handling.
 *
 * @module
 */
import { join } from 'node:path';
import { VirError } from '../../../errors.js';

/** Where a runner keeps its files. `qemu/` is appended to each root. */
export interface RunnerRoots {
  /** Status files and monitor sockets: `<stateRoot>/qemu/<name>.xml`, `<stateRoot>/qemu/domain-<uuid>/`. */
  readonly stateRoot: string;
  /** Logs: `<logRoot>/qemu/<name>.log`. */
  readonly logRoot: string;
}

/** One guest's files under the roots. */
export interface RunnerPaths {
  /** Private per-run directory (mode 0700), removed when the guest stops: QEMU's HOME and the monitor socket. */
  readonly runDir: string;
  /** The QMP socket QEMU must listen on (`-chardev socket,id=charmonitor,path=...`). */
  readonly monitorSocket: string;
  /** The live status file. */
  readonly statusFile: string;
  readonly logFile: string;
}

/** The process to start: the binary first, then one argument per element; `env` is all QEMU gets. */
export interface RunnerCommand {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** QMP commands to run before the CPUs start (passwords that must not be on the command line). */
  readonly monitorCommands?: ReadonlyArray<{ execute: string; arguments: Record<string, unknown> }>;
  /** vCPUs to hot-plug before the CPUs start, in plug order (those `-smp` left out). */
  readonly hotplugVcpus?: readonly number[];
  /** libvirt's taint flags the definition earns, written to the domain log at start. */
  readonly taints?: readonly string[];
  /**
   * Descriptors of this process QEMU inherits (a `/dev/vhost-vsock` opened
   * for it): the first is QEMU's descriptor 3, the next 4, and so on, the
   * numbers the command line names. The caller keeps and closes its own.
   */
  readonly passFds?: readonly number[];
}

/** The monitor socket must fit a unix socket address (108 bytes with its NUL). */
export const MAX_SOCKET_PATH = 107;

/**
 * One guest's files. With the domain `id` of the run, the private directory
 * is named as libvirt names it, `domain-<id>-<first 20 characters of the
 * name>`, short enough that the monitor socket fits a unix socket address
 * under a deep home directory; without one (a command line built before the
 * id is known) it is `domain-<uuid>`.
 */
export function runnerPaths(
  roots: RunnerRoots,
  guest: { name: string; uuid: string },
  id?: number,
): RunnerPaths {
  const dir =
    id !== undefined && id > 0
      ? `domain-${id}-${[...guest.name].slice(0, 20).join('')}`
      : `domain-${guest.uuid}`;
  const runDir = join(roots.stateRoot, 'qemu', dir);
  return {
    runDir,
    monitorSocket: join(runDir, 'monitor.sock'),
    statusFile: join(roots.stateRoot, 'qemu', `${guest.name}.xml`),
    logFile: join(roots.logRoot, 'qemu', `${guest.name}.log`),
  };
}

/**
 * Refuses a command line without what the runner relies on: `-S` (QEMU
 * waits for our `cont`, so setup happens before the guest runs), the QMP
 * monitor on our socket, and `-no-shutdown` (a guest power-off stops the
 * CPUs and tells us instead of ending the process, so `on_poweroff` is
 * ours to carry out).
 */
export function checkRunnerCommand(command: RunnerCommand, paths: RunnerPaths): void {
  const argv = command.argv;
  const missing: string[] = [];
  if (argv.length === 0 || argv[0] === '' || !argv[0]?.startsWith('/'))
    throw new VirError('INVALID_ARG', 'qemu', 'the command line must start with the absolute path of QEMU', {
      field: 'devices/emulator',
    });
  for (const [i, a] of argv.entries())
    if (typeof a !== 'string' || a.includes('\0'))
      throw new VirError('INVALID_ARG', 'qemu', 'arguments must be strings without NUL', {
        field: `argv[${i}]`,
      });
  if (!argv.includes('-S')) missing.push('-S');
  if (!argv.includes('-no-shutdown')) missing.push('-no-shutdown');
  const monitor = `socket,id=charmonitor,path=${paths.monitorSocket.replaceAll(',', ',,')},server=on,wait=off`;
  if (!hasOption(argv, '-chardev', monitor)) missing.push(`-chardev ${monitor}`);
  if (!hasOption(argv, '-mon', 'chardev=charmonitor,id=monitor,mode=control'))
    missing.push('-mon charmonitor');
  if (missing.length > 0)
    throw new VirError(
      'INTERNAL_ERROR',
      'qemu',
      `the QEMU command line lacks what the runner needs: ${missing.join('; ')}`,
    );
}

function hasOption(argv: readonly string[], option: string, value: string): boolean {
  for (let i = 0; i + 1 < argv.length; i++) if (argv[i] === option && argv[i + 1] === value) return true;
  return false;
}

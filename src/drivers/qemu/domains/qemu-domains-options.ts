/**
 * What the QEMU driver gives its domain table: where definitions, status
 * files and logs live, and the driver decisions it cannot make itself
 * (which emulator and machine, define-time defaults, the command line).
 *
 * @module
 */
import type { CpuDef } from '../../../conf/cpu.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import type { NetworkPortRef, NetworkRef } from '../../../driver-objects.js';
import type { CommandLinePaths } from '../command-line/types.js';
import type { HelperBinaries, HelperSockets, RunnerCommand, RunnerPaths } from '../lifecycle/index.js';
import type { VolumeLookup } from './disk-chain.js';
import type { HostdevRoots } from './hotplug-hostdev.js';

export interface QemuDomainsOptions {
  /** Definitions: `<configRoot>/qemu/<name>.xml`. */
  readonly configRoot: string;
  /** Status files and monitor sockets: `<stateRoot>/qemu/`. */
  readonly stateRoot: string;
  /** Logs: `<logRoot>/qemu/<name>.log`. */
  readonly logRoot: string;
  /** The QEMU binary for a guest architecture, when the definition names none. */
  readonly defaultEmulator: (arch: string, signal?: AbortSignal) => Promise<string | undefined>;
  /** The emulator's default machine, when the definition names none. */
  readonly defaultMachine?: (
    emulator: string,
    arch: string,
    signal?: AbortSignal,
  ) => Promise<string | undefined>;
  /** Milliseconds QEMU has to open its monitor (default 10 s). */
  readonly startTimeoutMs?: number;
  /** Milliseconds a QMP command may take (default 30 s). */
  readonly commandTimeoutMs?: number;
  /** Milliseconds QEMU has to end after SIGTERM before SIGKILL (default 5 s). */
  readonly killTimeoutMs?: number;
  /**
   * QEMU's command line for a guest about to start, for the runner's files
   * (`buildCommandLine` with the probed caps of the guest's emulator).
   */
  readonly commandLine: CommandLineFor;
  /**
   * What the `<disk type='volume'>` disks of `def` are, in the pools of the
   * same roots (undefined when it has none), so a start reads their chains
   * as a file's. Without it a volume disk's chain is left to QEMU.
   */
  readonly volumes?: (def: DomainDef) => Promise<VolumeLookup | undefined>;
  /**
   * The CPU a `host-model` guest of `def`'s emulator and accelerator gets (in its
   * migratable form), for `getXML({ updateCpu })`; undefined when QEMU could not
   * expand the host's. Without it `updateCpu` is refused.
   */
  readonly hostCpu?: (def: DomainDef, signal?: AbortSignal) => Promise<CpuDef | undefined>;
  /** swtpm and other helper binaries, when not the ones on PATH. */
  readonly helperBinaries?: HelperBinaries;
  /**
   * The virtual networks of the same roots: a port per `<interface
   * type='network'>` of a guest about to start, written into its live
   * definition (`<source portid bridge>`), given back when it stops.
   * Without it such an interface is refused.
   */
  readonly networks?: {
    plugGuest(def: DomainDef): Promise<{ release(): void }>;
    /** For the ports of a guest re-attached after a restart, which has no `release` handle. */
    lookupNetwork?(key: { name: string }): Promise<NetworkRef>;
    portDelete?(ref: NetworkPortRef): Promise<void>;
  };
  /**
   * Each guest in its own cgroups (`lifecycle/cgroup.ts`): the system
   * instance as root. Scheduler and memory tuning need them.
   */
  readonly cgroups?: boolean;
  /** Where a start finds the host's device files (`/sys`, `/dev/vhost-vsock`; tests point them at copies). */
  readonly hostdevRoots?: HostdevRoots;
  /**
   * Define-time defaults (machine, controllers, balloon, ...), applied in place before a definition
   * is stored; `live`: a running guest's definition, whose runtime state (network ports, block jobs,
   * generated channel paths) stays.
   */
  readonly applyDefaults?: (def: DomainDef, signal?: AbortSignal, live?: boolean) => Promise<void>;
}

/** Builds the command line (binary first) of `def` for the runner's per-guest files and the started helpers. */
export type CommandLineFor = (
  def: DomainDef,
  paths: RunnerPaths,
  signal?: AbortSignal,
  helpers?: HelperSockets,
  /**
   * `incoming`: the guest receives a live migration (`-incoming`);
   * `hostDevices`: what the start took of the host's devices (the vsock's
   * descriptor and CID, the SCSI generic devices), for the builder.
   */
  extra?: {
    readonly incoming?: string;
    readonly hostDevices?: Pick<CommandLinePaths, 'vhostVsock' | 'scsiHostDevice'>;
  },
) => Promise<RunnerCommand>;

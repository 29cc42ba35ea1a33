/**
 * What the runner must know about a guest to manage its process, and
 * nothing more: the command line itself comes ready-made from
 * `buildCommandLine`, so this is identity, the sizes the runner reports
 * and sets, the `on_*` actions it carries out, and the live XML it records.
 * The qemu driver derives it from the `DomainDef` (`runnerGuestFromDef`).
 *
 * @module
 */
import { VirError } from '../../../errors.js';

/** What to do when the guest powers off, reboots or crashes (`on_poweroff`, `on_reboot`, `on_crash`). */
export type LifecycleAction = 'destroy' | 'restart' | 'preserve';

export interface RunnerGuest {
  readonly name: string;
  /** Canonical lower-case UUID. */
  readonly uuid: string;
  /** Maximum memory in KiB (`<memory>`). */
  readonly memoryKiB: number;
  /** Balloon target at start in KiB (`<currentMemory>`); default `memoryKiB`. */
  readonly currentMemoryKiB?: number;
  /** vCPUs QEMU must have created at start (`<vcpu current>`, else `<vcpu>`). */
  readonly vcpus: number;
  /**
   * A named CPU model whose features QEMU must give in full (libvirt's
   * `check` other than `none`): the start fails with `CPU_INCOMPATIBLE`
   * when QEMU reports a requested feature it cannot provide.
   */
  readonly cpuCheck?: { readonly model: string };
  readonly onPoweroff?: LifecycleAction;
  readonly onReboot?: LifecycleAction;
  readonly onCrash?: LifecycleAction;
  /** Whether the command line has a balloon device (`<memballoon>` other than `none`). */
  readonly memballoon: boolean;
  /** The live domain XML, kept in the status file so a re-attached guest keeps its whole definition. */
  readonly domainXml: string;
  /**
   * What the driver learnt of the running guest beyond its XML (block node numbers of hot-plugged
   * disks, the RTC's start adjustment), kept in the status file for a re-attach; opaque to the runner.
   */
  readonly driverData?: unknown;
}

/** Actions libvirt's QEMU driver accepts for each event (others are refused at start). */
const ALLOWED: Record<'onPoweroff' | 'onReboot' | 'onCrash', readonly LifecycleAction[]> = {
  onPoweroff: ['destroy', 'restart'],
  onReboot: ['destroy', 'restart'],
  onCrash: ['destroy', 'restart', 'preserve'],
};

const XML_NAME = { onPoweroff: 'on_poweroff', onReboot: 'on_reboot', onCrash: 'on_crash' } as const;

/**
 * The longest domain name in bytes of UTF-8. A name becomes file names
 * (`<name>.xml`, `<name>.log`, `<name>_VARS.fd`) that must stay under the
 * 255 bytes a Linux file name may have, with room for their suffixes.
 */
export const MAX_NAME_BYTES = 200;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Checks a guest before anything touches the disk or starts a process.
 * Names end up in file names, so the rules are the file-system ones
 * plus libvirt's: no `/`, no newline, not empty, not `.` or `..`.
 */
export function validateRunnerGuest(guest: RunnerGuest): void {
  const bad = (field: string, message: string): never => {
    throw new VirError('INVALID_ARG', 'qemu', message, { field });
  };
  if (typeof guest.name !== 'string' || guest.name === '') bad('name', 'domain name must not be empty');
  if (guest.name.includes('/')) bad('name', `domain name '${guest.name}' must not contain '/'`);
  if (/[\n\r\0]/.test(guest.name)) bad('name', 'domain name must not contain a newline or NUL');
  if (guest.name === '.' || guest.name === '..') bad('name', `domain name '${guest.name}' is reserved`);
  if (Buffer.byteLength(guest.name) > MAX_NAME_BYTES)
    bad('name', `domain name is longer than ${MAX_NAME_BYTES} bytes`);
  if (!UUID_RE.test(guest.uuid)) bad('uuid', `'${guest.uuid}' is not a canonical lower-case UUID`);
  if (!Number.isSafeInteger(guest.memoryKiB) || guest.memoryKiB < 1024)
    bad('memory', 'memory must be an integer number of KiB, at least 1024');
  const cur = guest.currentMemoryKiB;
  if (cur !== undefined && (!Number.isSafeInteger(cur) || cur < 1 || cur > guest.memoryKiB))
    bad('currentMemory', 'currentMemory must be between 1 KiB and memory');
  if (!Number.isSafeInteger(guest.vcpus) || guest.vcpus < 1 || guest.vcpus > 4096)
    bad('vcpu', 'vcpu count must be an integer between 1 and 4096');
  for (const key of ['onPoweroff', 'onReboot', 'onCrash'] as const) {
    const v = guest[key];
    if (v !== undefined && !ALLOWED[key].includes(v)) {
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `${key} action '${v}' is not supported (use ${ALLOWED[key].join(', ')})`,
        { field: XML_NAME[key] },
      );
    }
  }
}

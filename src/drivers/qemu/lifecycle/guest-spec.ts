/**
 * The smallest description of a guest the runner needs to start and manage
 * a QEMU process.
 *
 * This is the seam to the typed `DomainDef`: when the domain model lands,
 * the qemu driver derives a {@link QemuGuestSpec} from it (and passes the
 * full live XML as `domainXml` and its own command line through
 * `RunnerOptions.commandLine`), so nothing here needs to know the whole
 * domain schema.
 *
 * @module
 */
import { VirError } from '../../../errors.js';

/** What to do when the guest powers off, reboots or crashes (`on_poweroff`, `on_reboot`, `on_crash`). */
export type LifecycleAction = 'destroy' | 'restart' | 'preserve';

export interface QemuGuestSpec {
  readonly name: string;
  /** Canonical lower-case UUID. */
  readonly uuid: string;
  /** `kvm` or `qemu` (TCG), as the domain's `type` attribute. */
  readonly virtType: 'kvm' | 'qemu';
  /** Maximum memory in KiB (`<memory>`). */
  readonly memoryKiB: number;
  /** Balloon target at start in KiB (`<currentMemory>`); default `memoryKiB`. */
  readonly currentMemoryKiB?: number;
  readonly vcpus: number;
  /** Machine type as QEMU knows it (`pc`, `q35`, `pc-q35-7.2`, ...). */
  readonly machine: string;
  /** QEMU's `-cpu` value: `host`, `max`, or a model with its features (`Haswell,+vmx,-hle`). */
  readonly cpu?: string;
  /**
   * Make QEMU refuse to start when it cannot give a named CPU model every
   * requested feature (`-cpu ...,enforce`), as libvirt's `check='full'`.
   * Default true; `host` and `max` are never checked.
   */
  readonly cpuEnforce?: boolean;
  /** Absolute path of the QEMU binary. */
  readonly emulator: string;
  readonly onPoweroff?: LifecycleAction;
  readonly onReboot?: LifecycleAction;
  readonly onCrash?: LifecycleAction;
  /** Add a virtio balloon device (libvirt's default `<memballoon model='virtio'/>`). Default true. */
  readonly memballoon?: boolean;
  /** More QEMU arguments (disks, devices), passed as given after the runner's own. */
  readonly extraArgs?: readonly string[];
  /** The live domain XML to keep in the status file; default a minimal one built from this spec. */
  readonly domainXml?: string;
}

/** Actions libvirt's QEMU driver accepts for each event (others are refused at start). */
const ALLOWED: Record<'onPoweroff' | 'onReboot' | 'onCrash', readonly LifecycleAction[]> = {
  onPoweroff: ['destroy', 'restart'],
  onReboot: ['destroy', 'restart'],
  onCrash: ['destroy', 'restart', 'preserve'],
};

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Checks a spec before anything touches the disk or starts a process.
 * Names end up in file names, so the rules are the file-system ones
 * plus libvirt's: no `/`, no newline, not empty, not `.` or `..`.
 */
export function validateGuestSpec(spec: QemuGuestSpec): void {
  const bad = (field: string, message: string): never => {
    throw new VirError('INVALID_ARG', 'qemu', message, { field });
  };
  if (typeof spec.name !== 'string' || spec.name === '') bad('name', 'domain name must not be empty');
  if (spec.name.includes('/')) bad('name', `domain name '${spec.name}' must not contain '/'`);
  if (/[\n\r\0]/.test(spec.name)) bad('name', 'domain name must not contain a newline or NUL');
  if (spec.name === '.' || spec.name === '..') bad('name', `domain name '${spec.name}' is reserved`);
  if (Buffer.byteLength(spec.name) > 200) bad('name', 'domain name is longer than 200 bytes');
  if (!UUID_RE.test(spec.uuid)) bad('uuid', `'${spec.uuid}' is not a canonical lower-case UUID`);
  if (spec.virtType !== 'kvm' && spec.virtType !== 'qemu')
    bad('type', `unknown virt type '${spec.virtType}'`);
  if (!Number.isSafeInteger(spec.memoryKiB) || spec.memoryKiB < 1024)
    bad('memory', 'memory must be an integer number of KiB, at least 1024');
  const cur = spec.currentMemoryKiB;
  if (cur !== undefined && (!Number.isSafeInteger(cur) || cur < 1 || cur > spec.memoryKiB))
    bad('currentMemory', 'currentMemory must be between 1 KiB and memory');
  if (!Number.isSafeInteger(spec.vcpus) || spec.vcpus < 1 || spec.vcpus > 4096)
    bad('vcpu', 'vcpu count must be an integer between 1 and 4096');
  if (typeof spec.machine !== 'string' || spec.machine === '') bad('os/type/@machine', 'machine is required');
  if (/[\n\r\0]/.test(spec.machine)) bad('os/type/@machine', 'machine must not contain a newline');
  if (spec.cpu !== undefined && (spec.cpu === '' || /[\n\r\0]/.test(spec.cpu)))
    bad('cpu', 'cpu must be a non-empty QEMU -cpu value');
  if (typeof spec.emulator !== 'string' || !spec.emulator.startsWith('/'))
    bad('devices/emulator', 'emulator must be an absolute path');
  for (const key of ['onPoweroff', 'onReboot', 'onCrash'] as const) {
    const v = spec[key];
    if (v !== undefined && !ALLOWED[key].includes(v)) {
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `${key} action '${v}' is not supported (use ${ALLOWED[key].join(', ')})`,
        { field: xmlName(key) },
      );
    }
  }
  for (const [i, a] of (spec.extraArgs ?? []).entries()) {
    if (typeof a !== 'string' || a.includes('\0'))
      bad(`extraArgs[${i}]`, 'arguments must be strings without NUL');
  }
}

function xmlName(key: 'onPoweroff' | 'onReboot' | 'onCrash'): string {
  return key === 'onPoweroff' ? 'on_poweroff' : key === 'onReboot' ? 'on_reboot' : 'on_crash';
}

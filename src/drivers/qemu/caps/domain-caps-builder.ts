/**
 * Builds `<domainCapabilities>` for one emulator/arch/machine/virttype from
 * probed {@link QemuCaps}, the machine-type table, facts about the host
 * (firmware images, VFIO, TPM emulator, physical address bits, SEV ids) and
 * the shipped CPU database (which models exist, their vendors and canonical
 * names, and the host-model CPU).
 *
 * Each value in an enum is offered only when the probe showed QEMU can do
 * it (a QOM type, a command, a command-line option, a schema enum value);
 * the rule sits beside the value so it can be checked at a glance.
 *
 * @module
 */
import {
  DomainCapabilities,
  type DomainCapsCpuMode,
  type DomainCapsCpuModel,
} from '../../../conf/domaincaps.js';
import { VirError } from '../../../errors.js';
import { machineFacts } from '../../../machine/machine-types.js';
import {
  defaultMachine,
  findMachine,
  hasCommand,
  hasType,
  type QemuAccel,
  type QemuCaps,
  type QemuMachineType,
} from '../probe/qemu-caps.js';
import { enums, enumsField, pick, support } from './domain-caps-enums.js';
import { buildFeatures, type SevAsids } from './domain-caps-features.js';
import { type CpuModelCatalog, hostModelMode, shippedCpuCatalog } from './host-model.js';

/** A firmware image a guest may boot, as a firmware descriptor describes it. */
export interface FirmwareImage {
  path: string;
  /** `bios` or `uefi` interface. */
  interface: 'bios' | 'uefi';
  /** How QEMU maps it: a ROM image or pflash. */
  type: 'rom' | 'pflash';
  /** Architectures and machine-name globs it supports (`x86_64`, `pc-q35-*`). */
  targets: Array<{ arch: string; machines: string[] }>;
  /** Descriptor features (`secure-boot`, `requires-smm`, `enrolled-keys`, ...). */
  features: string[];
}

export interface DomainCapsHostFacts {
  firmware?: readonly FirmwareImage[];
  /** Whether VFIO device assignment works on this host. */
  vfio?: boolean;
  /** TPM versions the TPM emulator (swtpm) offers; empty when it is not installed. */
  tpmEmulatorVersions?: readonly string[];
  /** Physical address bits of the host CPU (KVM guests get them passed through). */
  physAddrBits?: number;
  /** The host CPU's SEV address-space ids: how many SEV and SEV-ES guests can run at once (0 when unknown). */
  sevAsids?: SevAsids;
  /** The CPU model catalogue; default the shipped CPU database. */
  cpuCatalog?: CpuModelCatalog;
}

export interface DomainCapsRequest {
  /** `kvm` or `qemu` (TCG). */
  virttype: 'kvm' | 'qemu';
  /** Machine name or alias; default QEMU's default machine. */
  machine?: string;
  /** Must match the emulator's architecture when given. */
  arch?: string;
}

const accelOf = (virttype: 'kvm' | 'qemu'): QemuAccel => (virttype === 'kvm' ? 'kvm' : 'tcg');

export function buildDomainCapabilities(
  caps: QemuCaps,
  request: DomainCapsRequest,
  host: DomainCapsHostFacts = {},
): DomainCapabilities {
  const accel = accelOf(request.virttype);
  if (request.arch !== undefined && request.arch !== caps.arch) {
    throw new VirError(
      'INVALID_ARG',
      'qemu',
      `emulator ${caps.emulator} is for architecture '${caps.arch}', not '${request.arch}'`,
      { field: 'arch' },
    );
  }
  const accelCaps = caps.accel[accel];
  if (!accelCaps) {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      request.virttype === 'kvm'
        ? `KVM is not usable with ${caps.emulator} on this host`
        : `${caps.emulator} has no TCG accelerator`,
      { field: 'virttype' },
    );
  }
  const machine: QemuMachineType | undefined =
    request.machine === undefined ? defaultMachine(caps, accel) : findMachine(caps, accel, request.machine);
  if (!machine) {
    throw new VirError(
      'INVALID_ARG',
      'qemu',
      request.machine === undefined
        ? `${caps.emulator} has no default machine type; name one`
        : `the machine '${request.machine}' is not supported by emulator ${caps.emulator}`,
      { field: 'machine' },
    );
  }
  const x86 = caps.arch === 'x86_64' || caps.arch === 'i686';
  const type = (t: string) => hasType(caps, t);
  const facts = machineFacts(machine.name);

  const dc = new DomainCapabilities({
    path: caps.emulator,
    domain: request.virttype,
    machine: machine.name,
    arch: caps.arch,
  });
  dc.vcpuMax = machine.maxCpus;
  dc.iothreads = type('iothread');
  dc.os = buildOs(caps, machine, host.firmware ?? []);
  dc.cpu = { modes: buildCpuModes(caps, accel, host) };
  dc.memoryBacking = support(true, {
    sourceType: pick([
      ['file', type('memory-backend-file')],
      ['anonymous', true],
      ['memfd', type('memory-backend-memfd')],
    ]),
  });

  const virtioModels = (base: string) =>
    pick([
      ['virtio', type(base)],
      ['virtio-transitional', type(`${base}-transitional`)],
      ['virtio-non-transitional', type(`${base}-non-transitional`)],
    ]);
  const busDevice: Record<string, boolean> = {
    ide: facts.integratedDiskController === 'ide',
    fdc: type('isa-fdc') && facts.hasIsaBus,
    scsi: type('virtio-scsi-pci') || type('lsi53c895a') || type('spapr-vscsi') || type('virtio-scsi-ccw'),
    virtio: type('virtio-blk-pci') || type('virtio-blk-ccw') || type('virtio-blk-device'),
    usb: type('usb-storage'),
    sata: type('ich9-ahci'),
  };
  const spice = hasCommand(caps, 'query-spice');
  const dbus = caps.displayTypes.includes('dbus');

  dc.devices = {
    disk: support(true, {
      diskDevice: pick([
        ['disk', true],
        ['cdrom', true],
        ['floppy', busDevice.fdc === true],
        ['lun', type('scsi-block')],
      ]),
      bus: facts.diskBuses.filter((b) => busDevice[b] === true),
      model: virtioModels('virtio-blk-pci'),
    }),
    graphics: support(true, {
      type: pick([
        ['sdl', caps.displayTypes.includes('sdl')],
        ['vnc', hasCommand(caps, 'query-vnc')],
        // RDP is served by an external helper speaking QEMU's D-Bus display.
        ['rdp', dbus],
        ['spice', spice],
        ['egl-headless', caps.displayTypes.includes('egl-headless')],
        ['dbus', dbus],
      ]),
    }),
    video: support(true, {
      modelType: pick([
        ['vga', type('VGA')],
        ['cirrus', type('cirrus-vga')],
        ['vmvga', type('vmware-svga')],
        ['qxl', type('qxl-vga')],
        ['virtio', type('virtio-gpu-pci') || type('virtio-vga') || type('virtio-gpu-ccw')],
        ['none', true],
        ['bochs', type('bochs-display')],
        ['ramfb', type('ramfb')],
      ]),
    }),
    hostdev: support(true, {
      mode: ['subsystem'],
      startupPolicy: ['default', 'mandatory', 'requisite', 'optional'],
      subsysType: pick([
        ['usb', type('usb-host')],
        ['pci', type('vfio-pci')],
        ['scsi', type('scsi-generic')],
      ]),
      capsType: [],
      pciBackend: pick([
        ['default', true],
        ['vfio', type('vfio-pci') && host.vfio === true],
      ]),
    }),
    rng: support(type('virtio-rng-pci') || type('virtio-rng-ccw') || type('virtio-rng-device'), {
      model: virtioModels('virtio-rng-pci'),
      backendModel: pick([
        ['random', type('rng-random')],
        ['egd', type('rng-egd')],
        ['builtin', type('rng-builtin')],
      ]),
    }),
    filesystem: support(true, {
      driverType: pick([
        ['path', type('virtio-9p-pci') || type('virtio-9p-device')],
        ['handle', type('virtio-9p-pci') || type('virtio-9p-device')],
        ['virtiofs', type('vhost-user-fs-device') || type('vhost-user-fs-pci')],
      ]),
    }),
    tpm: support(caps.tpm.models.length > 0, {
      model: pick([
        ['tpm-tis', caps.tpm.models.includes('tpm-tis')],
        ['tpm-crb', caps.tpm.models.includes('tpm-crb')],
        ['tpm-spapr', caps.tpm.models.includes('tpm-spapr')],
      ]),
      backendModel: pick([
        ['passthrough', caps.tpm.types.includes('passthrough')],
        ['emulator', caps.tpm.types.includes('emulator')],
        ['external', caps.tpm.types.includes('emulator')],
      ]),
      backendVersion: caps.tpm.types.includes('emulator') ? [...(host.tpmEmulatorVersions ?? [])] : [],
    }),
    redirdev: support(type('usb-redir'), { bus: pick([['usb', type('usb-redir')]]) }),
    channel: support(true, {
      type: pick([
        ['pty', true],
        ['unix', true],
        ['spicevmc', spice && type('chardev-spicevmc')],
      ]),
    }),
    crypto: support(type('virtio-crypto-pci') || type('virtio-crypto-ccw'), {
      model: ['virtio'],
      type: ['qemu'],
      backendModel: pick([
        ['builtin', type('cryptodev-backend-builtin')],
        ['lkcf', type('cryptodev-backend-lkcf')],
      ]),
    }),
    interface: support(true, {
      // passt connects through a `stream` netdev.
      backendType: pick([
        ['default', true],
        ['passt', caps.netdevTypes.includes('stream')],
      ]),
    }),
    panic: support(true, {
      model: pick([
        ['isa', x86 && type('pvpanic') && facts.hasIsaBus],
        ['hyperv', x86],
        ['pvpanic', type('pvpanic-pci')],
      ]),
    }),
  };

  dc.features = buildFeatures(caps, machine.name, host);
  return dc;
}

function buildOs(caps: QemuCaps, machine: QemuMachineType, firmware: readonly FirmwareImage[]) {
  const facts = machineFacts(machine.name);
  const usable = firmware.filter((f) =>
    f.targets.some((t) => t.arch === caps.arch && t.machines.some((g) => globMatch(g, machine.name))),
  );
  const efi = usable.filter((f) => f.interface === 'uefi');
  const secure = facts.supportsSmm && efi.some((f) => f.features.includes('secure-boot'));
  // Firmware auto-selection can only pick what a descriptor describes.
  const firmwareKinds = pick([
    ['bios', usable.some((f) => f.interface === 'bios')],
    ['efi', efi.length > 0],
  ]);
  return {
    supported: true,
    enums: [{ name: 'firmware', values: firmwareKinds }],
    loader: {
      supported: true,
      // Loader paths are the flash images a <loader> may name.
      values: [...new Set(usable.filter((f) => f.type === 'pflash').map((f) => f.path))],
      enums: enums({
        type: ['rom', 'pflash'],
        readonly: ['yes', 'no'],
        secure: secure ? ['yes', 'no'] : ['no'],
      }),
    },
  };
}

function buildCpuModes(caps: QemuCaps, accel: QemuAccel, host: DomainCapsHostFacts): DomainCapsCpuMode[] {
  const accelCaps = caps.accel[accel];
  const modes: DomainCapsCpuMode[] = [];
  const passthrough = accel === 'kvm';
  modes.push(
    passthrough
      ? {
          name: 'host-passthrough',
          supported: true,
          ...enumsField({ hostPassthroughMigratable: ['on', 'off'] }),
        }
      : { name: 'host-passthrough', supported: false },
  );
  const hasMax = accelCaps?.cpuModels.some((m) => m.name === 'max') === true;
  modes.push(
    hasMax
      ? { name: 'maximum', supported: true, ...enumsField({ maximumMigratable: ['on', 'off'] }) }
      : { name: 'maximum', supported: false },
  );
  const hostModel = hostModelMode(caps, accel, host.physAddrBits);
  modes.push(
    hostModel
      ? { name: 'host-model', supported: true, ...hostModel }
      : { name: 'host-model', supported: false },
  );

  // Only models the CPU database knows may be named; vendor and canonical name come from it too.
  const catalog = host.cpuCatalog ?? shippedCpuCatalog();
  const models: DomainCapsCpuModel[] = [];
  for (const m of accelCaps?.cpuModels ?? []) {
    if (m.name === 'host' || !catalog.has(m.name)) continue;
    const model: DomainCapsCpuModel = {
      name: m.name,
      usable: m.usable === undefined ? 'unknown' : m.usable ? 'yes' : 'no',
    };
    if (m.deprecated) model.deprecated = true;
    model.vendor = catalog.vendor(m.name) ?? 'unknown';
    const canonical = catalog.canonical(m.name);
    if (canonical) model.canonical = canonical;
    if (m.usable === false && m.blockers.length > 0) {
      const names = m.blockers.map((b) => catalog.featureName(b));
      model.blockers = [...new Set(names)].sort(ascii);
    }
    models.push(model);
  }
  models.sort((a, b) => ascii(a.name, b.name));
  modes.push(
    models.length > 0 ? { name: 'custom', supported: true, models } : { name: 'custom', supported: false },
  );
  return modes;
}

function ascii(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Firmware descriptors use shell-style globs (`pc-q35-*`). */
function globMatch(glob: string, name: string): boolean {
  const re = new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  );
  return re.test(name);
}

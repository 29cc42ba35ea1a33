/**
 * What QEMU does not report about its machine types but guest definitions
 * depend on: which root bus a machine has, which disk controller is built
 * in, whether a floppy controller comes with it, whether it can do secure
 * boot (SMM). One table, keyed by machine family; the family is read from
 * the machine name (`pc-q35-9.2`, `q35`, `pc-i440fx-8.1`, `pc`, `virt-9.0`,
 * `pseries-9.1`, `s390-ccw-virtio-9.0`, ...).
 *
 * No I/O here: this module also runs in browsers.
 *
 * @module
 */

export type MachineFamily =
  | 'q35'
  | 'i440fx'
  | 'isapc'
  | 'microvm'
  | 'virt'
  | 'pseries'
  | 's390-ccw'
  | 'none'
  | 'unknown';

export interface MachineFacts {
  family: MachineFamily;
  /** `major.minor` of a versioned machine (`pc-q35-4.2` -> [4, 2]); undefined for unversioned names. */
  version?: readonly [number, number];
  /** The root bus libvirt models as controller index 0. */
  pciRoot: 'pcie-root' | 'pci-root' | 'none';
  /** Disk controller that is part of the machine itself. */
  integratedDiskController: 'ahci' | 'ide' | 'none';
  /** Whether the machine creates a floppy controller without being asked. */
  integratedFloppyController: boolean;
  /** Whether an ISA bus exists (for isa-serial, isa-fdc, pvpanic ISA, ...). */
  hasIsaBus: boolean;
  /** Whether firmware can run in SMM, which secure-boot (`secure='yes'`) loaders need. */
  supportsSmm: boolean;
  /** Whether PCIe root ports are the way to add hot-pluggable slots. */
  usesPcieRootPorts: boolean;
  /** Disk buses a guest of this machine can use, in libvirt's order. */
  diskBuses: readonly string[];
}

interface FamilyRule {
  family: MachineFamily;
  match: RegExp;
  facts: Omit<MachineFacts, 'family' | 'version'>;
}

const X86_BUSES_WITH_IDE = ['ide', 'fdc', 'scsi', 'virtio', 'usb', 'sata'] as const;
const X86_BUSES_NO_IDE = ['fdc', 'scsi', 'virtio', 'usb', 'sata'] as const;

// Order matters: the first match wins.
const RULES: readonly FamilyRule[] = [
  {
    family: 'q35',
    match: /^(q35|pc-q35-.+)$/,
    facts: {
      pciRoot: 'pcie-root',
      integratedDiskController: 'ahci',
      integratedFloppyController: false, // decided by version below
      hasIsaBus: true,
      supportsSmm: true,
      usesPcieRootPorts: true,
      diskBuses: X86_BUSES_NO_IDE,
    },
  },
  {
    family: 'i440fx',
    // RHEL's own names before pc-i440fx-rhel* (rhel6.6.0) are i440fx machines, as libvirt reads them
    match: /^(pc|pc-i440fx-.+|pc-\d+\.\d+|rhel.+)$/,
    facts: {
      pciRoot: 'pci-root',
      integratedDiskController: 'ide',
      integratedFloppyController: true,
      hasIsaBus: true,
      supportsSmm: false,
      usesPcieRootPorts: false,
      diskBuses: X86_BUSES_WITH_IDE,
    },
  },
  {
    family: 'isapc',
    match: /^isapc$/,
    facts: {
      pciRoot: 'none',
      integratedDiskController: 'ide',
      integratedFloppyController: true,
      hasIsaBus: true,
      supportsSmm: false,
      usesPcieRootPorts: false,
      diskBuses: ['ide', 'fdc'],
    },
  },
  {
    family: 'microvm',
    match: /^microvm$/,
    facts: {
      pciRoot: 'none',
      integratedDiskController: 'none',
      integratedFloppyController: false,
      hasIsaBus: true,
      supportsSmm: false,
      usesPcieRootPorts: false,
      diskBuses: ['virtio'],
    },
  },
  {
    family: 'virt',
    match: /^virt(-.+)?$/,
    facts: {
      pciRoot: 'pcie-root',
      integratedDiskController: 'none',
      integratedFloppyController: false,
      hasIsaBus: false,
      supportsSmm: false,
      usesPcieRootPorts: true,
      diskBuses: ['scsi', 'virtio', 'usb', 'sata'],
    },
  },
  {
    family: 'pseries',
    match: /^pseries(-.+)?$/,
    facts: {
      pciRoot: 'pci-root',
      integratedDiskController: 'none',
      integratedFloppyController: false,
      hasIsaBus: false,
      supportsSmm: false,
      usesPcieRootPorts: false,
      diskBuses: ['scsi', 'virtio', 'usb', 'sata'],
    },
  },
  {
    family: 's390-ccw',
    match: /^s390-ccw(-.+)?$/,
    facts: {
      pciRoot: 'none',
      integratedDiskController: 'none',
      integratedFloppyController: false,
      hasIsaBus: false,
      supportsSmm: false,
      usesPcieRootPorts: false,
      diskBuses: ['scsi', 'virtio'],
    },
  },
  {
    family: 'none',
    match: /^none$/,
    facts: {
      pciRoot: 'none',
      integratedDiskController: 'none',
      integratedFloppyController: false,
      hasIsaBus: false,
      supportsSmm: false,
      usesPcieRootPorts: false,
      diskBuses: [],
    },
  },
];

const UNKNOWN: Omit<MachineFacts, 'family' | 'version'> = {
  pciRoot: 'none',
  integratedDiskController: 'none',
  integratedFloppyController: false,
  hasIsaBus: false,
  supportsSmm: false,
  usesPcieRootPorts: false,
  diskBuses: ['scsi', 'virtio', 'usb'],
};

/** `major.minor` at the end of a versioned machine name. */
export function machineVersion(name: string): readonly [number, number] | undefined {
  const m = /-(\d+)\.(\d+)(?:\.\d+)?$/.exec(name);
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** Whether `version` is at least `major.minor` (an unversioned name counts as the newest). */
export function versionAtLeast(
  version: readonly [number, number] | undefined,
  major: number,
  minor: number,
): boolean {
  if (!version) return true;
  return version[0] > major || (version[0] === major && version[1] >= minor);
}

/** The facts for one machine type name. */
export function machineFacts(name: string): MachineFacts {
  const rule = RULES.find((r) => r.match.test(name));
  const version = machineVersion(name);
  const facts: MachineFacts = { family: rule?.family ?? 'unknown', ...(rule?.facts ?? UNKNOWN) };
  if (version) facts.version = version;
  // q35 machines before 2.4 always had a floppy controller; from 2.4 on one exists only when asked for
  // (an explicit isa-fdc device), which `info qtree` of pc-q35-2.12 without floppy drives confirms.
  if (facts.family === 'q35') facts.integratedFloppyController = !versionAtLeast(version, 2, 4);
  return facts;
}

export function isQ35(name: string): boolean {
  return machineFacts(name).family === 'q35';
}

export function isI440fx(name: string): boolean {
  return machineFacts(name).family === 'i440fx';
}

/**
 * The shape of {@link QemuCaps}: what a probe learns about one QEMU binary,
 * field by field, with the QMP command each fact comes from. Kept apart from
 * `qemu-caps.ts` (which builds it from the probe's answers) so the
 * documented shape and its derivation each stay one readable file.
 *
 * @module
 */
import type { QemuCapabilityFlag } from './capability-flag-names.js';

/** An accelerator QEMU may run guests with: libvirt's domain types `kvm` and `qemu` (TCG). */
export type QemuAccel = 'kvm' | 'tcg';

/** A machine type as `query-machines` reports it. */
export interface QemuMachineType {
  /** The machine type name (`pc-q35-9.2`). */
  name: string;
  /** Short name QEMU also accepts (`pc`, `q35`). */
  alias?: string;
  /** Whether it is QEMU's default machine for the binary. */
  isDefault: boolean;
  /** The most vCPUs a guest of this machine may have. */
  maxCpus: number;
  /** Whether vCPUs can be hot-plugged. */
  hotplugCpus: boolean;
  /** Whether NUMA nodes may be given memory directly (`-numa node,mem=`). */
  numaMemSupported: boolean;
  /** Whether QEMU marks it deprecated. */
  deprecated: boolean;
  /** QOM type of the default CPU (`qemu64-x86_64-cpu`). */
  defaultCpuType?: string;
  /** Id of the default RAM backend (`pc.ram`). */
  defaultRamId?: string;
  /** Whether the machine has ACPI (only QEMU >= 8.0 says). */
  acpi?: boolean;
}

/** A CPU model as `query-cpu-definitions` reports it. */
export interface QemuCpuModel {
  /** QEMU's model name. */
  name: string;
  /** The QOM type behind the model. */
  typename?: string;
  /** Whether the model runs on this host with this accelerator; absent when QEMU did not say. */
  usable?: boolean;
  /** Features that make it unusable, in QEMU's spelling. */
  blockers: string[];
  /** Whether QEMU marks it deprecated. */
  deprecated: boolean;
  /** The versioned model this name stands for (`Broadwell` -> `Broadwell-v1`). */
  aliasOf?: string;
  /** Whether the model gives the same CPU on any host (safe to migrate). */
  migrationSafe?: boolean;
  /** Whether the model never changes between QEMU versions. */
  static?: boolean;
}

/** One property of the host CPU's expansion (`query-cpu-model-expansion`): a feature or a value. */
export interface QemuHostCpuProp {
  /** The property's name, in QEMU's spelling (`avx2`, `family`, `model-id`). */
  name: string;
  /** The JSON type of `value`: features are `boolean`. */
  type: 'boolean' | 'number' | 'string';
  /** The property's value: for a feature, whether the CPU has it. */
  value: boolean | number | string;
  /**
   * For boolean features that are on: whether they survive migration. A
   * feature on only without migratability is listed on, not migratable.
   */
  migratable?: boolean;
}

/** QEMU's static expansion of the CPU a guest gets with `host` (KVM) or `max` (TCG). */
export interface QemuHostCpu {
  /** The static base model the properties apply to (`base`). */
  model: string;
  /** True when QEMU told migratable and non-migratable features apart. */
  migratability: boolean;
  /** In the order of QEMU's migratable expansion. */
  props: QemuHostCpuProp[];
  /** Features QEMU reports as deprecated for this CPU (QEMU >= 10.1). */
  deprecatedProps?: string[];
}

/** AMD SEV facts of the host, from `query-sev-capabilities`. */
export interface QemuSevCaps {
  /** The page-table bit that marks memory encrypted (`cbitpos` of `<sev>`). */
  cbitpos: number;
  /** Physical address bits lost to encryption. */
  reducedPhysBits: number;
  /** Platform Diffie-Hellman key, base64. */
  pdh: string;
  /** The platform certificate chain, base64. */
  certChain: string;
  /** The unique id of the first CPU socket, base64, when QEMU reports it. */
  cpu0Id?: string;
}

/** Intel SGX facts of the host, from `query-sgx-capabilities`; sizes in KiB. */
export interface QemuSgxCaps {
  /** Flexible launch control: the guest may use its own launch enclave keys. */
  flc: boolean;
  /** SGX1 instructions are available. */
  sgx1: boolean;
  /** SGX2 (dynamic enclave memory) instructions are available. */
  sgx2: boolean;
  /** Total EPC (enclave page cache) size, KiB. */
  sectionSize: number;
  /** The EPC sections, each on a NUMA node, sizes in KiB. */
  sections: Array<{
    /** The NUMA node the section is on. */
    node: number;
    /** The section's size, KiB. */
    size: number;
  }>;
}

/**
 * What QEMU offers under one accelerator (KVM or TCG): machine types, CPU models and the host CPU.
 */
export interface QemuAccelCaps {
  /** The machine types, as `query-machines` lists them. */
  machines: QemuMachineType[];
  /** The CPU models, as `query-cpu-definitions` lists them. */
  cpuModels: QemuCpuModel[];
  /** The CPU a `host-model` guest gets, when QEMU could expand it. */
  hostCpu?: QemuHostCpu;
}

/**
 * Everything a probe learned about one QEMU binary: what `virsh domcapabilities`, define-time
 * defaults and the command line are decided from (libvirt's `virQEMUCaps`).
 */
export interface QemuCaps {
  /** The version of this structure, for the on-disk cache. */
  format: number;
  /** The binary probed, as an absolute path. */
  emulator: string;
  /**
   * libvirt's capability flags this binary has, in libvirt's order (what its
   * cache lists as `<flag name=...>`). See {@link hasFlag}. Always set by
   * `buildQemuCaps`; optional only so hand-made caps (tests) may omit it.
   */
  flags?: QemuCapabilityFlag[];
  /** libvirt's architecture name (`x86_64`, `i686`, `aarch64`, `ppc64`, ...). */
  arch: string;
  /** QEMU's version. */
  version: {
    /** The major version (`9` of 9.2.1). */
    major: number;
    /** The minor version (`2` of 9.2.1). */
    minor: number;
    /** The micro version (`1` of 9.2.1). */
    micro: number;
  };
  /** major * 1,000,000 + minor * 1,000 + micro, as libvirt encodes versions. */
  versionNumber: number;
  /** QEMU's package string (the distribution's build). */
  package: string;
  /** Whether QEMU has KVM support and whether it could use it on this host. */
  kvm: {
    /** Whether the binary was built with KVM (`query-kvm`'s `present`). */
    present: boolean;
    /** Whether KVM is usable on this host (`query-kvm`'s `enabled`). */
    enabled: boolean;
  };
  /** The QMP commands QEMU answers to. */
  commands: string[];
  /** The QMP events QEMU may send. */
  events: string[];
  /** `-display` back-ends compiled in. */
  displayTypes: string[];
  /** `-netdev` back-ends compiled in. */
  netdevTypes: string[];
  /** The QOM types QEMU has (devices, objects, machines), from `qom-list-types`. */
  qomTypes: string[];
  /** Properties of the device and object types we asked about. */
  typeProps: Record<string, string[]>;
  /** TPM device models and backend types. */
  tpm: {
    /** TPM device models (`tpm-tis`, `tpm-crb`, ...), from `query-tpm-models`. */
    models: string[];
    /** TPM backend types (`passthrough`, `emulator`), from `query-tpm-types`. */
    types: string[];
  };
  /** Command-line options and their parameters, from `query-command-line-options`. */
  commandLineOptions: Record<string, string[]>;
  /** Migration capabilities QEMU offers. */
  migrationCapabilities: string[];
  /** QEMU's raw `query-sev-capabilities` answer; null without SEV. */
  sev: Record<string, unknown> | null;
  /** QEMU's raw `query-sgx-capabilities` answer; null without SGX. */
  sgx: Record<string, unknown> | null;
  /** GIC versions of an ARM binary and whether KVM (`kernel`) or QEMU (`emulated`) provides them. */
  gic?: Array<{
    /** The GIC version (2 or 3). */
    version: number;
    /** Whether KVM provides it in the kernel. */
    kernel: boolean;
    /** Whether QEMU emulates it. */
    emulated: boolean;
  }>;
  /** SEV facts when the host can run SEV guests. */
  sevCaps?: QemuSevCaps;
  /** SGX facts when the host can give SGX enclaves. */
  sgxCaps?: QemuSgxCaps;
  /** Hyper enlightenments KVM can give (libvirt's names), when probed. */
  hypervFeatures?: string[];
  /** What QEMU offers per accelerator. */
  accel: {
    /** Under KVM; absent when the probe could not run the binary with KVM. */
    kvm?: QemuAccelCaps;
    /** Under TCG (emulation, libvirt's domain type `qemu`). */
    tcg?: QemuAccelCaps;
  };
}

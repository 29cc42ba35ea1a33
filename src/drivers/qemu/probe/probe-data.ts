/**
 * The raw answers a probe collects from one QEMU binary, before they are
 * turned into {@link QemuCaps}. A live probe fills this over QMP; a recorded
 * transcript (libvirt's `.replies` files) fills it by replay, so both paths
 * share one builder.
 *
 * @module
 */

/** One entry of `query-machines`. */
export interface QmpMachineInfo {
  name: string;
  alias?: string;
  'is-default'?: boolean;
  'cpu-max'?: number;
  'hotpluggable-cpus'?: boolean;
  'numa-mem-supported'?: boolean;
  deprecated?: boolean;
  'default-cpu-type'?: string;
  'default-ram-id'?: string;
  acpi?: boolean;
}

/** One entry of `query-cpu-definitions`. */
export interface QmpCpuDefinition {
  name: string;
  typename?: string;
  'unavailable-features'?: string[];
  'alias-of'?: string;
  static?: boolean;
  'migration-safe'?: boolean;
  deprecated?: boolean;
}

/** The `return` of `query-cpu-model-expansion`. */
export interface QmpCpuModelExpansion {
  model: { name: string; props?: Record<string, unknown> };
  /** Features QEMU will drop (QEMU >= 10.1). */
  'deprecated-props'?: string[];
}

/** What we asked one accelerator's process. */
export interface AccelProbeData {
  machines?: QmpMachineInfo[];
  cpuDefinitions?: QmpCpuDefinition[];
  /** Static expansion of `host` (KVM) or `max` (TCG), migratable. */
  hostExpansion?: QmpCpuModelExpansion;
  /** The same with `migratable: false`. */
  hostExpansionAll?: QmpCpuModelExpansion;
  /** Full expansion of `host` with `hv-passthrough` (KVM only; tells the Hyper-V enlightenments). */
  hostExpansionFull?: QmpCpuModelExpansion;
  /** `deprecated-props` of a plain full expansion, asked when the schema says QEMU reports them. */
  deprecatedProps?: string[];
}

export interface ProbeData {
  emulator: string;
  version?: { qemu: { major: number; minor: number; micro: number }; package?: string };
  target?: { arch: string };
  kvm?: { enabled: boolean; present: boolean };
  commands?: string[];
  events?: string[];
  /** `-display` back-ends compiled in (from the QMP schema). */
  displayTypes?: string[];
  /** `-netdev` back-ends compiled in (from the QMP schema). */
  netdevTypes?: string[];
  /** The whole `query-qmp-schema` answer; libvirt's flags ask paths into it. */
  qmpSchema?: unknown[];
  qomTypes?: string[];
  /** `device-list-properties` / `qom-list-properties` answers: type name -> property names. */
  typeProps?: Record<string, string[]>;
  /** `default-value` of the device properties that report one: type name -> property -> value. */
  typePropDefaults?: Record<string, Record<string, unknown>>;
  tpmModels?: string[];
  tpmTypes?: string[];
  /** `query-command-line-options`: option name -> parameter names. */
  commandLineOptions?: Record<string, string[]>;
  migrationCapabilities?: string[];
  /** `query-gic-capabilities` (ARM): each GIC version and how it can be provided. */
  gic?: Array<{ version: number; kernel: boolean; emulated: boolean }>;
  sev?: Record<string, unknown> | null;
  sgx?: Record<string, unknown> | null;
  /** Per accelerator; `kvm` only when KVM was usable for the probe. */
  accel: { kvm?: AccelProbeData; tcg?: AccelProbeData };
}

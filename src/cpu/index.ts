/**
 * `virtkit/cpu`: the CPU model database and feature-policy engine. Runs in
 * Node and in browsers (no I/O): compare, baseline, update, translate,
 * CPUID decoding, the QEMU host-model, per-feature resolution and the QEMU
 * `-cpu` argument.
 *
 * @module
 */

export { formatSignature, signatureFromEax, signatureToEax } from './cpuid.js';
export {
  CPU_ERROR_REASONS,
  CpuError,
  type CpuErrorReason,
  isCpuError,
} from './errors.js';
export { FeatureSet } from './feature-set.js';
export {
  describeBlockers,
  type FleetBlocker,
  type FleetBlockerKind,
  type FleetCell,
  type FleetDomain,
  type FleetGroupPlan,
  type FleetGuestInput,
  type FleetGuestPlan,
  type FleetHostInput,
  type FleetHostSummary,
  type FleetInput,
  type FleetOptions,
  type FleetPlan,
  type FleetVerdict,
  type FleetWhatIf,
  planFleet,
} from './fleet/index.js';
export { type HostModelOptions, hostModelFromQemuExpansion } from './host-model.js';
export {
  type BaselineOptions,
  baselineCpu,
  type CompareOptions,
  type CompareOutcome,
  type CpuDataInput,
  type CpuInput,
  type CpuModelInfo,
  type CpuSignatureValue,
  compareCpu,
  cpuModel,
  cpuModels,
  cpuSignature,
  type DecodeCpuOptions,
  dataHasFeature,
  decodeCpuData,
  encodeCpu,
  expandCpuFeatures,
  type HypervisorModel,
  hasFeature,
  migratableHostCpu,
  type QemuCpuModelInfo,
  qemuExpansionSignature,
  translateCpu,
  updateCpu,
  updateCpuLive,
  x86DataFromQemuExpansion,
} from './operations.js';
export { type QemuCpuArgOptions, qemuCpuArg, qemuFeatureName } from './qemu-arg.js';
export {
  type CpuViolation,
  type FeatureSource,
  type ResolvedCpu,
  type ResolvedFeature,
  type ResolveOptions,
  resolveGuestCpu,
} from './resolve.js';
export type { CompareResult, X86Data } from './x86.js';
export { type X86Database, type X86Feature, type X86Model, type X86Vendor, x86Database } from './x86-db.js';

/**
 * virtkit: libvirt's management model for Node.
 *
 * @module
 */
export * from './conf/index.js';
export { Connection, type ConnectOptions, canonicalUuid, connect, type XmlSource } from './connection.js';
export { Domain, type WriteOptions } from './domain.js';
export { DomainAgent } from './domain-agent.js';
export { DOMAIN_EVENT_IDS } from './domain-events.js';
export type * from './domain-stats.js';
export { DOMAIN_STATS_GROUPS, MEMORY_STAT_TAGS } from './domain-stats.js';
export type * from './domain-tuning.js';
export { BLOCK_IOTUNE_MAX, BLOCK_IOTUNE_NUMBERS } from './domain-tuning.js';
export type * from './domain-tuning-blkio.js';
export { BLKIO_DEVICE_PARAMS, BLKIO_PARAMS } from './domain-tuning-blkio.js';
export type * from './domain-tuning-sched.js';
export { MEMORY_PARAM_UNLIMITED, MEMORY_PARAMS, SCHEDULER_PARAMS } from './domain-tuning-sched.js';
export type * from './driver.js';
export type * from './driver-agent.js';
export { AGENT_DEFAULT_TIMEOUT_MS } from './driver-agent.js';
export type * from './driver-objects.js';
export { NODE_DEVICE_CAPS } from './driver-objects.js';
export type {
  AnyDriverOptions,
  DriverOptionsFor,
  OtherDriverOptions,
  QemuDriverOptions,
  RemoteDriverOptions,
  TestDriverOptions,
} from './driver-options.js';
export {
  buildCommandLine,
  type CommandLine,
  type CommandLinePaths,
} from './drivers/qemu/command-line/index.js';
export type {
  CommandLineSecrets,
  IscsiDirectVolume,
  IscsiLogin,
  IscsiPortal,
  LocalVolume,
  MonitorCommand,
  NetHost,
  NetHostRequest,
  NetworkConnection,
  PasstSocketFn,
  RdpServerSettings,
  ResolvedVolume,
  SecretRef,
  VolumeRequest,
} from './drivers/qemu/command-line/types.js';
export type {
  FirmwareDescriptor,
  FirmwareFile,
  FirmwareMapping,
  FirmwareTarget,
} from './drivers/qemu/defaults/firmware-descriptor.js';
export type { FirmwareSelectOptions } from './drivers/qemu/defaults/firmware-select.js';
export { applyQemuDefaults, type QemuDefaultsOptions } from './drivers/qemu/defaults/index.js';
export type { QemuDriverConfig } from './drivers/qemu/driver-config.js';
export {
  QEMU_CAPABILITY_FLAGS,
  type QemuCapabilityFlag,
} from './drivers/qemu/probe/capability-flag-names.js';
export { type ProbeOptions, probeQemu } from './drivers/qemu/probe/probe.js';
export {
  hasFlag,
  type QemuAccelCaps,
  type QemuCaps,
  type QemuCpuModel,
  type QemuHostCpu,
  type QemuHostCpuProp,
  type QemuMachineType,
  type QemuSevCaps,
  type QemuSgxCaps,
} from './drivers/qemu/probe/qemu-caps.js';
export { formatQemuCapsXml, type QemuCapsCacheStamp } from './drivers/qemu/probe/qemu-caps-xml.js';
export { QmpClient, QmpError, type QmpErrorReason } from './drivers/qemu/qmp/index.js';
export type {
  QmpCommandOptions,
  QmpConnectOptions,
  QmpEvent,
  QmpGreeting,
  QmpOpenOptions,
} from './drivers/qemu/qmp/qmp-client.js';
export { registerDriver, unregisterDriver } from './drivers/registry.js';
export {
  type Fault,
  type FaultError,
  type FaultMatch,
  type MethodSelector,
  type TestCall,
  TestControl,
  type TestMethod,
} from './drivers/test/index.js';
export * from './errors.js';
export {
  type AnyEvent,
  EventStream,
  type EventStreamOptions,
  type StreamEvent,
} from './event-stream.js';
export {
  type FleetConnectionHost,
  type FleetFromConnectionsInput,
  type FleetFromConnectionsResult,
  type FleetHostFailure,
  planFleetFromConnections,
} from './fleet.js';
export type { MigrationJob } from './migration-job.js';
export { Network, NetworkPort, Networks } from './network.js';
export { NodeDevice, NodeDevices } from './node-device.js';
export type {
  QemuMonitorCommandOptions,
  QemuMonitorEventOptions,
  QemuMonitorReply,
  QemuMonitorRequest,
  QmpCommand,
} from './qemu-monitor.js';
export { Secret, Secrets } from './secret.js';
export { StoragePool, StorageVol } from './storage-pool.js';
export { StoragePools } from './storage-pools.js';
export {
  type ConnectUri,
  isRemoteUri,
  parseUri,
  URI_TRANSPORTS,
  type UriTransport,
  uriParam,
} from './uri.js';
export {
  parseXml,
  type SchemaKind,
  serializeXml,
  type ValidationResult,
  validate,
  xmlDiff,
  xmlEqual,
} from './xml/index.js';

/**
 * virtkit: libvirt's management model for Node.
 *
 * @module
 */
export * from './conf/index.js';
export { Connection, type ConnectOptions, canonicalUuid, connect, type XmlSource } from './connection.js';
export { Domain } from './domain.js';
export type * from './driver.js';
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
export { applyQemuDefaults, type QemuDefaultsOptions } from './drivers/qemu/defaults/index.js';
export type { QemuCapabilityFlag } from './drivers/qemu/probe/capability-flag-names.js';
export { type ProbeOptions, probeQemu } from './drivers/qemu/probe/probe.js';
export { hasFlag, type QemuCaps } from './drivers/qemu/probe/qemu-caps.js';
export { formatQemuCapsXml, type QemuCapsCacheStamp } from './drivers/qemu/probe/qemu-caps-xml.js';
export { QmpClient, QmpError } from './drivers/qemu/qmp/index.js';
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
export { EventStream, type EventStreamOptions } from './event-stream.js';
export { Network, NetworkPort, Networks } from './network.js';
export { NodeDevice, NodeDevices } from './node-device.js';
export { Secret, Secrets } from './secret.js';
export { StoragePool, StorageVol } from './storage-pool.js';
export { StoragePools } from './storage-pools.js';
export { type ConnectUri, isRemoteUri, parseUri, type UriTransport, uriParam } from './uri.js';
export {
  parseXml,
  type SchemaKind,
  serializeXml,
  type ValidationResult,
  validate,
  xmlDiff,
  xmlEqual,
} from './xml/index.js';

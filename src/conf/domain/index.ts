/**
 * The domain model: {@link DomainDef} and its parts.
 *
 * @module
 */
export * from './address.js';
export * from './clock.js';
export { formatIdSet, parseIdSet } from './cpuset.js';
export {
  type DeviceDef,
  type DeviceElement,
  type DeviceKind,
  type DeviceModels,
  deviceXml,
  type FoundDevice,
  findDevice,
  parseDeviceElement,
} from './device-edit.js';
export * from './devices/index.js';
export * from './domain-def.js';
export * from './features.js';
export { addImplicitControllers } from './implicit-controllers.js';
export { diskNameIndex, type NormalizeOptions, randomMac, randomUuid } from './normalize.js';
export * from './os.js';
export * from './resources.js';

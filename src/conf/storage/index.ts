/**
 * Storage pools and volumes.
 *
 * @module
 */
export * from './common.js';
export * from './encryption.js';
export * from './pool-def.js';
export { FS_NS, RBD_NS, type RbdConfigOption } from './pool-namespaces.js';
export * from './vol-def.js';

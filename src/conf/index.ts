/**
 * `virtkit/conf`: typed models of libvirt's XML formats with their mappers.
 * No Node-only imports: runs in browsers.
 *
 * @module
 */
export * from './binding.js';
export * from './capabilities.js';
export * from './cpu.js';
export * from './cpu-data.js';
export * from './domain/index.js';
export * from './domaincaps.js';
export * from './network/index.js';
export * from './nodedev/index.js';
export * from './secret.js';
export * from './storage/index.js';
export * from './units.js';

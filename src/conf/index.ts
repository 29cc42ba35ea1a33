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
export * from './units.js';

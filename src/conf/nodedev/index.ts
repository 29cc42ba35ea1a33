/**
 * Node devices.
 *
 * @module
 */
export * from './capability.js';
export * from './caps-misc.js';
export * from './caps-pci.js';
export * from './caps-s390.js';
export * from './nodedev-def.js';

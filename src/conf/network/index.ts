/**
 * Virtual networks.
 *
 * @module
 */
export * from './addr.js';
export * from './dns.js';
export * from './forward.js';
export * from './ip.js';
export * from './netdev.js';
export * from './network-def.js';
export * from './port-def.js';

/**
 * Domains of the QEMU driver: definitions, running guests, events.
 *
 * @module
 */
export { ConfigStore } from './config-store.js';
export { guestSpecFromDef } from './guest-spec-from-def.js';
export { QemuDomains, type QemuDomainsOptions } from './qemu-domains.js';

/**
 * Domains of the QEMU driver: definitions, running guests, events.
 *
 * @module
 */
export { ConfigStore } from './config-store.js';
export {
  type DomainListAccess,
  type MigrationHosts,
  migrateDomain,
} from './migration.js';
export { type CommandLineFor, QemuDomains, type QemuDomainsOptions } from './qemu-domains.js';
export { runnerGuestFromDef } from './runner-guest-from-def.js';
export { domainXmlToNative, NATIVE_FORMATS, shellQuote } from './xml-to-native.js';

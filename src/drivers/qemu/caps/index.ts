/**
 * What the QEMU driver tells about the host and its emulators: host facts
 * (firmware, KVM, TPM, VFIO), host info (NUMA, CPUs, caches from sysfs), host-model CPU
 * resolution, and the builders of `<capabilities>` and `<domainCapabilities>`.
 *
 * @module
 */
export * from './capabilities-builder.js';
export * from './domain-caps-builder.js';
export * from './host-facts.js';
export * from './host-info.js';
export * from './host-model.js';
export * from './host-sysfs.js';

/**
 * Probing a QEMU binary: the monitor process that talks QMP to it, the probe
 * conversation and its recording (`.replies` transcripts), the typed
 * `QemuCaps` built from the answers with libvirt's capability flags, the
 * `<qemuCaps>` cache document, and the on-disk cache of them.
 *
 * @module
 */

export * from './capability-flag-names.js';
export * from './capability-flags.js';
export * from './caps-cache.js';
export * from './probe.js';
export * from './probe-data.js';
export * from './probe-record.js';
export * from './qapi-schema.js';
export * from './qemu-caps.js';
export * from './qemu-caps-xml.js';
export * from './qemu-monitor-process.js';
export * from './transcript.js';

/**
 * Probing a QEMU binary: the monitor process that talks QMP to it, the probe
 * conversation and its recording (`.replies` transcripts), the typed
 * `QemuCaps` built from the answers, and the on-disk cache of them.
 *
 * @module
 */
export * from './caps-cache.js';
export * from './probe.js';
export * from './probe-data.js';
export * from './probe-record.js';
export * from './qemu-caps.js';
export * from './qemu-monitor-process.js';
export * from './transcript.js';

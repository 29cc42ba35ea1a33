/**
 * Machine-type knowledge QEMU does not report (root bus, integrated
 * controllers, floppy, SMM). No Node-only imports: runs in browsers.
 *
 * @module
 */
export * from './machine-types.js';

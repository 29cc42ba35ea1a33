/**
 * The QEMU driver's storage: `dir` pools and their volumes (qemu-img), on
 * the driver's own roots, and what a `<disk type='volume'>` resolves to.
 *
 * @module
 */

export { sessionPoolRoots } from './pool-roots.js';
export type { VolumeUsers } from './pool-table.js';
export { QemuStorage } from './qemu-storage.js';
export { guestUsingVolume } from './volume-users.js';

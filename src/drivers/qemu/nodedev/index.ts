/**
 * The QEMU driver's host devices: a sysfs backend like libvirt's udev one,
 * and PCI passthrough (detach, re-attach, reset) with the host's own
 * devices refused.
 *
 * @module
 */
export { QemuNodeDevices, type QemuNodeDevicesOptions } from './qemu-nodedevs.js';

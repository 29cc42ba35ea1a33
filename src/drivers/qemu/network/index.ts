/**
 * The QEMU driver's virtual networks (`conn.networks`): the table shared by
 * the roots' connections, what a start makes on the host (bridge, address,
 * nftables table, dnsmasq), and the ports a guest's `<interface
 * type='network'>` takes at start.
 *
 * @module
 */

export type { GuestPorts } from './net-ports.js';
export { QemuNetworks } from './qemu-networks.js';

/**
 * spapr-vio addresses at define time: an `ibmvscsi` SCSI controller sits
 * on the sPAPR VIO bus (on any machine; libvirt does not limit the model
 * to pseries guests), at QEMU's default register 0x2000, or the next free
 * one 0x1000 further on. A register the definition gives is kept.
 *
 * @module
 */
import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';

/** QEMU's default register of a vscsi adapter (hw/scsi/spapr_vscsi.c). */
const VIO_ADDR_SCSI = 0x2000;

export function assignSpaprVioAddresses(def: DomainDef): void {
  const dev = def.devices;
  if (!dev) return;
  const holders: Array<{ address?: DeviceAddress }> = [
    ...(dev.controllers ?? []),
    ...(dev.interfaces ?? []),
    ...(dev.serials ?? []),
  ];
  const used = (reg: number, self: object) =>
    holders.some((h) => h !== self && h.address?.type === 'spapr-vio' && h.address.reg === reg);
  for (const [i, c] of (dev.controllers ?? []).entries()) {
    if (c.type !== 'scsi' || c.model !== 'ibmvscsi') continue;
    if (c.address !== undefined && c.address.type !== 'spapr-vio') continue;
    if (c.address?.reg !== undefined) {
      if (used(c.address.reg, c))
        throw new VirError(
          'XML_DETAIL',
          'qemu',
          `spapr-vio address 0x${c.address.reg.toString(16)} already in use`,
          {
            field: `/domain/devices/controller[${i + 1}]/address/@reg`,
          },
        );
      continue;
    }
    let reg = VIO_ADDR_SCSI;
    while (used(reg, c)) reg += 0x1000;
    c.address = { type: 'spapr-vio', reg };
  }
}

/**
 * libvirt's parse-time rules for `<hostdev>`: a subsystem device is either
 * managed (detached from its host driver by libvirt) or not, and the
 * definition always says which; an iSCSI source naming no LUN means LUN 0,
 * written out as `target/0` (as for an iSCSI disk); a SCSI host device
 * without an address gets the first free unit of a SCSI controller.
 *
 * @module
 */
import { unknownContent } from '../binding.js';
import type { DiskDef, HostdevDef } from './devices/index.js';

/**
 * Units a SCSI controller offers a host device that names no address:
 * 0 to 6, a narrow bus's, whose unit 7 is the controller's own. libvirt's
 * QEMU driver uses the narrow count here whatever the controller's model.
 */
const SCSI_UNITS = 7;

export function normalizeHostdev(h: HostdevDef): void {
  if (h.mode === 'subsystem') h.managed ??= false;
  if (h.type !== 'scsi' || h.source === undefined) return;
  // The source's protocol and name are kept as XML the model does not declare.
  const attrs = unknownContent(h.source)?.attrs ?? [];
  const iscsi = attrs.some((a) => a.name === 'protocol' && a.value === 'iscsi');
  const name = attrs.find((a) => a.name === 'name');
  if (iscsi && name && !name.value.includes('/')) name.value = `${name.value}/0`;
}

/**
 * Gives each SCSI host device without an address the first free unit on
 * bus 0, target 0 of the lowest-numbered controller that has one, in device
 * order: units taken by SCSI disks and by other host devices (whether their
 * addresses were written or assigned here) are skipped, and past the last
 * controller the next index is used, for {@link addImplicitControllers} to
 * create. As libvirt, it does not look at which controllers exist.
 */
export function assignScsiHostdevAddresses(hostdevs: HostdevDef[], disks: readonly DiskDef[]): void {
  const used = new Set<string>();
  const key = (controller: number, unit: number) => `${controller}:${unit}`;
  const onFirstTarget = (a: { bus?: number; target?: number }) => (a.bus ?? 0) === 0 && (a.target ?? 0) === 0;
  for (const d of disks)
    if (d.target.bus === 'scsi' && d.address?.type === 'drive' && onFirstTarget(d.address))
      used.add(key(d.address.controller ?? 0, d.address.unit ?? 0));
  for (const h of hostdevs)
    if (isScsiHostdev(h) && h.address?.type === 'drive' && onFirstTarget(h.address))
      used.add(key(h.address.controller ?? 0, h.address.unit ?? 0));
  for (const h of hostdevs) {
    if (!isScsiHostdev(h) || h.address !== undefined) continue;
    for (let controller = 0; ; controller++) {
      let unit = 0;
      while (unit < SCSI_UNITS && used.has(key(controller, unit))) unit++;
      if (unit === SCSI_UNITS) continue;
      used.add(key(controller, unit));
      h.address = { type: 'drive', controller, bus: 0, target: 0, unit };
      break;
    }
  }
}

/** A SCSI host device (`<hostdev mode='subsystem' type='scsi'>`), which sits on a SCSI controller. */
export function isScsiHostdev(h: HostdevDef): boolean {
  return h.mode === 'subsystem' && h.type === 'scsi';
}

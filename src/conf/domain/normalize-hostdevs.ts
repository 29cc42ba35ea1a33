/**
 * libvirt's parse-time rule for `<hostdev>`: a subsystem device is either
 * managed (detached from its host driver by libvirt) or not, and the
 * definition always says which; an iSCSI source naming no LUN means LUN 0,
 * written out as `target/0` (as for an iSCSI disk).
 *
 * @module
 */
import { unknownContent } from '../binding.js';
import type { HostdevDef } from './devices/index.js';

export function normalizeHostdev(h: HostdevDef): void {
  if (h.mode === 'subsystem') h.managed ??= false;
  if (h.type !== 'scsi' || h.source === undefined) return;
  // The source's protocol and name are kept as XML the model does not declare.
  const attrs = unknownContent(h.source)?.attrs ?? [];
  const iscsi = attrs.some((a) => a.name === 'protocol' && a.value === 'iscsi');
  const name = attrs.find((a) => a.name === 'name');
  if (iscsi && name && !name.value.includes('/')) name.value = `${name.value}/0`;
}

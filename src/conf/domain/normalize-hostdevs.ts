/**
 * libvirt's parse-time rule for `<hostdev>`: a subsystem device is either
 * managed (detached from its host driver by libvirt) or not, and the
 * definition always says which.
 *
 * @module
 */
import type { HostdevDef } from './devices/index.js';

export function normalizeHostdev(h: HostdevDef): void {
  if (h.mode === 'subsystem') h.managed ??= false;
}

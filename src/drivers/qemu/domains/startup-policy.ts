/**
 * What a start does with a disk whose image file is missing, by the disk's
 * `startupPolicy` (libvirt's presence check before QEMU runs):
 *
 * - `optional`: a cdrom or floppy starts empty (its media dropped, a
 *   `disk-change` event with reason `missing-on-start`); another disk is
 *   left out of the guest (`drop-missing-on-start`). On a restore, a
 *   migration or a revert only the media may go: the saved state has the
 *   device, so a whole disk missing fails then.
 * - `requisite`: fails a fresh boot, behaves as `optional` otherwise.
 * - `mandatory` or none: the start fails (`SYSTEM_ERROR`, as libvirt's
 *   "Cannot access storage file").
 *
 * Only local image files are looked at (a network source or a block device
 * QEMU reports itself). The live definition is changed in place, so the
 * command line and the live XML agree on what the guest has. The disks are
 * visited last to first, as libvirt does, which orders the events.
 *
 * @module
 */
import { existsSync } from 'node:fs';
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import type { DomainDiskChangeEvent, DomainRef } from '../../../domain-events.js';
import { VirError } from '../../../errors.js';
import { diskAlias } from '../command-line/disk-device.js';

/** A start that carries state over (restore, incoming migration, snapshot revert) rather than booting afresh. */
export interface PresenceContext {
  readonly coldBoot: boolean;
  readonly domain: DomainRef;
}

/** Applies the disks' startup policies to `live`; returns the `disk-change` events to send. */
export function applyStartupPolicies(live: DomainDef, ctx: PresenceContext): DomainDiskChangeEvent[] {
  const disks = live.devices?.disks;
  if (!disks) return [];
  const events: DomainDiskChangeEvent[] = [];
  for (let i = disks.length - 1; i >= 0; i--) {
    const d = disks[i] as DiskDef;
    const path = d.type === 'file' || d.type === undefined ? d.source?.file : undefined;
    if (!path || existsSync(path)) continue;
    const policy = d.source?.startupPolicy;
    const removable = d.device === 'cdrom' || d.device === 'floppy';
    const drops =
      policy === 'optional' ? ctx.coldBoot || removable : policy === 'requisite' ? !ctx.coldBoot : false;
    if (!drops) {
      throw new VirError(
        'SYSTEM_ERROR',
        'storage',
        `Cannot access storage file '${path}': No such file or directory`,
        {
          field: `devices/disk[${i + 1}]/source/@file`,
        },
      );
    }
    const base = {
      type: 'disk-change' as const,
      domain: ctx.domain,
      timestamp: Date.now(),
      oldSrcPath: path,
      newSrcPath: '',
      devAlias: diskAlias(live, d),
    };
    if (removable) {
      // the tray stays, without media: no source, and no format for the image that is not there
      delete d.source;
      delete d.backingStore;
      if (d.driver) delete d.driver.type;
      events.push({ ...base, reason: 'missing-on-start' });
    } else {
      disks.splice(i, 1);
      events.push({ ...base, reason: 'drop-missing-on-start' });
    }
  }
  return events;
}

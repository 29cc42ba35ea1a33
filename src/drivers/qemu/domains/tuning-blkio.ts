/**
 * `virDomainGetBlkioParameters` / `SetBlkioParameters` for the QEMU
 * driver's table, as libvirt's QEMU driver does them on a cgroup v1 host:
 * the running guest's weight read from its blkio group, its per-device
 * values from the live definition (which a set fills with what the kernel
 * read back), the persistent ones in `<blkiotune>`. Every list is parsed,
 * every path checked to be a block device and the group's files found
 * before anything is written. No `tunable` event (libvirt sends none).
 * The session instance refuses both calls as libvirt does.
 *
 * @module
 */
import {
  type BlkioChanges,
  type BlkioDeviceParam,
  blkioValues,
  withBlkio,
} from '../../../conf/domain/blkio-edit.js';
import { type BlkioParameters, blkioChanges } from '../../../domain-tuning-blkio.js';
import type { TuningParamsOptions } from '../../../domain-tuning-sched.js';
import type { DomainRef } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { cgroupHost, guestCgroup } from '../lifecycle/cgroup.js';
import {
  blockDeviceNumber,
  checkBlkioGroup,
  readBlkioWeight,
  setBlkioDevice,
  setBlkioWeight,
} from '../lifecycle/cgroup-blkio.js';
import { cgroupV2Refusal } from '../lifecycle/cgroup-v2.js';
import { commitConfig, commitLive } from './commit-defs.js';
import type { Entry } from './domain-entry.js';
import type { DomainListAccess } from './migration.js';
import { targets } from './tuning.js';

function refuseSession(side: DomainListAccess): void {
  if (!side.runners.options.cgroups)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'Block I/O tuning is not available in session mode');
}

/** The running guest's blkio group. */
function liveGroup(e: Entry): string {
  const host = cgroupHost();
  const pid = e.runner?.pid;
  const dir = host && pid !== undefined ? guestCgroup(host, pid)?.blkio : undefined;
  if (dir === undefined)
    throw cgroupV2Refusal('blkio') ?? new VirError('OPERATION_INVALID', 'qemu', "blkio cgroup isn't mounted");
  return dir;
}

export async function getBlkioParameters(
  side: DomainListAccess,
  dom: DomainRef,
  opts: TuningParamsOptions,
): Promise<BlkioParameters> {
  const e = await side.owned(dom, opts, 'read the block I/O parameters of');
  refuseSession(side);
  const { live } = targets(e, opts);
  if (live && e.live) return { ...blkioValues(e.live), weight: readBlkioWeight(liveGroup(e)) };
  return { ...blkioValues(e.config as NonNullable<Entry['config']>) };
}

/** Writes the changes into the group; the values are what the kernel kept. */
function applyLive(dir: string, changes: BlkioChanges): BlkioChanges {
  const kinds = Object.keys(changes.devices ?? {}) as BlkioDeviceParam[];
  checkBlkioGroup(dir, changes.weight !== undefined, kinds);
  for (const k of kinds) for (const d of changes.devices?.[k] ?? []) blockDeviceNumber(d.path);
  const devices: NonNullable<BlkioChanges['devices']> = {};
  for (const k of kinds)
    devices[k] = (changes.devices?.[k] ?? []).map((d) => ({
      path: d.path,
      value: setBlkioDevice(dir, k, d.path, d.value),
    }));
  return {
    ...(changes.weight !== undefined ? { weight: setBlkioWeight(dir, changes.weight) } : {}),
    devices,
  };
}

export async function setBlkioParameters(
  side: DomainListAccess,
  dom: DomainRef,
  params: BlkioParameters,
  opts: TuningParamsOptions,
): Promise<void> {
  const e = await side.owned(dom, opts, 'set the block I/O parameters of');
  refuseSession(side);
  await side.jobs.run(
    e.uuid,
    'set block I/O parameters',
    () => {
      const changes = blkioChanges(params);
      const { live, config } = targets(e, opts);
      if (live && e.live && e.runner) {
        const kept = applyLive(liveGroup(e), changes);
        commitLive(e, withBlkio(e.live, kept));
      }
      if (config && e.config) commitConfig(side, e, withBlkio(e.config, changes));
    },
    opts.signal,
  );
}

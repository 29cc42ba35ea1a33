/**
 * What the three device calls share: the flags resolved against the
 * domain's state (libvirt's modification impact), the domain's job around
 * a call, and how a changed live or persistent definition is kept.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { DomainRef } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import type { VolumeLookup } from './disk-chain.js';
import { type Entry, isActive, type WriteFlags } from './domain-entry.js';
import type { HostdevRoots } from './hotplug-hostdev.js';
import type { HotplugNetHost } from './hotplug-nic.js';
import type { DomainListAccess } from './migration.js';

/** What the device calls need of the domain list (the same handles a migration gets). */
export type HotplugSide = Pick<
  DomainListAccess,
  'jobs' | 'store' | 'owned' | 'enter' | 'prepare' | 'table'
> & {
  /** The networks and bridge helper of the same roots, for an interface's host end. */
  readonly hostNet?: HotplugNetHost;
  /** Where host devices and `/dev/vhost-vsock` are looked for (tests; default the host's own). */
  readonly hostdevRoots?: HostdevRoots;
  /** What a `<disk type='volume'>` is in the pools of the same roots (see `QemuDomainsOptions.volumes`). */
  readonly volumes?: (def: DomainDef) => Promise<VolumeLookup | undefined>;
};

/** Which of the definitions a call changes. */
export interface Impact {
  live: boolean;
  config: boolean;
}

/** libvirt's `virDomainObjUpdateModificationImpact`: which definitions a call with these flags changes. */
export function impact(e: Entry, opts: WriteFlags): Impact {
  const given = opts.live === true || opts.config === true;
  const active = isActive(e);
  const live = opts.live === true || (!given && active);
  const config = opts.config === true || (!given && !active);
  if (live && !active) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
  if (config && !e.config)
    throw new VirError('OPERATION_INVALID', 'qemu', 'transient domains do not have any persistent config');
  return { live, config };
}

/** Runs `fn` in the domain's job, with the definitions the flags change. */
export async function inJob(
  side: HotplugSide,
  dom: DomainRef,
  opts: WriteFlags,
  what: string,
  fn: (e: Entry, i: Impact) => Promise<void>,
): Promise<void> {
  await side.enter(opts);
  const e = await side.owned(dom, opts, what);
  await side.jobs.run(e.uuid, what, () => fn(e, impact(e, opts)), opts.signal);
}

/** The running guest's live definition and runner; OPERATION_INVALID when it stopped. */
export function liveParts(e: Entry): { live: DomainDef; runner: NonNullable<Entry['runner']> } {
  if (!e.live || !e.runner) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
  return { live: e.live, runner: e.runner };
}

export { commitConfig, commitLive } from './commit-defs.js';

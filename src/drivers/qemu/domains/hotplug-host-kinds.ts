/**
 * The device calls' side of the kinds that take something of the host:
 * host devices (`hotplug-hostdev.ts`) and the vsock (`hotplug-vsock.ts`).
 * What they share with the other kinds (the define-time pass, the job, the
 * definitions kept) stays in `hotplug.ts`; this picks the kind's rules and
 * looks at the other running guests of the same driver, as libvirt's host
 * device manager and CID allocation do.
 *
 * @module
 */
import type { DeviceKind, FoundDevice } from '../../../conf/domain/device-edit.js';
import { findHostdevIndex } from '../../../conf/domain/device-match.js';
import type { HostdevDef, VsockDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { QmpClient } from '../qmp/index.js';
import { cloneDef, type Entry } from './domain-entry.js';
import { startingCids } from './host-devices-start.js';
import {
  HOSTDEV_ALIAS_AFTER,
  hostdevNodes,
  nextHostdevAlias,
  plugHostdev,
  reattachHostdev,
  refuseHostdevPlug,
  setAliasAfter,
  stampHostdevAliases,
} from './hotplug-hostdev.js';
import type { HotplugSide } from './hotplug-job.js';
import { aliasOf } from './hotplug-kinds.js';
import { plugVsock, refuseVsockPlug, VSOCK_ALIAS, vsockCids } from './hotplug-vsock.js';

/** The kinds this module plugs live. */
export const HOST_KINDS: ReadonlySet<DeviceKind> = new Set(['hostdev', 'vsock']);

/** The running guests' live definitions, each with its name. */
function lives(side: HotplugSide): Array<{ name: string; live: DomainDef }> {
  const out: Array<{ name: string; live: DomainDef }> = [];
  for (const e of side.table.byUuid.values()) if (e.live) out.push({ name: e.name, live: e.live });
  return out;
}

/** Writes the start's ids of the host devices and the vsock as aliases where they have none. */
export function stampHostKindAliases(live: DomainDef): void {
  stampHostdevAliases(live);
  const v = live.devices?.vsock;
  if (v && aliasOf(v) === undefined) setAliasAfter(v, VSOCK_ALIAS, ['cid']);
}

/** Refuses, before anything is sent, what the kind does not plug live (libvirt's rules). */
export async function refuseHostKindPlug(
  side: HotplugSide,
  e: Entry,
  base: DomainDef,
  added: FoundDevice,
): Promise<void> {
  if (added.kind === 'vsock') {
    await refuseVsockPlug(base, added.device as VsockDef, added.field, side.hostdevRoots?.vhostVsock);
    return;
  }
  // this guest's own devices as they were before, the others' as they are
  const all = lives(side).filter((l) => l.name !== e.name);
  refuseHostdevPlug([{ name: e.name, live: base }, ...all], added.device as HostdevDef, added.field);
}

/** libvirt's `virDomainHostdevFind` before an attach: a host device a definition has already is refused. */
export function refuseHostdevTwice(def: DomainDef, h: HostdevDef): void {
  try {
    findHostdevIndex(def.devices?.hostdevs ?? [], h);
  } catch {
    return;
  }
  throw new VirError('OPERATION_INVALID', 'qemu', 'device is already in the domain configuration', {
    field: '/hostdev/source',
  });
}

/** `next` with the plugged host device's `managed` left out, for the start's host-side check. */
export function withoutManaged(next: DomainDef, added: FoundDevice): DomainDef {
  if (added.kind !== 'hostdev' || (added.device as HostdevDef).managed !== true) return next;
  const copy = cloneDef(next);
  const h = copy.devices?.hostdevs?.[added.index];
  if (h) delete h.managed;
  return copy;
}

/** The alias the device gets: a user alias as given, else the kind's rule. */
export function hostKindAlias(base: DomainDef, added: FoundDevice): string {
  const user = aliasOf(added.device);
  if (user?.startsWith('ua-')) return user;
  return added.kind === 'vsock' ? VSOCK_ALIAS : nextHostdevAlias(base);
}

/** Writes the alias into the device where libvirt has it. */
export function setHostKindAlias(added: FoundDevice, alias: string): void {
  setAliasAfter(added.device, alias, added.kind === 'vsock' ? ['cid'] : HOSTDEV_ALIAS_AFTER);
}

/** Plugs the device (id `alias`) with its kind's host work. */
export async function plugHostKind(
  side: HotplugSide,
  qmp: QmpClient,
  next: DomainDef,
  added: FoundDevice,
  alias: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (added.kind === 'vsock') {
    const taken = vsockCids(lives(side).map((l) => l.live));
    for (const c of startingCids()) taken.add(c);
    await plugVsock(qmp, next, added, taken, signal);
    return;
  }
  await plugHostdev(qmp, next, added, alias, side.hostdevRoots ?? {}, signal);
}

/** The QEMU id of a plugged host device or vsock (its alias, after {@link stampHostKindAliases}). */
export function hostKindLiveId(f: FoundDevice): string {
  const a = aliasOf(f.device);
  if (a === undefined) throw new VirError('INTERNAL_ERROR', 'qemu', `a ${f.kind} without a QEMU id`);
  return a;
}

/** The block nodes under the device, to delete once QEMU deleted it. */
export function hostKindNodes(qmp: QmpClient, f: FoundDevice, id: string): Promise<string[]> {
  return f.kind === 'hostdev' ? hostdevNodes(qmp, f.device as HostdevDef, id) : Promise.resolve([]);
}

/** What the host gets back once QEMU deleted the device: a managed PCI device its host driver. */
export async function releaseHostKind(side: HotplugSide, f: FoundDevice): Promise<void> {
  if (f.kind === 'hostdev')
    await reattachHostdev(f.device as HostdevDef, side.hostdevRoots ?? {}).catch(() => {});
}

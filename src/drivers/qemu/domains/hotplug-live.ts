/**
 * What a running guest is sent for each device kind that plugs in live, as
 * libvirt's QEMU driver does it: disks on virtio, SCSI (an existing
 * controller) and USB, with their `-blockdev` chain; interfaces (user,
 * bridge, network, ethernet) with their netdev, on the host end
 * `hotplug-nic.ts` made. The options come from the command-line builders
 * (`buildNic`, `diskImageNodes`, `diskDeviceProps`), so a plugged device is
 * the device a start would have made. Other kinds are `CONFIG_UNSUPPORTED`
 * live (they can be attached to the definition).
 *
 * @module
 */

import type { DeviceKind } from '../../../conf/domain/device-edit.js';
import type { DiskDef, InterfaceDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { machineFacts } from '../../../machine/machine-types.js';
import { ArgvBuilder } from '../command-line/argv-builder.js';
import { bootIndexes } from '../command-line/device-props.js';
import { defaultHostCdrom, diskImageNodes } from '../command-line/disk-blockdev.js';
import { diskAlias, diskDeviceProps } from '../command-line/disk-device.js';
import { diskLayers, layerCount } from '../command-line/disk-layers.js';
import { resolvedVolumeDisk } from '../command-line/disk-volumes.js';
import { refuseUnbuilt } from '../command-line/disks.js';
import { buildNic, checkConsumed } from '../command-line/net.js';
import { throttleFilterCount } from '../command-line/throttle.js';
import { nextNodeNumber } from '../lifecycle/node-numbers.js';
import type { QmpClient } from '../qmp/index.js';
import { type DiskChainPlan, foundCount, numberDiskChain, placeDiskChain } from './disk-chain.js';
import type { DiskNodeRange } from './disk-nodes.js';
import type { NicHostEnd } from './hotplug-nic.js';
import { type PlugStep, plugSteps, runSteps, undoSteps } from './hotplug-qmp.js';

const HOTPLUG_BUSES = new Set(['virtio', 'scsi', 'usb']);
/** The interface types whose host end a hot-plug makes (hotplug-nic.ts), as a start does. */
const LIVE_NIC_TYPES = new Set(['user', 'bridge', 'network', 'ethernet']);

function unsupported(message: string, field: string): VirError {
  return new VirError('CONFIG_UNSUPPORTED', 'qemu', message, { field });
}

/** Refuses, before anything is sent, a device the running guest cannot take (libvirt's rules). */
export function refuseLivePlug(kind: DeviceKind, device: Record<string, unknown>, field: string): void {
  if (kind === 'disk') {
    const d = device as DiskDef;
    const bus = d.target.bus ?? 'ide';
    if (!HOTPLUG_BUSES.has(bus))
      throw new VirError('OPERATION_UNSUPPORTED', 'qemu', `disk bus '${bus}' cannot be hotplugged.`, {
        field: `${field}/target/@bus`,
      });
    if (d.device === 'cdrom' || d.device === 'floppy')
      throw new VirError('OPERATION_UNSUPPORTED', 'qemu', `cdrom/floppy device hotplug isn't supported`, {
        field: `${field}/@device`,
      });
    refuseUnbuilt(d, field);
    if (d.type === 'vhostuser')
      throw unsupported('a vhost-user disk cannot be hot-plugged yet', `${field}/@type`);
    if (d.driver?.copyOnRead === true)
      throw unsupported('copy-on-read cannot be hot-plugged yet', `${field}/driver/@copy_on_read`);
    if (throttleFilterCount(d) > 0 || d.iotune !== undefined)
      throw unsupported('I/O limits cannot be hot-plugged yet', `${field}/iotune`);
    return;
  }
  if (kind === 'interface') {
    const n = device as InterfaceDef;
    if (!LIVE_NIC_TYPES.has(n.type) || n.backend?.type === 'passt')
      throw unsupported(
        `an interface of type '${n.type}'${n.backend?.type === 'passt' ? ' with passt' : ''} cannot be hot-plugged yet (user, bridge, network and ethernet can)`,
        `${field}/${n.backend?.type === 'passt' ? 'backend/@type' : '@type'}`,
      );
    checkConsumed(n, undefined, field);
    return;
  }
  throw unsupported(`live attach of device '${kind}' is not supported yet`, field);
}

/** The QEMU id of a disk (the builder's) or an interface (its alias, see `nicAliases`). */
export function liveId(live: DomainDef, kind: DeviceKind, device: Record<string, unknown>): string {
  if (kind === 'disk') return diskAlias(live, device as DiskDef);
  const name = (device as InterfaceDef).alias?.name;
  if (name === undefined) throw new VirError('INTERNAL_ERROR', 'qemu', 'interface without a QEMU id');
  return name;
}

/**
 * Writes each interface's QEMU id into the live definition as its alias,
 * the way the command line numbered them at start (`net0`, `net1`, ... in
 * order; `ua-` aliases as given): after a hot-plug the order no longer says it.
 */
export function nicAliases(live: DomainDef): void {
  const nics = live.devices?.interfaces ?? [];
  if (nics.every((n) => n.alias !== undefined || n.type === 'hostdev')) return;
  let next = 0;
  for (const n of nics) {
    if (n.type === 'hostdev') continue;
    if (n.alias?.name.startsWith('ua-')) continue;
    n.alias = { name: `net${next++}` };
  }
}

/** The first `netN` no interface of `live` has. */
export function freeNicAlias(live: DomainDef): string {
  const taken = new Set((live.devices?.interfaces ?? []).map((n) => n.alias?.name));
  for (let i = 0; ; i++) if (!taken.has(`net${i}`)) return `net${i}`;
}

/** The monitor steps that plug `device` (the definition's `index`-th of its kind) into the guest. */
export async function plugCommands(
  qmp: QmpClient,
  live: DomainDef,
  kind: DeviceKind,
  device: Record<string, unknown>,
  field: string,
  nicHost?: Pick<NicHostEnd, 'started' | 'networks'>,
  firstNode?: number,
): Promise<PlugStep[]> {
  const facts = machineFacts(live.os?.type?.machine ?? '');
  const b = new ArgvBuilder(true, await qemuVersion(qmp));
  const boot = bootIndexes(live);
  if (kind === 'interface') {
    const n = device as InterfaceDef;
    const alias = liveId(live, kind, device);
    const x = { alias, field, facts, bootindex: boot.get(n), host: undefined, usbAddr: () => ({}) };
    buildNic(b, n, { ...x, ...(nicHost ? { networks: nicHost.networks } : {}) }, nicHost?.started);
    return plugSteps(b.argv, field);
  }
  const d = device as DiskDef;
  const drive = diskNodes(b, d, firstNode ?? (await nextNodeNumber(qmp)), field);
  const usb = {};
  b.props(
    '-device',
    diskDeviceProps({ def: live, disk: d, facts, field, drive, bootindex: boot.get(d), usb }),
    field,
  );
  return plugSteps(b.argv, field);
}

/** Writes a disk's `-blockdev` chain numbered from `first`; returns the node its device reads. */
export function diskNodes(b: ArgvBuilder, d: DiskDef, first: number, field: string): string | undefined {
  const layers = diskLayers(d, field);
  if (!layers) return undefined;
  return diskImageNodes(b, d, layers, first, {
    isHostCdrom: defaultHostCdrom,
    secrets: undefined,
    nbdTls: undefined,
  });
}

/**
 * The node names of the chain under a disk's device, top first, as the
 * builder names them from the number of the top node QEMU reports: its
 * throttle filters (and copy-on-read node) first, then the images.
 */
export async function diskNodeNames(
  qmp: QmpClient,
  d: DiskDef,
  id: string,
  field: string,
): Promise<string[]> {
  const blocks =
    await qmp.execute<Array<{ qdev?: string; inserted?: { 'node-name'?: string } }>>('query-block');
  const top = blocks.find((x) => x.qdev === id || x.qdev?.endsWith(`/${id}/virtio-backend`))?.inserted?.[
    'node-name'
  ];
  const m = top ? /^libvirt-(\d+)-(\w+)$/.exec(top) : undefined;
  if (!m) return top ? [top] : [];
  let first = Number(m[1]);
  const names: string[] = [];
  const filters = throttleFilterCount(d);
  if (m[2] === 'filter' && filters > 0) {
    // the device reads the last throttle filter, numbered after the image chain (see buildThrottleFilters);
    // copy-on-read sits between them: all go before the images they stand on
    const layers = layerCount(d);
    first = first - layers - filters + 1;
    for (let i = filters - 1; i >= 0; i--) names.push(`libvirt-${first + layers + i}-filter`);
    if (d.driver?.copyOnRead === true) names.push(`libvirt-CoR-${d.target.dev}`);
  }
  const b = new ArgvBuilder(true);
  // names only: a volume's nodes are named as any image's (storage, format), whatever its actual type
  const named = d.type === 'volume' ? resolvedVolumeDisk(d, 0, () => ({ type: 'file', path: '/volume' })) : d;
  diskNodes(b, named, first, field);
  const chain: string[] = [];
  for (let i = 0; i < b.argv.length; i += 2)
    if (b.argv[i] === '-blockdev')
      chain.push(String((JSON.parse(b.argv[i + 1] as string) as Record<string, unknown>)['node-name']));
  return [...names, ...chain.reverse()];
}

/** QEMU's version as `ArgvBuilder` takes it (`7_002_000`). */
export async function qemuVersion(qmp: QmpClient): Promise<number> {
  const v = await qmp.execute<{ qemu: { major: number; minor: number; micro: number } }>('query-version');
  return v.qemu.major * 1_000_000 + v.qemu.minor * 1_000 + v.qemu.micro;
}

/**
 * Ejects the old medium and inserts the new one (or leaves the drive empty), as libvirt's media
 * change; `chain`: the new medium's chain read from its headers, written into `now` here with the
 * numbers the monitor leaves free. Returns the new medium's node ranges (for the disk-node map of
 * events).
 */
export async function changeMedia(
  qmp: QmpClient,
  old: DiskDef,
  now: DiskDef,
  id: string,
  field: string,
  chain: DiskChainPlan | undefined,
): Promise<DiskNodeRange[]> {
  const oldNodes = await diskNodeNames(qmp, old, id, field);
  // libvirt numbers the found layers first and then the whole chain again: those first numbers go unused
  const first = (await nextNodeNumber(qmp)) + foundCount(chain);
  const ranges = placeDiskChain(now, chain, first);
  const b = new ArgvBuilder(true);
  const top = diskNodes(b, now, first, field);
  const steps = plugSteps(b.argv, field);
  await runSteps(qmp, steps);
  try {
    await qmp.execute('blockdev-open-tray', { id, force: true });
    await qmp.execute('blockdev-remove-medium', { id });
    if (top) await qmp.execute('blockdev-insert-medium', { id, 'node-name': top });
    if (now.target.tray !== 'open') await qmp.execute('blockdev-close-tray', { id });
  } catch (err) {
    await undoSteps(qmp, steps);
    throw err;
  }
  for (const n of oldNodes) await qmp.execute('blockdev-del', { 'node-name': n }).catch(() => {});
  numberDiskChain(now, first);
  return ranges;
}

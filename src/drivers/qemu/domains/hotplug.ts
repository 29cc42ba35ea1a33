/**
 * `virDomainAttachDeviceFlags`, `virDomainDetachDeviceFlags` and
 * `virDomainUpdateDeviceFlags` for the QEMU driver's table, in libvirt's
 * order: the flags resolved against the domain's state (`current` is live
 * when running, else config), each definition edited and run through the
 * define-time pass (addresses, implied controllers, checks) before anything
 * changes, then the running guest (`hotplug-live.ts`), then the persistent
 * definition on disk. A failure leaves both definitions as they were.
 *
 * @module
 */

import {
  addedDevice,
  devicesDifferingExcept,
  devicesOf,
  type FoundDevice,
  findDevice,
  parseDeviceElement,
  readDevice,
  xmlWithDevice,
  xmlWithoutDevice,
} from '../../../conf/domain/device-edit.js';
import type {
  ControllerDef,
  DiskDef,
  HostdevDef,
  InterfaceDef,
  MemoryDeviceDef,
} from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { DomainRef } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { resolvedVolumeDisk } from '../command-line/disk-volumes.js';
import { dropDiskIndexes } from '../defaults/runtime-state.js';
import { nameHelperTaps } from '../lifecycle/index.js';
import { nextNodeNumber } from '../lifecycle/node-numbers.js';
import { foundCount, numberDiskChain, placeDiskChain, readDiskChain } from './disk-chain.js';
import { type DiskNodeRange, diskSourcePath, nodeRanges } from './disk-nodes.js';
import { cloneDef, refOf, type WriteFlags } from './domain-entry.js';
import { refuseHostSideSettings } from './host-side-settings.js';
import {
  HOST_KINDS,
  hostKindAlias,
  hostKindLiveId,
  hostKindNodes,
  plugHostKind,
  refuseHostdevTwice,
  refuseHostKindPlug,
  releaseHostKind,
  setHostKindAlias,
  stampHostKindAliases,
  withoutManaged,
} from './hotplug-host-kinds.js';
import { commitConfig, commitLive, type HotplugSide, inJob, liveParts } from './hotplug-job.js';
import {
  aliasPlace,
  freeAlias,
  OTHER_KINDS,
  otherLiveId,
  plugOther,
  refuseOtherPlug,
  refuseOtherUnplug,
  releaseOther,
  setAlias,
  stampAliases,
} from './hotplug-kinds.js';
import {
  diskNodeNames,
  freeNicAlias,
  liveId,
  nicAliases,
  plugCommands,
  refuseLivePlug,
} from './hotplug-live.js';
import { syncMemoryTotals } from './hotplug-memory.js';
import { type NicHostEnd, plugNicHost, undoAtStop, unplugNicHost } from './hotplug-nic.js';
import { runSteps, unplugDevice } from './hotplug-qmp.js';
import { updateDevice } from './hotplug-update.js';

export type { HotplugSide } from './hotplug-job.js';

/** The definition with the device added, through the define-time pass; refuses a duplicate disk target. */
async function withAdded(
  side: HotplugSide,
  def: DomainDef,
  xml: string,
  inactive: boolean,
  signal: AbortSignal | undefined,
): Promise<{ next: DomainDef; added: FoundDevice }> {
  const { kind, el } = parseDeviceElement(xml);
  if (kind === 'controller') {
    // libvirt: a second controller of one type and index is refused, live and persistent alike
    const c = readDevice(kind, el) as ControllerDef;
    const taken = devicesOf(def, kind).some(
      (d) => (d as ControllerDef).type === c.type && ((d as ControllerDef).index ?? 0) === c.index,
    );
    if (c.index !== undefined && taken)
      throw new VirError('OPERATION_FAILED', 'qemu', `target ${c.type}:${c.index} already exists`, {
        field: '/controller/@index',
      });
  }
  if (kind === 'disk') {
    // libvirt's virDomainDefCompatibleDevice, for the live and the persistent definition alike
    const disk = readDevice(kind, el) as DiskDef;
    const dev = disk.target?.dev;
    const other = devicesOf(def, 'disk').find((d) => (d as DiskDef).target.dev === dev) as
      | DiskDef
      | undefined;
    if (other)
      throw new VirError(
        'XML_ERROR',
        'qemu',
        `target '${dev}' duplicated for disk sources '${sourceOf(other)}' and '${sourceOf(disk)}'`,
        { field: '/disk/target/@dev' },
      );
  }
  if (kind === 'hostdev') refuseHostdevTwice(def, readDevice(kind, el) as HostdevDef);
  if (kind === 'vsock' && def.devices?.vsock)
    throw new VirError('OPERATION_INVALID', 'qemu', 'domain already has a vsock device', { field: '/vsock' });
  const next = await side.prepare(xmlWithDevice(def, el, { inactive }), signal, !inactive);
  // the devices there already are compared after the same pass, which may change them, or one of
  // them would be taken for the new one
  const before = await side.prepare(def.toXML({ check: false, inactive }), signal, !inactive);
  return { next, added: addedDevice(before, next, kind) };
}

function sourceOf(d: DiskDef): string {
  return diskSourcePath(d) || '<null>';
}

/** Attaches the device `xml` describes to the running guest and/or the definition. */
export function attachDevice(
  side: HotplugSide,
  dom: DomainRef,
  xml: string,
  opts: WriteFlags = {},
): Promise<void> {
  return inJob(side, dom, opts, 'attach a device to', async (e, i) => {
    const config =
      i.config && e.config ? (await withAdded(side, e.config, xml, true, opts.signal)).next : undefined;
    if (i.live) {
      const { live, runner } = liveParts(e);
      const base = cloneDef(live);
      nicAliases(base);
      for (const k of OTHER_KINDS) stampAliases(base, k);
      stampHostKindAliases(base);
      const { next, added } = await withAdded(side, base, xml, false, opts.signal);
      const other = OTHER_KINDS.has(added.kind);
      const host = HOST_KINDS.has(added.kind);
      if (other) refuseOtherPlug(base, added.kind, added.device, added.field);
      else if (host) await refuseHostKindPlug(side, e, base, added);
      else refuseLivePlug(added.kind, added.device, added.field);
      // what a start would refuse (host setup nothing does, unknown XML) is refused here too;
      // the managed host device plugged now is bound to vfio-pci by the plug itself
      refuseHostSideSettings(host ? withoutManaged(next, added) : next);
      const needs = devicesDifferingExcept(base, next, added.kind);
      if (needs.length > 0)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `the ${added.kind} needs devices the running guest does not have: ${needs.join(', ')}`,
          {
            field: added.field,
          },
        );
      if (added.kind === 'interface') {
        const n = added.device as InterfaceDef;
        if (!n.alias?.name.startsWith('ua-')) n.alias = { name: freeNicAlias(base) };
      }
      const alias = other
        ? freeAlias(base, added.kind, added.device)
        : host
          ? hostKindAlias(base, added)
          : '';
      if (other && added.kind !== 'controller') setAlias(added.device, alias, aliasPlace(added.kind));
      if (host) setHostKindAlias(added, alias);
      const paths = { domainDir: runner.paths.runDir, monitor: { path: runner.paths.monitorSocket } };
      // libvirt's disk hot-plug reads the chain from the headers first, refusing as a start does
      const disk = added.kind === 'disk' ? (added.device as DiskDef) : undefined;
      if (disk) dropDiskIndexes(disk);
      // a volume disk is its volume's file, looked up in the pools as a start does
      const volumes = disk?.type === 'volume' ? await side.volumes?.(next) : undefined;
      const chain = disk ? await readDiskChain(disk, added.field, volumes, opts.signal) : undefined;
      let ranges: DiskNodeRange[] = [];
      // the interface's tap and network port first, as a start makes them before QEMU
      const nicHost: NicHostEnd | undefined =
        added.kind === 'interface'
          ? await plugNicHost(side.hostNet ?? {}, e, next, added.index, added.field)
          : undefined;
      try {
        await runner.hotplug.monitorJob(
          'attach-device',
          async (qmp) => {
            if (other) {
              await plugOther(qmp, next, added, alias, paths, opts.signal);
              return;
            }
            if (host) {
              await plugHostKind(side, qmp, next, added, alias, opts.signal);
              return;
            }
            // the found layers' numbers as libvirt first gives them go unused: the chain is numbered
            // again from the next one, top first
            const top = disk ? (await nextNodeNumber(qmp)) + foundCount(chain) : undefined;
            if (disk && top !== undefined) ranges = placeDiskChain(disk, chain, top);
            const device = disk ? resolvedVolumeDisk(disk, added.index, volumes) : added.device;
            const steps = await plugCommands(qmp, next, added.kind, device, added.field, nicHost, top);
            await runSteps(qmp, steps, opts.signal);
            if (disk && top !== undefined) numberDiskChain(disk, top);
          },
          opts.signal,
        );
      } catch (err) {
        await nicHost?.undo();
        throw err;
      }
      if (nicHost) undoAtStop(e, nicHost.undo);
      // a tap QEMU made with qemu-bridge-helper: named in the live XML, as at start
      if (nicHost?.started.bridgeHelper?.() !== undefined && runner.pid !== undefined)
        nameHelperTaps(next.devices?.interfaces ?? [], [added.index], runner.pid);
      if (ranges.length > 0) nodeRanges(e, live).push(...ranges);
      if (added.kind === 'memory') syncMemoryTotals(e, next, added.device as MemoryDeviceDef, 1);
      commitLive(e, next);
      // libvirt's qemuDomainAttachDeviceLive: once QEMU took the device, `device-added` with its alias
      const devAlias = other || host ? alias : liveId(next, added.kind, added.device);
      side.table.forward({ type: 'device-added', domain: refOf(e), timestamp: Date.now(), devAlias });
    }
    commitConfig(side, e, config);
  });
}

/** Detaches the device `xml` names; live, it waits for the guest to release it (see {@link unplugDevice}). */
export function detachDevice(
  side: HotplugSide,
  dom: DomainRef,
  xml: string,
  opts: WriteFlags = {},
): Promise<void> {
  return inJob(side, dom, opts, 'detach a device from', async (e, i) => {
    let config: DomainDef | undefined;
    if (i.config && e.config) {
      const f = findDevice(e.config, xml);
      config = await side.prepare(
        xmlWithoutDevice(e.config, f.kind, f.index, { inactive: true }),
        opts.signal,
      );
    }
    if (i.live) {
      const { live, runner } = liveParts(e);
      nicAliases(live);
      for (const k of OTHER_KINDS) stampAliases(live, k);
      stampHostKindAliases(live);
      const f = findDevice(live, xml);
      const other = OTHER_KINDS.has(f.kind);
      const host = HOST_KINDS.has(f.kind);
      if (other) refuseOtherUnplug(live, f.kind, f.device, f.field);
      else if (!host && f.kind !== 'disk' && f.kind !== 'interface')
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `live detach of device '${f.kind}' is not supported yet`,
          {
            field: f.field,
          },
        );
      if (
        f.kind === 'disk' &&
        ((f.device as DiskDef).device === 'cdrom' || (f.device as DiskDef).device === 'floppy')
      )
        throw new VirError(
          'OPERATION_UNSUPPORTED',
          'qemu',
          `disk device type '${(f.device as DiskDef).device}' cannot be detached`,
          {
            field: `${f.field}/@device`,
          },
        );
      const id = other
        ? otherLiveId(f.kind, f.device)
        : host
          ? hostKindLiveId(f)
          : liveId(live, f.kind, f.device);
      await runner.hotplug.monitorJob(
        'detach-device',
        async (qmp) => {
          const nodes =
            f.kind === 'disk'
              ? await diskNodeNames(qmp, f.device as DiskDef, id, f.field)
              : host
                ? await hostKindNodes(qmp, f, id)
                : [];
          const release = async () => {
            for (const node of nodes)
              await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => {});
            if (f.kind === 'interface') {
              await qmp.execute('netdev_del', { id: `host${id}` }).catch(() => {});
              await unplugNicHost(side.hostNet ?? {}, f.device as InterfaceDef, f.index);
            }
            for (const c of releaseOther(f.kind, f.device, id))
              await qmp.execute(c.command, c.args).catch(() => {});
            if (host) await releaseHostKind(side, f);
          };
          const drop = () => {
            const now = e.live;
            if (!now) return;
            // the kind's own list (devicesOf gives the definition's array itself)
            const list = devicesOf(now, f.kind);
            const at = list.indexOf(f.device);
            if (at < 0) return;
            // the one vsock is no list: devicesOf wrapped it
            if (f.kind === 'vsock' && now.devices) delete now.devices.vsock;
            else list.splice(at, 1);
            if (f.kind === 'memory') syncMemoryTotals(e, now, f.device as MemoryDeviceDef, -1);
            commitLive(e, now);
          };
          const gone = await unplugDevice(qmp, id, {
            ...(opts.signal ? { signal: opts.signal } : {}),
            late: () => {
              drop();
              void runner.hotplug.monitorJob('device-deleted', release).catch(() => {});
            },
          });
          if (gone) {
            await release();
            drop();
          }
        },
        opts.signal,
      );
    }
    commitConfig(side, e, config);
  });
}

/** One of the device calls as `DriverConnection` has them. */
export type DeviceCall = (dom: DomainRef, xml: string, opts?: WriteFlags) => Promise<void>;

/** The three device calls, for `QemuConnection` to delegate to. */
export const hotplug = { attach: attachDevice, detach: detachDevice, update: updateDevice } as const;

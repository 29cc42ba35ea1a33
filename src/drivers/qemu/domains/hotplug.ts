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
  type DeviceKind,
  devicesOf,
  type FoundDevice,
  findDevice,
  formatDevice,
  parseDeviceElement,
  readDevice,
  sameDevicesExcept,
  xmlReplacingDevice,
  xmlWithDevice,
  xmlWithoutDevice,
} from '../../../conf/domain/device-edit.js';
import type { ControllerDef, DiskDef, InterfaceDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { DomainRef } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { parseXml } from '../../../xml/index.js';
import { diskSourcePath, firstPluggedNode, nodeRanges, pluggedRange } from './disk-nodes.js';
import { cloneDef, type Entry, isActive, refOf, type WriteFlags } from './domain-entry.js';
import { refuseHostSideSettings } from './host-side-settings.js';
import {
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
  changeMedia,
  diskNodeNames,
  freeNicAlias,
  liveId,
  nicAliases,
  plugCommands,
  refuseLivePlug,
} from './hotplug-live.js';
import {
  type HotplugNetHost,
  type NicHostEnd,
  plugNicHost,
  undoAtStop,
  unplugNicHost,
} from './hotplug-nic.js';
import { runSteps, unplugDevice } from './hotplug-qmp.js';
import type { MigrationSide } from './migration.js';

/** What the device calls need of the domain list (the same handles a migration gets). */
export type HotplugSide = Pick<MigrationSide, 'jobs' | 'store' | 'owned' | 'enter' | 'prepare' | 'table'> & {
  /** The networks and bridge helper of the same roots, for an interface's host end. */
  readonly hostNet?: HotplugNetHost;
};

interface Impact {
  live: boolean;
  config: boolean;
}

/** libvirt's `virDomainObjUpdateModificationImpact`: which definitions a call with these flags changes. */
function impact(e: Entry, opts: WriteFlags): Impact {
  const given = opts.live === true || opts.config === true;
  const active = isActive(e);
  const live = opts.live === true || (!given && active);
  const config = opts.config === true || (!given && !active);
  if (live && !active) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
  if (config && !e.config)
    throw new VirError('OPERATION_INVALID', 'qemu', 'transient domains do not have any persistent config');
  return { live, config };
}

async function inJob(
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

function liveParts(e: Entry): { live: DomainDef; runner: NonNullable<Entry['runner']> } {
  if (!e.live || !e.runner) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
  return { live: e.live, runner: e.runner };
}

function commitLive(e: Entry, next: DomainDef): void {
  e.live = next;
  e.runner?.hotplug.setLiveXml(next.toXML());
}

function commitConfig(side: HotplugSide, e: Entry, next: DomainDef | undefined): void {
  if (!next) return;
  side.store.write(e.name, next.toXML({ inactive: true }));
  e.config = next;
}

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
  const next = await side.prepare(xmlWithDevice(def, el, { inactive }), signal);
  return { next, added: addedDevice(def, next, kind) };
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
      const { next, added } = await withAdded(side, base, xml, false, opts.signal);
      const other = OTHER_KINDS.has(added.kind);
      if (other) refuseOtherPlug(base, added.kind, added.device, added.field);
      else refuseLivePlug(added.kind, added.device, added.field);
      // what a start would refuse (host setup nothing does, unknown XML) is refused here too
      refuseHostSideSettings(next);
      if (!sameDevicesExcept(base, next, added.kind))
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `the ${added.kind} needs devices the running guest does not have`,
          {
            field: added.field,
          },
        );
      if (added.kind === 'interface') {
        const n = added.device as InterfaceDef;
        if (!n.alias?.name.startsWith('ua-')) n.alias = { name: freeNicAlias(base) };
      }
      const alias = other ? freeAlias(base, added.kind, added.device) : '';
      if (other && added.kind !== 'controller') setAlias(added.device, alias);
      const paths = { domainDir: runner.paths.runDir, monitor: { path: runner.paths.monitorSocket } };
      let first: number | undefined;
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
            const steps = await plugCommands(qmp, next, added.kind, added.device, added.field, nicHost);
            await runSteps(qmp, steps, opts.signal);
            first = firstPluggedNode(steps);
          },
          opts.signal,
        );
      } catch (err) {
        await nicHost?.undo();
        throw err;
      }
      if (nicHost) undoAtStop(e, nicHost.undo);
      if (added.kind === 'disk' && first !== undefined)
        nodeRanges(e, live).push(pluggedRange(added.device as DiskDef, first));
      commitLive(e, next);
      // libvirt's qemuDomainAttachDeviceLive: once QEMU took the device, `device-added` with its alias
      const devAlias = other ? alias : liveId(next, added.kind, added.device);
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
      const f = findDevice(live, xml);
      const other = OTHER_KINDS.has(f.kind);
      if (other) refuseOtherUnplug(live, f.kind, f.device, f.field);
      else if (f.kind !== 'disk' && f.kind !== 'interface')
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
      const id = other ? otherLiveId(f.kind, f.device) : liveId(live, f.kind, f.device);
      await runner.hotplug.monitorJob(
        'detach-device',
        async (qmp) => {
          const nodes = f.kind === 'disk' ? await diskNodeNames(qmp, f.device as DiskDef, id, f.field) : [];
          const release = async () => {
            for (const node of nodes)
              await qmp.execute('blockdev-del', { 'node-name': node }).catch(() => {});
            if (f.kind === 'interface') {
              await qmp.execute('netdev_del', { id: `host${id}` }).catch(() => {});
              await unplugNicHost(side.hostNet ?? {}, f.device as InterfaceDef, f.index);
            }
            for (const c of releaseOther(f.kind, f.device, id))
              await qmp.execute(c.command, c.args).catch(() => {});
          };
          const drop = () => {
            const now = e.live;
            if (!now) return;
            // the kind's own list (devicesOf gives the definition's array itself)
            const list = devicesOf(now, f.kind);
            const at = list.indexOf(f.device);
            if (at < 0) return;
            list.splice(at, 1);
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

/** The definition with the device `xml` names replaced by `xml` (its address and alias kept when not given). */
async function withUpdated(
  side: HotplugSide,
  def: DomainDef,
  xml: string,
  inactive: boolean,
  signal: AbortSignal | undefined,
): Promise<{ next: DomainDef; found: FoundDevice; now: Record<string, unknown> }> {
  const found = findDevice(def, xml);
  const wanted = { ...readDevice(found.kind, found.el) };
  wanted.address ??= found.device.address;
  wanted.alias ??= found.device.alias;
  if (wanted.address === undefined) delete wanted.address;
  if (wanted.alias === undefined) delete wanted.alias;
  refuseOtherChanges(found.kind, found.device, wanted, found.field, inactive);
  const el = parseXml(formatDevice(found.kind, wanted));
  const next = await side.prepare(xmlReplacingDevice(def, found.kind, found.index, el, { inactive }), signal);
  const now = devicesOf(next, found.kind)[found.index] ?? wanted;
  return { next, found, now };
}

/** libvirt's update rules: a disk may change its media (CD-ROM, floppy), an interface its link state. */
function refuseOtherChanges(
  kind: DeviceKind,
  old: Record<string, unknown>,
  wanted: Record<string, unknown>,
  field: string,
  inactive: boolean,
): void {
  const without = (d: Record<string, unknown>, keys: string[]) =>
    formatDevice(kind, Object.fromEntries(Object.entries(d).filter(([k]) => !keys.includes(k))));
  if (kind === 'disk') {
    const d = old as DiskDef;
    if (!inactive && d.device !== 'cdrom' && d.device !== 'floppy')
      throw new VirError('OPERATION_UNSUPPORTED', 'qemu', `disk bus '${d.target.bus}' cannot be updated.`, {
        field: `${field}/@device`,
      });
    if (without(old, ['source', 'type']) !== without(wanted, ['source', 'type']) && !inactive)
      throw new VirError(
        'OPERATION_UNSUPPORTED',
        'qemu',
        'cannot modify field of the disk other than its media',
        {
          field,
        },
      );
    return;
  }
  if (kind === 'interface') {
    if (!inactive && without(old, ['link']) !== without(wanted, ['link']))
      throw new VirError(
        'OPERATION_UNSUPPORTED',
        'qemu',
        'cannot modify network device configuration other than link state',
        {
          field,
        },
      );
    return;
  }
  throw new VirError(
    'CONFIG_UNSUPPORTED',
    'qemu',
    `${inactive ? 'persistent' : 'live'} update of device '${kind}' is not supported`,
    { field },
  );
}

/** Updates a device in place: new media in a CD-ROM or floppy drive, an interface's link state. */
export function updateDevice(
  side: HotplugSide,
  dom: DomainRef,
  xml: string,
  opts: WriteFlags = {},
): Promise<void> {
  return inJob(side, dom, opts, 'update a device of', async (e, i) => {
    const config =
      i.config && e.config ? (await withUpdated(side, e.config, xml, true, opts.signal)).next : undefined;
    if (i.live) {
      const { live, runner } = liveParts(e);
      const base = cloneDef(live);
      nicAliases(base);
      const { next, found, now } = await withUpdated(side, base, xml, false, opts.signal);
      const id = liveId(base, found.kind, found.device);
      await runner.hotplug.monitorJob(
        'update-device',
        async (qmp) => {
          if (found.kind === 'interface') {
            const up = (now as InterfaceDef).link?.state !== 'down';
            await qmp.execute('set_link', { name: id, up });
            return;
          }
          const first = await changeMedia(qmp, found.device as DiskDef, now as DiskDef, id, found.field);
          nodeRanges(e, live).push(pluggedRange(now as DiskDef, first));
        },
        opts.signal,
      );
      commitLive(e, next);
    }
    commitConfig(side, e, config);
  });
}

/** One of the device calls as `DriverConnection` has them. */
export type DeviceCall = (dom: DomainRef, xml: string, opts?: WriteFlags) => Promise<void>;

/** The three device calls, for `QemuConnection` to delegate to. */
export const hotplug = { attach: attachDevice, detach: detachDevice, update: updateDevice } as const;

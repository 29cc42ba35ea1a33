/**
 * `virDomainUpdateDeviceFlags` for the QEMU driver: libvirt's rules for what
 * an update may change (a CD-ROM's or floppy's medium, an interface's link
 * state), the definitions through the define-time pass, the running guest
 * changed before the persistent definition.
 *
 * @module
 */
import {
  type DeviceKind,
  devicesOf,
  type FoundDevice,
  findDevice,
  formatDevice,
  readDevice,
  xmlReplacingDevice,
} from '../../../conf/domain/device-edit.js';
import type { DiskDef, InterfaceDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { DomainRef } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { parseXml } from '../../../xml/index.js';
import { nodeRanges, pluggedRange } from './disk-nodes.js';
import { cloneDef, type WriteFlags } from './domain-entry.js';
import { commitConfig, commitLive, type HotplugSide, inJob, liveParts } from './hotplug-job.js';
import { changeMedia, liveId, nicAliases } from './hotplug-live.js';

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

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
  parseDeviceElement,
  readDevice,
  xmlReplacingDevice,
} from '../../../conf/domain/device-edit.js';
import type { DiskDef, InterfaceDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { DomainRef } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { parseXml } from '../../../xml/index.js';
import { dropDiskIndexes } from '../defaults/runtime-state.js';
import { setBandwidth } from '../lifecycle/index.js';
import { readDiskChain } from './disk-chain.js';
import { nodeRanges } from './disk-nodes.js';
import { cloneDef, type WriteFlags } from './domain-entry.js';
import { commitConfig, commitLive, type HotplugSide, inJob, liveParts } from './hotplug-job.js';
import { changeMedia, liveId, nicAliases } from './hotplug-live.js';
import { updatedMemoryConfig, updateMemoryLive } from './hotplug-memory.js';

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
  if (found.kind === 'interface' && !inactive)
    keepHostEnd(found.device as InterfaceDef, wanted as InterfaceDef);
  refuseOtherChanges(found.kind, found.device, wanted, found.field, inactive);
  const el = parseXml(formatDevice(found.kind, wanted));
  const next = await side.prepare(
    xmlReplacingDevice(def, found.kind, found.index, el, { inactive }),
    signal,
    !inactive,
  );
  const now = devicesOf(next, found.kind)[found.index] ?? wanted;
  return { next, found, now };
}

/**
 * What the running interface's host end is, carried into an update that
 * does not say it (libvirt keeps the old tap name and, on the same
 * network, the port): an update names the device, not its tap.
 */
function keepHostEnd(old: InterfaceDef, wanted: InterfaceDef): void {
  if (wanted.target === undefined && old.target !== undefined) wanted.target = old.target;
  const src = old.source;
  if (
    wanted.type === old.type &&
    src &&
    wanted.source?.network === src.network &&
    wanted.source?.bridge === undefined
  )
    wanted.source = { ...src, ...wanted.source, portid: src.portid, bridge: src.bridge } as typeof src;
}

/** libvirt's update rules: a disk may change its media (CD-ROM, floppy), an interface its link state and bandwidth. */
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
    if (!inactive && without(old, ['link', 'bandwidth']) !== without(wanted, ['link', 'bandwidth']))
      throw new VirError(
        'OPERATION_UNSUPPORTED',
        'qemu',
        'cannot modify network device configuration other than link state and bandwidth',
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

/** An interface's `<bandwidth>` as a comparable string (its figures are bigints). */
function rates(n: InterfaceDef): string {
  return JSON.stringify(n.bandwidth ?? {}, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
}

/** The tap a running interface's `<bandwidth>` is set on: one virtkit made (as root), else CONFIG_UNSUPPORTED. */
function shapedTap(n: InterfaceDef, field: string): string {
  const dev = n.target?.dev;
  const tapped = n.type === 'bridge' || n.type === 'network' || n.type === 'ethernet';
  if (!tapped || dev === undefined || process.getuid?.() !== 0)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      tapped
        ? 'bandwidth of an interface whose tap virtkit did not make (unprivileged: qemu-bridge-helper makes it)'
        : `bandwidth of an interface of type '${n.type}', which has no tap to shape`,
      { field },
    );
  return dev;
}

/** Updates a device in place: new media in a CD-ROM or floppy drive, an interface's link state and bandwidth, a virtio-mem size. */
export function updateDevice(
  side: HotplugSide,
  dom: DomainRef,
  xml: string,
  opts: WriteFlags = {},
): Promise<void> {
  return inJob(side, dom, opts, 'update a device of', async (e, i) => {
    if (parseDeviceElement(xml).kind === 'memory') {
      // a virtio-mem resize (hotplug-memory.ts): libvirt's own look-up and rules for memory devices
      const next =
        i.config && e.config ? await updatedMemoryConfig(side, e.config, xml, opts.signal) : undefined;
      if (i.live) await updateMemoryLive(e, xml, opts.signal);
      commitConfig(side, e, next);
      return;
    }
    const config =
      i.config && e.config ? (await withUpdated(side, e.config, xml, true, opts.signal)).next : undefined;
    if (i.live) {
      const { live, runner } = liveParts(e);
      const base = cloneDef(live);
      nicAliases(base);
      const { next, found, now } = await withUpdated(side, base, xml, false, opts.signal);
      const id = liveId(base, found.kind, found.device);
      // libvirt's media change reads the new medium's chain first (refusing as a start does)
      if (found.kind === 'disk') dropDiskIndexes(now as DiskDef);
      const chain =
        found.kind === 'disk'
          ? await readDiskChain(now as DiskDef, found.field, undefined, opts.signal)
          : undefined;
      await runner.hotplug.monitorJob(
        'update-device',
        async (qmp) => {
          if (found.kind === 'interface') {
            const was = found.device as InterfaceDef;
            const n = now as InterfaceDef;
            if (rates(was) !== rates(n))
              await setBandwidth(
                shapedTap(n, `${found.field}/bandwidth`),
                n.bandwidth,
                `${found.field}/bandwidth`,
              );
            const up = n.link?.state !== 'down';
            if ((was.link?.state !== 'down') !== up) await qmp.execute('set_link', { name: id, up });
            return;
          }
          const was = found.device as DiskDef;
          const ranges = await changeMedia(qmp, was, now as DiskDef, id, found.field, chain);
          nodeRanges(e, live).push(...ranges);
        },
        opts.signal,
      );
      commitLive(e, next);
    }
    commitConfig(side, e, config);
  });
}

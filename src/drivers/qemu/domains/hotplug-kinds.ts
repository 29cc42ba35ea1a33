/**
 * Live hotplug of the device kinds beyond disks and interfaces, with
 * libvirt's rules for each (`qemuDomainAttach*` / `qemuDomainDetachPrep*`):
 * SCSI controllers (the only controllers libvirt plugs live), RNGs with
 * their backend object, i6300esb watchdogs, virtio-serial channels with
 * their chardev, and memory modules (dimm, virtio-mem) with their backend.
 * The options come from the command-line builders (`buildRng`,
 * `buildChannel`, `controllerProps`, `watchdogProps`, `buildMemoryDevice`),
 * so a plugged device is the one a start would have made.
 *
 * Each device's QEMU id is its libvirt alias. The builders number ids by
 * place at start; once devices come and go the place no longer says it, so
 * the live definition keeps every device's id as its `<alias>` (written on
 * the first plug or unplug, from the start numbering), as libvirt's live XML
 * shows it.
 *
 * @module
 */
import { type DeviceKind, devicesOf, type FoundDevice } from '../../../conf/domain/device-edit.js';
import type {
  ChardevDef,
  ControllerDef,
  DiskDef,
  MemoryDeviceDef,
  RngDef,
  WatchdogDef,
} from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { machineFacts } from '../../../machine/machine-types.js';
import { ArgvBuilder } from '../command-line/argv-builder.js';
import { buildChannel } from '../command-line/chardevs.js';
import { controllerProps } from '../command-line/controllers.js';
import { pciProps } from '../command-line/device-props.js';
import { buildRng } from '../command-line/devices.js';
import { buildMemoryDevice, memoryAliasPrefix, memoryDeviceAliases } from '../command-line/memory-devices.js';
import { WATCHDOG_DRIVERS, watchdogProps } from '../command-line/misc-devices.js';
import type { CommandLinePaths } from '../command-line/types.js';
import type { QmpClient } from '../qmp/index.js';
import { placeChannelSocket } from './channel-sockets.js';
import { aliasOf, aliasPlace, setAlias } from './device-alias.js';
import { qemuVersion } from './hotplug-live.js';
import { plugSteps, runSteps } from './hotplug-qmp.js';
import { readBackPluggedMemory } from './memory-device-info.js';

/** The kinds this module plugs live. */
export const OTHER_KINDS: ReadonlySet<DeviceKind> = new Set([
  'controller',
  'rng',
  'watchdog',
  'channel',
  'memory',
]);

/** Memory models that plug live (libvirt plugs the others too; they are not tested here yet). */
const LIVE_MEMORY = new Set(['dimm', 'virtio-mem']);

/** The prefix of the ids the builders number by place. */
const NUMBERED: Partial<Record<DeviceKind, string>> = {
  rng: 'rng',
  watchdog: 'watchdog',
  channel: 'channel',
};

function unsupported(code: 'CONFIG_UNSUPPORTED' | 'OPERATION_UNSUPPORTED', message: string, field: string) {
  return new VirError(code, 'qemu', message, { field });
}

export { aliasOf, aliasPlace, setAlias };

/** The id each device of `kind` got at start, in definition order. */
function startIds(live: DomainDef, kind: DeviceKind): string[] {
  const list = devicesOf(live, kind);
  if (kind === 'memory') return memoryDeviceAliases(list as MemoryDeviceDef[]);
  if (kind === 'controller')
    return list.map((c) => `${(c as ControllerDef).type}${(c as ControllerDef).index ?? 0}`);
  return list.map((_, i) => `${NUMBERED[kind] ?? kind}${i}`);
}

/** Writes the start ids of `kind` as aliases into the live definition, where a device has none yet. */
export function stampAliases(live: DomainDef, kind: DeviceKind): void {
  if (!OTHER_KINDS.has(kind) || kind === 'controller') return;
  const ids = startIds(live, kind);
  for (const [i, d] of devicesOf(live, kind).entries())
    if (aliasOf(d) === undefined) setAlias(d, ids[i] as string, aliasPlace(kind));
}

/** The QEMU id of a device of these kinds in the live definition (after {@link stampAliases}). */
export function otherLiveId(kind: DeviceKind, device: Record<string, unknown>): string {
  if (kind === 'controller') return `scsi${(device as ControllerDef).index ?? 0}`;
  const a = aliasOf(device);
  if (a === undefined) throw new VirError('INTERNAL_ERROR', 'qemu', `a ${kind} without a QEMU id`);
  return a;
}

/** The id a device plugged into `live` gets: its slot's name for a slotted module, else the first free number. */
export function freeAlias(live: DomainDef, kind: DeviceKind, device: Record<string, unknown>): string {
  if (kind === 'controller') return otherLiveId(kind, device);
  const taken = new Set(devicesOf(live, kind).map((d) => aliasOf(d)));
  let prefix = NUMBERED[kind] ?? kind;
  if (kind === 'memory') {
    const m = device as MemoryDeviceDef;
    prefix = memoryAliasPrefix(m);
    const slot = m.address?.type === 'dimm' ? m.address.slot : undefined;
    if (slot !== undefined && !taken.has(`${prefix}${slot}`)) return `${prefix}${slot}`;
  }
  for (let i = 0; ; i++) if (!taken.has(`${prefix}${i}`)) return `${prefix}${i}`;
}

/**
 * Refuses, before anything is sent, what libvirt does not plug live (its
 * messages), and what virtkit cannot plug yet (`CONFIG_UNSUPPORTED`).
 * `base` is the live definition before the device is added.
 */
export function refuseOtherPlug(
  base: DomainDef,
  kind: DeviceKind,
  device: Record<string, unknown>,
  field: string,
): void {
  if (kind === 'controller') {
    const c = device as ControllerDef;
    if (c.type !== 'scsi')
      throw unsupported(
        'OPERATION_UNSUPPORTED',
        `'${c.type}' controller cannot be hot plugged.`,
        `${field}/@type`,
      );
    return;
  }
  if (kind === 'watchdog') {
    const w = device as WatchdogDef;
    if (w.model !== 'i6300esb')
      throw unsupported(
        'OPERATION_UNSUPPORTED',
        `hot plug of watchdog of model ${w.model} is not supported`,
        `${field}/@model`,
      );
    const other = base.devices?.watchdogs?.[0];
    // QEMU has one action for all watchdogs
    if (other && (other.action ?? 'reset') !== (w.action ?? 'reset'))
      throw unsupported('CONFIG_UNSUPPORTED', 'all watchdogs must have the same action', `${field}/@action`);
    return;
  }
  if (kind === 'channel') {
    const c = device as ChardevDef;
    if (c.target?.type !== 'virtio')
      throw unsupported(
        'CONFIG_UNSUPPORTED',
        `a channel of target type '${c.target?.type ?? ''}' cannot be hot-plugged yet (virtio can)`,
        `${field}/target/@type`,
      );
    if (c.type === 'spicevmc')
      throw unsupported(
        'CONFIG_UNSUPPORTED',
        'a spicevmc channel cannot be hot-plugged yet',
        `${field}/@type`,
      );
    return;
  }
  if (kind === 'memory') {
    const m = device as MemoryDeviceDef;
    if (!LIVE_MEMORY.has(m.model))
      throw unsupported(
        'CONFIG_UNSUPPORTED',
        `a memory device of model '${m.model}' cannot be hot-plugged yet (dimm and virtio-mem can)`,
        `${field}/@model`,
      );
  }
}

/** What libvirt checks before a live unplug of these kinds. */
export function refuseOtherUnplug(
  live: DomainDef,
  kind: DeviceKind,
  device: Record<string, unknown>,
  field: string,
) {
  if (kind === 'controller') {
    const c = device as ControllerDef;
    if (c.type !== 'scsi')
      throw unsupported(
        'OPERATION_UNSUPPORTED',
        `'${c.type}' controller cannot be hot unplugged.`,
        `${field}/@type`,
      );
    const idx = c.index ?? 0;
    const busy =
      (live.devices?.disks ?? []).some(
        (d: DiskDef) =>
          d.target.bus === 'scsi' && d.address?.type === 'drive' && (d.address.controller ?? 0) === idx,
      ) ||
      (live.devices?.hostdevs ?? []).some(
        (h) =>
          h.address?.type === 'drive' && ((h.address as { controller?: number }).controller ?? 0) === idx,
      );
    if (busy)
      throw new VirError('OPERATION_FAILED', 'qemu', 'device cannot be detached: device is busy', { field });
  }
  if (kind === 'watchdog' && (device as WatchdogDef).model !== 'i6300esb')
    throw unsupported(
      'OPERATION_UNSUPPORTED',
      `hot unplug of watchdog of model ${(device as WatchdogDef).model} is not supported`,
      `${field}/@model`,
    );
}

/** Writes the options that make `device` (id `alias`) into `b`, with the builder a start uses. */
export function buildOther(
  b: ArgvBuilder,
  live: DomainDef,
  kind: DeviceKind,
  device: Record<string, unknown>,
  field: string,
  alias: string,
  paths: CommandLinePaths,
): void {
  const facts = machineFacts(live.os?.type?.machine ?? '');
  const n = Number(/\d+$/.exec(alias)?.[0] ?? 0);
  switch (kind) {
    case 'rng':
      buildRng(b, device as RngDef, n, facts, paths, field);
      return;
    case 'watchdog': {
      const w = device as WatchdogDef;
      b.props('-device', watchdogProps(WATCHDOG_DRIVERS[w.model] as string, n, w.address, facts), field);
      return;
    }
    case 'channel':
      buildChannel({ b, paths, qemuVersion: b.qemuVersion }, device as ChardevDef, alias, field);
      return;
    case 'controller': {
      const p = controllerProps(device as ControllerDef, live.devices?.controllers ?? [], facts, live);
      if (p) b.props('-device', p, field);
      return;
    }
    case 'memory':
      buildMemoryDevice(
        b,
        live,
        device as MemoryDeviceDef,
        field,
        paths,
        (a) => pciProps(a as Parameters<typeof pciProps>[0], facts),
        alias,
      );
      return;
    default:
      throw unsupported('CONFIG_UNSUPPORTED', `live attach of device '${kind}' is not supported yet`, field);
  }
}

/** The monitor commands that free what a device of these kinds held once QEMU deleted it. */
export function releaseOther(
  kind: DeviceKind,
  device: Record<string, unknown>,
  alias: string,
): Array<{ command: string; args: Record<string, unknown> }> {
  const n = /\d+$/.exec(alias)?.[0] ?? '0';
  if (kind === 'rng') {
    const out = [{ command: 'object-del', args: { id: `objrng${n}` } }];
    if ((device as RngDef).backend.model === 'egd')
      out.push({ command: 'chardev-remove', args: { id: `charrng${n}` } });
    return out;
  }
  if (kind === 'channel') return [{ command: 'chardev-remove', args: { id: `char${alias}` } }];
  if (kind === 'memory') return [{ command: 'object-del', args: { id: `mem${alias}` } }];
  return [];
}

/**
 * Plugs `added` (a device of these kinds in `next`, id `alias`) into the
 * guest: its options as monitor commands, undone on failure. A pty
 * channel's `/dev/pts/N` is written into the live definition, as at start;
 * the first watchdog sets QEMU's one watchdog action first.
 */
export async function plugOther(
  qmp: QmpClient,
  next: DomainDef,
  added: FoundDevice,
  alias: string,
  paths: CommandLinePaths,
  signal: AbortSignal | undefined,
): Promise<void> {
  const b = new ArgvBuilder(true, await qemuVersion(qmp));
  buildOther(b, next, added.kind, added.device, added.field, alias, paths);
  const steps = plugSteps(b.argv, added.field);
  if (added.kind === 'watchdog' && (next.devices?.watchdogs?.length ?? 0) === 1) {
    const action = (added.device as WatchdogDef).action ?? 'reset';
    // QEMU cannot dump: it pauses, as the -watchdog-action a start writes
    await qmp.execute('watchdog-set-action', { action: action === 'dump' ? 'pause' : action });
  }
  const replies = await runSteps(qmp, steps, signal);
  if (added.kind === 'memory') await readBackPluggedMemory(next, qmp, signal);
  if (added.kind === 'channel') {
    const c = added.device as ChardevDef;
    const at = steps.findIndex((x) => x.command === 'chardev-add');
    const pty = (replies[at] as { pty?: string } | undefined)?.pty;
    if (c.type === 'pty' && pty !== undefined) {
      const [first, ...rest] = c.sources ?? [];
      c.sources = [{ ...(first ?? {}), path: pty }, ...rest];
    }
    // the socket the command line made up in the run directory, shown in the live XML as at start
    placeChannelSocket(c, paths.domainDir);
  }
}

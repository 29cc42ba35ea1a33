/**
 * What QEMU placed and plugged of the memory devices, read back with
 * `query-memory-devices` into the live definition as libvirt's live XML
 * shows it (checked against libvirt 9.0's QEMU driver, private libvirtd):
 * a DIMM's `<address type='dimm' slot='N' base='0x…'/>` with QEMU's slot
 * and guest-physical address, and a virtio-mem device's `<current>` (the
 * size the guest plugged, 0 before its driver ran) from the start on, not
 * only after the first `MEMORY_DEVICE_SIZE_CHANGE`. Read at start, after a
 * memory device is hot-plugged, and after a re-attach (which may have
 * missed size changes while nobody watched).
 *
 * @module
 */
import type { MemoryDeviceDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { element } from '../../../xml/tree.js';
import { childEl, kibOf } from '../command-line/memory-devices.js';
import type { QmpClient } from '../qmp/index.js';
import { aliasOf, stampMemoryAliases } from './device-alias.js';
import type { Entry } from './domain-entry.js';
import { memorySizeChanged, withSize } from './memory-size.js';

/** One entry of QEMU's `query-memory-devices` (the fields read here; sizes and addresses in bytes). */
export interface QmpMemoryDeviceInfo {
  readonly type: string;
  readonly data?: {
    readonly id?: string;
    readonly addr?: number;
    readonly slot?: number;
    readonly size?: number;
  };
}

const isDimmLike = (m: MemoryDeviceDef) => m.model === 'dimm' || m.model === 'nvdimm';

/** QEMU's memory devices, by id; none when the guest has no memory device to ask about. */
export async function queryMemoryDevices(
  qmp: QmpClient,
  signal: AbortSignal | undefined,
): Promise<Map<string, QmpMemoryDeviceInfo>> {
  const list = await qmp.execute<QmpMemoryDeviceInfo[]>(
    'query-memory-devices',
    undefined,
    signal ? { signal } : {},
  );
  const byId = new Map<string, QmpMemoryDeviceInfo>();
  for (const d of Array.isArray(list) ? list : []) if (d.data?.id) byId.set(d.data.id, d);
  return byId;
}

/** Whether `def` has memory devices whose live facts QEMU knows. */
export function hasMemoryDevices(def: DomainDef): boolean {
  return (def.devices?.memories?.length ?? 0) > 0;
}

/**
 * Writes QEMU's facts into `live`'s memory devices (aliases stamped first:
 * they are QEMU's ids): a DIMM's slot and base, a virtio-mem device's
 * `<current>` (unless `sizes` is false). Devices QEMU does not list are
 * left as they are.
 */
export function applyMemoryDeviceInfo(
  live: DomainDef,
  byId: ReadonlyMap<string, QmpMemoryDeviceInfo>,
  sizes = true,
): void {
  stampMemoryAliases(live);
  for (const m of live.devices?.memories ?? []) {
    const alias = aliasOf(m);
    const data = alias === undefined ? undefined : byId.get(alias)?.data;
    if (!data) continue;
    if (isDimmLike(m) && data.slot !== undefined && data.addr !== undefined)
      m.address = { type: 'dimm', slot: data.slot, base: data.addr };
    else if (sizes && m.model === 'virtio-mem' && data.size !== undefined)
      // QEMU's size is whole blocks in bytes; libvirt writes KiB
      m.target = withSize(m.target ?? element('target'), 'current', Math.ceil(data.size / 1024), 'requested');
  }
}

/**
 * At start, while QEMU waits at `-S`: the memory devices' facts into
 * `live`. A boot whose guest state comes later (`carriesState`: an incoming
 * migration, a restore, a revert) has plugged nothing yet: a virtio-mem
 * `<current>` the definition carries from the state's source stays, and
 * the next size change corrects it.
 */
export async function readBackMemoryDevices(
  live: DomainDef,
  qmp: QmpClient,
  signal: AbortSignal,
  carriesState: boolean,
): Promise<void> {
  if (!hasMemoryDevices(live)) return;
  applyMemoryDeviceInfo(live, await queryMemoryDevices(qmp, signal), !carriesState);
}

/**
 * After a memory device was plugged into `next`: its slot and base (and the
 * others' facts) as QEMU has them now. Best effort: the device is plugged
 * either way, and a query QEMU does not answer must not leave it out of the
 * live definition; it then lacks only its base.
 */
export async function readBackPluggedMemory(
  next: DomainDef,
  qmp: QmpClient,
  signal: AbortSignal | undefined,
): Promise<void> {
  try {
    applyMemoryDeviceInfo(next, await queryMemoryDevices(qmp, signal));
  } catch {
    // see above: the plug stands
  }
}

/**
 * After a re-attach: a virtio-mem size QEMU reports that differs from the
 * status file's `<current>` (a change nobody watched) is taken as its
 * `MEMORY_DEVICE_SIZE_CHANGE` would have been, balloon size included.
 * Best effort: a monitor that does not answer leaves the status file's facts.
 */
export async function refreshMemoryDevices(e: Entry): Promise<void> {
  const live = e.live;
  const runner = e.runner;
  if (!live || !runner || !hasMemoryDevices(live)) return;
  let byId: Map<string, QmpMemoryDeviceInfo>;
  try {
    byId = await runner.hotplug.monitorJob('query', (qmp) => queryMemoryDevices(qmp, undefined));
  } catch {
    return;
  }
  stampMemoryAliases(live);
  for (const m of live.devices?.memories ?? []) {
    const alias = aliasOf(m);
    const size = alias === undefined ? undefined : byId.get(alias)?.data?.size;
    if (m.model !== 'virtio-mem' || alias === undefined || size === undefined) continue;
    const kib = Math.ceil(size / 1024);
    if (kibOf(childEl(m.target, 'current'), '/memory/target/current') !== kib)
      memorySizeChanged(e, alias, kib);
  }
}

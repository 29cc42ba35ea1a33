/**
 * A starting guest's cgroups: while QEMU waits at `-S`, its threads go
 * into their groups (`lifecycle/cgroup.ts`; the vCPU and I/O thread ids
 * from QMP) and the definition's `<cputune>` shares, periods and quotas,
 * `<memtune>` limits and `<blkiotune>` weights and throttles are written there, as libvirt does before the guest
 * runs; when the guest stops, the groups go.
 *
 * What the kernel kept goes back into the live definition where libvirt 9.0
 * reads it back at start: each `<blkiotune><device>` value (a throttle the
 * kernel takes as "no limit" reads back as none). The shares, weight and
 * memory limits stay as the definition has them, as libvirt's do; shares
 * outside libvirt's range are refused as its cgroup setter refuses them,
 * where the kernel would otherwise keep the nearest value it allows.
 *
 * @module
 */
import {
  BLKIO_DEVICE_FIELDS,
  type BlkioChanges,
  type BlkioDeviceParam,
  withBlkio,
} from '../../../conf/domain/blkio-edit.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { BlkioDevice } from '../../../conf/domain/resources.js';
import { cputuneValues, memtuneValues } from '../../../conf/domain/sched-mem-edit.js';
import { MEMORY_PARAM_UNLIMITED } from '../../../domain-tuning-sched.js';
import { VirError } from '../../../errors.js';
import {
  cgroupHost,
  cpuGroups,
  type GuestCgroup,
  guestCgroup,
  placeGuest,
  removeGuest,
  SHARES_RANGE,
  setBandwidth,
  syncVcpuGroups,
  writeKib,
  writeValue,
} from '../lifecycle/cgroup.js';
import {
  blockDeviceNumber,
  checkBlkioGroup,
  setBlkioDevice,
  setBlkioWeight,
} from '../lifecycle/cgroup-blkio.js';
import { cgroupV2Refusal } from '../lifecycle/cgroup-v2.js';
import type { QmpClient } from '../qmp/qmp-client.js';
import type { CgroupConsumed } from './host-side-settings.js';

/** What the start can apply through this host's cgroups (nothing without them). */
export function cgroupsConsumed(enabled: boolean | undefined): CgroupConsumed {
  if (!enabled) return {};
  const host = cgroupHost();
  const v2: NonNullable<CgroupConsumed['v2']> = {};
  const refusal = (c: 'cpu' | 'memory' | 'blkio') => (host?.dirs[c] ? undefined : cgroupV2Refusal(c));
  const cpu = refusal('cpu');
  const memory = refusal('memory');
  const blkio = refusal('blkio');
  if (cpu) v2['/domain/cputune'] = cpu;
  if (memory) v2['/domain/memtune'] = memory;
  if (blkio) v2['/domain/blkiotune'] = blkio;
  return {
    cpu: host?.dirs.cpu !== undefined && host.bandwidth,
    memory: host?.dirs.memory !== undefined,
    blkio: host?.dirs.blkio !== undefined,
    ...(Object.keys(v2).length > 0 ? { v2 } : {}),
  };
}

/** The groups made per guest (by UUID), for their removal when it stops. */
const placed = new Map<string, GuestCgroup>();

interface QmpCpu {
  'cpu-index': number;
  'thread-id': number;
}
interface QmpIothread {
  id: string;
  'thread-id': number;
}

/** Places a guest waiting at `-S` in its groups and applies its definition's tunables there. */
export async function placeStartingGuest(
  def: DomainDef,
  uuid: string,
  id: number,
  pid: number,
  qmp: QmpClient,
  signal: AbortSignal,
): Promise<void> {
  const host = cgroupHost();
  if (!host) return;
  const ct = cputuneValues(def);
  if (host.dirs.cpu && ct.cpu_shares !== 0) refuseShares(ct.cpu_shares);
  const cpus = await qmp.execute<QmpCpu[]>('query-cpus-fast', undefined, { signal });
  const iothreads =
    (def.iothreads ?? 0) > 0
      ? await qmp.execute<QmpIothread[]>('query-iothreads', undefined, { signal })
      : [];
  const g = placeGuest(host, id, def.name, pid, {
    vcpus: cpus.map((c) => ({ index: c['cpu-index'], tid: c['thread-id'] })),
    // libvirt's I/O thread N is QEMU's object iothreadN
    iothreads: iothreads.flatMap((t) => {
      const n = /^iothread(\d+)$/.exec(t.id);
      return n ? [{ id: Number(n[1]), tid: t['thread-id'] }] : [];
    }),
  });
  placed.set(uuid, g);
  if (g.cpu && ct.cpu_shares !== 0) writeValue(g.cpu, 'cpu.shares', ct.cpu_shares);
  if (g.cpu && host.bandwidth)
    for (const kind of ['vcpu', 'emulator', 'global', 'iothread'] as const) {
      const period = ct[`${kind}_period`];
      const quota = ct[`${kind}_quota`];
      if (period === 0 && quota === 0) continue;
      for (const dir of cpuGroups(g, kind)) setBandwidth(dir, period, quota);
    }
  if (g.blkio) applyBlkiotune(def, g.blkio);
  const mt = memtuneValues(def);
  if (g.memory) {
    // memory+swap stays at or above memory, and both start unlimited: the hard limit first
    if (mt.hard_limit < MEMORY_PARAM_UNLIMITED) writeKib(g.memory, 'memory.limit_in_bytes', mt.hard_limit);
    if (mt.soft_limit < MEMORY_PARAM_UNLIMITED)
      writeKib(g.memory, 'memory.soft_limit_in_bytes', mt.soft_limit);
    if (mt.swap_hard_limit < MEMORY_PARAM_UNLIMITED)
      writeKib(g.memory, 'memory.memsw.limit_in_bytes', mt.swap_hard_limit);
  }
}

/** libvirt's v1 cgroup setter refuses shares outside its range rather than let the kernel clamp them. */
function refuseShares(shares: number): void {
  const [min, max] = SHARES_RANGE;
  if (shares < min || shares > max)
    throw new VirError('INVALID_ARG', 'qemu', `shares '${shares}' must be in range [${min}, ${max}]`, {
      field: '/domain/cputune/shares',
    });
}

/**
 * `<blkiotune>` into the guest's blkio group: what the group cannot take
 * (no weight file for the host's I/O schedulers, a path that is no block
 * device) refused before anything is written, as the start's failure. The
 * per-device values the kernel kept replace the definition's (`def` is the
 * live definition being built).
 */
function applyBlkiotune(def: DomainDef, dir: string): void {
  const bt = def.blkiotune;
  if (!bt) return;
  const devices = bt.devices ?? [];
  const kinds = (Object.entries(BLKIO_DEVICE_FIELDS) as [BlkioDeviceParam, keyof BlkioDevice][])
    .filter(([, f]) => devices.some((d) => (d[f] ?? 0) !== 0))
    .map(([k]) => k);
  checkBlkioGroup(dir, (bt.weight ?? 0) !== 0, kinds);
  for (const d of devices) blockDeviceNumber(d.path);
  if (bt.weight) setBlkioWeight(dir, bt.weight);
  const kept: Partial<Record<BlkioDeviceParam, { path: string; value: number }[]>> = {};
  for (const d of devices)
    for (const [k, f] of Object.entries(BLKIO_DEVICE_FIELDS) as [BlkioDeviceParam, keyof BlkioDevice][]) {
      const v = d[f];
      if (typeof v !== 'number' || v === 0) continue;
      const list = kept[k] ?? [];
      list.push({ path: d.path, value: setBlkioDevice(dir, k, d.path, v) });
      kept[k] = list;
    }
  const changes: BlkioChanges = { devices: kept };
  const next = withBlkio(def, changes);
  if (next.blkiotune) def.blkiotune = next.blkiotune;
  else delete def.blkiotune;
}

/**
 * After vCPUs were plugged or unplugged: their groups, with the live
 * definition's `<cputune>` period and quota (`pid`: the guest's QEMU, whose
 * groups the kernel names).
 */
export function syncGuestVcpus(def: DomainDef, pid: number, vcpus: { index: number; tid: number }[]): void {
  const host = cgroupHost();
  const g = host ? guestCgroup(host, pid) : undefined;
  if (!host || !g) return;
  const ct = cputuneValues(def);
  syncVcpuGroups(g, vcpus, ct.vcpu_period, ct.vcpu_quota, host.bandwidth);
}

/** Removes a stopped guest's groups. */
export function releaseGuestCgroups(uuid: string): void {
  const p = placed.get(uuid);
  if (!p) return;
  placed.delete(uuid);
  removeGuest(p);
}

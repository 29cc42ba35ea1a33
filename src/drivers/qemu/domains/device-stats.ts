/**
 * The QEMU driver's per-device statistics calls (`virDomainGetBlockInfo`,
 * `virDomainBlockStats`, `virDomainInterfaceStats`,
 * `virDomainMemoryStats`), on the same sources as the stats groups
 * (guest-stats.ts).
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { BlockInfo, BlockStats, InterfaceStats, MemoryStats } from '../../../domain-stats.js';
import type { CallOptions, DomainRef } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { blockOf, type Disk, diskPath } from './block-stats.js';
import { type Entry, isActive } from './domain-entry.js';
import { ask, defOf, guestMemory, swapped } from './guest-stats.js';
import type { DomainListAccess } from './migration.js';
import { imageSizes, netDevCounters, residentKiB } from './stats-sources.js';

/** Runs a per-device call on a domain's entry (one this process manages). */
export async function onEntry<T>(
  side: Pick<DomainListAccess, 'owned'>,
  dom: DomainRef,
  opts: CallOptions,
  fn: (e: Entry) => T | Promise<T>,
): Promise<T> {
  return fn(await side.owned(dom, opts, 'read the statistics of'));
}

function findDisk(def: DomainDef | undefined, disk: string): Disk {
  const d = (def?.devices?.disks ?? []).find((x) => x.target.dev === disk || diskPath(x) === disk);
  if (!d)
    throw new VirError('INVALID_ARG', 'qemu', `invalid path ${disk} not assigned to domain`, {
      field: 'disk',
    });
  return d;
}

function running(e: Entry) {
  if (!e.runner || !isActive(e)) throw new VirError('OPERATION_INVALID', 'qemu', 'domain is not running');
  return e.runner;
}

/** `virDomainGetBlockInfo`: from the image file (a qcow2's virtual size from its header). */
export function qemuBlockInfo(e: Entry, disk: string): BlockInfo {
  const d = findDisk(defOf(e), disk);
  const path = diskPath(d);
  const sizes = path ? imageSizes(path, d.driver?.type) : undefined;
  if (!sizes) {
    throw new VirError(
      'OPERATION_INVALID',
      'qemu',
      `disk ${disk} has no local image whose size could be read`,
      {
        field: 'disk',
      },
    );
  }
  return sizes;
}

/** `virDomainBlockStats`: QEMU's counters of the disk (`errs` QEMU does not count). */
export async function qemuBlockStats(e: Entry, disk: string, signal?: AbortSignal): Promise<BlockStats> {
  const runner = running(e);
  const d = findDisk(e.live, disk);
  const r = await ask(runner.qmp, signal, { block: ['query-block'], stats: ['query-blockstats'] });
  const s = blockOf(d, r.block, r.stats).stats;
  if (!s) throw new VirError('OPERATION_FAILED', 'qemu', `QEMU reports no statistics for disk ${disk}`);
  return {
    rdReq: s.rd_operations,
    rdBytes: s.rd_bytes,
    wrReq: s.wr_operations,
    wrBytes: s.wr_bytes,
  } as BlockStats;
}

/** `virDomainInterfaceStats`: the tap's counters, by device name or MAC. */
export function qemuInterfaceStats(e: Entry, device: string): InterfaceStats {
  running(e);
  const mac = device.toLowerCase();
  const n = (e.live?.devices?.interfaces ?? []).find(
    (x) => x.target?.dev === device || String(x.mac?.address ?? '').toLowerCase() === mac,
  );
  if (!n)
    throw new VirError('INVALID_ARG', 'qemu', `'${device}' is not a known interface`, { field: 'device' });
  const c = n.target?.dev ? netDevCounters(n.target.dev) : undefined;
  if (!c) {
    throw new VirError(
      'OPERATION_UNSUPPORTED',
      'qemu',
      `interface '${device}' (type ${n.type}) has no host device whose counters could be read`,
      { field: 'device' },
    );
  }
  const [rx, tx] = swapped(n.type) ? ['tx', 'rx'] : ['rx', 'tx'];
  return {
    rxBytes: c[`${rx}_bytes`] as number,
    rxPackets: c[`${rx}_packets`] as number,
    rxErrs: c[`${rx}_errors`] as number,
    rxDrop: c[`${rx}_dropped`] as number,
    txBytes: c[`${tx}_bytes`] as number,
    txPackets: c[`${tx}_packets`] as number,
    txErrs: c[`${tx}_errors`] as number,
    txDrop: c[`${tx}_dropped`] as number,
  };
}

/** `virDomainMemoryStats`: the balloon's size, the guest's own figures when it reports them, and RSS. */
export async function qemuMemoryStats(e: Entry, signal?: AbortSignal): Promise<MemoryStats> {
  const runner = running(e);
  const out: Record<string, number> = {};
  if (runner.guest.memballoon) {
    const r = await ask(runner.qmp, signal, {
      balloon: ['query-balloon'],
      guest: ['qom-get', { path: '/machine/peripheral/balloon0', property: 'guest-stats' }],
    });
    const actual = (r.balloon as { actual?: number } | undefined)?.actual;
    out.actual = actual !== undefined ? Math.floor(actual / 1024) : runner.getInfo().memory;
    Object.assign(out, guestMemory(r.guest, '', true));
  } else {
    out.actual = runner.getInfo().memory;
  }
  const rss = runner.pid !== undefined ? residentKiB(runner.pid) : undefined;
  if (rss !== undefined) out.rss = rss;
  return out as MemoryStats;
}

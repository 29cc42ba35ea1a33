/**
 * `-numa`: the guest NUMA cells (each with its RAM backend), the distance
 * table when any distance is given, and ACPI HMAT (latencies, bandwidths,
 * memory-side caches) in libvirt's order: nodes, distances, `hmat-lb`,
 * then `hmat-cache` (QEMU takes a cache only after the figures for it).
 *
 * @module
 */
import type { NumaInterconnect } from '../../../conf/cpu.js';
import { formatIdSet, parseIdSet } from '../../../conf/domain/cpuset.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { numaDistance, numaDistancesSet } from '../../../conf/domain/numa.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import { checkValue } from './escape.js';
import { hasHmat } from './machine.js';
import { addMemoryBackend, cellNeedsBackend, memoryBackend, unitKiB } from './memory-backend.js';
import type { CommandLinePaths } from './types.js';

/** The host page size: "huge" pages of this size are ordinary memory. */
const SYSTEM_PAGE_KIB = 4;

/**
 * The initiator of a cell for HMAT: itself when it has vCPUs, else the cell
 * with the lowest latency to it (then the highest bandwidth), else the
 * first cell with vCPUs.
 */
function initiatorOf(def: DomainDef, id: number, master: number): number {
  const cell = def.cpu?.numa?.cells?.[id];
  if (cell?.cpus !== undefined) return id;
  let latency: NumaInterconnect | undefined;
  let bandwidth: NumaInterconnect | undefined;
  for (const l of def.cpu?.numa?.interconnects ?? []) {
    if (l.target !== id) continue;
    if (l.kind === 'latency' && (!latency || l.value < latency.value)) latency = l;
    if (l.kind === 'bandwidth' && l.value > 0n && (!bandwidth || l.value > bandwidth.value)) bandwidth = l;
  }
  return latency?.initiator ?? bandwidth?.initiator ?? master;
}

const HIERARCHY = ['memory', 'first-level', 'second-level', 'third-level'];
const ASSOCIATIVITY: Record<string, string> = { none: 'none', direct: 'direct', full: 'complex' };
const POLICY: Record<string, string> = {
  none: 'none',
  writeback: 'write-back',
  writethrough: 'write-through',
};

/**
 * @param numaMem whether the machine type still takes `-numa node,mem=`
 *   (older machine types; newer ones need a backend object for every cell).
 */
export function buildNuma(b: ArgvBuilder, def: DomainDef, paths: CommandLinePaths, numaMem: boolean): void {
  const cells = def.cpu?.numa?.cells ?? [];
  if (cells.length === 0) return;
  const hmat = hasHmat(def);
  const needBackend = !numaMem || hmat || cells.some((c, i) => cellNeedsBackend(def, c.id ?? i));
  const memPath = !needBackend && memPathOptions(b, def, paths);
  const master = cells.findIndex((c) => c.cpus !== undefined);
  if (master < 0)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'at least one NUMA cell must have vCPUs', {
      field: '/domain/cpu/numa/cell/@cpus',
    });
  for (const [i, cell] of cells.entries()) {
    const id = cell.id ?? i;
    const kib = Math.ceil(Number(cell.memory) / 1024) * 1024;
    if (needBackend)
      addMemoryBackend(b, memoryBackend(def, `ram-node${id}`, kib, paths, id), '/domain/cpu/numa');
    // Without backend objects a cell is plain RAM, freed when QEMU exits: nothing to discard, as
    // libvirt has it. Memory in a file (-mem-path) would keep its data, and -mem-path has no
    // discard option: refused rather than dropped.
    else if (cell.discard === true && memPath)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        'discarding the memory file of a NUMA cell needs a memory backend object, which this machine type does not use',
        { field: `/domain/cpu/numa/cell[${i + 1}]/@discard` },
      );
    const field = `/domain/cpu/numa/cell[${i + 1}]/@cpus`;
    // each range of the set is a cpus= item of its own
    const cpus =
      cell.cpus === undefined
        ? []
        : formatIdSet(parseIdSet(cell.cpus, field))
            .split(',')
            .map((r) => `cpus=${r}`);
    const items = ['node', `nodeid=${id}`, ...cpus];
    if (hmat) items.push(`initiator=${initiatorOf(def, id, master)}`);
    items.push(needBackend ? `memdev=ram-node${id}` : `mem=${kib / 1024}`);
    b.add('-numa', items.join(','));
  }
  // Once one distance is given QEMU needs the whole table, defaults included.
  if (numaDistancesSet(def))
    for (let i = 0; i < cells.length; i++)
      for (let j = 0; j < cells.length; j++)
        b.add('-numa', `dist,src=${i},dst=${j},val=${numaDistance(def, i, j)}`);
  if (!hmat) return;
  for (const l of def.cpu?.numa?.interconnects ?? []) {
    const hierarchy = HIERARCHY[l.cache ?? 0];
    if (hierarchy === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `no cache level ${l.cache} for an interconnect`, {
        field: '/domain/cpu/numa/interconnects/@cache',
      });
    const figure = l.kind === 'latency' ? `latency,latency=${l.value}` : `bandwidth,bandwidth=${l.value}K`;
    b.add(
      '-numa',
      `hmat-lb,initiator=${l.initiator},target=${l.target},hierarchy=${hierarchy},data-type=${l.type}-${figure}`,
    );
  }
  for (const [i, cell] of cells.entries()) {
    for (const [k, c] of (cell.caches ?? []).entries()) {
      const field = `/domain/cpu/numa/cell[${i + 1}]/cache[${k + 1}]`;
      if (!c.size || !c.associativity || !c.policy)
        throw new VirError('XML_DETAIL', 'qemu', 'a NUMA cache needs its size, associativity and policy', {
          field,
        });
      const sizeKiB = cacheKiB(c.size.value, c.size.unit, `${field}/size`);
      const items = [
        'hmat-cache',
        `node-id=${cell.id ?? i}`,
        `size=${sizeKiB}K`,
        `level=${c.level}`,
        `associativity=${ASSOCIATIVITY[c.associativity]}`,
        `policy=${POLICY[c.policy]}`,
      ];
      const line = c.line ? cacheBytes(c.line.value, c.line.unit, `${field}/line`) : 0;
      if (line > 0) items.push(`line=${line}`);
      b.add('-numa', items.join(','));
    }
  }
}

/** Guest RAM without backend objects: `-mem-prealloc` and `-mem-path` say how QEMU allocates it. */
/** `-mem-prealloc`/`-mem-path` of memory without backend objects; true when it is file-backed. */
function memPathOptions(b: ArgvBuilder, def: DomainDef, paths: CommandLinePaths): boolean {
  const backing = def.memoryBacking;
  const first = backing?.hugepages?.pages?.[0];
  // the first <page> decides here (an empty <hugepages/> is the default size); system pages are no hugepages
  const firstKiB = backing?.hugepages ? (first ? first.size * unitKiB(first.unit) : 2048) : undefined;
  const pageKiB = firstKiB === SYSTEM_PAGE_KIB ? undefined : firstKiB;
  let path: string | undefined;
  let prealloc = backing?.allocation?.mode === 'immediate';
  if (pageKiB !== undefined) {
    const dir = paths.hugepageDirs?.[String(pageKiB)];
    if (dir === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `no hugetlbfs mount for ${pageKiB} KiB pages`, {
        field: '/domain/memoryBacking/hugepages',
      });
    path = checkValue(dir, 'paths.hugepageDirs');
    prealloc = true;
  } else if (backing?.source?.type === 'file') {
    if (paths.memoryBackingDir === undefined)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        'file-backed guest memory needs a memory backing directory',
        {
          field: '/domain/memoryBacking/source',
        },
      );
    path = `${checkValue(paths.memoryBackingDir, 'paths.memoryBackingDir')}/ram`;
  }
  if (prealloc) {
    b.add('-mem-prealloc');
    b.memPrealloc = true;
  }
  if (path !== undefined) b.add('-mem-path', path);
  return path !== undefined;
}

const SCALE: Record<string, number> = { b: 1, bytes: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2 };

function cacheBytes(value: number, unit: string | undefined, field: string): number {
  const f = SCALE[(unit ?? 'B').toLowerCase()];
  if (f === undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `unit '${unit}' is not supported here`, { field });
  return value * f;
}

function cacheKiB(value: number, unit: string | undefined, field: string): number {
  const f = SCALE[(unit ?? 'KiB').toLowerCase()];
  if (f === undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `unit '${unit}' is not supported here`, { field });
  const bytes = value * f;
  return Math.ceil(bytes / 1024);
}

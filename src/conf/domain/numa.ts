/**
 * libvirt's parse-time reading of a guest NUMA description (`<cpu><numa>`)
 * and of `<numatune>`: what it stores is not what was written, and it
 * formats what it stores.
 *
 * - Cells are indexed by id (an absent id is the cell's position); ids must
 *   be 0..n-1, each once, and the cells are written in id order with the id.
 * - CPU and node sets are bitmaps: `0-2,^1` is written `0,2`, an empty one
 *   not at all.
 * - Distances: a cell given any distance gets a full row, with 10 for
 *   itself; a sibling's missing distance back defaults to the same value.
 * - `<numatune>`: the memory mode defaults to strict; placement follows the
 *   nodeset (static with one, else the vCPU placement); an automatic
 *   placement has no nodeset; vCPUs without any pinning follow automatic
 *   memory placement, and automatic vCPUs without `<memory>` give it.
 *
 * @module
 */

import { VirError } from '../../errors.js';
import { setUnknownContent, unknownContent } from '../binding.js';
import type { CpuNumaCell } from '../cpu.js';
import { formatIdSet, parseIdSet } from './cpuset.js';
import type { DomainDefData } from './domain-spec.js';

/** Local distance and the largest one (unreachable), as in the ACPI SLIT. */
const LOCAL_DISTANCE = 10;
const UNREACHABLE = 255;

export function normalizeNumaCells(def: DomainDefData): void {
  const numa = def.cpu?.numa;
  const cells = numa?.cells;
  if (!numa || !cells) return;
  const n = cells.length;
  const byId: Array<CpuNumaCell | undefined> = new Array(n);
  const order: number[] = [];
  for (const [i, cell] of cells.entries()) {
    const field = `/domain/cpu/numa/cell[${i + 1}]`;
    const id = cell.id ?? i;
    if (id >= n)
      throw new VirError(
        'XML_DETAIL',
        'conf',
        'NUMA cell ids must run from 0 without gaps, one <cell> per id',
        { field: `${field}/@id` },
      );
    if (byId[id])
      throw new VirError('XML_DETAIL', 'conf', `NUMA cell id ${id} given more than once`, {
        field: `${field}/@id`,
      });
    cell.id = id;
    if (cell.cpus !== undefined) {
      const ids = parseIdSet(cell.cpus, `${field}/@cpus`);
      if (ids.length === 0) delete cell.cpus;
      else cell.cpus = formatIdSet(ids);
    }
    byId[id] = cell;
    order.push(id);
  }
  const sorted = byId as CpuNumaCell[];
  const maxCpu = Math.max(-1, ...sorted.flatMap((c) => (c.cpus === undefined ? [] : parseIdSet(c.cpus))));
  if (maxCpu >= (def.vcpu?.count ?? 1))
    throw new VirError('XML_DETAIL', 'conf', 'CPU IDs in <numa> exceed the <vcpu> count', {
      field: '/domain/cpu/numa',
    });
  checkOverlap(sorted);
  fillDistances(sorted, order);
  numa.cells = sorted;
}

function checkOverlap(cells: CpuNumaCell[]): void {
  const owner = new Map<number, number>();
  for (const cell of cells) {
    if (cell.cpus === undefined) continue;
    for (const cpu of parseIdSet(cell.cpus)) {
      const other = owner.get(cpu);
      if (other !== undefined)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'conf',
          `NUMA cells ${cell.id} and ${other} have overlapping vCPU ids`,
          { field: `/domain/cpu/numa/cell[${(cell.id ?? 0) + 1}]/@cpus` },
        );
      owner.set(cpu, cell.id ?? 0);
    }
  }
}

/** Rows of distances as libvirt fills them, walking the cells in document order. */
function fillDistances(cells: CpuNumaCell[], order: number[]): void {
  const n = cells.length;
  const rows: Array<number[] | undefined> = new Array(n);
  const rowOf = (id: number): number[] => {
    let row = rows[id];
    if (!row) {
      row = new Array<number>(n).fill(0);
      row[id] = LOCAL_DISTANCE;
      rows[id] = row;
    }
    return row;
  };
  for (const id of order) {
    const cell = cells[id] as CpuNumaCell;
    const siblings = cell.distances?.siblings;
    if (!cell.distances) continue;
    if (!siblings || siblings.length === 0)
      throw new VirError('XML_DETAIL', 'conf', 'NUMA distances without any sibling', {
        field: `/domain/cpu/numa/cell[${id + 1}]/distances`,
      });
    for (const [j, s] of siblings.entries()) {
      const field = `/domain/cpu/numa/cell[${id + 1}]/distances/sibling[${j + 1}]`;
      if (s.id >= n)
        throw new VirError('XML_DETAIL', 'conf', `sibling id ${s.id} names no NUMA cell`, {
          field: `${field}/@id`,
        });
      const local = s.id === id;
      if (s.value < LOCAL_DISTANCE || s.value > UNREACHABLE || local !== (s.value === LOCAL_DISTANCE))
        throw new VirError(
          'XML_DETAIL',
          'conf',
          `distance ${s.value} is invalid from NUMA cell ${id} to ${s.id}`,
          { field: `${field}/@value` },
        );
      rowOf(id)[s.id] = s.value;
      const back = rowOf(s.id);
      if (!back[id]) back[id] = s.value;
    }
  }
  for (const [id, row] of rows.entries()) {
    if (!row) continue;
    const cell = cells[id] as CpuNumaCell;
    // the given <sibling> objects are kept (with any unknown XML on them); filled-in ones are new
    const given = new Map((cell.distances?.siblings ?? []).map((s) => [s.id, s]));
    const siblings = row.flatMap((value, sid) => {
      if (value === 0) return [];
      const s = given.get(sid);
      if (s) {
        s.value = value;
        return [s];
      }
      return [{ id: sid, value }];
    });
    const distances = { ...(cell.distances ?? {}), siblings };
    setUnknownContent(distances, cell.distances && unknownContent(cell.distances));
    cell.distances = distances;
  }
}

/** Whether any pair of cells has a distance given (then QEMU gets all of them). */
export function numaDistancesSet(def: DomainDefData): boolean {
  return (def.cpu?.numa?.cells ?? []).some((c) => (c.distances?.siblings ?? []).length > 0);
}

/** The distance from cell `i` to cell `j`, with the defaults for pairs left out. */
export function numaDistance(def: DomainDefData, i: number, j: number): number {
  const given = def.cpu?.numa?.cells?.[i]?.distances?.siblings?.find((s) => s.id === j)?.value;
  if (given) return given;
  return i === j ? LOCAL_DISTANCE : 20;
}

/** `<numatune>` and the vCPU placement, read together as libvirt reads them. */
export function normalizeNumatune(def: DomainDefData): void {
  const vcpu = def.vcpu;
  if (!vcpu) return;
  vcpu.placement ??= 'static';
  if (vcpu.placement === 'auto') delete vcpu.cpuset;
  const tune = def.numatune;
  const placementStatic = vcpu.placement === 'static';
  if (!tune?.memory && !placementStatic) {
    def.numatune = { ...(tune ?? {}), memory: { mode: 'strict', placement: 'auto' } };
  }
  const mem = def.numatune?.memory;
  // an empty <memory/> sets nothing, and libvirt does not write it back
  if (mem && mem.mode === undefined && mem.placement === undefined && mem.nodeset === undefined)
    delete def.numatune?.memory;
  else if (mem) {
    mem.mode ??= 'strict';
    if (mem.nodeset !== undefined) {
      const ids = parseIdSet(mem.nodeset, '/domain/numatune/memory/@nodeset');
      if (ids.length === 0)
        throw new VirError('CONFIG_UNSUPPORTED', 'conf', `invalid nodeset '${mem.nodeset}'`, {
          field: '/domain/numatune/memory/@nodeset',
        });
      mem.nodeset = formatIdSet(ids);
    }
    mem.placement ??= mem.nodeset !== undefined || placementStatic ? 'static' : 'auto';
    if (mem.placement === 'static' && mem.nodeset === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'conf', "a static NUMA memory placement needs a 'nodeset'", {
        field: '/domain/numatune/memory/@nodeset',
      });
    // an automatic placement chooses the nodes itself: a nodeset given with it means nothing
    if (mem.placement === 'auto') delete mem.nodeset;
  }
  const memnodes = def.numatune?.memnodes ?? [];
  if (memnodes.length > 0) normalizeMemnodes(def);
  const auto = def.numatune?.memory?.placement === 'auto';
  const ct = def.cputune;
  const pinned =
    vcpu.cpuset !== undefined ||
    (ct?.vcpuPins ?? []).length > 0 ||
    ct?.emulatorPin !== undefined ||
    (ct?.iothreadPins ?? []).length > 0;
  if (auto && !pinned) vcpu.placement = 'auto';
  // libvirt writes a static placement as its nodeset alone
  if (mem?.placement === 'static') delete mem.placement;
}

function normalizeMemnodes(def: DomainDefData): void {
  const tune = def.numatune;
  const memnodes = tune?.memnodes;
  if (!tune || !memnodes) return;
  if (tune.memory?.placement === 'auto')
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'conf',
      'per-node binding cannot go with automatic NUMA placement',
      {
        field: '/domain/numatune/memnode',
      },
    );
  const ncells = def.cpu?.numa?.cells?.length ?? 0;
  if (ncells === 0)
    throw new VirError('XML_DETAIL', 'conf', '<memnode> needs guest NUMA cells', {
      field: '/domain/numatune/memnode',
    });
  const seen = new Set<number>();
  for (const [i, m] of memnodes.entries()) {
    const field = `/domain/numatune/memnode[${i + 1}]`;
    if (m.cellid >= ncells)
      throw new VirError('XML_DETAIL', 'conf', `memnode cellid ${m.cellid} names no guest NUMA cell`, {
        field: `${field}/@cellid`,
      });
    if (seen.has(m.cellid))
      throw new VirError('XML_DETAIL', 'conf', `more than one memnode for cellid ${m.cellid}`, {
        field: `${field}/@cellid`,
      });
    seen.add(m.cellid);
    const ids = parseIdSet(m.nodeset, `${field}/@nodeset`);
    if (ids.length === 0)
      throw new VirError('CONFIG_UNSUPPORTED', 'conf', `invalid nodeset '${m.nodeset}'`, {
        field: `${field}/@nodeset`,
      });
    m.nodeset = formatIdSet(ids);
    m.mode ??= 'strict';
  }
  // libvirt keeps them per cell and writes them in cell order
  memnodes.sort((a, b) => a.cellid - b.cellid);
}

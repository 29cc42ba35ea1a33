/**
 * The host NUMA topology from `/sys/devices/system`: one cell per online
 * node with its memory, page pools, distances, memory-side caches and CPUs
 * (socket, die, cluster, core and thread siblings of each), and the HMAT
 * latency/bandwidth figures between initiator and target nodes.
 *
 * Rules, as libvirt applies them:
 * - cells are the nodes of `node/online`, ascending; a node's CPUs are its
 *   `cpulist` (empty for a memory-only node);
 * - a CPU's missing `physical_package_id`, `die_id`, `cluster_id` or `core_id`
 *   counts as 0, and so does a negative id (the kernel writes -1 where an
 *   architecture has no such level); a missing `thread_siblings_list` means
 *   the CPU is its own only sibling;
 * - interconnects come from each node's `access1` (the best path from CPUs
 *   only); bandwidths are read in MiB/s and reported in KiB/s;
 * - without a `node` directory the kernel has no NUMA support: one cell 0
 *   holds every online CPU.
 *
 * @module
 */
import type {
  CapsInterconnectBandwidth,
  CapsInterconnectLatency,
  CapsNumaCell,
  CapsNumaCellCache,
  CapsTopology,
} from '../../../conf/capabilities.js';
import { VirError } from '../../../errors.js';
import { formatIdSet } from './cpu-set.js';
import type { NumaMemorySource } from './host-numa-memory.js';
import { badSysfsFile, mapInOrder, type SysfsReader } from './sysfs-reader.js';

type CellCpu = NonNullable<NonNullable<CapsNumaCell['cpus']>['cpus']>[number];

export interface HostNumaOptions {
  /** Memory of the single cell when the kernel has no NUMA support, in KiB. */
  totalMemoryKiB?: bigint;
}

/** The `<topology>` of the host; `fs` is rooted at `/sys/devices/system`. */
export async function readHostNuma(
  fs: SysfsReader,
  memory: NumaMemorySource,
  options: HostNumaOptions = {},
): Promise<CapsTopology> {
  if (!(await fs.exists('node'))) return singleCellTopology(fs, options);
  const online = await fs.required('node/online', fs.idSet);
  const cells: CapsNumaCell[] = [];
  for (const node of online) {
    const cpuIds = await fs.required(`node/node${node}/cpulist`, (rel) => fs.idSet(rel, true));
    const cpus = await mapInOrder(cpuIds, (id) => cellCpu(fs, id));
    const cell: CapsNumaCell = { id: node };
    const bytes = await memory.nodeMemory(node);
    const kib = bytes === undefined ? 0n : bytes >> 10n;
    if (kib > 0n) cell.memory = { unit: 'KiB', value: kib };
    const pages = await memory.nodePages(node);
    if (pages.length > 0) cell.pages = pages.map((p) => ({ unit: 'KiB', size: p.size, count: p.count }));
    const distances = await memory.nodeDistances(node, online);
    if (distances.length > 0) cell.distances = { siblings: distances };
    const caches = await memorySideCaches(fs, node);
    if (caches.length > 0) cell.caches = caches;
    cell.cpus = { num: cpus.length, ...(cpus.length > 0 ? { cpus } : {}) };
    cells.push(cell);
  }
  const topology: CapsTopology = { cells: { num: cells.length, cells } };
  const interconnects = await readInterconnects(fs);
  if (interconnects) topology.interconnects = interconnects;
  return topology;
}

/** Where a CPU sits: socket, die, cluster, core and its thread siblings. */
export async function cellCpu(fs: SysfsReader, id: number): Promise<CellCpu> {
  const t = `cpu/cpu${id}/topology`;
  const orZero = (n: number | undefined) => (n === undefined || n < 0 ? 0 : n);
  const [socketId, dieId, clusterId, coreId] = await mapInOrder(
    [
      () => fs.int(`${t}/physical_package_id`),
      () => fs.int(`${t}/die_id`),
      () => fs.int(`${t}/cluster_id`),
      () => fs.uint(`${t}/core_id`),
    ],
    async (read) => orZero(await read()),
  );
  const siblings = (await fs.idSet(`${t}/thread_siblings_list`)) ?? [id];
  return {
    id,
    socketId: socketId ?? 0,
    dieId: dieId ?? 0,
    clusterId: clusterId ?? 0,
    coreId: coreId ?? 0,
    siblings: formatIdSet(siblings),
  };
}

/** One cell 0 holding every online CPU: the topology of a host without NUMA. */
export async function singleCellTopology(
  fs: SysfsReader,
  options: HostNumaOptions = {},
): Promise<CapsTopology> {
  const ids = (await fs.idSet('cpu/online')) ?? (await fs.required('cpu/present', fs.idSet));
  const cpus = await mapInOrder(ids, (id) => cellCpu(fs, id));
  const cell: CapsNumaCell = { id: 0 };
  if (options.totalMemoryKiB) cell.memory = { unit: 'KiB', value: options.totalMemoryKiB };
  cell.cpus = { num: cpus.length, ...(cpus.length > 0 ? { cpus } : {}) };
  return { cells: { num: 1, cells: [cell] } };
}

const ASSOCIATIVITY = ['direct', 'full', 'none'] as const;
const WRITE_POLICY = ['writeback', 'writethrough', 'none'] as const;

/** `nodeN/memory_side_cache/indexL`: caches in front of the node's memory, by level. */
async function memorySideCaches(fs: SysfsReader, node: number): Promise<CapsNumaCellCache[]> {
  const dir = `node/node${node}/memory_side_cache`;
  const out: CapsNumaCellCache[] = [];
  for (const name of (await fs.list(dir)) ?? []) {
    if (!name.startsWith('index')) continue;
    const level = /^index(\d+)$/.exec(name) ? Number(name.slice(5)) : Number.NaN;
    if (!(level <= 0xffffffff)) throw unparsable(fs.path(`${dir}/${name}`));
    const at = `${dir}/${name}`;
    const size = await fs.required(`${at}/size`, fs.uint64);
    const line = await fs.required(`${at}/line_size`, fs.uint);
    // The kernel's enum cache_indexing and enum cache_write_policy, in their order.
    const indexing = await fs.required(`${at}/indexing`, fs.uint);
    const associativity = ASSOCIATIVITY[indexing];
    if (!associativity) throw badSysfsFile(fs.path(`${at}/indexing`), `unknown indexing value '${indexing}'`);
    const writePolicy = await fs.required(`${at}/write_policy`, fs.uint);
    const policy = WRITE_POLICY[writePolicy];
    if (!policy) {
      throw badSysfsFile(fs.path(`${at}/write_policy`), `unknown write_policy value '${writePolicy}'`);
    }
    const cache: CapsNumaCellCache = {
      level,
      associativity,
      policy,
      // read in bytes, reported in KiB
      size: { value: Number(size >> 10n), unit: 'KiB' },
    };
    if (line) cache.line = { value: line, unit: 'B' };
    out.push(cache);
  }
  return out.sort((a, b) => a.level - b.level);
}

function unparsable(path: string): VirError {
  return new VirError('INTERNAL_ERROR', 'capabilities', `unable to parse '${path}'`, { field: path });
}

interface Figure {
  kind: 0 | 1; // latency before bandwidth
  initiator: number;
  target: number;
  access: 'read' | 'write';
  value: number;
}

/** HMAT figures of every node that has an `access1` directory; undefined when none has. */
async function readInterconnects(fs: SysfsReader): Promise<CapsTopology['interconnects']> {
  const figures: Figure[] = [];
  for (const name of (await fs.list('node')) ?? []) {
    if (!name.startsWith('node')) continue;
    if (!/^node\d+$/.test(name)) throw unparsable(fs.path(`node/${name}`));
    const target = Number(name.slice(4));
    const base = `node/${name}/access1/initiators`;
    if (!(await fs.exists(`node/${name}/access1`))) continue;
    const readBw = await fs.required(`${base}/read_bandwidth`, fs.uint);
    const writeBw = await fs.required(`${base}/write_bandwidth`, fs.uint);
    const readLat = await fs.required(`${base}/read_latency`, fs.uint);
    const writeLat = await fs.required(`${base}/write_latency`, fs.uint);
    const entries = await fs.list(base);
    if (entries === undefined) throw unparsable(fs.path(base));
    for (const e of entries) {
      if (!e.startsWith('node')) continue;
      if (!/^node\d+$/.test(e)) throw unparsable(fs.path(`${base}/${e}`));
      const initiator = Number(e.slice(4));
      figures.push(
        { kind: 1, initiator, target, access: 'read', value: readBw * 1024 },
        { kind: 1, initiator, target, access: 'write', value: writeBw * 1024 },
        { kind: 0, initiator, target, access: 'read', value: readLat },
        { kind: 0, initiator, target, access: 'write', value: writeLat },
      );
    }
  }
  if (figures.length === 0) return undefined;
  figures.sort(
    (a, b) =>
      a.kind - b.kind ||
      a.initiator - b.initiator ||
      a.target - b.target ||
      a.access.localeCompare(b.access) ||
      a.value - b.value,
  );
  const latencies: CapsInterconnectLatency[] = [];
  const bandwidths: CapsInterconnectBandwidth[] = [];
  for (const f of figures) {
    const ends = { initiator: f.initiator, target: f.target, type: f.access, value: f.value };
    if (f.kind === 0) latencies.push(ends);
    else bandwidths.push({ ...ends, unit: 'KiB' });
  }
  return {
    ...(latencies.length > 0 ? { latencies } : {}),
    ...(bandwidths.length > 0 ? { bandwidths } : {}),
  };
}

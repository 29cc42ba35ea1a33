/**
 * The host's resources inside `<capabilities>`: the NUMA topology (cells
 * with memory, page pools, distances, memory-side caches and CPUs, plus the
 * HMAT interconnects between cells) and resource control (cache banks,
 * memory bandwidth nodes and their monitors).
 *
 * @module
 */
import {
  attr,
  child,
  children,
  detailError,
  elementMapper,
  enumOf,
  type Infer,
  int,
  req,
  str,
  text,
  uint,
  uint64,
} from './binding.js';

const nonNegative = int({ min: 0, max: 0xffffffff });
// --- host / NUMA topology ----------------------------------------------------

const cellMemoryMapper = elementMapper('memory', {
  unit: attr('unit', str),
  value: req(text(uint64)),
});

const cellPagesMapper = elementMapper('pages', {
  unit: attr('unit', str),
  size: req(attr('size', uint)),
  count: req(text(uint64)),
});

const distanceSiblingMapper = elementMapper('sibling', {
  id: req(attr('id', nonNegative)),
  value: req(attr('value', nonNegative)),
});
const cellDistancesMapper = elementMapper('distances', { siblings: children(distanceSiblingMapper) });

const cellCpuMapper = elementMapper('cpu', {
  id: req(attr('id', nonNegative)),
  socketId: attr('socket_id', nonNegative),
  dieId: attr('die_id', nonNegative),
  clusterId: attr('cluster_id', nonNegative),
  coreId: attr('core_id', nonNegative),
  siblings: attr('siblings', str),
});

const cellCpusMapper = elementMapper(
  'cpus',
  {
    num: req(attr('num', nonNegative)),
    cpus: children(cellCpuMapper),
  },
  {
    check(v, ctx) {
      if ((v.cpus?.length ?? 0) !== v.num) {
        throw detailError(ctx, '@num', `says ${v.num} but ${v.cpus?.length ?? 0} <cpu> elements follow`);
      }
    },
  },
);

const cacheSizeMapper = elementMapper('size', {
  value: req(attr('value', uint)),
  unit: attr('unit', str),
});
const cacheLineMapper = elementMapper('line', {
  value: req(attr('value', uint)),
  unit: attr('unit', str),
});

/** A memory-side cache in front of a cell's memory (ACPI HMAT). */
export const capsNumaCellCacheMapper = elementMapper('cache', {
  level: req(attr('level', nonNegative)),
  associativity: req(attr('associativity', enumOf(['none', 'direct', 'full'] as const))),
  policy: req(attr('policy', enumOf(['none', 'writeback', 'writethrough'] as const))),
  size: req(child(cacheSizeMapper)),
  line: child(cacheLineMapper),
});
export type CapsNumaCellCache = Infer<typeof capsNumaCellCacheMapper.spec>;

export const capsNumaCellMapper = elementMapper('cell', {
  id: req(attr('id', nonNegative)),
  memory: child(cellMemoryMapper),
  pages: children(cellPagesMapper),
  distances: child(cellDistancesMapper),
  caches: children(capsNumaCellCacheMapper),
  cpus: child(cellCpusMapper),
});
export type CapsNumaCell = Infer<typeof capsNumaCellMapper.spec>;

const cellsMapper = elementMapper(
  'cells',
  {
    num: req(attr('num', nonNegative)),
    cells: children(capsNumaCellMapper),
  },
  {
    check(v, ctx) {
      if ((v.cells?.length ?? 0) !== v.num) {
        throw detailError(ctx, '@num', `says ${v.num} but ${v.cells?.length ?? 0} <cell> elements follow`);
      }
    },
  },
);

const accessType = enumOf(['access', 'read', 'write'] as const);

/** Access latency from an initiator cell to a target cell (ACPI HMAT), in nanoseconds. */
const latencyMapper = elementMapper('latency', {
  initiator: req(attr('initiator', nonNegative)),
  target: req(attr('target', nonNegative)),
  cache: attr('cache', nonNegative),
  type: req(attr('type', accessType)),
  value: req(attr('value', uint)),
});

/** Access bandwidth from an initiator cell to a target cell (ACPI HMAT). */
const bandwidthMapper = elementMapper('bandwidth', {
  initiator: req(attr('initiator', nonNegative)),
  target: req(attr('target', nonNegative)),
  cache: attr('cache', nonNegative),
  type: req(attr('type', accessType)),
  value: req(attr('value', uint)),
  unit: attr('unit', str),
});
export type CapsInterconnectLatency = Infer<typeof latencyMapper.spec>;
export type CapsInterconnectBandwidth = Infer<typeof bandwidthMapper.spec>;

/** libvirt writes every latency before every bandwidth, so two lists keep its order. */
const interconnectsMapper = elementMapper('interconnects', {
  latencies: children(latencyMapper),
  bandwidths: children(bandwidthMapper),
});

export const capsTopologyMapper = elementMapper('topology', {
  cells: child(cellsMapper),
  interconnects: child(interconnectsMapper),
});
export type CapsTopology = Infer<typeof capsTopologyMapper.spec>;

// --- host / cache and memory bandwidth ----------------------------------------

const cacheControlMapper = elementMapper('control', {
  granularity: attr('granularity', uint),
  min: attr('min', uint),
  unit: attr('unit', str),
  type: attr('type', enumOf(['both', 'code', 'data'] as const)),
  maxAllocs: attr('maxAllocs', uint),
});

const cacheBankMapper = elementMapper('bank', {
  id: req(attr('id', nonNegative)),
  level: req(attr('level', nonNegative)),
  type: req(attr('type', enumOf(['both', 'code', 'data'] as const))),
  size: req(attr('size', uint)),
  unit: attr('unit', str),
  cpus: req(attr('cpus', str)),
  controls: children(cacheControlMapper),
});

const monitorFeatureMapper = elementMapper('feature', { name: req(attr('name', str)) });

const cacheMonitorMapper = elementMapper('monitor', {
  level: attr('level', nonNegative),
  reuseThreshold: attr('reuseThreshold', uint),
  maxMonitors: req(attr('maxMonitors', uint)),
  features: children(monitorFeatureMapper),
});

export const capsCacheMapper = elementMapper('cache', {
  banks: children(cacheBankMapper),
  monitor: child(cacheMonitorMapper),
});
export type CapsCache = Infer<typeof capsCacheMapper.spec>;

const bandwidthControlMapper = elementMapper('control', {
  granularity: attr('granularity', uint),
  min: attr('min', uint),
  maxAllocs: attr('maxAllocs', uint),
});

const bandwidthNodeMapper = elementMapper('node', {
  id: req(attr('id', nonNegative)),
  cpus: req(attr('cpus', str)),
  controls: children(bandwidthControlMapper),
});

export const capsMemoryBandwidthMapper = elementMapper('memory_bandwidth', {
  nodes: children(bandwidthNodeMapper),
  monitor: child(cacheMonitorMapper),
});
export type CapsMemoryBandwidth = Infer<typeof capsMemoryBandwidthMapper.spec>;

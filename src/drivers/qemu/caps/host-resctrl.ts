/**
 * What the kernel's resource control (`/sys/fs/resctrl/info`) offers: cache
 * allocation per cache level and type (CAT, with code/data prioritisation
 * as separate types), memory bandwidth allocation (MBA) and the monitoring
 * counters (CMT/MBM).
 *
 * The allocation unit of a cache is its size divided by the bits of its
 * capacity mask, so the figures of a level are only known once the host's
 * cache banks are read: {@link ResctrlInfo.cacheControls} fills them in from
 * the first bank of each level and refuses a later bank of another size, as
 * libvirt does (resctrl has one mask width per level).
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import { countMaskBits } from './cpu-set.js';
import type { SysfsReader } from './sysfs-reader.js';

export type CacheType = 'both' | 'code' | 'data';
const CACHE_TYPES: readonly CacheType[] = ['both', 'code', 'data'];
/** The suffix of an `info/L<level><suffix>` directory for each type. */
const RESCTRL_SUFFIX: Record<string, CacheType> = { '': 'both', CODE: 'code', DATA: 'data' };

/** Allocation figures of one cache bank, in bytes. `min` is 0 when one mask bit is enough. */
export interface CacheControl {
  granularity: number;
  min: number;
  scope: CacheType;
  maxAllocs: number;
}

export interface MemoryBandwidthControl {
  granularity: number;
  min: number;
  maxAllocs: number;
}

export interface ResctrlMonitor {
  /** Cache monitors only: the level they watch and the occupancy threshold for reusing a counter. */
  level?: number;
  reuseThreshold?: number;
  maxMonitors: number;
  features: string[];
}

interface PerType {
  scope: CacheType;
  maxAllocs: number;
  bits: number;
  minCbmBits: number;
  /** Bytes of the level's caches, known from the first bank seen. */
  size?: number;
  granularity: number;
  min: number;
}

interface MonitorInfo {
  maxMonitors: number;
  reuseThreshold: number;
  features: string[];
}

export class ResctrlInfo {
  /** Memory bandwidth works on the last level cache: the highest level seen so far. */
  #lastLevel = 0;

  private constructor(
    private readonly levels: Map<number, Map<CacheType, PerType>>,
    private readonly memBw: MemoryBandwidthControl | undefined,
    private readonly monitor: MonitorInfo | undefined,
  ) {}

  /** An empty description: the host has no resource control. */
  static none(): ResctrlInfo {
    return new ResctrlInfo(new Map(), undefined, undefined);
  }

  /** Reads `info/` of a resctrl mount; no `info` directory means no resource control. */
  static async read(fs: SysfsReader | undefined): Promise<ResctrlInfo> {
    if (!fs || (await fs.list('info')) === undefined) return ResctrlInfo.none();
    const memBw = await readMemoryBandwidth(fs);
    const levels = await readCacheTypes(fs);
    const monitor = await readMonitor(fs);
    return new ResctrlInfo(levels, memBw, monitor);
  }

  get isEmpty(): boolean {
    return !this.memBw && !this.monitor && this.levels.size === 0;
  }

  /**
   * The allocation controls of a newly seen cache bank (one per type its
   * level offers), fixing the level's unit from the bank's size.
   */
  cacheControls(level: number, size: number): CacheControl[] {
    if (this.isEmpty) return [];
    if (this.memBw && level > this.#lastLevel) this.#lastLevel = level;
    const types = this.levels.get(level);
    if (!types) return [];
    const out: CacheControl[] = [];
    for (const scope of CACHE_TYPES) {
      const t = types.get(scope);
      if (!t) continue;
      if (t.size === undefined) {
        t.size = size;
        t.granularity = Math.floor(size / t.bits);
        t.min = t.minCbmBits !== 1 ? t.minCbmBits * t.granularity : 0;
      } else if (t.size !== size) {
        throw new VirError(
          'INTERNAL_ERROR',
          'capabilities',
          `level ${level} cache size ${t.size} does not match expected size ${size}`,
          { field: `L${level}` },
        );
      }
      out.push({ granularity: t.granularity, min: t.min, scope, maxAllocs: t.maxAllocs });
    }
    return out;
  }

  /** Memory bandwidth control of a bank of the last level cache; undefined for other banks. */
  memoryBandwidth(level: number): MemoryBandwidthControl | undefined {
    return this.memBw && this.#lastLevel === level ? { ...this.memBw } : undefined;
  }

  /** Cache (`llc_`) or memory bandwidth (`mbm_`) monitoring; undefined when no feature has the prefix. */
  monitorFor(kind: 'cache' | 'memory'): ResctrlMonitor | undefined {
    const m = this.monitor;
    if (!m) return undefined;
    const prefix = kind === 'cache' ? 'llc_' : 'mbm_';
    const features = m.features.filter((f) => f.startsWith(prefix));
    if (features.length === 0) return undefined;
    // Monitoring exists for the level 3 cache only.
    return kind === 'cache'
      ? { level: 3, reuseThreshold: m.reuseThreshold, maxMonitors: m.maxMonitors, features }
      : { maxMonitors: m.maxMonitors, features };
  }
}

function missing(fs: SysfsReader, rel: string, what: string): VirError {
  const path = fs.path(rel);
  return new VirError('INTERNAL_ERROR', 'capabilities', `Cannot get ${what}: '${path}' does not exist`, {
    field: path,
  });
}

async function readMemoryBandwidth(fs: SysfsReader): Promise<MemoryBandwidthControl | undefined> {
  const granularity = await fs.uint('info/MB/bandwidth_gran');
  // No granularity: the host has no memory bandwidth allocation.
  if (granularity === undefined) return undefined;
  const min = await fs.uint('info/MB/min_bandwidth');
  if (min === undefined) throw missing(fs, 'info/MB/min_bandwidth', 'min bandwidth from resctrl memory info');
  const maxAllocs = await fs.uint('info/MB/num_closids');
  if (maxAllocs === undefined) {
    throw missing(fs, 'info/MB/num_closids', 'max allocation from resctrl memory info');
  }
  return { granularity, min, maxAllocs };
}

/** `info/L<level>[CODE|DATA]/`: one entry per cache level and type; other entries are not caches. */
async function readCacheTypes(fs: SysfsReader): Promise<Map<number, Map<CacheType, PerType>>> {
  const levels = new Map<number, Map<CacheType, PerType>>();
  for (const name of (await fs.list('info')) ?? []) {
    const m = /^L\s*\+?(\d+)(.*)$/.exec(name);
    if (!m) continue;
    const level = Number(m[1]);
    const scope = RESCTRL_SUFFIX[m[2] as string];
    if (scope === undefined || level > 0xffffffff) continue; // L3_MON and friends
    const dir = `info/${name}`;
    // Without num_closids the level can hold no allocation, but the kernel still lists it.
    const maxAllocs = (await fs.uint(`${dir}/num_closids`)) ?? 0;
    let mask = await fs.string(`${dir}/cbm_mask`);
    if (mask === undefined) throw missing(fs, `${dir}/cbm_mask`, 'cbm_mask from resctrl cache info');
    if (mask.endsWith('\n')) mask = mask.slice(0, -1);
    const bits = countMaskBits(mask);
    if (!bits) {
      const path = fs.path(`${dir}/cbm_mask`);
      throw new VirError(
        'INTERNAL_ERROR',
        'capabilities',
        `Cannot parse cbm_mask '${mask}' in file '${path}'`,
        {
          field: path,
        },
      );
    }
    const minCbmBits = await fs.uint(`${dir}/min_cbm_bits`);
    if (minCbmBits === undefined) {
      throw missing(fs, `${dir}/min_cbm_bits`, 'min_cbm_bits from resctrl cache info');
    }
    let types = levels.get(level);
    if (!types) {
      types = new Map();
      levels.set(level, types);
    }
    if (types.has(scope)) {
      throw new VirError(
        'INTERNAL_ERROR',
        'capabilities',
        `Duplicate cache type in resctrl for level ${level}`,
        {
          field: fs.path(dir),
        },
      );
    }
    types.set(scope, { scope, maxAllocs, bits, minCbmBits, granularity: 0, min: 0 });
  }
  return levels;
}

async function readMonitor(fs: SysfsReader): Promise<MonitorInfo | undefined> {
  const maxMonitors = await fs.uint('info/L3_MON/num_rmids');
  // No counters: the host has no resource monitoring.
  if (maxMonitors === undefined) return undefined;
  // Absent when cache occupancy monitoring is not supported.
  const reuseThreshold = (await fs.uint('info/L3_MON/max_threshold_occupancy')) ?? 0;
  const text = await fs.string('info/L3_MON/mon_features');
  if (text === undefined) throw missing(fs, 'info/L3_MON/mon_features', 'mon_features from resctrl');
  if (text === '') {
    const path = fs.path('info/L3_MON/mon_features');
    throw new VirError('INTERNAL_ERROR', 'capabilities', `Got empty feature list from resctrl in '${path}'`, {
      field: path,
    });
  }
  return { maxMonitors, reuseThreshold, features: text.split('\n') };
}

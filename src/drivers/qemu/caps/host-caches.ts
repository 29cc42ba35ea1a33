/**
 * The host's `<cache>` banks and `<memory_bandwidth>` nodes: the level 2 and
 * higher caches of the online CPUs (`cpu/cpuN/cache/indexM`), each bank once
 * however many CPUs share it, with the allocation controls and monitors
 * resource control offers for it.
 *
 * Rules, as libvirt applies them:
 * - only online CPUs have cache information; levels below 2 are left out
 *   (they are per core and cannot be partitioned);
 * - a cache index without `id`, `type`, `size` or `shared_cpu_list` is
 *   skipped (older kernels have no `id`); one without `level` is an error;
 * - banks are sorted by level, then id;
 * - memory bandwidth is controlled per bank of the last level cache.
 *
 * @module
 */
import type { CapsCache, CapsMemoryBandwidth } from '../../../conf/capabilities.js';
import { formatIdSet } from './cpu-set.js';
import type { CacheControl, CacheType, ResctrlInfo, ResctrlMonitor } from './host-resctrl.js';
import { badSysfsFile, mapInOrder, type SysfsReader } from './sysfs-reader.js';

/** The lowest level worth reporting: lowering it is fine, raising it would hide caches. */
const MIN_LEVEL = 2;

/** The kernel's names of cache types. */
const KERNEL_TYPE: Record<string, CacheType> = { Unified: 'both', Instruction: 'code', Data: 'data' };

interface Bank {
  id: number;
  level: number;
  type: CacheType;
  /** Bytes. */
  size: number;
  cpus: string;
  controls: CacheControl[];
}

export interface HostCaches {
  cache?: CapsCache;
  memoryBandwidth?: CapsMemoryBandwidth;
}

/** A cache index as one CPU sees it, before banks shared by several CPUs are merged. */
type SeenCache = Omit<Bank, 'controls'>;

/** The usable caches of one CPU, in index order. */
async function cpuCaches(fs: SysfsReader, cpu: number): Promise<SeenCache[]> {
  const dir = `cpu/cpu${cpu}/cache`;
  const out: SeenCache[] = [];
  for (const index of (await fs.list(dir)) ?? []) {
    if (!index.startsWith('index')) continue;
    const at = `${dir}/${index}`;
    const level = await fs.required(`${at}/level`, fs.uint);
    if (level < MIN_LEVEL) continue;
    const [id, kernelType, size, shared] = await Promise.all([
      fs.uint(`${at}/id`),
      fs.string(`${at}/type`),
      fs.scaled(`${at}/size`),
      fs.idSet(`${at}/shared_cpu_list`),
    ]);
    if (id === undefined || kernelType === undefined || size === undefined || shared === undefined) continue;
    const type = KERNEL_TYPE[kernelType];
    if (!type) throw badSysfsFile(fs.path(`${at}/type`), `Unknown cache type '${kernelType}'`);
    out.push({ id, level, type, size, cpus: formatIdSet(shared) });
  }
  return out;
}

/** Banks, controls and monitors; `fs` is rooted at `/sys/devices/system`. */
export async function readHostCaches(fs: SysfsReader, resctrl: ResctrlInfo): Promise<HostCaches> {
  const online = await fs.required('cpu/online', fs.idSet);
  const banks: Bank[] = [];
  for (const seen of (await mapInOrder(online, (cpu) => cpuCaches(fs, cpu))).flat()) {
    const known = banks.some(
      (b) =>
        b.id === seen.id &&
        b.level === seen.level &&
        b.type === seen.type &&
        b.size === seen.size &&
        b.cpus === seen.cpus,
    );
    if (!known) banks.push({ ...seen, controls: resctrl.cacheControls(seen.level, seen.size) });
  }
  // Stable: banks of one level and id keep the order they were found in.
  banks.sort((a, b) => a.level - b.level || a.id - b.id);

  const out: HostCaches = {};
  const cacheMonitor = resctrl.monitorFor('cache');
  if (banks.length > 0 || cacheMonitor) {
    out.cache = {
      ...(banks.length > 0 ? { banks: banks.map(formatBank) } : {}),
      ...(cacheMonitor ? { monitor: formatMonitor(cacheMonitor) } : {}),
    };
  }
  const nodes: NonNullable<CapsMemoryBandwidth['nodes']> = [];
  for (const b of banks) {
    const control = resctrl.memoryBandwidth(b.level);
    if (control) nodes.push({ id: b.id, cpus: b.cpus, controls: [control] });
  }
  const memMonitor = resctrl.monitorFor('memory');
  if (nodes.length > 0 || memMonitor) {
    out.memoryBandwidth = {
      ...(nodes.length > 0 ? { nodes } : {}),
      ...(memMonitor ? { monitor: formatMonitor(memMonitor) } : {}),
    };
  }
  return out;
}

type CapsBank = NonNullable<CapsCache['banks']>[number];
type CapsControl = NonNullable<CapsBank['controls']>[number];

function formatBank(b: Bank): CapsBank {
  const [size, unit] = prettySize(b.size);
  const bank: CapsBank = { id: b.id, level: b.level, type: b.type, size, unit, cpus: b.cpus };
  if (b.controls.length > 0) bank.controls = b.controls.map(formatControl);
  return bank;
}

/**
 * Granularity and minimum in one unit: each in the largest unit it is a
 * whole number of, then both in the smaller of the two.
 */
function formatControl(c: CacheControl): CapsControl {
  let [gran, unit] = prettySize(c.granularity);
  let [min, minUnit] = prettySize(c.min);
  if (min) {
    const granDiv = c.granularity / gran;
    const minDiv = c.min / min;
    if (minDiv > granDiv) min *= minDiv / granDiv;
    else if (minDiv < granDiv) {
      unit = minUnit;
      gran *= granDiv / minDiv;
    }
  }
  return {
    granularity: gran,
    ...(min ? { min } : {}),
    unit,
    type: c.scope,
    maxAllocs: c.maxAllocs,
  };
}

function formatMonitor(m: ResctrlMonitor): NonNullable<CapsCache['monitor']> {
  return {
    ...(m.level !== undefined ? { level: m.level } : {}),
    ...(m.reuseThreshold !== undefined ? { reuseThreshold: m.reuseThreshold } : {}),
    maxMonitors: m.maxMonitors,
    features: m.features.map((name) => ({ name })),
  };
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/** Bytes in the largest binary unit they are a whole number of (0 stays 0 B). */
export function prettySize(bytes: number): [number, string] {
  if (bytes === 0) return [0, 'B'];
  let value = bytes;
  let i = 0;
  while (i < UNITS.length - 1 && value % 1024 === 0) {
    value /= 1024;
    i++;
  }
  return [value, UNITS[i] as string];
}

/**
 * The `<host>` of the capabilities as far as sysfs tells it: NUMA topology,
 * cache banks, memory bandwidth, resource monitors, and the migration
 * features the caller states. No CPU model is involved: that comes from
 * CPUID (see host-info.ts).
 *
 * The roots are parameters so that a copied tree (libvirt's test data, a
 * snapshot of another host) gives the answer that host would have given.
 *
 * @module
 */
import type { CapsHost } from '../../../conf/capabilities.js';
import { readHostCaches } from './host-caches.js';
import { readHostNuma } from './host-numa.js';
import { type NumaMemorySource, type SysfsMemoryOptions, sysfsNumaMemory } from './host-numa-memory.js';
import { ResctrlInfo } from './host-resctrl.js';
import { SysfsReader } from './sysfs-reader.js';

export interface SysfsRoots {
  /** Stands for `/sys/devices/system`. */
  system: string;
  /** Stands for `/sys/fs/resctrl`; absent or missing when the host has no resource control. */
  resctrl?: string;
}

export interface HostSysfsOptions extends SysfsMemoryOptions {
  arch: string;
  /** Offline migration works: `<migration_features>` is written. */
  offlineMigrate: boolean;
  /** Live migration works too: `<live/>` inside it. */
  liveMigrate: boolean;
  /** Where node memory, page pools and distances come from. Default: the same sysfs tree. */
  memory?: NumaMemorySource;
  /** Memory of the single cell when the kernel has no NUMA support, in KiB. */
  totalMemoryKiB?: bigint;
}

/** The NUMA `<topology>` of a sysfs tree. Throws `VirError` naming the file at fault. */
export async function hostTopologyFromSysfs(
  roots: SysfsRoots,
  options: Omit<HostSysfsOptions, 'arch' | 'offlineMigrate' | 'liveMigrate'> = {},
): Promise<CapsHost['topology']> {
  const fs = new SysfsReader(roots.system);
  const memory = options.memory ?? sysfsNumaMemory(fs, options);
  return readHostNuma(fs, memory, options.totalMemoryKiB ? { totalMemoryKiB: options.totalMemoryKiB } : {});
}

/** The `<cache>` and `<memory_bandwidth>` of a sysfs tree. Throws `VirError` naming the file at fault. */
export async function hostCachesFromSysfs(
  roots: SysfsRoots,
): Promise<Pick<CapsHost, 'cache' | 'memoryBandwidth'>> {
  const resctrl = await ResctrlInfo.read(
    roots.resctrl === undefined ? undefined : new SysfsReader(roots.resctrl),
  );
  const caches = await readHostCaches(new SysfsReader(roots.system), resctrl);
  return {
    ...(caches.cache ? { cache: caches.cache } : {}),
    ...(caches.memoryBandwidth ? { memoryBandwidth: caches.memoryBandwidth } : {}),
  };
}

/**
 * The host part libvirt builds from sysfs: architecture, no power
 * management, no IOMMU, the migration features, NUMA topology, caches and
 * memory bandwidth. Any missing or unreadable file that the rules need is a
 * `VirError` whose `field` is the file's path.
 */
export async function hostInfoFromSysfs(roots: SysfsRoots, options: HostSysfsOptions): Promise<CapsHost> {
  const host: CapsHost = { cpu: { arch: options.arch }, powerManagement: {}, iommu: false };
  if (options.offlineMigrate) host.migration = options.liveMigrate ? { live: true } : {};
  const topology = await hostTopologyFromSysfs(roots, options);
  if (topology) host.topology = topology;
  Object.assign(host, await hostCachesFromSysfs(roots));
  return host;
}

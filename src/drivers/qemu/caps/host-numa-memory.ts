/**
 * How much memory a NUMA node has, its page pools and its distances to the
 * other nodes: the parts of a cell that depend on the running kernel's memory
 * accounting rather than on the topology.
 *
 * The host reads them from sysfs (`nodeN/meminfo`, `nodeN/hugepages`,
 * `nodeN/distance`); libvirt's own test suite replaces them with fixed
 * values, so the source is an interface the caller may swap.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import { badSysfsFile, type SysfsReader } from './sysfs-reader.js';

/** One page pool of a node: page size in KiB and the number of pages in the pool. */
export interface NumaPagePool {
  size: number;
  count: bigint;
}

export interface NumaMemorySource {
  /** Total memory of the node in bytes; undefined when the host does not say. */
  nodeMemory(node: number): Promise<bigint | undefined>;
  /** The node's page pools, smallest page first (the ordinary pages included). */
  nodePages(node: number): Promise<NumaPagePool[]>;
  /** Distance from `node` to each node of `nodes` that has one (0 and absent entries are left out). */
  nodeDistances(node: number, nodes: readonly number[]): Promise<Array<{ id: number; value: number }>>;
}

export interface SysfsMemoryOptions {
  /** The ordinary page size in KiB (4 on x86; 4, 16 or 64 on arm64 and ppc64). Default 4. */
  pageSizeKiB?: number;
}

/** The node memory facts of a sysfs tree rooted at `/sys/devices/system`. */
export function sysfsNumaMemory(fs: SysfsReader, options: SysfsMemoryOptions = {}): NumaMemorySource {
  const pageKiB = BigInt(options.pageSizeKiB ?? 4);

  async function nodeMemory(node: number): Promise<bigint | undefined> {
    const rel = `node/node${node}/meminfo`;
    const text = await fs.string(rel);
    if (text === undefined) return undefined;
    // "Node 0 MemTotal:       16314264 kB"
    const m = /^Node\s+\d+\s+MemTotal:\s+(\d+)\s+kB\s*$/m.exec(text);
    if (!m) throw badSysfsFile(fs.path(rel), 'No MemTotal line');
    return BigInt(m[1] as string) * 1024n;
  }

  async function hugePools(node: number): Promise<NumaPagePool[]> {
    const dir = `node/node${node}/hugepages`;
    const pools: NumaPagePool[] = [];
    for (const name of (await fs.list(dir)) ?? []) {
      if (!name.startsWith('hugepages-')) continue;
      const m = /^hugepages-(\d+)kB$/i.exec(name);
      const size = m ? Number(m[1]) : Number.NaN;
      if (!(size > 0 && size <= 0xffffffff)) {
        throw new VirError(
          'INTERNAL_ERROR',
          'capabilities',
          `unable to parse '${fs.path(`${dir}/${name}`)}'`,
          {
            field: fs.path(`${dir}/${name}`),
          },
        );
      }
      const count = await fs.required(`${dir}/${name}/nr_hugepages`, fs.uint64);
      pools.push({ size, count });
    }
    return pools;
  }

  return {
    nodeMemory,
    async nodePages(node) {
      const pools = await hugePools(node);
      // Huge pages count as used memory in meminfo: what is left for ordinary pages is the rest.
      const hugeBytes = pools.reduce((sum, p) => sum + BigInt(p.size) * 1024n * p.count, 0n);
      const total = await nodeMemory(node);
      if (total === undefined) {
        const path = fs.path(`node/node${node}/meminfo`);
        throw new VirError('INTERNAL_ERROR', 'capabilities', `File '${path}' does not exist`, {
          field: path,
        });
      }
      const left = total > hugeBytes ? total - hugeBytes : 0n;
      pools.push({ size: Number(pageKiB), count: left / (pageKiB * 1024n) });
      return pools.sort((a, b) => a.size - b.size);
    },
    async nodeDistances(node, nodes) {
      const rel = `node/node${node}/distance`;
      const text = await fs.string(rel);
      if (text === undefined) return [];
      const values = text.trim() === '' ? [] : text.trim().split(/\s+/);
      // The kernel writes one distance per online node, in ascending node order.
      if (values.length !== nodes.length || values.some((v) => !/^\d+$/.test(v))) {
        throw badSysfsFile(fs.path(rel), `Expected ${nodes.length} distances, got '${text.trim()}'`);
      }
      const out: Array<{ id: number; value: number }> = [];
      nodes.forEach((id, i) => {
        const value = Number(values[i]);
        if (value !== 0) out.push({ id, value });
      });
      return out;
    },
  };
}

/**
 * Sysfs trees with missing or garbage files: each gives a `VirError` whose
 * field (and message) names the file at fault, never a crash or a silent pass.
 */
import { describe, expect, it } from 'vitest';
import { hostInfoFromSysfs, type SysfsRoots } from '../../../src/drivers/qemu/caps/host-sysfs.js';
import { VirError } from '../../../src/errors.js';
import { type Files, tree, X86 } from './sysfs-tree.js';

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('bad sysfs trees', () => {
  const base: Files = {
    'node/online': '0\n',
    'node/node0/cpulist': '0\n',
    'node/node0/meminfo': 'Node 0 MemTotal: 1024 kB\n',
    'cpu/online': '0\n',
  };

  async function fault(files: Files, resctrl?: Files): Promise<VirError> {
    const roots: SysfsRoots = { system: tree(files), ...(resctrl ? { resctrl: tree(resctrl) } : {}) };
    try {
      await hostInfoFromSysfs(roots, X86);
    } catch (err) {
      expect(err).toBeInstanceOf(VirError);
      return err as VirError;
    }
    throw new Error('expected a VirError');
  }

  it.each([
    ['a cpulist of 0-', { 'node/node0/cpulist': '0-\n' }, 'node/node0/cpulist'],
    ['an online node without cpulist', { 'node/node0/cpulist': undefined }, 'node/node0/cpulist'],
    ['a node directory without online', { 'node/online': undefined }, 'node/online'],
    ['a non-numeric core id', { 'cpu/cpu0/topology/core_id': 'zero\n' }, 'cpu/cpu0/topology/core_id'],
    ['a garbage socket id', { 'cpu/cpu0/topology/physical_package_id': '1x\n' }, 'physical_package_id'],
    ['garbage meminfo', { 'node/node0/meminfo': 'nothing here\n' }, 'node/node0/meminfo'],
    ['no meminfo', { 'node/node0/meminfo': undefined }, 'node/node0/meminfo'],
    [
      'a non-numeric huge page count',
      { 'node/node0/hugepages/hugepages-2048kB/nr_hugepages': 'many\n' },
      'hugepages-2048kB/nr_hugepages',
    ],
    [
      'a bad huge page directory',
      { 'node/node0/hugepages/hugepages-2MB/nr_hugepages': '0\n' },
      'hugepages-2MB',
    ],
    ['a distance list of the wrong length', { 'node/node0/distance': '10 20\n' }, 'node/node0/distance'],
    ['no cpu/online', { 'cpu/online': undefined }, 'cpu/online'],
    [
      'a non-numeric cache size',
      {
        'cpu/cpu0/cache/index2/level': '2\n',
        'cpu/cpu0/cache/index2/id': '0\n',
        'cpu/cpu0/cache/index2/type': 'Unified\n',
        'cpu/cpu0/cache/index2/size': 'big\n',
        'cpu/cpu0/cache/index2/shared_cpu_list': '0\n',
      },
      'cpu/cpu0/cache/index2/size',
    ],
    [
      'an unknown cache type',
      {
        'cpu/cpu0/cache/index2/level': '2\n',
        'cpu/cpu0/cache/index2/id': '0\n',
        'cpu/cpu0/cache/index2/type': 'Weird\n',
        'cpu/cpu0/cache/index2/size': '1K\n',
        'cpu/cpu0/cache/index2/shared_cpu_list': '0\n',
      },
      'cpu/cpu0/cache/index2/type',
    ],
    ['a cache without level', { 'cpu/cpu0/cache/index2/id': '0\n' }, 'cpu/cpu0/cache/index2/level'],
    [
      'a memory-side cache of unknown indexing',
      {
        'node/node0/memory_side_cache/index1/size': '1024\n',
        'node/node0/memory_side_cache/index1/line_size': '64\n',
        'node/node0/memory_side_cache/index1/indexing': '7\n',
        'node/node0/memory_side_cache/index1/write_policy': '0\n',
      },
      'memory_side_cache/index1/indexing',
    ],
    ['HMAT without latencies', { 'node/node0/access1/initiators/read_bandwidth': '1\n' }, 'write_bandwidth'],
  ])('%s: a VirError naming the file', async (_what, change, path) => {
    const e = await fault({ ...base, ...change });
    expect(e.code).toBe('INTERNAL_ERROR');
    expect(e.field).toMatch(new RegExp(`${escapeRe(path)}$`));
    expect(e.message).toContain(path);
  });

  const l3 = (size: string, cpu: number) => ({
    [`cpu/cpu${cpu}/cache/index3/level`]: '3\n',
    [`cpu/cpu${cpu}/cache/index3/id`]: `${cpu}\n`,
    [`cpu/cpu${cpu}/cache/index3/type`]: 'Unified\n',
    [`cpu/cpu${cpu}/cache/index3/size`]: size,
    [`cpu/cpu${cpu}/cache/index3/shared_cpu_list`]: `${cpu}\n`,
  });
  const cat = { 'info/L3/cbm_mask': 'ff\n', 'info/L3/min_cbm_bits': '1\n', 'info/L3/num_closids': '4\n' };

  it.each([
    ['no cbm_mask', { ...cat, 'info/L3/cbm_mask': undefined }, 'info/L3/cbm_mask'],
    ['a cbm_mask that is not hex', { ...cat, 'info/L3/cbm_mask': 'xyz\n' }, 'info/L3/cbm_mask'],
    ['no min_cbm_bits', { ...cat, 'info/L3/min_cbm_bits': undefined }, 'info/L3/min_cbm_bits'],
    ['MBA without min_bandwidth', { 'info/MB/bandwidth_gran': '10\n' }, 'info/MB/min_bandwidth'],
    [
      'an empty monitor feature list',
      { 'info/L3_MON/num_rmids': '8\n', 'info/L3_MON/mon_features': '\n' },
      'mon_features',
    ],
  ])('resctrl with %s: a VirError naming the file', async (_what, resctrl, path) => {
    const e = await fault({ ...base, ...l3('1024K\n', 0) }, resctrl as Files);
    expect(e.field).toMatch(new RegExp(`${escapeRe(path)}$`));
  });

  it('refuses caches of one level with different sizes under resource control', async () => {
    const e = await fault(
      {
        ...base,
        'node/node0/cpulist': '0-1\n',
        'cpu/online': '0-1\n',
        ...l3('1024K\n', 0),
        ...l3('2048K\n', 1),
      },
      cat,
    );
    expect(e.message).toMatch(/level 3 cache size/);
  });
});

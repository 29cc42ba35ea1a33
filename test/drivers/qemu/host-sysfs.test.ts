/**
 * Host capabilities from sysfs trees made here, file by file. Expected
 * values are worked out by hand from the rules libvirt applies (see the
 * modules' comments), not taken from our own output.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { run as runHostcaps } from '../../../scripts/conformance/hostcaps.js';
import { knownGap } from '../../../scripts/conformance/known-gaps.js';
import { Capabilities } from '../../../src/conf/capabilities.js';
import { formatIdSet, parseIdSet } from '../../../src/drivers/qemu/caps/cpu-set.js';
import { HOST_SYSFS, hostArch, readHostInfo } from '../../../src/drivers/qemu/caps/host-info.js';
import type { NumaMemorySource } from '../../../src/drivers/qemu/caps/host-numa-memory.js';
import { hostInfoFromSysfs, type SysfsRoots } from '../../../src/drivers/qemu/caps/host-sysfs.js';
import { validate } from '../../../src/xml/validate.js';
import { HAS_SHARED, SHARED_DIR, SHARED_NOTE } from '../../shared-data.js';
import { type Files, tree, X86 } from './sysfs-tree.js';

/** Memory figures that keep cells small in the cache tests. */
const NO_MEMORY: NumaMemorySource = {
  nodeMemory: async () => undefined,
  nodePages: async () => [],
  nodeDistances: async () => [],
};

async function hostXml(roots: SysfsRoots, memory?: NumaMemorySource): Promise<string> {
  const host = await hostInfoFromSysfs(roots, { ...X86, ...(memory ? { memory } : {}) });
  const xml = new Capabilities({ host }).toXML();
  expect((await validate(xml, 'capability')).errors).toEqual([]);
  return xml;
}

function between(xml: string, open: string, close: string): string {
  const start = xml.indexOf(open);
  const end = xml.indexOf(close, start);
  return start < 0 || end < 0 ? '' : xml.slice(start, end + close.length);
}

/** One node with CPUs 0-3, each with a private L2 and the shared L3. */
function cacheTree(extra: Files = {}): Files {
  const files: Files = {
    'node/online': '0\n',
    'node/node0/cpulist': '0-3\n',
    'cpu/online': '0-3\n',
  };
  for (let c = 0; c < 4; c++) {
    const base = `cpu/cpu${c}/cache`;
    Object.assign(files, {
      [`${base}/index0/level`]: '1\n',
      [`${base}/index0/type`]: 'Data\n',
      [`${base}/index0/id`]: `${c}\n`,
      [`${base}/index0/size`]: '32K\n',
      [`${base}/index0/shared_cpu_list`]: `${c}\n`,
      [`${base}/index2/level`]: '2\n',
      [`${base}/index2/type`]: 'Unified\n',
      [`${base}/index2/id`]: `${c}\n`,
      [`${base}/index2/size`]: '512K\n',
      [`${base}/index2/shared_cpu_list`]: `${c}\n`,
      [`${base}/index3/level`]: '3\n',
      [`${base}/index3/type`]: 'Unified\n',
      [`${base}/index3/id`]: '0\n',
      [`${base}/index3/size`]: '16384K\n',
      [`${base}/index3/shared_cpu_list`]: '0-3\n',
    });
  }
  return { ...files, ...extra };
}

describe('CPU sets', () => {
  it('reads and writes them as libvirt does', () => {
    expect(parseIdSet('0-3,8,10-11\n')).toEqual([0, 1, 2, 3, 8, 10, 11]);
    expect(parseIdSet(' 0 - 2 , 5')).toEqual([0, 1, 2, 5]);
    expect(parseIdSet('0-3,^2')).toEqual([0, 1, 3]);
    expect(parseIdSet('', true)).toEqual([]);
    for (const bad of ['0-', '3-1', '', '1,', 'a', '^1-2', '0-3x'])
      expect(typeof parseIdSet(bad)).toBe('string');
    expect(formatIdSet([0, 1, 2, 3, 8, 10, 11])).toBe('0-3,8,10-11');
    expect(formatIdSet([])).toBe('');
  });
});

describe('NUMA cells from sysfs', () => {
  it('gives memory, page pools net of huge pages, distances, CPU ids with defaults, and memory-only cells', async () => {
    const system = tree({
      'node/online': '0-1\n',
      'node/node0/cpulist': '0-1\n',
      'node/node0/meminfo': 'Node 0 MemTotal:        8388608 kB\nNode 0 MemFree:          100 kB\n',
      'node/node0/hugepages/hugepages-2048kB/nr_hugepages': '16\n',
      'node/node0/hugepages/hugepages-1048576kB/nr_hugepages': '1\n',
      'node/node0/distance': '10 21\n',
      'node/node1/cpulist': '\n',
      'node/node1/meminfo': 'Node 1 MemTotal:        4194304 kB\n',
      'node/node1/distance': '21 10\n',
      'cpu/online': '0-1\n',
      // no die_id; cluster_id -1 (no clusters on this architecture)
      'cpu/cpu0/topology/physical_package_id': '0\n',
      'cpu/cpu0/topology/cluster_id': '-1\n',
      'cpu/cpu0/topology/core_id': '0\n',
      'cpu/cpu0/topology/thread_siblings_list': '0-1\n',
      // physical_package_id -1: one socket; no thread_siblings_list: its own sibling
      'cpu/cpu1/topology/physical_package_id': '-1\n',
      'cpu/cpu1/topology/core_id': '3\n',
    });
    // 8388608 KiB less 16 x 2 MiB and 1 x 1 GiB huge pages = 7307264 KiB = 1826816 pages of 4 KiB
    expect(await hostXml({ system })).toBe(`<capabilities>

  <host>
    <cpu>
      <arch>x86_64</arch>
    </cpu>
    <power_management/>
    <iommu support='no'/>
    <topology>
      <cells num='2'>
        <cell id='0'>
          <memory unit='KiB'>8388608</memory>
          <pages unit='KiB' size='4'>1826816</pages>
          <pages unit='KiB' size='2048'>16</pages>
          <pages unit='KiB' size='1048576'>1</pages>
          <distances>
            <sibling id='0' value='10'/>
            <sibling id='1' value='21'/>
          </distances>
          <cpus num='2'>
            <cpu id='0' socket_id='0' die_id='0' cluster_id='0' core_id='0' siblings='0-1'/>
            <cpu id='1' socket_id='0' die_id='0' cluster_id='0' core_id='3' siblings='1'/>
          </cpus>
        </cell>
        <cell id='1'>
          <memory unit='KiB'>4194304</memory>
          <pages unit='KiB' size='4'>1048576</pages>
          <distances>
            <sibling id='0' value='21'/>
            <sibling id='1' value='10'/>
          </distances>
          <cpus num='0'/>
        </cell>
      </cells>
    </topology>
  </host>

</capabilities>
`);
  });

  it('writes the migration features it is told', async () => {
    const system = tree({ 'node/online': '0\n', 'node/node0/cpulist': '0\n', 'cpu/online': '0\n' });
    const offline = await hostInfoFromSysfs({ system }, { ...X86, offlineMigrate: true, memory: NO_MEMORY });
    const xml = new Capabilities({ host: offline }).toXML();
    expect(xml).toContain('    <migration_features>\n    </migration_features>\n');
    const live = await hostInfoFromSysfs(
      { system },
      { ...X86, offlineMigrate: true, liveMigrate: true, memory: NO_MEMORY },
    );
    expect(live.migration).toEqual({ live: true });
  });

  it('makes one cell of every online CPU when the kernel has no NUMA', async () => {
    const system = tree({ 'cpu/online': '0-1\n', 'cpu/cpu1/topology/core_id': '1\n' });
    const host = await hostInfoFromSysfs({ system }, { ...X86, totalMemoryKiB: 1024n });
    expect(host.topology?.cells?.cells).toEqual([
      {
        id: 0,
        memory: { unit: 'KiB', value: 1024n },
        cpus: {
          num: 2,
          cpus: [
            { id: 0, socketId: 0, dieId: 0, clusterId: 0, coreId: 0, siblings: '0' },
            { id: 1, socketId: 0, dieId: 0, clusterId: 0, coreId: 1, siblings: '1' },
          ],
        },
      },
    ]);
  });

  it('reads memory-side caches and HMAT figures (bandwidth MiB/s -> KiB/s), latencies first', async () => {
    const system = tree({
      'node/online': '0-1\n',
      'node/node0/cpulist': '0\n',
      'node/node1/cpulist': '\n',
      'cpu/online': '0\n',
      'node/node0/access1/initiators/node0': '',
      'node/node0/access1/initiators/read_bandwidth': '100\n',
      'node/node0/access1/initiators/write_bandwidth': '50\n',
      'node/node0/access1/initiators/read_latency': '5\n',
      'node/node0/access1/initiators/write_latency': '7\n',
      'node/node1/access1/initiators/node0': '',
      'node/node1/access1/initiators/read_bandwidth': '20\n',
      'node/node1/access1/initiators/write_bandwidth': '10\n',
      'node/node1/access1/initiators/read_latency': '30\n',
      'node/node1/access1/initiators/write_latency': '40\n',
      'node/node1/memory_side_cache/index1/size': '1073741824\n',
      'node/node1/memory_side_cache/index1/line_size': '64\n',
      'node/node1/memory_side_cache/index1/indexing': '0\n',
      'node/node1/memory_side_cache/index1/write_policy': '1\n',
    });
    const xml = await hostXml({ system }, NO_MEMORY);
    expect(between(xml, "<cell id='1'>", '</cell>')).toBe(`<cell id='1'>
          <cache level='1' associativity='direct' policy='writethrough'>
            <size value='1048576' unit='KiB'/>
            <line value='64' unit='B'/>
          </cache>
          <cpus num='0'/>
        </cell>`);
    expect(between(xml, '<interconnects>', '</interconnects>')).toBe(`<interconnects>
        <latency initiator='0' target='0' type='read' value='5'/>
        <latency initiator='0' target='0' type='write' value='7'/>
        <latency initiator='0' target='1' type='read' value='30'/>
        <latency initiator='0' target='1' type='write' value='40'/>
        <bandwidth initiator='0' target='0' type='read' value='102400' unit='KiB'/>
        <bandwidth initiator='0' target='0' type='write' value='51200' unit='KiB'/>
        <bandwidth initiator='0' target='1' type='read' value='20480' unit='KiB'/>
        <bandwidth initiator='0' target='1' type='write' value='10240' unit='KiB'/>
      </interconnects>`);
  });
});

describe('cache banks and resource control from sysfs', () => {
  it('lists level 2+ banks once each, sorted, with controls, memory bandwidth and monitors', async () => {
    const system = tree(cacheTree({ 'cpu/cpu3/cache/index4/level': '3\n' })); // no id: skipped
    const resctrl = tree({
      'info/L3/cbm_mask': 'ffff\n',
      'info/L3/min_cbm_bits': '1\n',
      'info/L3/num_closids': '16\n',
      'info/L2/cbm_mask': 'ff\n',
      'info/L2/min_cbm_bits': '2\n',
      'info/L2/num_closids': '8\n',
      'info/MB/bandwidth_gran': '10\n',
      'info/MB/min_bandwidth': '10\n',
      'info/MB/num_closids': '8\n',
      'info/L3_MON/num_rmids': '128\n',
      'info/L3_MON/max_threshold_occupancy': '65536\n',
      'info/L3_MON/mon_features': 'llc_occupancy\nmbm_total_bytes\nmbm_local_bytes\n',
    });
    const xml = await hostXml({ system, resctrl }, NO_MEMORY);
    // L2: 512 KiB / 8 bits = 64 KiB, 2 bits at least; L3: 16 MiB / 16 bits = 1 MiB, one bit suffices
    const l2 = [0, 1, 2, 3]
      .map(
        (c) => `      <bank id='${c}' level='2' type='both' size='512' unit='KiB' cpus='${c}'>
        <control granularity='64' min='128' unit='KiB' type='both' maxAllocs='8'/>
      </bank>
`,
      )
      .join('');
    expect(between(xml, '<cache>', '</memory_bandwidth>')).toBe(`<cache>
${l2}      <bank id='0' level='3' type='both' size='16' unit='MiB' cpus='0-3'>
        <control granularity='1' unit='MiB' type='both' maxAllocs='16'/>
      </bank>
      <monitor level='3' reuseThreshold='65536' maxMonitors='128'>
        <feature name='llc_occupancy'/>
      </monitor>
    </cache>
    <memory_bandwidth>
      <node id='0' cpus='0-3'>
        <control granularity='10' min='10' maxAllocs='8'/>
      </node>
      <monitor maxMonitors='128'>
        <feature name='mbm_total_bytes'/>
        <feature name='mbm_local_bytes'/>
      </monitor>
    </memory_bandwidth>`);
  });

  it('gives code and data controls with CDP, in the smaller unit of granularity and minimum', async () => {
    const system = tree({
      'node/online': '0\n',
      'node/node0/cpulist': '0\n',
      'cpu/online': '0\n',
      'cpu/cpu0/cache/index3/level': '3\n',
      'cpu/cpu0/cache/index3/type': 'Unified\n',
      'cpu/cpu0/cache/index3/id': '0\n',
      'cpu/cpu0/cache/index3/size': '5632K\n',
      'cpu/cpu0/cache/index3/shared_cpu_list': '0\n',
    });
    const cdp = { cbm_mask: '7ff\n', min_cbm_bits: '2\n', num_closids: '8\n' };
    const resctrl = tree(
      Object.fromEntries(
        Object.entries(cdp).flatMap(([f, v]) => [
          [`info/L3DATA/${f}`, v],
          [`info/L3CODE/${f}`, v],
        ]),
      ),
    );
    // 5632 KiB / 11 bits = 512 KiB; 2 bits = 1 MiB, written as 1024 KiB beside the granularity
    expect(between(await hostXml({ system, resctrl }, NO_MEMORY), '<cache>', '</cache>')).toBe(`<cache>
      <bank id='0' level='3' type='both' size='5632' unit='KiB' cpus='0'>
        <control granularity='512' min='1024' unit='KiB' type='code' maxAllocs='8'/>
        <control granularity='512' min='1024' unit='KiB' type='data' maxAllocs='8'/>
      </bank>
    </cache>`);
  });

  it('has no <cache> or <memory_bandwidth> without banks and monitors', async () => {
    const xml = await hostXml(
      { system: tree({ 'node/online': '0\n', 'node/node0/cpulist': '0\n', 'cpu/online': '0\n' }) },
      NO_MEMORY,
    );
    expect(xml).not.toContain('<cache>');
    expect(xml).not.toContain('<memory_bandwidth>');
  });
});

describe.skipIf(!HAS_SHARED)(`libvirt's vircaps2xmltest trees${SHARED_NOTE}`, () => {
  it('builds every case byte for byte, or names the part of its tree the data set lacks', async () => {
    const results = await runHostcaps(SHARED_DIR);
    expect(results.length).toBeGreaterThan(0);
    // A case fails only where the known-gaps list says so (a tree the data set does not hold).
    for (const r of results)
      expect(r.ok, `${r.name}: ${r.reason}`).toBe(knownGap('hostcaps', r.name) === undefined);
  });
});

const HAS_SYS = existsSync('/sys/devices/system/cpu/online');

describe.skipIf(!HAS_SYS)('this machine', () => {
  it('reads /sys with the same rules without a fault, and qemu:/// reports that topology', async () => {
    const host = await hostInfoFromSysfs(HOST_SYSFS, {
      arch: hostArch(),
      offlineMigrate: true,
      liveMigrate: true,
    });
    expect(host.topology?.cells?.num).toBeGreaterThan(0);
    const xml = new Capabilities({ host }).toXML();
    expect((await validate(xml, 'capability')).errors).toEqual([]);
    const info = await readHostInfo();
    expect(info.topology).toEqual(host.topology);
    expect(info.cache).toEqual(host.cache);
    expect(info.memoryBandwidth).toEqual(host.memoryBandwidth);
  });
});

/**
 * Sizing and tuning of a domain: memory, vCPUs, I/O threads, `<cputune>`
 * (with the resctrl `<cachetune>`/`<memorytune>` allocations), NUMA
 * tuning, `<resource>` and `<perf>`.
 *
 * Memory sizes are held in KiB once parsed (libvirt's canonical unit);
 * the `unit` a caller writes is accepted on the way in.
 *
 * @module
 */
import {
  attr,
  child,
  children,
  childText,
  elementMapper,
  enumOf,
  type Infer,
  int,
  onOff,
  refine,
  req,
  str,
  text,
  trimmed,
  uint,
  uint32,
  yesNo,
} from '../binding.js';
import { isSizeUnit } from '../units.js';
import { presence } from './presence.js';

/** Every unit spelling libvirt accepts for sizes (case-insensitive). */
export type SizeUnit = string;

const sizeUnit = refine(str, (u) => (isSizeUnit(u) ? undefined : `unknown unit '${u}'`));

/** A size with its unit: `<memory unit='MiB'>512</memory>`. Normalised to KiB on parse. */
export const memoryMapper = elementMapper('memory', {
  dumpCore: attr('dumpCore', onOff),
  unit: attr('unit', sizeUnit),
  value: req(text(uint)),
});
export type MemorySize = Infer<typeof memoryMapper.spec>;

export const currentMemoryMapper = elementMapper('currentMemory', {
  unit: attr('unit', sizeUnit),
  value: req(text(uint)),
});
export type CurrentMemory = Infer<typeof currentMemoryMapper.spec>;

export const maxMemoryMapper = elementMapper('maxMemory', {
  slots: attr('slots', uint32),
  unit: attr('unit', sizeUnit),
  value: req(text(uint)),
});
export type MaxMemory = Infer<typeof maxMemoryMapper.spec>;

const limitMapper = (name: string) =>
  child(elementMapper(name, { unit: attr('unit', sizeUnit), value: req(text(int({ min: -1 }))) }));

/** `<memtune>` limits; normalised to KiB on parse like every libvirt size. */
export const memtuneMapper = elementMapper('memtune', {
  hardLimit: limitMapper('hard_limit'),
  softLimit: limitMapper('soft_limit'),
  swapHardLimit: limitMapper('swap_hard_limit'),
  minGuarantee: limitMapper('min_guarantee'),
});
export type Memtune = Infer<typeof memtuneMapper.spec>;

/** One block device's weight and throttles in `<blkiotune>`; unset or 0 is none. */
export const blkioDeviceMapper = elementMapper('device', {
  path: req(childText('path', str)),
  weight: childText('weight', uint32),
  readIopsSec: childText('read_iops_sec', uint32),
  writeIopsSec: childText('write_iops_sec', uint32),
  readBytesSec: childText('read_bytes_sec', uint),
  writeBytesSec: childText('write_bytes_sec', uint),
});
export type BlkioDevice = Infer<typeof blkioDeviceMapper.spec>;

/**
 * `<blkiotune>`: the guest's block I/O weight and per-device settings. The
 * weight takes any unsigned 32-bit value as libvirt's parser does (the
 * kernel, not the XML, says which it accepts: 1-1000 or 10-1000 under cgroup
 * v1, 1-10000 under v2).
 */
export const blkiotuneMapper = elementMapper('blkiotune', {
  weight: childText('weight', uint32),
  devices: children(blkioDeviceMapper),
});
export type Blkiotune = Infer<typeof blkiotuneMapper.spec>;

const hugepageMapper = elementMapper('page', {
  size: req(attr('size', uint)),
  unit: attr('unit', sizeUnit),
  nodeset: attr('nodeset', str),
});

export const memoryBackingMapper = elementMapper('memoryBacking', {
  hugepages: child(elementMapper('hugepages', { pages: children(hugepageMapper) })),
  nosharepages: presence('nosharepages'),
  locked: presence('locked'),
  source: child(elementMapper('source', { type: req(attr('type', enumOf(['file', 'anonymous', 'memfd']))) })),
  access: child(elementMapper('access', { mode: req(attr('mode', enumOf(['shared', 'private']))) })),
  allocation: child(
    elementMapper('allocation', {
      mode: attr('mode', enumOf(['immediate', 'ondemand'])),
      threads: attr('threads', uint32),
    }),
  ),
  discard: presence('discard'),
});
export type MemoryBacking = Infer<typeof memoryBackingMapper.spec>;

/** The `placement` values of `<vcpu>`: a fixed cpuset, or chosen by numad. */
export const VCPU_PLACEMENTS = ['static', 'auto'] as const;

export const vcpuMapper = elementMapper('vcpu', {
  placement: attr('placement', enumOf(VCPU_PLACEMENTS)),
  cpuset: attr('cpuset', str),
  current: attr('current', int({ min: 1, max: 16384 })),
  count: req(text(int({ min: 1, max: 16384 }))),
});
export type VcpuDef = Infer<typeof vcpuMapper.spec>;

const vcpuInfoMapper = elementMapper('vcpu', {
  id: req(attr('id', uint32)),
  enabled: req(attr('enabled', yesNo)),
  hotpluggable: attr('hotpluggable', yesNo),
  order: attr('order', uint32),
});
export type VcpuInfo = Infer<typeof vcpuInfoMapper.spec>;

export const vcpusMapper = elementMapper('vcpus', { vcpus: children(vcpuInfoMapper) });

// Polling of an I/O thread's event loop, in nanoseconds (max) and factors (grow, shrink).
const iothreadPollMapper = elementMapper('poll', {
  max: attr('max', uint),
  grow: attr('grow', uint),
  shrink: attr('shrink', uint),
});

export const iothreadIdsMapper = elementMapper('iothreadids', {
  iothreads: children(
    elementMapper('iothread', {
      id: req(attr('id', int({ min: 1, max: 0xffffffff }))),
      threadMin: attr('thread_pool_min', uint32),
      threadMax: attr('thread_pool_max', uint32),
      poll: child(iothreadPollMapper),
    }),
  ),
});
export type IothreadIds = Infer<typeof iothreadIdsMapper.spec>;

/** `<defaultiothread>`: the worker pool of QEMU's main loop. */
export const defaultIothreadMapper = elementMapper('defaultiothread', {
  threadMin: attr('thread_pool_min', uint32),
  threadMax: attr('thread_pool_max', uint32),
});

/**
 * libvirt's reading of `<iothreads>` with `<iothreadids>`: the count is at
 * least the ids listed, and the ids missing up to the count are the lowest
 * unused numbers from 1, appended after the listed ones. An empty
 * `<iothreadids>` is not written back (all its entries would be filled in).
 */
export function fillIothreadIds(def: { iothreads?: number; iothreadIds?: IothreadIds }): void {
  const listed = def.iothreadIds?.iothreads ?? [];
  if (def.iothreadIds && listed.length === 0) delete def.iothreadIds;
  if (listed.length === 0) return;
  const count = Math.max(def.iothreads ?? 0, listed.length);
  const used = new Set(listed.map((t) => t.id));
  for (let id = 1; listed.length < count; id++) if (!used.has(id)) listed.push({ id });
  def.iothreads = count;
}

// <cputune> --------------------------------------------------------------

const vcpuPinMapper = elementMapper('vcpupin', {
  vcpu: req(attr('vcpu', uint32)),
  cpuset: req(attr('cpuset', str)),
});
const emulatorPinMapper = elementMapper('emulatorpin', { cpuset: req(attr('cpuset', str)) });
const iothreadPinMapper = elementMapper('iothreadpin', {
  iothread: req(attr('iothread', uint32)),
  cpuset: req(attr('cpuset', str)),
});

/** The `scheduler` values of a vCPU, I/O thread or emulator scheduling policy. */
export const SCHEDULERS = ['batch', 'idle', 'fifo', 'rr'] as const;
/** One of `SCHEDULERS`. */
export type Scheduler = (typeof SCHEDULERS)[number];

const emulatorSchedMapper = elementMapper('emulatorsched', {
  scheduler: req(attr('scheduler', enumOf(SCHEDULERS))),
  priority: attr('priority', int({ min: -100, max: 100 })),
});
const vcpuSchedMapper = elementMapper('vcpusched', {
  vcpus: req(attr('vcpus', str)),
  scheduler: req(attr('scheduler', enumOf(SCHEDULERS))),
  priority: attr('priority', int({ min: -100, max: 100 })),
});
const iothreadSchedMapper = elementMapper('iothreadsched', {
  iothreads: req(attr('iothreads', str)),
  scheduler: req(attr('scheduler', enumOf(SCHEDULERS))),
  priority: attr('priority', int({ min: -100, max: 100 })),
});
export type VcpuSched = Infer<typeof vcpuSchedMapper.spec>;
export type IothreadSched = Infer<typeof iothreadSchedMapper.spec>;

/** The `type` values of a `<cachetune>` allocation: both caches, or code or data (CDP). */
export const CACHE_TYPES = ['both', 'code', 'data'] as const;

const cacheAllocMapper = elementMapper('cache', {
  id: req(attr('id', uint32)),
  level: req(attr('level', uint32)),
  type: req(attr('type', enumOf(CACHE_TYPES))),
  size: req(attr('size', uint)),
  unit: attr('unit', sizeUnit),
});
export type CacheAlloc = Infer<typeof cacheAllocMapper.spec>;

const cacheMonitorMapper = elementMapper('monitor', {
  level: attr('level', uint32),
  vcpus: req(attr('vcpus', str)),
});
export type ResctrlMonitor = Infer<typeof cacheMonitorMapper.spec>;

export const cachetuneMapper = elementMapper('cachetune', {
  vcpus: req(attr('vcpus', str)),
  id: attr('id', str),
  caches: children(cacheAllocMapper),
  monitors: children(cacheMonitorMapper),
});
export type Cachetune = Infer<typeof cachetuneMapper.spec>;

const memNodeMapper = elementMapper('node', {
  id: req(attr('id', uint32)),
  bandwidth: req(attr('bandwidth', uint32)),
});

export const memorytuneMapper = elementMapper('memorytune', {
  vcpus: req(attr('vcpus', str)),
  id: attr('id', str),
  nodes: children(memNodeMapper),
  monitors: children(cacheMonitorMapper),
});
export type Memorytune = Infer<typeof memorytuneMapper.spec>;

const i64 = int({ min: -1, max: Number.MAX_SAFE_INTEGER });

export const cputuneMapper = elementMapper('cputune', {
  shares: childText('shares', uint),
  period: childText('period', uint),
  quota: childText('quota', i64),
  globalPeriod: childText('global_period', uint),
  globalQuota: childText('global_quota', i64),
  emulatorPeriod: childText('emulator_period', uint),
  emulatorQuota: childText('emulator_quota', i64),
  iothreadPeriod: childText('iothread_period', uint),
  iothreadQuota: childText('iothread_quota', i64),
  vcpuPins: children(vcpuPinMapper),
  emulatorPin: child(emulatorPinMapper),
  iothreadPins: children(iothreadPinMapper),
  emulatorSched: child(emulatorSchedMapper),
  vcpuScheds: children(vcpuSchedMapper),
  iothreadScheds: children(iothreadSchedMapper),
  cachetunes: children(cachetuneMapper),
  memorytunes: children(memorytuneMapper),
});
export type Cputune = Infer<typeof cputuneMapper.spec>;

// <numatune>, <resource>, <perf> -----------------------------------------

export const numatuneMapper = elementMapper('numatune', {
  memory: child(
    elementMapper('memory', {
      mode: attr('mode', enumOf(['strict', 'preferred', 'interleave', 'restrictive'])),
      placement: attr('placement', enumOf(['static', 'auto'])),
      nodeset: attr('nodeset', str),
    }),
  ),
  memnodes: children(
    elementMapper('memnode', {
      cellid: req(attr('cellid', uint32)),
      mode: attr('mode', enumOf(['strict', 'preferred', 'interleave', 'restrictive'])),
      nodeset: req(attr('nodeset', str)),
    }),
  ),
});
export type Numatune = Infer<typeof numatuneMapper.spec>;

export const resourceMapper = elementMapper('resource', {
  partition: childText('partition', trimmed),
  fibrechannel: child(elementMapper('fibrechannel', { appid: req(attr('appid', str)) })),
});
export type Resource = Infer<typeof resourceMapper.spec>;

export const perfMapper = elementMapper('perf', {
  events: children(
    elementMapper('event', {
      name: req(attr('name', str)),
      enabled: req(attr('enabled', yesNo)),
    }),
  ),
});
export type Perf = Infer<typeof perfMapper.spec>;

export const pmMapper = elementMapper('pm', {
  suspendToMem: child(elementMapper('suspend-to-mem', { enabled: attr('enabled', yesNo) })),
  suspendToDisk: child(elementMapper('suspend-to-disk', { enabled: attr('enabled', yesNo) })),
});
export type PowerManagement = Infer<typeof pmMapper.spec>;

// <sysinfo> ---------------------------------------------------------------

const sysinfoEntryMapper = elementMapper('entry', {
  name: attr('name', str),
  file: attr('file', str),
  value: text(str),
});
export type SysinfoEntry = Infer<typeof sysinfoEntryMapper.spec>;

const sysinfoSection = (name: string) =>
  child(elementMapper(name, { entries: children(sysinfoEntryMapper) }));

/** `<sysinfo>`: SMBIOS tables (`type='smbios'`) or firmware config blobs (`type='fwcfg'`). */
export const sysinfoMapper = elementMapper('sysinfo', {
  type: req(attr('type', enumOf(['smbios', 'fwcfg']))),
  bios: sysinfoSection('bios'),
  system: sysinfoSection('system'),
  baseBoards: children(elementMapper('baseBoard', { entries: children(sysinfoEntryMapper) })),
  chassis: sysinfoSection('chassis'),
  oemStrings: sysinfoSection('oemStrings'),
  entries: children(sysinfoEntryMapper),
});
export type Sysinfo = Infer<typeof sysinfoMapper.spec>;

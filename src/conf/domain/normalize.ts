/**
 * libvirt's parse-time normalisation of a domain, driver-independent part
 * (what `virDomainDefParse` + the generic post-parse callbacks do): sizes
 * to KiB, the defaults it writes out (current memory, arch, boot device,
 * clock, lifecycle actions, vCPU placement), implicit controllers and
 * drive addresses, character device and graphics listen rules, generated
 * UUIDs and MACs.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import { setUnknownContent, unknownContent } from '../binding.js';
import { toBytes, toKiB } from '../units.js';
import { formatIdSet, parseIdSet } from './cpuset.js';
import type { DomainDefData } from './domain-spec.js';
import { setMemoryTotal } from './memory-total.js';
import { memorySizesToKiB } from './memory-units.js';
import { normalizeMetadata } from './metadata.js';
import { normalizeDevices } from './normalize-devices.js';
import { type NormalizeOptions, randomUuid } from './normalize-options.js';
import { normalizeNumaCells, normalizeNumatune } from './numa.js';
import { type CacheAlloc, type Cachetune, fillIothreadIds, type Memorytune } from './resources.js';
import { normalizeDeviceSeclabels, normalizeDomainSeclabels } from './seclabels.js';
import { normalizeSysinfo } from './sysinfo.js';

export { diskNameIndex } from './normalize-devices.js';
export { type NormalizeOptions, randomMac, randomUuid } from './normalize-options.js';

export function normalizeDomain(def: DomainDefData, options: NormalizeOptions = {}): void {
  normalizeSysinfo(def);
  if (def.uuid === undefined) def.uuid = (options.generateUuid ?? randomUuid)();
  // An empty <genid/> asks for a generated VM generation ID.
  if (def.genid === '') def.genid = (options.generateUuid ?? randomUuid)();
  memorySizesToKiB(def);
  normalizeMemory(def, options.abiUpdate === true);
  normalizeVcpus(def);
  fillIothreadIds(def);
  normalizeOs(def, options);
  def.clock ??= { offset: 'utc' };
  def.onPoweroff ??= 'destroy';
  def.onReboot ??= 'restart';
  def.onCrash ??= 'destroy';
  normalizeDevices(def, options);
  normalizeMetadata(def);
  normalizeDomainSeclabels(def, options.defaultSecurityModel);
  normalizeDeviceSeclabels(def.devices);
}

// ---------------------------------------------------------------------------

function sizeError(field: string, err: unknown): VirError {
  return new VirError('XML_DETAIL', 'conf', `invalid size in ${field}: ${(err as Error).message}`, {
    field,
    cause: err,
  });
}

function kib(value: number, unit: string | undefined, field: string): number {
  try {
    const k = toKiB(BigInt(value), unit ?? 'KiB');
    if (k > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('too large');
    return Number(k);
  } catch (err) {
    throw sizeError(field, err);
  }
}

/** libvirt's VIR_DOMAIN_MEMORY_PARAM_UNLIMITED: a memory limit this large means none. */
const MEMORY_UNLIMITED_KIB = 9007199254740991;

function normalizeMemory(def: DomainDefData, abiUpdate: boolean): void {
  if (def.maxMemory) {
    def.maxMemory.value = kib(def.maxMemory.value, def.maxMemory.unit, '/domain/maxMemory');
    def.maxMemory.unit = 'KiB';
  }
  const cellsKiB = (def.cpu?.numa?.cells ?? []).reduce((s, c) => s + Number(c.memory), 0);
  const devicesKiB = memoryDevicesKiB(def);
  if (def.memory) {
    def.memory.value = kib(def.memory.value, def.memory.unit, '/domain/memory');
    def.memory.unit = 'KiB';
  }
  if (cellsKiB > 0 && (!def.memory || def.memory.value === 0 || abiUpdate)) {
    // libvirt's post-parse: without <memory>, or where the ABI may be updated, guest NUMA
    // cells plus memory modules give the size (its other attributes stay)
    setMemoryTotal(def, cellsKiB + devicesKiB);
  } else if (def.memory && devicesKiB > def.memory.value) {
    throw new VirError('XML_ERROR', 'conf', 'Total size of memory devices exceeds the total memory size', {
      field: '/domain/memory',
    });
  }
  if (!def.memory) {
    throw new VirError('XML_DETAIL', 'conf', 'missing <memory> element', { field: '/domain/memory' });
  }
  if (def.currentMemory) {
    def.currentMemory.value = kib(def.currentMemory.value, def.currentMemory.unit, '/domain/currentMemory');
    def.currentMemory.unit = 'KiB';
  }
  const mt = def.memtune;
  if (mt) {
    for (const key of ['hardLimit', 'softLimit', 'swapHardLimit', 'minGuarantee'] as const) {
      const l = mt[key];
      // -1 (and libvirt's own "unlimited") stays as written.
      if (!l || l.value < 0) continue;
      l.value = kib(l.value, l.unit, `/domain/memtune/${key}`);
      l.unit = 'KiB';
      // libvirt's "unlimited" (2^53 - 1 KiB) or more is no limit, and not written back
      if (l.value >= MEMORY_UNLIMITED_KIB) delete mt[key];
    }
    if (Object.keys(mt).length === 0 && unknownContent(mt) === undefined) delete def.memtune;
  }
  // libvirt clamps a balloon target above the maximum (or zero) to the maximum.
  if (!def.currentMemory) def.currentMemory = { unit: 'KiB', value: def.memory.value };
  else if (def.currentMemory.value === 0 || def.currentMemory.value > def.memory.value)
    def.currentMemory.value = def.memory.value;
}

/** Total size of the memory modules (`<memory model=...>` devices), in KiB. */
/** Total `<target><size>` of the memory devices (DIMMs, virtio-mem, ...), in KiB. */
export function memoryDevicesKiB(def: DomainDefData): number {
  let total = 0;
  for (const [i, m] of (def.devices?.memories ?? []).entries()) {
    const size = m.target?.children.find((c) => c.type === 'element' && c.name === 'size');
    if (size?.type !== 'element') continue;
    const text = size.children
      .map((c) => (c.type === 'text' ? c.value : ''))
      .join('')
      .trim();
    if (!/^\d+$/.test(text))
      throw sizeError(`/domain/devices/memory[${i + 1}]/target/size`, new Error(`'${text}' is not a size`));
    const unit = size.attrs.find((a) => a.name === 'unit')?.value;
    total += kib(Number(text), unit, `/domain/devices/memory[${i + 1}]/target/size`);
  }
  return total;
}

function normalizeVcpus(def: DomainDefData): void {
  def.vcpu ??= { count: 1 };
  normalizeNumaCells(def);
  normalizeNumatune(def);
  if (def.vcpu.current !== undefined && def.vcpu.current === def.vcpu.count) delete def.vcpu.current;
  const count = def.vcpu.count;
  const ct = def.cputune;
  if (!ct) return;
  if (ct.vcpuScheds) ct.vcpuScheds = splitScheds(ct.vcpuScheds, 'vcpus');
  if (ct.iothreadScheds) ct.iothreadScheds = splitScheds(ct.iothreadScheds, 'iothreads');
  if (ct.cachetunes) {
    const kept: Cachetune[] = [];
    for (const t of ct.cachetunes) {
      const ids = parseIdSet(t.vcpus, '/domain/cputune/cachetune/@vcpus').filter((i) => i < count);
      // libvirt ignores a tune whose vCPUs all lie beyond the vCPU count.
      if (ids.length === 0) continue;
      t.vcpus = formatIdSet(ids);
      for (const c of t.caches ?? []) prettySize(c);
      kept.push(t);
    }
    if (kept.length > 0) ct.cachetunes = kept;
    else delete ct.cachetunes;
  }
  if (ct.memorytunes) {
    const kept: Memorytune[] = [];
    for (const t of ct.memorytunes) {
      const ids = parseIdSet(t.vcpus, '/domain/cputune/memorytune/@vcpus').filter((i) => i < count);
      if (ids.length === 0) continue;
      t.vcpus = formatIdSet(ids);
      kept.push(t);
    }
    if (kept.length > 0) ct.memorytunes = kept;
    else delete ct.memorytunes;
  }
}

/** One scheduler entry per ID, in ID order: how libvirt stores and writes them. */
function splitScheds<K extends 'vcpus' | 'iothreads', T extends { [P in K]: string } & object>(
  list: T[],
  key: K,
): T[] {
  const byId = new Map<number, T>();
  for (const s of list) {
    let first = true;
    for (const id of parseIdSet(s[key], `/domain/cputune/${key}`)) {
      const copy = { ...s, [key]: String(id) } as T;
      // XML the model does not know stays with the first of the split entries, once.
      if (first) setUnknownContent(copy, unknownContent(s));
      first = false;
      byId.set(id, copy);
    }
  }
  return [...byId.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

const PRETTY_UNITS: Array<[string, bigint]> = [
  ['EiB', 1024n ** 6n],
  ['PiB', 1024n ** 5n],
  ['TiB', 1024n ** 4n],
  ['GiB', 1024n ** 3n],
  ['MiB', 1024n ** 2n],
  ['KiB', 1024n],
];

/** Largest binary unit that divides the size exactly, as libvirt writes cache sizes. */
function prettySize(c: CacheAlloc): void {
  let bytes: bigint;
  try {
    bytes = toBytes(BigInt(c.size), c.unit ?? 'B');
  } catch (err) {
    throw sizeError('/domain/cputune/cachetune/cache/@size', err);
  }
  for (const [unit, scale] of PRETTY_UNITS) {
    if (bytes >= scale && bytes % scale === 0n) {
      c.size = Number(bytes / scale);
      c.unit = unit;
      return;
    }
  }
  c.size = Number(bytes);
  c.unit = 'B';
}

/** `<tseg>` sizes default to MiB and are written in MiB, as libvirt stores them. */
function normalizeTseg(def: DomainDefData): void {
  const tseg = def.features?.smm?.tseg;
  if (!tseg) return;
  const factor: Record<string, number> = {
    b: 1 / 1048576,
    bytes: 1 / 1048576,
    k: 1 / 1024,
    kib: 1 / 1024,
    m: 1,
    mib: 1,
    g: 1024,
    gib: 1024,
  };
  const f = factor[(tseg.unit ?? 'MiB').toLowerCase()];
  if (f === undefined) return;
  const mib = tseg.value * f;
  if (!Number.isInteger(mib)) return;
  tseg.value = mib;
  tseg.unit = 'MiB';
}

function normalizeOs(def: DomainDefData, options: NormalizeOptions): void {
  normalizeTseg(def);
  if (!def.os) {
    throw new VirError('XML_DETAIL', 'conf', 'missing <os> element', { field: '/domain/os' });
  }
  def.os.type.arch ??= options.defaultArch ?? 'x86_64';
  if (def.os.loader?.path === '') delete def.os.loader.path;
  if (def.os.nvram?.path === '') delete def.os.nvram.path;
  // A splash timeout means nothing without the menu; libvirt reads it only when the menu is on.
  if (def.os.bootmenu && !def.os.bootmenu.enable) delete def.os.bootmenu.timeout;
  const deviceBoot =
    (def.devices?.disks ?? []).some((d) => d.boot) ||
    (def.devices?.interfaces ?? []).some((n) => n.boot) ||
    (def.devices?.hostdevs ?? []).some((h) => h.boot) ||
    (def.devices?.redirdevs ?? []).some((r) => r.boot);
  if (def.os.type.value === 'hvm' && !def.os.boot && !deviceBoot) {
    def.os.boot = [{ dev: 'hd' }];
  }
}

// ---------------------------------------------------------------------------
// Devices

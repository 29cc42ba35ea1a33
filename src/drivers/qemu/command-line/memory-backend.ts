/**
 * The backend object of one guest RAM region (the machine's RAM or one
 * NUMA cell), with libvirt's choice of backend: memfd when the memory
 * source says so, a file (hugetlbfs, or the domain's memory-backing
 * directory) when hugepages, shared/private access or a file source ask
 * for one, else anonymous RAM. Preallocated memory bound to host nodes
 * gets a `thread-context` so QEMU preallocates from threads on those nodes.
 *
 * @module
 */

import { parseIdSet as parseCpuSet } from '../../../conf/domain/cpuset.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import { checkValue } from './escape.js';
import type { CommandLinePaths } from './types.js';

/** The host page size: hugepages of this size are plain memory. */
const SYSTEM_PAGE_KIB = 4;

export interface MemoryBackend {
  /** The `thread-context` object that must precede the backend, if any. */
  threadContext?: Record<string, unknown>;
  backend: Record<string, unknown>;
}

const NUMA_POLICY: Record<string, string | undefined> = {
  strict: 'bind',
  interleave: 'interleave',
  preferred: 'preferred',
  restrictive: undefined,
};

/** `host-nodes`/`policy` of a RAM backend from `<numatune>` (per-cell `<memnode>` first). */
function hostBinding(def: DomainDef, paths: CommandLinePaths, node?: number): Record<string, unknown> {
  const tune = def.numatune;
  const cell = node !== undefined ? tune?.memnodes?.find((m) => m.cellid === node) : undefined;
  const mode = cell?.mode ?? tune?.memory?.mode ?? 'strict';
  const nodeset =
    cell?.nodeset ??
    (tune?.memory?.placement === 'auto' ? paths.autoNodeset : tune?.memory?.nodeset) ??
    undefined;
  const policy = NUMA_POLICY[mode];
  if (!tune || nodeset === undefined || policy === undefined) return {};
  return { 'host-nodes': parseIdList(nodeset), policy };
}

export function unitKiB(unit: string | undefined): number {
  const u = (unit ?? 'KiB').toLowerCase();
  if (u === 'b' || u === 'bytes') return 1 / 1024;
  if (u.startsWith('m')) return 1024;
  if (u.startsWith('g')) return 1024 * 1024;
  return 1;
}

/** `0-3,8` -> [0, 1, 2, 3, 8]. */
export function parseIdList(s: string): number[] {
  const out: number[] = [];
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const lo = Number(m[1]);
    const hi = m[2] !== undefined ? Number(m[2]) : lo;
    for (let i = lo; i <= hi; i++) out.push(i);
  }
  return out;
}

/**
 * Whether a NUMA cell's memory needs a backend object of its own, rather
 * than QEMU's plain `mem=` share of the RAM: something specific to it (a
 * per-cell binding or page size, an access mode) or a memory source.
 */
export function cellNeedsBackend(def: DomainDef, node: number): boolean {
  const cell = def.cpu?.numa?.cells?.find((c, i) => (c.id ?? i) === node);
  const backing = def.memoryBacking;
  if ((def.numatune?.memnodes ?? []).some((m) => m.cellid === node)) return true;
  const own = (backing?.hugepages?.pages ?? []).find(
    (p) => p.nodeset !== undefined && parseIdList(p.nodeset).includes(node),
  );
  if (own && own.size * unitKiB(own.unit) !== SYSTEM_PAGE_KIB) return true;
  if ((cell?.memAccess ?? backing?.access?.mode) !== undefined) return true;
  return backing?.source?.type === 'file' || backing?.source?.type === 'memfd';
}

/**
 * The hugepage size in KiB for a region, or undefined for ordinary pages:
 * a page entry naming the cell wins, then one without a nodeset; an empty
 * `<hugepages/>` means the default hugepage size.
 */
export function hugepageKiB(def: DomainDef, node: number | undefined): number | undefined {
  const hp = def.memoryBacking?.hugepages;
  if (!hp) return undefined;
  const pages = hp.pages ?? [];
  if (pages.length === 0) return 2048;
  const page =
    pages.find(
      (p) => node !== undefined && p.nodeset !== undefined && parseIdList(p.nodeset).includes(node),
    ) ?? pages.find((p) => p.nodeset === undefined);
  if (!page) return undefined;
  const kib = page.size * unitKiB(page.unit);
  return kib === SYSTEM_PAGE_KIB ? undefined : kib;
}

/** What a memory device (`<memory model=...>`) says about its own backend. */
export interface MemoryDeviceSource {
  /** The device alias (`dimm0`): a file under the memory backing directory is named after it. */
  alias: string;
  model: string;
  /** `<source><pagesize>` in KiB. */
  pageKiB?: number;
  /** `<source><nodemask>`: host nodes, instead of `<numatune>`'s. */
  nodemask?: number[];
  access?: 'shared' | 'private';
  discard?: boolean;
  /** `<source><path>` of an NVDIMM or virtio-pmem: the file or device that is the memory. */
  path?: string;
  /** `<source><pmem/>`: the path is real persistent memory. */
  pmem?: boolean;
  /** `<source><alignsize>` in KiB. */
  alignKiB?: number;
}

export function memoryBackend(
  def: DomainDef,
  id: string,
  kib: number,
  paths: CommandLinePaths,
  node?: number,
  dev?: MemoryDeviceSource,
): MemoryBackend {
  const backing = def.memoryBacking;
  const cell = node !== undefined ? def.cpu?.numa?.cells?.find((c, i) => (c.id ?? i) === node) : undefined;
  const access = dev?.access ?? cell?.memAccess ?? backing?.access?.mode;
  const discard = dev?.discard ?? cell?.discard ?? (backing?.discard ? true : undefined);
  // a page size of the device's own wins over <memoryBacking>'s
  const own = dev?.pageKiB;
  const pageKiB = own !== undefined ? (own === SYSTEM_PAGE_KIB ? undefined : own) : hugepageKiB(def, node);
  const nvdimmPath = dev?.path;
  const system = node === undefined && dev === undefined;
  const share = access === undefined ? {} : { share: access === 'shared' };
  // QEMU's own default RAM backend names its RAM block without the canonical path; the machine's
  // RAM keeps that name so the guest stays migratable to and from a plain `-m` guest.
  const canonical = system ? { 'x-use-canonical-path-for-ramblock-id': false } : {};
  const out: Record<string, unknown> = {};
  if (nvdimmPath === undefined && backing?.source?.type === 'memfd') {
    Object.assign(out, { 'qom-type': 'memory-backend-memfd', id });
    if (pageKiB !== undefined) Object.assign(out, { hugetlb: true, hugetlbsize: pageKiB * 1024 });
    Object.assign(out, share, canonical);
  } else if (
    pageKiB !== undefined ||
    nvdimmPath !== undefined ||
    access !== undefined ||
    backing?.source?.type === 'file'
  ) {
    let path: string;
    if (nvdimmPath !== undefined) path = checkValue(nvdimmPath, `/domain/devices/memory/source/path`);
    else if (pageKiB !== undefined) {
      const dir = paths.hugepageDirs?.[String(pageKiB)];
      if (dir === undefined)
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `no hugetlbfs mount for ${pageKiB} KiB pages`, {
          field: dev ? '/domain/devices/memory/source/pagesize' : '/domain/memoryBacking/hugepages',
        });
      path = checkValue(dir, 'paths.hugepageDirs');
    } else {
      if (paths.memoryBackingDir === undefined)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          'file-backed guest memory needs a memory backing directory',
          {
            field: '/domain/memoryBacking',
          },
        );
      path = `${checkValue(paths.memoryBackingDir, 'paths.memoryBackingDir')}/${dev?.alias ?? id}`;
    }
    Object.assign(out, { 'qom-type': 'memory-backend-file', id, 'mem-path': path });
    if (discard !== undefined && nvdimmPath === undefined) out['discard-data'] = discard;
    Object.assign(out, share, canonical);
  } else {
    Object.assign(out, { 'qom-type': 'memory-backend-ram', id });
  }
  // A real NVDIMM (pmem) or a virtio-pmem file has nothing worth preallocating (it would only
  // wear the device); an emulated NVDIMM and huge pages are preallocated.
  let prealloc = backing?.allocation?.mode === 'immediate';
  if (nvdimmPath !== undefined) {
    if (dev?.model === 'nvdimm' && !dev.pmem) prealloc = true;
  } else if (pageKiB !== undefined) prealloc = true;
  if (dev?.model === 'virtio-mem') {
    // virtio-mem plugs memory in on demand: nothing is reserved up front.
    out.reserve = false;
    prealloc = false;
  } else {
    if (prealloc) out.prealloc = true;
    if (prealloc && backing?.allocation?.threads !== undefined)
      out['prealloc-threads'] = backing.allocation.threads;
  }
  out.size = kib * 1024;
  if (dev?.alignKiB !== undefined) out.align = dev.alignKiB * 1024;
  if (dev?.pmem) out.pmem = true;
  const binding =
    dev?.nodemask !== undefined
      ? { 'host-nodes': dev.nodemask, policy: 'bind' }
      : hostBinding(def, paths, node);
  Object.assign(out, binding);
  const bound = binding['host-nodes'];
  if (!prealloc || !Array.isArray(bound)) return { backend: out };
  let nodes = bound as number[];
  // Preallocation threads run where the emulator runs: only the nodes both allow, none if they share none.
  const emulatorNodes = emulatorHostNodes(def, paths);
  if (emulatorNodes) {
    nodes = nodes.filter((n) => emulatorNodes.has(n));
    if (nodes.length === 0) return { backend: out };
  }
  const tc = `tc-${id}`;
  out['prealloc-context'] = tc;
  return { threadContext: { 'qom-type': 'thread-context', id: tc, 'node-affinity': nodes }, backend: out };
}

/** Host nodes of the CPUs the emulator may run on (`<emulatorpin>`, else `<vcpu cpuset>`), when known. */
function emulatorHostNodes(def: DomainDef, paths: CommandLinePaths): Set<number> | undefined {
  const mask =
    def.cputune?.emulatorPin?.cpuset ?? (def.vcpu?.placement === 'auto' ? undefined : def.vcpu?.cpuset);
  if (mask === undefined || !paths.hostNodeOfCpu) return undefined;
  const out = new Set<number>();
  for (const cpu of parseCpuSet(mask)) {
    const node = paths.hostNodeOfCpu(cpu);
    if (node !== undefined) out.add(node);
  }
  return out;
}

export function addMemoryBackend(b: ArgvBuilder, m: MemoryBackend, field: string): void {
  if (b.memPrealloc && m.backend.prealloc === true) {
    // -mem-prealloc already covers it; preallocating twice is what QEMU refuses
    delete m.backend.prealloc;
    delete m.backend['prealloc-threads'];
    delete m.backend['prealloc-context'];
    delete m.threadContext;
  }
  if (m.threadContext) b.props('-object', m.threadContext, field);
  b.props('-object', m.backend, field);
}

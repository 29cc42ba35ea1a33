/**
 * The `<host>` part of the capabilities, read from this machine: CPU
 * identity from /proc/cpuinfo, topology and NUMA cells from /sys, huge page
 * sizes, IOMMU groups. Every source is optional: a missing file leaves its
 * part out rather than failing the call (containers hide much of /sys).
 *
 * The NUMA topology, cache banks and memory bandwidth come from
 * host-sysfs.ts, libvirt's rules over /sys/devices/system and /sys/fs/resctrl.
 * As libvirt does, a topology that cannot be read becomes one cell holding
 * every CPU, and caches that cannot be read are left out.
 *
 * The CPU model and its features come from the CPU engine decoding the
 * CPUID leaves read through /dev/cpu/0/cpuid (root and the `cpuid` kernel
 * module); without that device the host CPU carries its identity (arch,
 * vendor, microcode, signature, topology, address size) but no model.
 *
 * @module
 */
import { open, readdir, readFile } from 'node:fs/promises';
import { endianness, arch as nodeArch, totalmem } from 'node:os';
import type { CapsHost } from '../../../conf/capabilities.js';
import { decodeCpuData } from '../../../cpu/index.js';
import { VirError } from '../../../errors.js';
import { singleCellTopology } from './host-numa.js';
import { hostCachesFromSysfs, hostTopologyFromSysfs } from './host-sysfs.js';
import { SysfsReader } from './sysfs-reader.js';

/** Where the host's sysfs trees are. */
export const HOST_SYSFS = { system: '/sys/devices/system', resctrl: '/sys/fs/resctrl' } as const;

const ARCH_FROM_NODE: Record<string, string> = {
  x64: 'x86_64',
  ia32: 'i686',
  arm64: 'aarch64',
  arm: 'armv7l',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loongarch64',
};

/** libvirt's name for the architecture Node runs on. */
export function hostArch(): string {
  return ARCH_FROM_NODE[nodeArch()] ?? nodeArch();
}

const VENDORS: Record<string, string> = {
  GenuineIntel: 'Intel',
  AuthenticAMD: 'AMD',
  HygonGenuine: 'Hygon',
  CentaurHauls: 'VIA',
  '  Shanghai  ': 'Zhaoxin',
};

async function read(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function list(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

/** `0-3,8,10-11` -> [0,1,2,3,8,10,11]. */
export function parseCpuList(text: string): number[] {
  const out: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map((x) => Number.parseInt(x, 10));
    if (a === undefined || Number.isNaN(a)) continue;
    const end = b === undefined || Number.isNaN(b) ? a : b;
    for (let i = a; i <= end && i - a < 65536; i++) out.push(i);
  }
  return out;
}

/** The first processor block of /proc/cpuinfo as key -> value. */
export function parseCpuinfo(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (out.size > 0) break;
      continue;
    }
    const i = line.indexOf(':');
    if (i < 0) continue;
    out.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return out;
}

export async function readHostInfo(): Promise<CapsHost> {
  const arch = hostArch();
  const host: CapsHost = { cpu: { arch } };
  const uuid = await hostUuid();
  if (uuid) host.uuid = uuid;

  const cpuinfo = parseCpuinfo((await read('/proc/cpuinfo')) ?? '');
  const vendor = cpuinfo.get('vendor_id');
  if (vendor && VENDORS[vendor]) host.cpu.vendor = VENDORS[vendor];
  const microcode = cpuinfo.get('microcode');
  if (microcode && /^(0x)?[0-9a-f]+$/i.test(microcode)) host.cpu.microcode = Number.parseInt(microcode, 16);
  const family = Number(cpuinfo.get('cpu family'));
  const model = Number(cpuinfo.get('model'));
  const stepping = Number(cpuinfo.get('stepping'));
  if ([family, model, stepping].every((n) => Number.isInteger(n))) {
    host.cpu.signature = { family, model, stepping };
  }
  const addr = /(\d+) bits physical/.exec(cpuinfo.get('address sizes') ?? '');
  if (addr) host.cpu.maxPhysAddr = { mode: 'emulate', bits: Number(addr[1]) };

  const cpuid = arch === 'x86_64' || arch === 'i686' ? await readCpuidLeaves() : undefined;
  if (cpuid) {
    try {
      const decoded = decodeCpuData(cpuid);
      if (decoded.model) host.cpu.model = decoded.model;
      if (decoded.vendor) host.cpu.vendor = decoded.vendor;
      if (decoded.features) host.cpu.features = decoded.features;
    } catch {
      // Data the engine cannot place leaves the identity-only description.
    }
  }

  const topo = await cpuTopology();
  if (topo) host.cpu.topology = topo;
  const pageSizeKiB = await systemPageSizeKiB();
  const pages = await hugePageSizes();
  host.cpu.pages = [{ unit: 'KiB', size: pageSizeKiB }, ...pages.map((size) => ({ unit: 'KiB', size }))];

  host.powerManagement = {};
  host.iommu = (await list('/sys/kernel/iommu_groups')).length > 0;
  host.migration = {
    live: true,
    uriTransports: { transports: [{ name: 'tcp' }, { name: 'rdma' }] },
  };
  const topology = await hostTopology(pageSizeKiB);
  if (topology) host.topology = topology;
  const caches = await warnOnly(() => hostCachesFromSysfs(HOST_SYSFS));
  if (caches?.cache) host.cache = caches.cache;
  if (caches?.memoryBandwidth) host.memoryBandwidth = caches.memoryBandwidth;
  host.secModels = [{ model: 'none', doi: '0' }];
  return host;
}

async function hostUuid(): Promise<string | undefined> {
  const dmi = (await read('/sys/class/dmi/id/product_uuid'))?.trim().toLowerCase();
  if (dmi && /^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/.test(dmi)) return dmi;
  const id = (await read('/etc/machine-id'))?.trim().toLowerCase();
  if (id && /^[0-9a-f]{32}$/.test(id)) {
    return `${id.slice(0, 8)}-${id.slice(8, 12)}-${id.slice(12, 16)}-${id.slice(16, 20)}-${id.slice(20)}`;
  }
  return undefined;
}

async function cpuTopology(): Promise<CapsHost['cpu']['topology'] | undefined> {
  const base = '/sys/devices/system/cpu';
  const online = parseCpuList((await read(`${base}/online`)) ?? '');
  if (online.length === 0) return undefined;
  const packages = new Set<string>();
  const dies = new Set<string>();
  const cores = new Set<string>();
  for (const id of online) {
    const t = `${base}/cpu${id}/topology`;
    const pkg = ((await read(`${t}/physical_package_id`)) ?? '0').trim();
    const die = ((await read(`${t}/die_id`)) ?? '0').trim();
    const core = ((await read(`${t}/core_id`)) ?? String(id)).trim();
    packages.add(pkg);
    dies.add(`${pkg}/${die}`);
    cores.add(`${pkg}/${die}/${core}`);
  }
  const sockets = Math.max(1, packages.size);
  const diesPerSocket = Math.max(1, Math.round(dies.size / sockets));
  const coresPerDie = Math.max(1, Math.round(cores.size / (sockets * diesPerSocket)));
  const threads = Math.max(1, Math.round(online.length / cores.size));
  return { sockets, dies: diesPerSocket, cores: coresPerDie, threads };
}

async function hugePageSizes(): Promise<number[]> {
  const sizes: number[] = [];
  for (const d of await list('/sys/kernel/mm/hugepages')) {
    const m = /^hugepages-(\d+)kB$/.exec(d);
    if (m) sizes.push(Number(m[1]));
  }
  return sizes.sort((a, b) => a - b);
}

/** The NUMA topology; a tree that cannot be read gives one cell holding every CPU, as libvirt does. */
async function hostTopology(pageSizeKiB: number): Promise<CapsHost['topology']> {
  const totalMemoryKiB = BigInt(Math.floor(totalmem() / 1024));
  const topology = await warnOnly(() => hostTopologyFromSysfs(HOST_SYSFS, { pageSizeKiB, totalMemoryKiB }));
  if (topology) return topology;
  return warnOnly(() => singleCellTopology(new SysfsReader(HOST_SYSFS.system), { totalMemoryKiB }));
}

/** A part of the host description that may be missing: its `VirError` is dropped, like libvirt's warning. */
async function warnOnly<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof VirError) return undefined;
    throw err;
  }
}

const AT_PAGESZ = 6n;

/** The kernel's page size in KiB, from the process's auxiliary vector; 4 when it cannot be read. */
export async function systemPageSizeKiB(auxv = '/proc/self/auxv'): Promise<number> {
  try {
    const buf = await readFile(auxv);
    const word = (off: number) =>
      endianness() === 'LE' ? buf.readBigUInt64LE(off) : buf.readBigUInt64BE(off);
    // 64-bit (type, value) pairs in the host's byte order, ending with type 0.
    for (let off = 0; off + 16 <= buf.length; off += 16) {
      const type = word(off);
      if (type === 0n) break;
      if (type === AT_PAGESZ) {
        const bytes = Number(word(off + 8));
        return bytes >= 1024 && bytes % 1024 === 0 ? bytes / 1024 : 4;
      }
    }
  } catch {
    // not Linux, or /proc hidden
  }
  return 4;
}

/**
 * The CPUID leaves a CPU model decodes from, as `<cpudata>` XML: every basic
 * and extended leaf with sub-leaf 0, plus the sub-leaves of 0x7, 0xd and 0x14
 * that carry feature bits. Undefined when /dev/cpu/0/cpuid cannot be read.
 */
export async function readCpuidLeaves(device = '/dev/cpu/0/cpuid'): Promise<string | undefined> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(device, 'r');
  } catch {
    return undefined;
  }
  try {
    const buf = Buffer.alloc(16);
    const query = async (leaf: number, sub: number): Promise<number[]> => {
      // The device reads a leaf at offset (sub-leaf << 32) | leaf.
      const { bytesRead } = await fh.read(buf, 0, 16, Number((BigInt(sub) << 32n) | BigInt(leaf)));
      if (bytesRead !== 16) throw new Error('short CPUID read');
      return [buf.readUInt32LE(0), buf.readUInt32LE(4), buf.readUInt32LE(8), buf.readUInt32LE(12)];
    };
    const hex = (n: number) => `0x${n.toString(16).padStart(8, '0')}`;
    const lines: string[] = [];
    const add = async (leaf: number, sub: number) => {
      const r = await query(leaf, sub);
      if (r.some((x) => x !== 0)) {
        lines.push(
          `<cpuid eax_in='${hex(leaf)}' ecx_in='${hex(sub)}' eax='${hex(r[0] as number)}' ebx='${hex(r[1] as number)}' ecx='${hex(r[2] as number)}' edx='${hex(r[3] as number)}'/>`,
        );
      }
      return r;
    };
    for (const base of [0, 0x80000000]) {
      const max = (await query(base, 0))[0] as number;
      for (let leaf = base; leaf <= max && leaf - base < 0x100; leaf++) {
        const r = await add(leaf, 0);
        const subs = leaf === 0x7 || leaf === 0x14 ? Math.min(r[0] as number, 16) : leaf === 0xd ? 1 : 0;
        for (let sub = 1; sub <= subs; sub++) await add(leaf, sub);
      }
    }
    return `<cpudata arch='x86'>\n${lines.join('\n')}\n</cpudata>\n`;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

/**
 * Each guest's cgroups, as libvirt's QEMU driver lays them out on a cgroup
 * v1 host without systemd: below this process's own placement in each
 * controller (cpu, memory, blkio), `machine/qemu-<id>-<name>.libvirt-qemu`, and in the CPU
 * controller one sub-group per vCPU (`vcpu<N>`), per I/O thread
 * (`iothread<id>`) and one for the other threads (`emulator`), so each can
 * have its own CFS bandwidth. Nesting below our own placement keeps the
 * guests inside whatever limits this process runs under.
 *
 * cgroup v2 (one hierarchy, threaded sub-trees for the per-thread groups) is
 * not done yet: such a host answers as one without the controllers.
 *
 * @module
 */
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { VirError } from '../../../errors.js';

/** The controllers a guest gets a group in. */
export type CgroupController = 'cpu' | 'memory' | 'blkio';

/** Where this process's groups are, per controller mounted (v1), and what they offer. */
export interface CgroupHost {
  /** The directory our own placement is in, per controller. */
  readonly dirs: Partial<Record<CgroupController, string>>;
  /** Where each controller's hierarchy is mounted. */
  readonly mounts: Partial<Record<CgroupController, string>>;
  /** CFS bandwidth (`cpu.cfs_period_us`, `cpu.cfs_quota_us`). */
  readonly bandwidth: boolean;
  /** Swap accounting (`memory.memsw.limit_in_bytes`). */
  readonly swap: boolean;
}

let cached: CgroupHost | null | undefined;

/** The host's v1 controllers as this process sees them; null when there are none to use. */
export function cgroupHost(): CgroupHost | null {
  if (cached !== undefined) return cached;
  cached = detect();
  return cached;
}

function detect(): CgroupHost | null {
  let mountTable: string;
  let own: string;
  try {
    mountTable = readFileSync('/proc/self/mounts', 'utf8');
    own = readFileSync('/proc/self/cgroup', 'utf8');
  } catch {
    return null;
  }
  const dirs: Partial<Record<CgroupController, string>> = {};
  const mounts: Partial<Record<CgroupController, string>> = {};
  for (const line of mountTable.split('\n')) {
    const [, where, type, options] = line.split(' ');
    if (type !== 'cgroup' || where === undefined || options === undefined) continue;
    const opts = options.split(',');
    for (const c of ['cpu', 'memory', 'blkio'] as const) {
      if (!opts.includes(c) || dirs[c] !== undefined) continue;
      // the placement line lists the same controllers as the mount
      const placed = own
        .split('\n')
        .map((l) => l.split(':'))
        .find((f) => f.length >= 3 && (f[1] ?? '').split(',').includes(c));
      if (!placed) continue;
      const mount = where.replace(/\\040/g, ' ');
      const dir = join(mount, placed.slice(2).join(':'));
      // a read-only hierarchy (a container's) is as good as none
      if (!writable(dir)) continue;
      mounts[c] = mount;
      dirs[c] = dir;
    }
  }
  if (!dirs.cpu && !dirs.memory && !dirs.blkio) return null;
  return {
    dirs,
    mounts,
    bandwidth: dirs.cpu !== undefined && existsSync(join(dirs.cpu, 'cpu.cfs_period_us')),
    swap: dirs.memory !== undefined && existsSync(join(dirs.memory, 'memory.memsw.limit_in_bytes')),
  };
}

function writable(dir: string): boolean {
  try {
    accessSync(dir, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The group name of a running guest: libvirt's scope name without systemd,
 * `qemu-<id>-<name>`, and QEMU's pid. libvirt's ids are unique on the host (one
 * daemon); ours count per state root, so two roots (two test runs, two users of
 * the library) may run a guest of the same id and name at once, and the pid
 * keeps their groups apart. It also tells a stale group (its QEMU gone) apart.
 */
export function guestGroupName(id: number, name: string, pid: number): string {
  // a domain name has no '/'; a leading dot would hide the directory, so it is escaped
  const safe = name.replace(/^\./, '\\x2e');
  return `qemu-${id}-${safe}-${pid}.libvirt-qemu`;
}

/** A guest's group directory in each controller. */
export type GuestCgroup = Partial<Record<CgroupController, string>>;

const GROUP_NAME = /^qemu-\d+-.*-(\d+)\.libvirt-qemu$/;

/**
 * The groups of a running guest, from the kernel's account of where its
 * QEMU (`pid`) is, so a guest re-attached after a restart is found too;
 * undefined when it is in none of ours.
 */
export function guestCgroup(host: CgroupHost, pid: number): GuestCgroup | undefined {
  let placement: string;
  try {
    placement = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  const out: GuestCgroup = {};
  for (const [c, mount] of Object.entries(host.mounts) as [CgroupController, string][]) {
    const f = placement
      .split('\n')
      .map((l) => l.split(':'))
      .find((x) => x.length >= 3 && (x[1] ?? '').split(',').includes(c));
    if (!f) continue;
    let dir = join(mount, f.slice(2).join(':'));
    // QEMU's main thread is in the emulator sub-group of the CPU controller
    if (c === 'cpu' && basename(dir) === 'emulator') dir = dirname(dir);
    if (GROUP_NAME.test(basename(dir)) && existsSync(dir)) out[c] = dir;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** The threads of a guest the CPU groups sort: each vCPU's and I/O thread's, the rest is the emulator. */
export interface GuestThreads {
  readonly vcpus: readonly { readonly index: number; readonly tid: number }[];
  readonly iothreads: readonly { readonly id: number; readonly tid: number }[];
}

/**
 * Makes the guest's groups and moves QEMU (`pid`, every thread) into them;
 * groups left by guests whose QEMU is gone go first.
 */
export function placeGuest(
  host: CgroupHost,
  id: number,
  name: string,
  pid: number,
  threads: GuestThreads,
): GuestCgroup {
  removeStale(host);
  const out: GuestCgroup = {};
  for (const [c, base] of Object.entries(host.dirs) as [CgroupController, string][]) {
    const dir = join(base, 'machine', guestGroupName(id, name, pid));
    makeGroup(dir);
    out[c] = dir;
    if (c !== 'cpu') {
      writeValue(dir, 'cgroup.procs', pid);
      continue;
    }
    const vcpuTids = new Set(threads.vcpus.map((v) => v.tid));
    const ioTids = new Set(threads.iothreads.map((t) => t.tid));
    for (const v of threads.vcpus) moveThread(join(dir, `vcpu${v.index}`), v.tid);
    for (const t of threads.iothreads) moveThread(join(dir, `iothread${t.id}`), t.tid);
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      const tid = Number(task);
      if (!vcpuTids.has(tid) && !ioTids.has(tid)) moveThread(join(dir, 'emulator'), tid);
    }
  }
  return out;
}

/**
 * The vCPU groups after vCPUs were plugged or unplugged (`vcpus`: what QEMU
 * has now): each vCPU's thread in its `vcpu<N>` group, a new group with the
 * definition's CFS period and quota (0: the kernel's default), as libvirt
 * sets up a hot-plugged vCPU; the groups of vCPUs gone are removed (one the
 * kernel still holds busy goes with the guest's groups at stop).
 */
export function syncVcpuGroups(
  g: GuestCgroup,
  vcpus: GuestThreads['vcpus'],
  period: number,
  quota: number,
  bandwidth: boolean,
): void {
  const dir = g.cpu;
  if (dir === undefined) return;
  const indexes = new Set(vcpus.map((v) => v.index));
  for (const old of cpuGroups(g, 'vcpu')) {
    if (indexes.has(Number(basename(old).slice('vcpu'.length)))) continue;
    try {
      rmdirSync(old);
    } catch {
      // its thread not yet ended: removeGuest takes it at stop
    }
  }
  for (const v of vcpus) {
    const sub = join(dir, `vcpu${v.index}`);
    const fresh = !existsSync(sub);
    makeGroup(sub);
    if (fresh && bandwidth) setBandwidth(sub, period, quota);
    moveThread(sub, v.tid);
  }
}

function moveThread(dir: string, tid: number): void {
  makeGroup(dir);
  try {
    writeFileSync(join(dir, 'tasks'), String(tid));
  } catch (err) {
    // a short-lived QEMU worker thread may end between the listing and the move
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return;
    throw new VirError(
      'OPERATION_FAILED',
      'qemu',
      `unable to move thread ${tid} into ${dir}: ${(err as Error).message}`,
    );
  }
}

function makeGroup(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw new VirError(
      'OPERATION_FAILED',
      'qemu',
      `unable to create cgroup ${dir}: ${(err as Error).message}`,
    );
  }
}

/** Removes a stopped guest's groups (children first); what is still in use stays, for {@link removeStale}. */
export function removeGuest(g: GuestCgroup): void {
  for (const dir of Object.values(g)) removeGroup(dir);
}

function removeGroup(dir: string): void {
  if (!existsSync(dir)) return;
  try {
    for (const sub of readdirSync(dir, { withFileTypes: true }))
      if (sub.isDirectory()) rmdirSync(join(dir, sub.name));
    rmdirSync(dir);
  } catch {
    // a thread still in it (QEMU not yet reaped): the next placement sweeps it
  }
}

/** Removes the groups of guests whose QEMU no longer runs (a stop that came too early, a crash). */
function removeStale(host: CgroupHost): void {
  for (const base of Object.values(host.dirs)) {
    const machine = join(base, 'machine');
    let names: string[];
    try {
      names = readdirSync(machine);
    } catch {
      continue;
    }
    for (const n of names) {
      const pid = GROUP_NAME.exec(n)?.[1];
      if (pid !== undefined && !existsSync(`/proc/${pid}`)) removeGroup(join(machine, n));
    }
  }
}

/** The groups of one kind of thread in the CPU controller: the guest's, `vcpu<N>`, `emulator`, `iothread<id>`. */
export function cpuGroups(g: GuestCgroup, kind: 'global' | 'vcpu' | 'emulator' | 'iothread'): string[] {
  const dir = g.cpu;
  if (dir === undefined) return [];
  if (kind === 'global') return [dir];
  if (kind === 'emulator') return [join(dir, 'emulator')];
  const prefix = kind === 'vcpu' ? 'vcpu' : 'iothread';
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && new RegExp(`^${prefix}\\d+$`).test(d.name))
    .map((d) => ({ dir: join(dir, d.name), n: Number(d.name.slice(prefix.length)) }))
    .sort((a, b) => a.n - b.n)
    .map((d) => d.dir);
}

export function readNumber(dir: string, file: string): number {
  const text = readFileSync(join(dir, file), 'utf8').trim();
  const n = Number(text);
  if (!Number.isFinite(n))
    throw new VirError('OPERATION_FAILED', 'qemu', `unexpected value '${text}' in ${join(dir, file)}`);
  return n;
}

export function writeValue(dir: string, file: string, value: number | string): void {
  try {
    writeFileSync(join(dir, file), String(value));
  } catch (err) {
    throw new VirError(
      'OPERATION_FAILED',
      'qemu',
      `unable to set ${file} to ${value} in ${dir}: ${(err as Error).message}`,
    );
  }
}

/** libvirt's range of v1 CPU shares; its setter refuses a value outside it, which the kernel would clamp. */
export const SHARES_RANGE = [2, 262_144] as const;

/** A CFS period and quota for a group; 0 leaves either as it is. The kernel takes the period first. */
export function setBandwidth(dir: string, period: number, quota: number): void {
  if (period !== 0) writeValue(dir, 'cpu.cfs_period_us', period);
  if (quota !== 0) writeValue(dir, 'cpu.cfs_quota_us', quota < 0 ? -1 : quota);
}

/** The kernel's "no limit" for memory, and anything above libvirt's "unlimited", read back as libvirt's. */
const UNLIMITED_KIB = Number.MAX_SAFE_INTEGER;

/**
 * The kernel writes "no limit" as its largest page count in bytes (just
 * under 2^63, how far under depends on the page size): anything from 2^62
 * bytes up is read as that.
 */
const KERNEL_UNLIMITED_FROM = 2n ** 62n;

export function readKib(dir: string, file: string): number {
  const bytes = BigInt(readFileSync(join(dir, file), 'utf8').trim());
  if (bytes >= KERNEL_UNLIMITED_FROM) return UNLIMITED_KIB;
  return Number(bytes / 1024n);
}

export function writeKib(dir: string, file: string, kib: number): void {
  writeValue(dir, file, kib >= UNLIMITED_KIB ? '-1' : (BigInt(kib) * 1024n).toString());
}

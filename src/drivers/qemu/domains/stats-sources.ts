/**
 * What the host knows about a running guest without asking QEMU: CPU times
 * of the QEMU process and of its vCPU threads (`/proc/<pid>/stat`,
 * `/proc/<pid>/task/<tid>/stat` and `schedstat`), its resident memory, tap
 * counters (`/sys/class/net/<dev>/statistics`), and disk image sizes read
 * from the file (with the virtual size from a qcow2 header). Each reader
 * answers `undefined` for what it cannot read: callers leave the field
 * out, as libvirt does, rather than report zero.
 *
 * @module
 */
import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';

/** Linux reports `/proc` times in USER_HZ ticks, fixed at 100 for user space. */
const NS_PER_TICK = 10_000_000;

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** User and system CPU time (ns) of a process or one of its threads, from its `stat` file. */
export function cpuTimes(pid: number, tid?: number): { user: number; system: number } | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  const text = read(tid === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${tid}/stat`);
  if (text === undefined) return undefined;
  // the command name is in parentheses and may itself hold spaces or ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return { user: utime * NS_PER_TICK, system: stime * NS_PER_TICK };
}

/** Nanoseconds a thread waited on a run queue (`schedstat`'s second field). */
export function runQueueDelay(pid: number, tid: number): number | undefined {
  const text = read(`/proc/${pid}/task/${tid}/schedstat`);
  const v = Number(text?.split(' ')[1]);
  return text !== undefined && Number.isFinite(v) ? v : undefined;
}

/**
 * Nanoseconds a thread waited to run (`se.statistics.wait_sum` or `se.wait_sum` of its `sched`
 * file, in milliseconds there). As libvirt: 0 when the kernel has no such file (it needs
 * CONFIG_SCHED_DEBUG), undefined only when the thread is gone.
 */
export function schedWait(pid: number, tid: number): number | undefined {
  const text = read(`/proc/${pid}/task/${tid}/sched`);
  if (text === undefined) return read(`/proc/${pid}/task/${tid}/stat`) === undefined ? undefined : 0;
  const m = /^se\.(?:statistics\.)?wait_sum\s*:\s*([\d.]+)/m.exec(text);
  return m ? Math.round(Number(m[1]) * 1_000_000) : 0;
}

/** Resident memory of a process in KiB (`VmRSS`). */
export function residentKiB(pid: number): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(read(`/proc/${pid}/status`) ?? '');
  return m ? Number(m[1]) : undefined;
}

/** The counters of a host network device, or undefined when it has none (or is gone). */
export function netDevCounters(dev: string): Record<string, number> | undefined {
  if (!/^[\w.:-]{1,15}$/.test(dev)) return undefined;
  const out: Record<string, number> = {};
  for (const name of [
    'rx_bytes',
    'rx_packets',
    'rx_errors',
    'rx_dropped',
    'tx_bytes',
    'tx_packets',
    'tx_errors',
    'tx_dropped',
  ]) {
    const v = Number(read(`/sys/class/net/${dev}/statistics/${name}`)?.trim());
    if (!Number.isFinite(v)) return undefined;
    out[name] = v;
  }
  return out;
}

/** Sizes of a disk image file: what the guest sees, what is allocated, what the file takes. */
export function imageSizes(
  path: string,
  format: string | undefined,
): { capacity: number; allocation: number; physical: number } | undefined {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  const physical = Number(st.size);
  const allocation = Number(st.blocks) * 512;
  if (format !== 'qcow2') return { capacity: physical, allocation, physical };
  // qcow2 header: magic 'QFI\xfb', virtual size as a big-endian u64 at offset 24
  const head = Buffer.alloc(32);
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    if (readSync(fd, head, 0, 32, 0) < 32 || head.readUInt32BE(0) !== 0x514649fb) return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return { capacity: Number(head.readBigUInt64BE(24)), allocation, physical };
}

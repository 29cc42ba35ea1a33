/**
 * Facts about a process from `/proc`: whether it still lives, when it
 * started (to tell a re-used pid from our QEMU) and how much CPU it used.
 *
 * @module
 */
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';

/** Linux reports `/proc/<pid>/stat` times in USER_HZ ticks, fixed at 100 for user space. */
const NS_PER_TICK = 10_000_000n;

export interface ProcStat {
  /** One-letter state: `R`, `S`, `D`, `Z` (zombie), ... */
  readonly state: string;
  /** Start time in ticks since boot: with the pid, identifies the process. */
  readonly startTicks: string;
  /** User + system CPU time of all threads, in nanoseconds. */
  readonly cpuTimeNs: bigint;
}

export function readProcStat(pid: number): ProcStat | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name is in parentheses and may itself hold spaces or ')'.
  const close = text.lastIndexOf(')');
  if (close < 0) return undefined;
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  // fields[0] is field 3 (state); utime is field 14, stime 15, starttime 22.
  const state = fields[0] ?? '?';
  const utime = BigInt(fields[11] ?? '0');
  const stime = BigInt(fields[12] ?? '0');
  return { state, startTicks: fields[19] ?? '0', cpuTimeNs: (utime + stime) * NS_PER_TICK };
}

/** The executable a pid runs, or undefined when it is gone or not ours to read. */
export function readProcExe(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return undefined;
  }
}

/** True while the process exists and is not a zombie waiting to be reaped. */
export function isProcessAlive(pid: number): boolean {
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== 'Z' && stat.state !== 'X';
}

/** Sends a signal, ignoring a process that is already gone. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  // kill(0 or -1) would hit our own process group or every process we may signal.
  if (!Number.isSafeInteger(pid) || pid <= 1) return;
  try {
    process.kill(pid, signal);
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ESRCH') throw err;
  }
}

/** The path with its links resolved, or the path itself when it cannot be resolved. */
export function realpathOr(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

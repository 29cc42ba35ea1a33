/**
 * The per-domain log, `<logRoot>/qemu/<name>.log`: a line when we start
 * QEMU (with its command line), everything QEMU writes to stdout/stderr
 * (it gets the file descriptor itself, so nothing is lost if our process
 * dies), and a line when the guest stops.
 *
 * @module
 */
import { appendFileSync, closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { toVirError } from '../../../errors.js';

/** Opens the log for appending and writes the start line; returns the fd to give QEMU. */
export function openDomainLog(
  path: string,
  emulator: string,
  argv: readonly string[],
  env: Readonly<Record<string, string>>,
): number {
  try {
    const fd = openSync(path, 'a', 0o600);
    const envText = Object.entries(env)
      .map(([k, v]) => `${k}=${shellQuote(v)}`)
      .join(' ');
    appendFileSync(
      fd,
      `${stamp()}: starting up\n${envText} ${[emulator, ...argv].map(shellQuote).join(' ')}\n`,
    );
    return fd;
  } catch (err) {
    throw toVirError(err, 'WRITE_FAILED', 'qemu', `cannot open log file ${path}`);
  }
}

/** Appends one line; a log we cannot write must not fail a lifecycle call. */
export function appendDomainLog(path: string, line: string): void {
  try {
    appendFileSync(path, `${stamp()}: ${line}\n`);
  } catch {
    // best effort
  }
}

/** The last `max` bytes of the log, for error messages. */
export function readLogTail(path: string, max = 2048): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const size = fstatSync(fd).size;
    const len = Math.min(size, max);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

function stamp(): string {
  return new Date().toISOString();
}

/** Quotes for a human reading the log; the command itself never goes through a shell. */
function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

/**
 * What QEMU said about its last start, for an error message: its own lines
 * only (not the command line we logged, not our timestamped notes), errors
 * before warnings, the last few. Empty when it said nothing.
 */
export function qemuSaid(path: string): string {
  const log = readLogTail(path, 8192);
  const marker = ': starting up\n';
  const at = log.lastIndexOf(marker);
  // The line after the marker is the command line; without the marker the tail begins mid-line.
  const from = at >= 0 ? log.indexOf('\n', at + marker.length) : log.indexOf('\n');
  const lines = (from >= 0 ? log.slice(from + 1) : '')
    .split('\n')
    .filter((l) => l.trim() !== '' && !/^\d{4}-\d\d-\d\dT[\d:.]+Z: /.test(l))
    // `-msg timestamp=on` puts QEMU's own time stamp (and a space) first.
    .map((l) => l.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /, ''));
  // QEMU prefixes its errors with the binary's name; warnings name themselves.
  const errors = lines.filter((l) => /^[^\s:]+: /.test(l) && !/: warning: /.test(l));
  return (errors.length > 0 ? errors : lines).slice(-3).join('; ');
}

/** {@link qemuSaid} as a suffix: `: <what QEMU said>`, or nothing. */
export function logTail(path: string): string {
  const said = qemuSaid(path);
  return said ? `: ${said}` : '';
}

/** Feature names from QEMU's "doesn't support requested feature" warnings of the last start. */
export function missingCpuFeatures(log: string): string[] {
  const lastStart = log.lastIndexOf(': starting up\n');
  const text = lastStart >= 0 ? log.slice(lastStart) : log;
  const names = [...text.matchAll(/support requested feature: \S+?\.([A-Za-z0-9_.-]+) \[bit/g)].map(
    (m) => m[1] ?? '',
  );
  return [...new Set(names.filter((n) => n !== ''))];
}

/**
 * Output as virsh prints it: its tables, its state and event words, its
 * version lines. Pure functions of library values, so they are tested
 * against virsh's own output without a connection.
 *
 * @module
 */
import type { DomainEvent, DomainStateName } from '../driver.js';

/**
 * A table the way virsh draws one: a header row, a line of dashes, then the
 * rows (the rows alone with `header: false`, as virsh's `-q`); every cell but the last padded to its column's width plus two, one
 * leading blank per cell, three dashes per column beyond its width.
 */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  { header: withHeader = true }: { header?: boolean } = {},
): string[] {
  // Without the header its cells do not count towards the widths, as in virsh.
  const widths = header.map((h, i) =>
    Math.max(withHeader ? h.length : 0, ...rows.map((r) => (r[i] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => ` ${i < cells.length - 1 ? c.padEnd((widths[i] as number) + 2) : c}`).join('');
  const dashes = '-'.repeat(widths.reduce((n, w) => n + w + 3, 0));
  // virsh's quiet mode (`-q`) prints the rows alone, so a script reads data only.
  return withHeader ? [line(header), dashes, ...rows.map(line)] : rows.map(line);
}

const STATE_WORDS: Readonly<Record<DomainStateName, string>> = {
  nostate: 'no state',
  running: 'running',
  blocked: 'idle',
  paused: 'paused',
  shutdown: 'in shutdown',
  shutoff: 'shut off',
  crashed: 'crashed',
  pmsuspended: 'pmsuspended',
};

/** A state as virsh words it (`shut off`, `idle`, `in shutdown`, ...). */
export function stateWord(state: DomainStateName): string {
  return STATE_WORDS[state];
}

/** libvirt's packed version number (major * 1,000,000 + minor * 1,000 + micro) as `M.m.u`. */
export function versionString(v: number): string {
  return `${Math.floor(v / 1_000_000)}.${Math.floor(v / 1000) % 1000}.${v % 1000}`;
}

/** CPU time in nanoseconds as virsh's `%.1fs`. */
export function cpuSeconds(ns: bigint): string {
  return `${(Number(ns) / 1e9).toFixed(1)}s`;
}

const EVENT_WORDS: Readonly<Record<DomainEvent['event'], string>> = {
  defined: 'Defined',
  undefined: 'Undefined',
  started: 'Started',
  suspended: 'Suspended',
  resumed: 'Resumed',
  stopped: 'Stopped',
  shutdown: 'Shutdown',
  pmsuspended: 'PMSuspended',
  crashed: 'Crashed',
};

// The details whose virsh wording is not just the name capitalised.
const DETAIL_WORDS: Readonly<Record<string, string>> = {
  'from snapshot': 'Snapshot',
  wakeup: 'Event wakeup',
  ioerror: 'I/O Error',
  'api error': 'API error',
  'post-copy failed': 'Post-copy Error',
  'postcopy failed': 'Post-copy Error',
  postcopy: 'Post-copy',
  finished: 'Finished',
  guest: 'Finished after guest request',
  host: 'Finished after host request',
};

/** One event as virsh's `event` command prints it. */
export function eventLine(e: DomainEvent, timestamp: boolean): string {
  const raw = e.detail;
  const detail = DETAIL_WORDS[raw] ?? (raw ? raw[0]?.toUpperCase() + raw.slice(1) : '');
  const line = `event 'lifecycle' for domain '${e.domain.name}': ${EVENT_WORDS[e.event]} ${detail}`;
  return timestamp ? `${virshTimestamp(e.timestamp)}: ${line}` : line;
}

/** virsh's `--timestamp` of an event: local time with milliseconds and the UTC offset. */
export function virshTimestamp(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const off = -d.getTimezoneOffset();
  const zone = `${off >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}${zone}`
  );
}

/** `label` padded as virsh's `%-15s` columns in `dominfo` and friends. */
export function field(label: string, value: string | number): string {
  return `${label.padEnd(15)} ${value}`;
}

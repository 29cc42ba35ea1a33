/**
 * Collects QEMU's argv. Options whose value is a property object
 * (`-device`, `-object`, `-blockdev`, ...) are written as JSON when the
 * probed QEMU takes JSON there, else as a `key=value,...` list with the type
 * as the implied first key; every builder of a part of the command line
 * writes through one of these.
 *
 * @module
 */
import type { QemuCaps } from '../probe/qemu-caps.js';
import { jsonArg, optValue } from './escape.js';
import type { MonitorCommand, RdpServerSettings } from './types.js';

/** Whether this QEMU takes `-object`/`-device`/`-blockdev` as JSON (6.2 and later do). */
export function supportsJsonCli(caps: QemuCaps): boolean {
  return caps.versionNumber >= 6_002_000;
}

export class ArgvBuilder {
  readonly argv: string[] = [];
  #fdsets = 0;
  /** Environment variables device builders need QEMU to run with, after the standard ones. */
  readonly env: Record<string, string> = {};
  /** QMP commands the guest needs before it runs (passwords), see CommandLine.monitorCommands. */
  readonly monitorCommands: MonitorCommand[] = [];
  /** What the RDP servers of the guest serve, see CommandLine.rdpServers. */
  readonly rdpServers: RdpServerSettings[] = [];
  /** `<qemu:override>`: properties to set (or remove, `undefined`) on the `-device` whose id is the key. */
  deviceOverrides: ReadonlyMap<string, ReadonlyArray<readonly [string, unknown]>> = new Map();
  /** `-mem-prealloc` was written: QEMU preallocates all guest RAM, backends must not ask again. */
  memPrealloc = false;
  /** `json`: JSON for property objects; `qemuVersion`: e.g. `9_002_000`, for options QEMU renamed. */
  constructor(
    readonly json: boolean,
    readonly qemuVersion = 0,
  ) {}
  /** The next `-add-fd` set number; sets are numbered across the whole command line. */
  nextFdset(): number {
    return this.#fdsets++;
  }
  add(...args: string[]): void {
    this.argv.push(...args);
  }
  /** `-device` / `-object` / `-blockdev` etc. from a property object. */
  props(option: string, given: Record<string, unknown>, field: string): void {
    const obj = option === '-device' ? this.#overridden(given) : given;
    if (this.json) this.argv.push(option, jsonArg(obj, field));
    else {
      const items: string[] = [];
      const flat = (prefix: string, o: Record<string, unknown>) => {
        for (const [k, v] of Object.entries(o)) {
          if (v === undefined) continue;
          if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
            flat(`${prefix}${k}.`, v as Record<string, unknown>);
            continue;
          }
          const s = typeof v === 'boolean' ? (v ? 'on' : 'off') : String(v);
          // -device and -object take their type as the implied first key; -blockdev and others do not.
          const implied = option === '-device' ? 'driver' : option === '-object' ? 'qom-type' : undefined;
          const bare = prefix === '' && k === implied && items.length === 0;
          items.push(bare ? optValue(s, field) : `${prefix}${k}=${optValue(s, field)}`);
        }
      };
      flat('', obj);
      this.argv.push(option, items.join(','));
    }
  }
  /** A device's properties with the user's overrides: each one removed, then set again at the end. */
  #overridden(obj: Record<string, unknown>): Record<string, unknown> {
    const props = typeof obj.id === 'string' ? this.deviceOverrides.get(obj.id) : undefined;
    if (!props) return obj;
    const out = { ...obj };
    for (const [name, value] of props) {
      delete out[name];
      if (value !== undefined) out[name] = value;
    }
    return out;
  }
}

/**
 * QEMU firmware descriptors (the JSON files of QEMU's `docs/interop/firmware.json`
 * that distributions install under `share/qemu/firmware`): a typed form, a parser,
 * and the priority rule that decides which files count.
 *
 * Reading the directories is the caller's job (the driver on the host, the
 * conformance harness from a fixture): this module only sees names and contents.
 *
 * @module
 */
import { VirError } from '../../../errors.js';

/** One file of a firmware: its path and image format. */
export interface FirmwareFile {
  /** The absolute path. */
  filename: string;
  /** The image format (`raw`, `qcow2`). */
  format: string;
}

/** How a descriptor's firmware is loaded: as pflash, into memory, or as a kernel. */
export type FirmwareMapping =
  | {
      /** Loaded as pflash devices. */
      device: 'flash';
      /** Code and variables in two files, in one, or no variables store at all. */
      mode: 'split' | 'combined' | 'stateless';
      /** The firmware code. */
      executable: FirmwareFile;
      /** The template each guest's NVRAM is copied from (split mode). */
      nvramTemplate?: FirmwareFile;
    }
  | {
      /** Loaded into guest memory (`-bios`). */
      device: 'memory';
      /** The firmware file. */
      filename: string;
    }
  | {
      /** Loaded as a kernel (`-kernel`). */
      device: 'kernel';
      /** The firmware file. */
      filename: string;
    };

/** An architecture and the machine types a firmware is built for. */
export interface FirmwareTarget {
  /** The architecture, in QEMU's spelling (`x86_64`, `aarch64`). */
  architecture: string;
  /** Glob patterns (`*` and `?`) over machine type names. */
  machines: string[];
}

/** One of QEMU's firmware descriptor files (`/usr/share/qemu/firmware/*.json`), parsed. */
export interface FirmwareDescriptor {
  /** The descriptor's file name, which also orders descriptors. */
  name: string;
  /** How the firmware talks to the guest (`uefi`, `bios`, ...). */
  interfaces: string[];
  /** How the firmware is loaded: its files and formats. */
  mapping: FirmwareMapping;
  /** The architectures and machine types it is built for. */
  targets: FirmwareTarget[];
  /** What it offers (`secure-boot`, `enrolled-keys`, `acpi-s3`, ...). */
  features: string[];
}

/** Where a descriptor file was found; a later entry overrides an earlier one of the same name. */
export type FirmwareDir = 'data' | 'config' | 'user';

export interface FirmwareDescriptorFile {
  dir: FirmwareDir;
  name: string;
  /** The parsed JSON, or null for an empty file (which masks the name). */
  descriptor: unknown;
}

const DIR_RANK: Record<FirmwareDir, number> = { data: 0, config: 1, user: 2 };

function bad(name: string, what: string): VirError {
  return new VirError('CONF_SYNTAX', 'qemu', `firmware descriptor '${name}': ${what}`, { field: name });
}

function strings(name: string, v: unknown, what: string): string[] {
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string'))
    throw bad(name, `'${what}' must be a list of strings`);
  return v;
}

function obj(name: string, v: unknown, what: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(name, `'${what}' must be an object`);
  return v as Record<string, unknown>;
}

function str(name: string, v: unknown, what: string): string {
  if (typeof v !== 'string') throw bad(name, `'${what}' must be a string`);
  return v;
}

function file(name: string, v: unknown, what: string): FirmwareFile {
  const o = obj(name, v, what);
  return {
    filename: str(name, o.filename, `${what}.filename`),
    format: str(name, o.format, `${what}.format`),
  };
}

function mapping(name: string, v: unknown): FirmwareMapping {
  const m = obj(name, v, 'mapping');
  const device = m.device;
  if (device === 'memory' || device === 'kernel')
    return { device, filename: str(name, m.filename, 'mapping.filename') };
  if (device !== 'flash') throw bad(name, `unknown mapping device ${JSON.stringify(device)}`);
  // QEMU's schema: a flash mapping without a mode is split
  const mode = m.mode ?? 'split';
  if (mode !== 'split' && mode !== 'combined' && mode !== 'stateless')
    throw bad(name, `unknown flash mode ${JSON.stringify(mode)}`);
  const executable = file(name, m.executable, 'mapping.executable');
  if (mode !== 'split') return { device, mode, executable };
  return {
    device,
    mode,
    executable,
    nvramTemplate: file(name, m['nvram-template'], 'mapping.nvram-template'),
  };
}

/** Parses one descriptor (QEMU's JSON, already decoded); throws `CONF_SYNTAX` naming the file. */
export function parseFirmwareDescriptor(name: string, json: unknown): FirmwareDescriptor {
  const o = obj(name, json, 'descriptor');
  const targets = o.targets;
  if (!Array.isArray(targets)) throw bad(name, "'targets' must be a list");
  return {
    name,
    interfaces: strings(name, o['interface-types'], 'interface-types'),
    mapping: mapping(name, o.mapping),
    targets: targets.map((t, i) => {
      const to = obj(name, t, `targets[${i}]`);
      return {
        architecture: str(name, to.architecture, `targets[${i}].architecture`),
        machines: strings(name, to.machines, `targets[${i}].machines`),
      };
    }),
    features: strings(name, o.features ?? [], 'features'),
  };
}

/**
 * The descriptors that count, in the order they are tried: for each file
 * name the copy in the highest-priority directory (user over config over
 * data) wins, an empty one masks the name, and names sort bytewise.
 * A file that does not parse is skipped, as QEMU's spec asks of consumers.
 */
export function orderFirmwareDescriptors(files: readonly FirmwareDescriptorFile[]): FirmwareDescriptor[] {
  const chosen = new Map<string, FirmwareDescriptorFile>();
  for (const f of files) {
    const had = chosen.get(f.name);
    if (!had || DIR_RANK[f.dir] >= DIR_RANK[had.dir]) chosen.set(f.name, f);
  }
  const names = [...chosen.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out: FirmwareDescriptor[] = [];
  for (const n of names) {
    const f = chosen.get(n);
    if (!f || f.descriptor === null) continue;
    try {
      out.push(parseFirmwareDescriptor(n, f.descriptor));
    } catch {
      // an unusable descriptor is not a reason to refuse every guest
    }
  }
  return out;
}

/** GLib's simple glob (`*` any run, `?` one character), which descriptors' machine lists use. */
export function globMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1;
  let mark = 0;
  while (i < s.length) {
    if (p < pattern.length && (pattern[p] === '?' || pattern[p] === s[i])) {
      p++;
      i++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

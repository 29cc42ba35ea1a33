/**
 * Host facts the domain capabilities depend on besides QEMU itself:
 * firmware descriptors (QEMU's firmware.json interop format), VFIO, the TPM
 * emulator, and which QEMU binaries exist.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { access, open, readdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { CapsHost } from '../../../conf/capabilities.js';
import type { QemuMode } from '../paths.js';
import type { DomainCapsHostFacts, FirmwareImage } from './domain-caps-builder.js';

/** Directories searched for firmware descriptors, later ones overriding same-named files. */
export function firmwareDirs(mode: QemuMode, env: NodeJS.ProcessEnv = process.env): string[] {
  const dirs = ['/usr/share/qemu/firmware', '/etc/qemu/firmware'];
  if (mode === 'session') {
    const config = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
    dirs.push(join(config, 'qemu/firmware'));
  }
  return dirs;
}

/** Parses one firmware descriptor; undefined when it is not one we can use. */
export function parseFirmwareDescriptor(text: string): FirmwareImage | undefined {
  let d: unknown;
  try {
    d = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof d !== 'object' || d === null) return undefined;
  const desc = d as {
    'interface-types'?: unknown;
    mapping?: { device?: unknown; executable?: { filename?: unknown }; filename?: unknown };
    targets?: unknown;
    features?: unknown;
  };
  const interfaces = Array.isArray(desc['interface-types']) ? desc['interface-types'] : [];
  const iface = interfaces.includes('uefi') ? 'uefi' : interfaces.includes('bios') ? 'bios' : undefined;
  const device = desc.mapping?.device;
  const path =
    device === 'flash'
      ? desc.mapping?.executable?.filename
      : device === 'memory'
        ? desc.mapping?.filename
        : undefined;
  if (!iface || typeof path !== 'string' || !path.startsWith('/')) return undefined;
  const targets: FirmwareImage['targets'] = [];
  for (const t of Array.isArray(desc.targets) ? desc.targets : []) {
    const tt = t as { architecture?: unknown; machines?: unknown };
    if (typeof tt.architecture !== 'string') continue;
    const machines = Array.isArray(tt.machines)
      ? tt.machines.filter((m): m is string => typeof m === 'string')
      : [];
    targets.push({ arch: tt.architecture, machines });
  }
  const features = Array.isArray(desc.features)
    ? desc.features.filter((f): f is string => typeof f === 'string')
    : [];
  return { path, interface: iface, type: device === 'flash' ? 'pflash' : 'rom', targets, features };
}

/** Firmware images from the descriptors in `dirs` (sorted by file name, as QEMU's interop spec says). */
export async function readFirmware(dirs: readonly string[]): Promise<FirmwareImage[]> {
  const byName = new Map<string, string>();
  for (const dir of dirs) {
    let files: string[];
    try {
      files = await readdir(dir);
    } catch {
      continue;
    }
    for (const f of files) if (f.endsWith('.json')) byName.set(f, join(dir, f));
  }
  const out: FirmwareImage[] = [];
  for (const name of [...byName.keys()].sort()) {
    const text = await readFile(byName.get(name) as string, 'utf8').catch(() => undefined);
    const fw = text === undefined ? undefined : parseFirmwareDescriptor(text);
    if (fw) out.push(fw);
  }
  return out;
}

export async function vfioAvailable(): Promise<boolean> {
  try {
    await access('/dev/vfio/vfio', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * The SEV address-space ids of the host CPU, CPUID leaf 0x8000001F (ECX:
 * the highest id, EDX: the lowest id for plain SEV guests), read through
 * Linux's cpuid driver (`/dev/cpu/0/cpuid`, where the file offset is the
 * leaf). Undefined when that device is missing or unreadable, or the CPU
 * has no SEV ids.
 */
export async function readSevAsids(
  dev = '/dev/cpu/0/cpuid',
): Promise<{ max: number; minSev: number } | undefined> {
  try {
    const fh = await open(dev, 'r');
    try {
      const buf = Buffer.alloc(16);
      const { bytesRead } = await fh.read(buf, 0, 16, 0x8000001f);
      if (bytesRead < 16) return undefined;
      const max = buf.readUInt32LE(8);
      const minSev = buf.readUInt32LE(12);
      return max > 0 && minSev > 0 ? { max, minSev } : undefined;
    } finally {
      await fh.close();
    }
  } catch {
    return undefined;
  }
}

/** The first executable `name` in a PATH directory. */
export async function findOnPath(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  for (const dir of (env.PATH ?? '/usr/bin:/bin').split(delimiter)) {
    if (!dir.startsWith('/')) continue;
    const p = join(dir, name);
    try {
      await access(p, constants.X_OK);
      return p;
    } catch {}
  }
  return undefined;
}

/** TPM versions swtpm offers (`--print-capabilities`), or none when it is not installed. */
export async function tpmEmulatorVersions(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const swtpm = await findOnPath('swtpm', env);
  if (!swtpm) return [];
  const out = await new Promise<string>((resolve) => {
    execFile(swtpm, ['socket', '--print-capabilities'], { timeout: 5000 }, (err, stdout) =>
      resolve(err ? '' : String(stdout)),
    );
  });
  const versions: string[] = [];
  if (out.includes('"tpm-1.2"')) versions.push('1.2');
  if (out.includes('"tpm-2.0"')) versions.push('2.0');
  return versions;
}

/** Every `qemu-system-*` binary on PATH and in the usual places, first found per name. */
export async function findEmulators(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const dirs = [...(env.PATH ?? '').split(delimiter), '/usr/bin', '/usr/local/bin', '/usr/libexec'];
  const seen = new Map<string, string>();
  for (const dir of dirs) {
    if (!dir.startsWith('/')) continue;
    let files: string[];
    try {
      files = await readdir(dir);
    } catch {
      continue;
    }
    for (const f of files.sort()) {
      if (!/^qemu-system-[a-z0-9_]+$/.test(f) || seen.has(f)) continue;
      const p = join(dir, f);
      try {
        await access(p, constants.X_OK);
        seen.set(f, p);
      } catch {}
    }
  }
  return [...seen.values()];
}

/** The host facts domain capabilities need: firmware, VFIO, TPM emulators, SEV ASIDs, physical address bits. */
export async function domainCapsHostFacts(
  mode: QemuMode,
  hostInfo: Promise<CapsHost>,
): Promise<DomainCapsHostFacts> {
  const [firmware, vfio, tpm, sevAsids, host] = await Promise.all([
    readFirmware(firmwareDirs(mode)),
    vfioAvailable(),
    tpmEmulatorVersions(),
    readSevAsids(),
    hostInfo,
  ]);
  const facts: DomainCapsHostFacts = { firmware, vfio, tpmEmulatorVersions: tpm };
  const bits = host.cpu.maxPhysAddr?.bits;
  if (bits !== undefined) facts.physAddrBits = bits;
  if (sevAsids) facts.sevAsids = sevAsids;
  return facts;
}

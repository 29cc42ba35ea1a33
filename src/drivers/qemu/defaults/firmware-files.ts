/**
 * Reading QEMU's firmware descriptors from the host, in the directories and
 * with the priorities of QEMU's interop spec as libvirt applies them: the
 * package's `/usr/share/qemu/firmware`, the administrator's
 * `/etc/qemu/firmware`, and for a session (unprivileged) driver the user's
 * `$XDG_CONFIG_HOME/qemu/firmware`; a later directory's file replaces a
 * same-named one, an empty file masks it, names order the rest.
 *
 * @module
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { QemuMode } from '../paths.js';
import {
  type FirmwareDescriptor,
  type FirmwareDescriptorFile,
  type FirmwareDir,
  orderFirmwareDescriptors,
} from './firmware-descriptor.js';

/** The descriptor directories for a driver mode, lowest priority first. */
export function firmwareDescriptorDirs(
  mode: QemuMode,
  env: NodeJS.ProcessEnv = process.env,
): Array<{ dir: FirmwareDir; path: string }> {
  const dirs: Array<{ dir: FirmwareDir; path: string }> = [
    { dir: 'data', path: '/usr/share/qemu/firmware' },
    { dir: 'config', path: '/etc/qemu/firmware' },
  ];
  // A system driver runs as root: root's home is nobody's firmware choice (libvirt skips it too).
  if (mode === 'session') {
    const config = env.XDG_CONFIG_HOME?.startsWith('/') ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
    dirs.push({ dir: 'user', path: join(config, 'qemu/firmware') });
  }
  return dirs;
}

/** Every regular file (or link to one) of the directories; hidden files are not descriptors. */
export async function readFirmwareDescriptorFiles(
  dirs: ReadonlyArray<{ dir: FirmwareDir; path: string }>,
): Promise<FirmwareDescriptorFile[]> {
  const out: FirmwareDescriptorFile[] = [];
  for (const { dir, path } of dirs) {
    let names: string[];
    try {
      names = await readdir(path);
    } catch {
      continue;
    }
    for (const name of names.sort()) {
      if (name.startsWith('.')) continue;
      const file = join(path, name);
      try {
        if (!(await stat(file)).isFile()) continue;
        const text = await readFile(file, 'utf8');
        let descriptor: unknown = null;
        if (text.trim() !== '') {
          try {
            descriptor = JSON.parse(text);
          } catch {
            // not JSON: recorded as an unusable descriptor, which still overrides its name
            descriptor = {};
          }
        }
        out.push({ dir, name, descriptor });
      } catch {
        // unreadable: as if absent
      }
    }
  }
  return out;
}

/** The host's descriptors for a driver mode, in the order autoselection tries them. */
export async function hostFirmwareDescriptors(
  mode: QemuMode,
  env: NodeJS.ProcessEnv = process.env,
): Promise<FirmwareDescriptor[]> {
  return orderFirmwareDescriptors(await readFirmwareDescriptorFiles(firmwareDescriptorDirs(mode, env)));
}

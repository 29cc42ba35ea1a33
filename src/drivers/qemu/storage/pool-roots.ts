/**
 * Where a `qemu:///session` pool may keep its files. libvirt's session
 * driver takes any directory the user can write; virtkit refuses a session
 * pool outside the user's own places (the home directory, the XDG base
 * directories, the session's roots) unless the `storagePoolRoots` driver
 * option names more, so that a definition from elsewhere cannot point a
 * user's pool at a directory nobody meant it for. `qemu:///system` (root)
 * has no such limit, as in libvirt.
 *
 * A path is judged twice: as written, and as the real path of the part of
 * it that exists, so a symbolic link inside an allowed root that leads out
 * of it is refused too.
 *
 * @module
 */
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname } from 'node:path';
import { VirError } from '../../../errors.js';
import type { QemuPaths } from '../paths.js';

const FIELD = '/pool/target/path';

/** The directories a session pool may lie under: the user's, the session roots', and `extra`. */
export function sessionPoolRoots(
  paths: QemuPaths,
  extra: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
): readonly string[] {
  const home = env.HOME?.startsWith('/') ? env.HOME : homedir();
  const xdg = ['XDG_DATA_HOME', 'XDG_CONFIG_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME', 'XDG_RUNTIME_DIR']
    .map((k) => env[k])
    .filter((v): v is string => typeof v === 'string' && v.startsWith('/'));
  const roots = [home, ...xdg, paths.configDir, paths.stateDir, paths.runDir, paths.logDir, ...extra];
  if (paths.cacheDir) roots.push(paths.cacheDir);
  return [...new Set(roots.map(clean))];
}

/** `OPERATION_DENIED` naming the target path when `path` (absolute, without `..`) is under none of `roots`. */
export function checkPoolRoot(path: string, roots: readonly string[] | null): void {
  if (roots === null) return;
  const real = realOfExisting(path);
  const realRoots = roots.map(realOfExisting);
  const ok = roots.some((r) => within(path, r)) && realRoots.some((r) => within(real, r));
  if (!ok)
    throw new VirError(
      'OPERATION_DENIED',
      'storage',
      `storage pool target path '${path}'${real !== path ? ` (really '${real}')` : ''} is outside the ` +
        `directories a qemu:///session pool may use (${roots.join(', ')}); ` +
        "name more with the driver option 'storagePoolRoots'",
      { field: FIELD },
    );
}

function within(path: string, root: string): boolean {
  return root === '/' || path === root || path.startsWith(`${root}/`);
}

function clean(p: string): string {
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  return `/${parts.join('/')}`;
}

/** The real path of the longest existing prefix of `path`, with the rest appended. */
function realOfExisting(path: string): string {
  let head = path;
  let tail = '';
  while (head !== '/' && !existsSync(head)) {
    tail = `/${basename(head)}${tail}`;
    head = dirname(head);
  }
  try {
    const real = realpathSync(head);
    return clean(`${real}${tail}`);
  } catch {
    return clean(path);
  }
}

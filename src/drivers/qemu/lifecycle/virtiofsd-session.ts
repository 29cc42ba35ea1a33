/**
 * virtiofsd for an unprivileged caller (`qemu:///session` as a user).
 *
 * The two generations of the daemon need different help:
 *
 * - The Rust daemon (`separate-options`) sandboxes itself in a user
 *   namespace when it is given ID maps. As libvirt does in session mode, the
 *   caller's own uid and gid become 0 inside, and the caller's subordinate
 *   range from `/etc/subuid` / `/etc/subgid` (if it has one) follows from 1.
 * - The C daemon of QEMU up to 7.2 has no ID maps, and wants capabilities it
 *   only has as root: it unshares mount, pid and net namespaces, and writes a
 *   pid file into a fixed directory, `/var/run/virtiofsd`, which only root can
 *   write. libvirt gives it the Rust daemon's ID-map options, which it does not
 *   know, so a libvirt session cannot run it at all. virtkit runs it inside a
 *   user namespace of its own (`unshare --user --map-root-user --mount`),
 *   where the caller is root and may bind a directory of the guest's over the
 *   pid-file directory. Files the guest creates belong to the caller; other
 *   owners show as the overflow id. What the host cannot offer (no `unshare`,
 *   user namespaces off, no pid-file directory to bind over, a caller with
 *   supplementary groups: the daemon drops them, which such a namespace
 *   forbids) is refused naming the share.
 *
 * @module
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { VirError } from '../../../errors.js';
import type { HelperSpec } from './guest-helper.js';
import type { VirtiofsdFeatures } from './virtiofsd.js';

/** Where the C daemon puts its pid files (`<localstatedir>/run/virtiofsd`, fixed at build time). */
export const C_VIRTIOFSD_PID_DIR = '/var/run/virtiofsd';

const UNSHARE = ['/usr/bin/unshare', '/bin/unshare'];

/** One line of `/etc/subuid` or `/etc/subgid` that names `who` (by name or number). */
export function subordinateRange(
  text: string,
  names: readonly string[],
): { start: number; count: number } | undefined {
  for (const line of text.split('\n')) {
    const [owner, start, count] = line.trim().split(':');
    if (owner === undefined || !names.includes(owner)) continue;
    if (!/^\d+$/.test(start ?? '') || !/^\d+$/.test(count ?? '')) continue;
    return { start: Number(start), count: Number(count) };
  }
  return undefined;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

/** The name of group `gid` in `/etc/group`, if it has one. */
function groupName(gid: number, groupText: string): string | undefined {
  for (const line of groupText.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id === String(gid)) return name;
  }
  return undefined;
}

export interface IdentityFiles {
  readonly uid: number;
  readonly gid: number;
  readonly user?: string;
  readonly subuid: string;
  readonly subgid: string;
  readonly group: string;
}

function hostIdentity(): IdentityFiles {
  let user: string | undefined;
  try {
    user = userInfo().username;
  } catch {
    user = undefined;
  }
  return {
    uid: process.getuid?.() ?? 0,
    gid: process.getgid?.() ?? 0,
    ...(user !== undefined ? { user } : {}),
    subuid: readOr('/etc/subuid', ''),
    subgid: readOr('/etc/subgid', ''),
    group: readOr('/etc/group', ''),
  };
}

/**
 * The Rust daemon's ID maps for a session caller, in libvirt's form
 * (`--uid-map=:<inside>:<outside>:<count>:`): the caller as 0, then its
 * subordinate range from 1.
 */
export function sessionIdMapArgs(id: IdentityFiles = hostIdentity()): string[] {
  const map = (kind: 'uid' | 'gid', own: number, range: { start: number; count: number } | undefined) => [
    `--${kind}-map=:0:${own}:1:`,
    ...(range ? [`--${kind}-map=:1:${range.start}:${range.count}:`] : []),
  ];
  const users = [...(id.user !== undefined ? [id.user] : []), String(id.uid)];
  const group = groupName(id.gid, id.group);
  const groups = [...(group !== undefined ? [group] : []), String(id.gid)];
  return [
    ...map('uid', id.uid, subordinateRange(id.subuid, users)),
    ...map('gid', id.gid, subordinateRange(id.subgid, groups)),
  ];
}

/** True when this kernel lets an unprivileged process make a user namespace. */
function userNamespacesAllowed(): boolean {
  const max = readOr('/proc/sys/user/max_user_namespaces', '1').trim();
  // Debian's older switch; absent on kernels without the patch
  const debian = readOr('/proc/sys/kernel/unprivileged_userns_clone', '1').trim();
  return max !== '0' && debian !== '0';
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * `spec` (the daemon as root would run it) turned into what an unprivileged
 * caller runs; `runDir` is the guest's private helper directory.
 */
export function sessionVirtiofsdSpec(
  spec: HelperSpec,
  features: VirtiofsdFeatures,
  field: string,
  runDir: string,
  index: number,
): HelperSpec {
  if (features.separateOptions) return { ...spec, argv: [...spec.argv, ...sessionIdMapArgs()] };
  const refuse = (why: string): never => {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${field}: ${spec.argv[0] ?? 'virtiofsd'} (the C daemon) cannot run as an unprivileged user here: ${why}`,
      { field: `${field}/driver/@type` },
    );
  };
  const unshare = UNSHARE.find((p) => existsSync(p)) ?? refuse('unshare (util-linux) is not installed');
  if (!userNamespacesAllowed()) refuse('this kernel does not allow unprivileged user namespaces');
  // the bind needs a mount point; only root can make one under /var/run
  if (!isDirectory(C_VIRTIOFSD_PID_DIR))
    refuse(`its pid-file directory ${C_VIRTIOFSD_PID_DIR} does not exist (root can create it)`);
  // the daemon drops supplementary groups at start, which a user namespace set up without
  // newgidmap (setgroups denied) refuses: it would exit at once
  const groups = (process.getgroups?.() ?? []).filter((g) => g !== process.getegid?.());
  if (groups.length > 0)
    refuse(
      `it drops supplementary groups, which an unprivileged user namespace forbids, and this user has ${groups.length} (${groups.join(', ')})`,
    );
  const pidDir = join(runDir, `fs${index}-virtiofsd-run`);
  // the daemon names its pid file after the socket path, '/' replaced by '.'
  const pidFile = join(pidDir, `${spec.socket.replaceAll('/', '.')}.pid`);
  return {
    ...spec,
    argv: [
      unshare,
      '--user',
      '--map-root-user',
      '--mount',
      '--',
      '/bin/sh',
      '-c',
      // paths arrive as arguments, never inside the script; exec keeps the pid the daemon's
      `mount --bind "$0" ${C_VIRTIOFSD_PID_DIR} && exec "$@"`,
      pidDir,
      ...spec.argv,
    ],
    runtimeFiles: [...spec.runtimeFiles, pidFile],
  };
}

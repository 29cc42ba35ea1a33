/**
 * `qemu-bridge-helper`, the way an unprivileged libvirt (session mode)
 * joins a guest to a host bridge: the setuid helper creates a tap, checks
 * the bridge against its ACL (`/etc/qemu/bridge.conf`), enslaves the tap
 * and passes its descriptor back over a unix socket (`--fd=N`), which libvirt
 * hands to QEMU as `-netdev tap,fd=`.
 *
 * The helper is found as libvirt finds it: qemu.conf's `bridge_helper`
 * (here the `bridgeHelper` helper binary; a name or an absolute path,
 * default `qemu-bridge-helper`), looked up on PATH and then in
 * `/usr/libexec/qemu`, `/usr/libexec`, `/usr/lib/qemu`, `/usr/lib`.
 *
 * virtkit cannot take that descriptor (receiving one needs `recvmsg` with
 * SCM_RIGHTS, which Node.js does not offer for a tap), so QEMU runs the
 * helper itself instead (`-netdev bridge,br=BR,helper=PATH`), which QEMU
 * documents for exactly this. What would make the helper fail is refused
 * first, in the order it would fail: no helper, a helper that is not setuid
 * root (it could not create the tap), an ACL that does not allow the bridge.
 * Only the unprivileged runtime path does this: as root the driver makes the
 * tap itself (bridge-taps.ts), and the domainxml conformance keeps libvirt's
 * tap descriptor argv.
 *
 * @module
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { VirError } from '../../../errors.js';

export const BRIDGE_HELPER_DIRS = ['/usr/libexec/qemu', '/usr/libexec', '/usr/lib/qemu', '/usr/lib'];
export const BRIDGE_ACL_FILE = '/etc/qemu/bridge.conf';

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** The helper's path for `name` (qemu.conf's `bridge_helper`), or undefined. */
export function findBridgeHelper(
  name = 'qemu-bridge-helper',
  env: NodeJS.ProcessEnv = process.env,
  dirs: readonly string[] = BRIDGE_HELPER_DIRS,
): string | undefined {
  if (name.startsWith('/')) return executable(name) ? name : undefined;
  if (name.includes('/')) return undefined;
  const path = (env.PATH ?? '').split(delimiter).filter((d) => d.startsWith('/'));
  for (const dir of [...path, ...dirs]) if (executable(join(dir, name))) return join(dir, name);
  return undefined;
}

/** True when the file is owned by root with the setuid bit: it can create taps for any user. */
export function isSetuidRoot(path: string): boolean {
  try {
    const st = statSync(path);
    return st.uid === 0 && (st.mode & 0o4000) !== 0;
  } catch {
    return false;
  }
}

/**
 * Whether the helper's ACL allows `bridge`: lines `allow NAME`, `deny NAME`,
 * `allow all`, `deny all` and `include FILE`, `#` comments. As the helper
 * reads them, a deny wins over an allow; nothing allowed is denied.
 */
export function bridgeAclAllows(bridge: string, file = BRIDGE_ACL_FILE, depth = 0): boolean | 'unreadable' {
  const allow = new Set<string>();
  const deny = new Set<string>();
  const read = (path: string, level: number): boolean => {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch {
      return false;
    }
    for (const raw of text.split('\n')) {
      const line = raw.replace(/#.*/, '').trim();
      const [cmd, arg] = line.split(/\s+/, 2);
      if (!cmd || !arg) continue;
      if (cmd === 'allow') allow.add(arg);
      else if (cmd === 'deny') deny.add(arg);
      // the helper follows includes; a loop is cut short rather than followed for ever
      else if (cmd === 'include' && level < 8) read(arg, level + 1);
    }
    return true;
  };
  if (!read(file, depth)) return 'unreadable';
  if (deny.has('all') || deny.has(bridge)) return false;
  return allow.has('all') || allow.has(bridge);
}

/**
 * The qemu-bridge-helper QEMU runs itself to join `bridge` (for interface
 * `field`) as an unprivileged user (`-netdev bridge,br=,helper=`): checked
 * in the order the helper would fail, each refusal naming the interface. An
 * ACL this user cannot read is left to the helper to judge (QEMU then fails
 * the start with the helper's message).
 */
export function unprivilegedBridgeHelper(
  bridge: string,
  field: string,
  opts: { helper?: string; aclFile?: string } = {},
): string {
  const name = opts.helper ?? 'qemu-bridge-helper';
  const fail = (why: string): never => {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${field}: joining bridge '${bridge}' as an unprivileged user: ${why}`,
      { field: `${field}/@type` },
    );
  };
  const helper = findBridgeHelper(name);
  if (helper === undefined)
    return fail(
      `${name} is not installed (looked on PATH and in ${BRIDGE_HELPER_DIRS.join(', ')}; Debian ships it in qemu-system-common)`,
    );
  if (!isSetuidRoot(helper))
    return fail(`${helper} is not setuid root, so it cannot create a tap for this user (chmod u+s as root)`);
  const acl = opts.aclFile ?? BRIDGE_ACL_FILE;
  // the ACL is often readable by the setuid helper only (root:qemu 0640): then it is not judged here
  if (bridgeAclAllows(bridge, acl) === false)
    return fail(`${acl} does not allow bridge '${bridge}' (add 'allow ${bridge}')`);
  return helper;
}

/**
 * passt, the user-mode network behind `<interface type='user'><backend
 * type='passt'/>`: one process per interface, listening on a UNIX stream
 * socket QEMU's `-netdev stream` connects to, and ending when QEMU hangs up
 * (`--one-off`). Behind `<interface type='vhostuser'><backend type='passt'/>`
 * the same process speaks vhost-user on that socket (`--vhost-user`), which
 * only newer passt builds have: {@link passtHasVhostUser} asks.
 *
 * It runs in the foreground so the helper machinery owns its pid (libvirt
 * lets it daemonize and reads a pid file).
 *
 * Files: socket `<stateRoot>/qemu/helpers-<uuid>/net<N>-passt.sock`, log
 * `<logRoot>/qemu/<name>-net<N>-passt.log` unless the backend names its
 * own `logFile`.
 *
 * @module
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { InterfaceDef } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import type { HelperSpec } from './guest-helper.js';
import { MAX_SOCKET_PATH, type RunnerRoots } from './runner-command.js';
import { helperRunDir } from './swtpm.js';

export interface PasstFiles {
  readonly socket: string;
  readonly logFile: string;
}

/** The files of the passt serving interface `index` (0-based among the interfaces). */
export function passtFiles(
  roots: RunnerRoots,
  guest: { name: string; uuid: string },
  index: number,
): PasstFiles {
  const socket = join(helperRunDir(roots, guest.uuid), `net${index}-passt.sock`);
  if (Buffer.byteLength(socket) > MAX_SOCKET_PATH)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `passt socket path ${socket} is too long`, {
      field: 'stateDir',
    });
  return { socket, logFile: join(roots.logRoot, 'qemu', `${guest.name}-net${index}-passt.log`) };
}

/** passt's argv for interface `n` (at `field`): its socket, MTU, outbound interface and log. */
export function passtSpec(n: InterfaceDef, field: string, binary: string, files: PasstFiles): HelperSpec {
  // passt started as root drops to `nobody` before it binds, and nobody may not create the
  // socket in our private directory: it stays this process's user (it sandboxes itself in
  // its own user namespace either way)
  const runas = `${process.getuid?.() ?? 0}:${process.getgid?.() ?? 0}`;
  const argv = [binary, '--runas', runas, '--one-off', '--foreground', '--socket', files.socket];
  if (n.type === 'vhostuser') argv.push('--vhost-user');
  if (n.mtu?.size !== undefined) argv.push('--mtu', String(n.mtu.size));
  const dev = n.source?.dev;
  if (dev !== undefined) {
    if (dev === '' || dev.startsWith('-'))
      throw new VirError('XML_DETAIL', 'qemu', `'${dev}' is not a host interface name`, {
        field: `${field}/source/@dev`,
      });
    argv.push('--interface', dev);
  }
  argv.push(...addressArgs(n, field), ...portForwardArgs(n, field));
  const userLog = n.backend?.logFile;
  if (userLog !== undefined) {
    if (!userLog.startsWith('/'))
      throw new VirError('XML_DETAIL', 'qemu', 'the passt log file must be an absolute path', {
        field: `${field}/backend/@logFile`,
      });
    argv.push('--log-file', userLog);
  } else argv.push('--stderr');
  return { name: 'passt', argv, logFile: files.logFile, socket: files.socket, runtimeFiles: [files.socket] };
}

/**
 * Whether this passt has a vhost-user mode: its usage text lists
 * `--vhost-user` (older builds print usage to stderr and exit 1, so both
 * streams are read and the exit status is not).
 */
export function passtHasVhostUser(binary: string, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(
      binary,
      ['--help'],
      { timeout: 10_000, env: { PATH: '/usr/bin:/bin' }, ...(signal ? { signal } : {}) },
      (_err, stdout, stderr) => resolve(/--vhost-user\b/.test(`${stdout}${stderr}`)),
    );
  });
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*$/;
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

function detail(message: string, field: string): VirError {
  return new VirError('XML_DETAIL', 'qemu', message, { field });
}

/** The guest's addresses: one IPv4 (with its prefix as the netmask) and one IPv6, as passt can take them. */
function addressArgs(n: InterfaceDef, field: string): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (const [k, ip] of (n.ips ?? []).entries()) {
    const at = `${field}/ip[${k + 1}]`;
    const v4 = IPV4.test(ip.address);
    if (!v4 && !IPV6.test(ip.address)) throw detail(`'${ip.address}' is not an IP address`, `${at}/@address`);
    const family = v4 ? 'ipv4' : 'ipv6';
    if (ip.family !== undefined && ip.family !== family)
      throw detail(`'${ip.address}' is not an ${ip.family} address`, `${at}/@family`);
    if (seen.has(family))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `passt takes one ${family} address per interface`, {
        field: at,
      });
    seen.add(family);
    if (ip.peer !== undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'passt has no peer address', { field: `${at}/@peer` });
    if (!v4 && ip.prefix !== undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'passt takes no prefix for an IPv6 address', {
        field: `${at}/@prefix`,
      });
    if (v4 && ip.prefix !== undefined && ip.prefix > 32)
      throw detail(`prefix ${ip.prefix} is too long for IPv4`, `${at}/@prefix`);
    out.push('--address', ip.address);
    if (v4 && ip.prefix) out.push('--netmask', String(ip.prefix));
  }
  return out;
}

/**
 * `<portForward>` as passt's port specs: `[address][%dev]/` then the
 * ranges (`~` excludes; `start-end:to-end'` maps), or `all` without ranges.
 */
function portForwardArgs(n: InterfaceDef, field: string): string[] {
  const out: string[] = [];
  for (const [k, pf] of (n.portForwards ?? []).entries()) {
    const at = `${field}/portForward[${k + 1}]`;
    if (pf.address !== undefined && !IPV4.test(pf.address) && !IPV6.test(pf.address))
      throw detail(`'${pf.address}' is not an IP address`, `${at}/@address`);
    if (pf.dev !== undefined && !IFNAME.test(pf.dev))
      throw detail(`'${pf.dev}' is not a network interface name`, `${at}/@dev`);
    let spec = `${pf.address ?? ''}${pf.dev !== undefined ? `%${pf.dev}` : ''}`;
    if (spec !== '') spec += '/';
    const ranges = (pf.ranges ?? []).map((r, j) => {
      const rat = `${at}/range[${j + 1}]`;
      const ports = [r.start, r.end, r.to];
      if (ports.some((p) => p !== undefined && (p < 1 || p > 65535)))
        throw detail('a port must be between 1 and 65535', rat);
      if (r.end !== undefined && r.end < r.start)
        throw detail('a range must not end before it starts', `${rat}/@end`);
      if (r.exclude && r.to !== undefined)
        throw detail('an excluded range is not forwarded anywhere', `${rat}/@to`);
      let one = `${r.exclude ? '~' : ''}${r.start}${r.end !== undefined ? `-${r.end}` : ''}`;
      if (r.to !== undefined) {
        one += `:${r.to}`;
        if (r.end !== undefined) one += `-${r.end + r.to - r.start}`;
      }
      return one;
    });
    out.push(
      pf.proto === 'tcp' ? '--tcp-ports' : '--udp-ports',
      spec + (ranges.length ? ranges.join(',') : 'all'),
    );
  }
  return out;
}

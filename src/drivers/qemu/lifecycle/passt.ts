/**
 * passt, the user-mode network behind `<interface type='user'><backend
 * type='passt'/>`: one process per interface, listening on a UNIX stream
 * socket QEMU's `-netdev stream` connects to, and ending when QEMU hangs up
 * (`--one-off`).
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
  if (n.mtu?.size !== undefined) argv.push('--mtu', String(n.mtu.size));
  const dev = n.source?.dev;
  if (dev !== undefined) {
    if (dev === '' || dev.startsWith('-'))
      throw new VirError('XML_DETAIL', 'qemu', `'${dev}' is not a host interface name`, {
        field: `${field}/source/@dev`,
      });
    argv.push('--interface', dev);
  }
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

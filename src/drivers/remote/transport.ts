/**
 * The byte streams a remote connection runs over, chosen from the URI the
 * way libvirt's remote driver chooses them:
 *
 * - `+unix` (and no host): the daemon's unix socket, `/run/libvirt/libvirt-sock`
 *   (`libvirt-sock-ro` when read-only), or `?socket=`.
 * - `+tcp`: plain TCP to `host:16509`. Neither encrypted nor authenticated
 *   beyond what the daemon's `auth_tcp` asks: for trusted networks and tests only.
 * - `+tls` (or a host with no transport): TLS to `host:16514` with libvirt's
 *   certificate layout (`/etc/pki/CA/cacert.pem`, `/etc/pki/libvirt/clientcert.pem`,
 *   `/etc/pki/libvirt/private/clientkey.pem`, or `?pkipath=DIR`).
 * - `+ssh`: the `ssh` command, running `virt-ssh-helper` or `nc -U` on the
 *   far side (`?keyfile=`, `?no_verify=1`, `?netcat=`, `?proxy=auto|netcat|native`).
 * - `+ext`: any command speaking the protocol on its stdio (`?command=`).
 */
import { createConnection } from 'node:net';
import { VirError } from '../../errors.js';
import { type ConnectUri, uriParam } from '../../uri.js';
import {
  DEFAULT_TCP_PORT,
  hostPort,
  openSocket,
  requireHost,
  type Transport,
  type TransportOptions,
  unixSocketPath,
} from './transport-common.js';
import { openChild, sshArguments } from './transport-ssh.js';
import { openTls } from './transport-tls.js';

export {
  DEFAULT_SOCKET_DIR,
  DEFAULT_TCP_PORT,
  DEFAULT_TLS_PORT,
  isTruthyParam,
  REMOTE_URI_PARAMS,
  type Transport,
  type TransportOptions,
  unixSocketPath,
} from './transport-common.js';
export { daemonUri, helperFailure, shellQuote, sshArguments } from './transport-ssh.js';

export async function openTransport(uri: ConnectUri, opts: TransportOptions): Promise<Transport> {
  const transport = uri.transport ?? (uri.host ? 'tls' : 'unix');
  switch (transport) {
    case 'unix': {
      const path = unixSocketPath(uri, opts.readonly);
      return openSocket(() => createConnection({ path }), `unix socket ${path}`, opts.signal);
    }
    case 'tcp': {
      const host = requireHost(uri);
      const port = uri.port ?? DEFAULT_TCP_PORT;
      return openSocket(() => createConnection({ host, port }), `tcp ${hostPort(host, port)}`, opts.signal);
    }
    case 'tls':
      return openTls(uri, opts);
    case 'ssh':
      return openChild('ssh', sshArguments(uri, opts.readonly), `ssh ${uri.host ?? ''}`, opts.signal);
    case 'ext': {
      const command = uriParam(uri, 'command');
      if (!command)
        throw new VirError('INVALID_ARG', 'remote', `the ext transport needs ?command= in '${uri.uri}'`);
      return openChild(command, [], `command ${command}`, opts.signal);
    }
    default:
      throw new VirError(
        'NO_SUPPORT',
        'remote',
        `transport '${transport}' is not supported by virtkit; use ssh`,
      );
  }
}

import type { Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { VirError } from '../../errors.js';
import { type ConnectUri, uriParam } from '../../uri.js';

export const DEFAULT_SOCKET_DIR = '/run/libvirt';
export const DEFAULT_TCP_PORT = 16509;
export const DEFAULT_TLS_PORT = 16514;

/** Query parameters the remote driver consumes; the rest go to the daemon. */
export const REMOTE_URI_PARAMS: ReadonlySet<string> = new Set([
  'name',
  'command',
  'socket',
  'auth',
  'netcat',
  'keyfile',
  'sshauth',
  'known_hosts',
  'known_hosts_verify',
  'no_verify',
  'no_tty',
  'pkipath',
  'tls_priority',
  'mode',
  'proxy',
  'readonly',
]);

/** An open byte stream to a daemon, and how to tear it down completely. */
export interface Transport {
  readonly stream: Duplex;
  /** Human description for errors: `unix socket /run/libvirt/libvirt-sock`. */
  readonly peer: string;
  /** Resolves when the socket is closed or the helper process has exited. */
  readonly closed: Promise<void>;
  /** What the helper process said on stderr (ssh, ext), for error messages. */
  diagnostics(): string;
}

export interface TransportOptions {
  readonly readonly: boolean;
  readonly signal?: AbortSignal | undefined;
}

export function isTruthyParam(value: string | undefined): boolean {
  return (
    value !== undefined && value !== '0' && value.toLowerCase() !== 'false' && value.toLowerCase() !== 'no'
  );
}

/** The unix socket a URI designates on the daemon's host. */
export function unixSocketPath(uri: ConnectUri, readonly: boolean): string {
  const explicit = uriParam(uri, 'socket');
  if (explicit !== undefined && explicit !== '') return explicit;
  const name = readonly ? 'libvirt-sock-ro' : 'libvirt-sock';
  // a session daemon listens in the user's runtime directory, as libvirt's does
  if (uri.path === '/session' && typeof process.getuid === 'function' && process.getuid() !== 0) {
    const runtime = process.env.XDG_RUNTIME_DIR ?? join(homedir(), '.cache');
    return join(runtime, 'libvirt', 'libvirt-sock');
  }
  return `${DEFAULT_SOCKET_DIR}/${name}`;
}

export function requireHost(uri: ConnectUri): string {
  if (!uri.host)
    throw new VirError(
      'INVALID_ARG',
      'remote',
      `the ${uri.transport} transport needs a host in '${uri.uri}'`,
    );
  return uri.host;
}

export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Waits for a socket to connect; a refusal becomes `NO_CONNECT` naming the target. */
export function openSocket(
  create: () => Socket,
  peer: string,
  signal: AbortSignal | undefined,
  ready: 'connect' | 'secureConnect' = 'connect',
): Promise<Transport> {
  return new Promise<Transport>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new VirError('OPERATION_ABORTED', 'remote', `connecting to ${peer}: aborted`));
      return;
    }
    const socket = create();
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    const onAbort = () => {
      socket.destroy();
      reject(new VirError('OPERATION_ABORTED', 'remote', `connecting to ${peer}: aborted`));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(connectError(peer, err));
    });
    socket.once(ready, () => {
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      socket.setNoDelay?.(true);
      resolve({ stream: socket, peer, closed, diagnostics: () => '' });
    });
  });
}

export function connectError(peer: string, err: NodeJS.ErrnoException): VirError {
  const why =
    err.code === 'ENOENT'
      ? 'no such file or directory (is the daemon running?)'
      : err.code === 'ECONNREFUSED'
        ? 'connection refused (is the daemon running and listening?)'
        : err.code === 'EACCES'
          ? 'permission denied'
          : err.code === 'ENOTFOUND'
            ? 'host not found'
            : err.message;
  const code = err.code === 'ENOTFOUND' ? 'UNKNOWN_HOST' : 'NO_CONNECT';
  return new VirError(code, 'remote', `failed to connect to ${peer}: ${why}`, { cause: err });
}

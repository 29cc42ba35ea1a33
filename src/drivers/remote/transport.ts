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
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection, isIP, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
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

function requireHost(uri: ConnectUri): string {
  if (!uri.host)
    throw new VirError(
      'INVALID_ARG',
      'remote',
      `the ${uri.transport} transport needs a host in '${uri.uri}'`,
    );
  return uri.host;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Waits for a socket to connect; a refusal becomes `NO_CONNECT` naming the target. */
function openSocket(
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

function connectError(peer: string, err: NodeJS.ErrnoException): VirError {
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

async function openTls(uri: ConnectUri, opts: TransportOptions): Promise<Transport> {
  const host = requireHost(uri);
  const port = uri.port ?? DEFAULT_TLS_PORT;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const pki = uriParam(uri, 'pkipath');
  const caPath = pki ? join(pki, 'cacert.pem') : '/etc/pki/CA/cacert.pem';
  const certPath = pki
    ? join(pki, 'clientcert.pem')
    : root
      ? '/etc/pki/libvirt/clientcert.pem'
      : join(homedir(), '.pki/libvirt/clientcert.pem');
  const keyPath = pki
    ? join(pki, 'clientkey.pem')
    : root
      ? '/etc/pki/libvirt/private/clientkey.pem'
      : join(homedir(), '.pki/libvirt/clientkey.pem');
  let ca: Buffer;
  let cert: Buffer;
  let key: Buffer;
  try {
    ca = readFileSync(caPath);
    cert = readFileSync(certPath);
    key = readFileSync(keyPath);
  } catch (err) {
    throw new VirError('NO_CONNECT', 'remote', `cannot read TLS credentials: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const verify = !isTruthyParam(uriParam(uri, 'no_verify'));
  const peer = `tls ${hostPort(host, port)}`;
  const transport = await openSocket(
    // no SNI for an address: Node warns about it and libvirtd does not look at it
    () =>
      tlsConnect({
        host,
        port,
        ca,
        cert,
        key,
        rejectUnauthorized: verify,
        ...(isIP(host) ? {} : { servername: host }),
      }),
    peer,
    opts.signal,
    'secureConnect',
  );
  await tlsConfirmation(transport, opts.signal);
  return { ...transport, stream: new RecordPerWrite(transport.stream as Socket) };
}

/**
 * A TLS socket whose every write becomes its own TLS record. libvirtd reads
 * one packet at a time through gnutls and then waits for its socket to turn
 * readable again: when two packets share a record, the second sits decrypted
 * in gnutls's buffer and is never read, and its call hangs (seen with
 * libvirt 9.0). Node merges writes queued behind a pending one into a single
 * record, so this hands the socket one write at a time.
 */
class RecordPerWrite extends Duplex {
  readonly #socket: Socket;

  constructor(socket: Socket) {
    super();
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }

  override _read(): void {
    this.#socket.resume();
  }

  // no _writev: the stream machinery calls this once per write, each after the last completed
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.#socket.write(chunk, (err) => cb(err ?? null));
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#socket.end(cb);
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#socket.destroy();
    cb(err);
  }
}

/**
 * After the handshake, libvirtd checks our certificate (and address) and
 * sends one byte, 1, when it accepts them, before any RPC packet; when it
 * does not, it hangs up. Reads that byte and leaves the stream paused at
 * the first packet.
 */
function tlsConfirmation(transport: Transport, signal: AbortSignal | undefined): Promise<void> {
  const socket = transport.stream as Socket;
  const peer = transport.peer;
  return new Promise<void>((resolve, reject) => {
    const finish = (err?: VirError) => {
      socket.off('readable', onReadable);
      socket.off('close', onClose);
      socket.off('error', onError);
      signal?.removeEventListener('abort', onAbort);
      if (!err) {
        resolve();
        return;
      }
      socket.destroy();
      reject(err);
    };
    const refused = () =>
      new VirError(
        'AUTH_FAILED',
        'remote',
        `${peer}: the daemon did not accept our client certificate or address ` +
          '(check its CA, tls_allowed_dn_list and the certificate in the pkipath)',
      );
    const onReadable = () => {
      const byte = socket.read(1) as Buffer | null;
      if (byte === null) return;
      finish(byte[0] === 1 ? undefined : refused());
    };
    const onClose = () => finish(refused());
    const onError = (err: NodeJS.ErrnoException) =>
      finish(err.code === 'ECONNRESET' ? refused() : connectError(peer, err));
    const onAbort = () =>
      finish(new VirError('OPERATION_ABORTED', 'remote', `connecting to ${peer}: aborted`));
    socket.on('readable', onReadable);
    socket.once('close', onClose);
    socket.once('error', onError);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Quotes for a POSIX shell: the far side of ssh always runs one. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The daemon-side URI virt-ssh-helper should open (`qemu:///system`). */
export function daemonUri(uri: ConnectUri): string {
  const explicit = uriParam(uri, 'name');
  if (explicit !== undefined) return explicit;
  if (uri.driver === 'remote') return '';
  const query = uri.params
    .filter(([k]) => !REMOTE_URI_PARAMS.has(k))
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');
  return `${uri.driver}://${encodeURI(uri.path)}${query ? `?${query}` : ''}`;
}

/**
 * The argv of `ssh` for a URI, with the command run on the far side: the
 * same choice libvirt makes (virt-ssh-helper when there, else netcat on the
 * daemon's socket), written as a POSIX shell script.
 */
export function sshArguments(uri: ConnectUri, readonly: boolean): string[] {
  const host = requireHost(uri);
  // no terminal to prompt on: only key or agent authentication can work.
  const args = ['-T', '-e', 'none', '-o', 'BatchMode=yes'];
  if (uri.port !== undefined) args.push('-p', String(uri.port));
  if (uri.user !== undefined && uri.user !== '') args.push('-l', uri.user);
  const keyfile = uriParam(uri, 'keyfile');
  if (keyfile) args.push('-i', keyfile);
  if (isTruthyParam(uriParam(uri, 'no_verify'))) args.push('-o', 'StrictHostKeyChecking=no');
  const knownHosts = uriParam(uri, 'known_hosts');
  if (knownHosts) args.push('-o', `UserKnownHostsFile=${knownHosts}`);
  args.push('--', host, remoteCommand(uri, readonly));
  return args;
}

function remoteCommand(uri: ConnectUri, readonly: boolean): string {
  const netcatParam = uriParam(uri, 'netcat');
  const proxy = uriParam(uri, 'proxy') ?? (netcatParam ? 'netcat' : 'auto');
  const socketPath =
    uriParam(uri, 'socket') ?? `${DEFAULT_SOCKET_DIR}/${readonly ? 'libvirt-sock-ro' : 'libvirt-sock'}`;
  const nc = netcatParam || 'nc';
  // some netcats need -q 0 to exit when the daemon closes; detect it like libvirt does.
  const netcat =
    `if ${shellQuote(nc)} -q 2>&1 | grep 'requires an argument' >/dev/null 2>&1; then ARG=-q0; else ARG=; fi; ` +
    `${shellQuote(nc)} $ARG -U ${shellQuote(socketPath)}`;
  const helper = `virt-ssh-helper${readonly ? ' -r' : ''} ${shellQuote(daemonUri(uri))}`;
  let script: string;
  switch (proxy) {
    case 'netcat':
      script = netcat;
      break;
    case 'native':
      script = helper;
      break;
    case 'auto':
      script = `if command -v virt-ssh-helper >/dev/null 2>&1; then ${helper}; else ${netcat}; fi`;
      break;
    default:
      throw new VirError(
        'INVALID_ARG',
        'remote',
        `unknown proxy '${proxy}' (expected auto, netcat or native)`,
      );
  }
  return `sh -c ${shellQuote(script)}`;
}

/** A child process's stdio as one duplex stream; destroying it ends the child. */
class ChildStream extends Duplex {
  readonly #child: ChildProcess;

  constructor(child: ChildProcess) {
    super();
    this.#child = child;
    child.stdout?.on('data', (chunk: Buffer) => this.push(chunk));
    child.stdout?.on('end', () => this.push(null));
    child.stdin?.on('error', () => {});
  }

  override _read(): void {}

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const stdin = this.#child.stdin;
    if (!stdin || stdin.destroyed) {
      cb(new Error('helper process stdin is closed'));
      return;
    }
    stdin.write(chunk, (err) => cb(err ?? null));
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#child.stdin?.destroy();
    this.#child.stdout?.destroy();
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGTERM');
    cb(err);
  }
}

function openChild(command: string, args: string[], peer: string, signal?: AbortSignal): Promise<Transport> {
  return new Promise<Transport>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new VirError('OPERATION_ABORTED', 'remote', `starting ${peer}: aborted`));
      return;
    }
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (s: string) => {
      stderr = (stderr + s).slice(-4096);
    });
    const closed = new Promise<void>((done) => {
      if (child.exitCode !== null || child.signalCode !== null) done();
      else child.once('close', () => done());
    });
    const onAbort = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', onAbort, { once: true });
    void closed.then(() => signal?.removeEventListener('abort', onAbort));
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new VirError(
          'NO_CONNECT',
          'remote',
          err.code === 'ENOENT'
            ? `cannot run '${command}': not found in PATH`
            : `cannot run '${command}': ${err.message}`,
          { cause: err },
        ),
      );
    });
    child.once('spawn', () => {
      resolve({ stream: new ChildStream(child), peer, closed, diagnostics: () => stderr.trim() });
    });
  });
}

/**
 * Classifies what ssh printed when the connection failed: host key and
 * authentication problems are `AUTH_FAILED`, anything else `NO_CONNECT`.
 */
export function helperFailure(peer: string, stderr: string, fallback: VirError): VirError {
  if (stderr === '') return fallback;
  const lastLines = stderr.split('\n').slice(-3).join(' / ');
  if (
    /host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|no .* host key is known/i.test(
      stderr,
    )
  ) {
    return new VirError('AUTH_FAILED', 'remote', `${peer}: SSH host key verification failed: ${lastLines}`, {
      cause: fallback,
    });
  }
  if (/permission denied/i.test(stderr)) {
    return new VirError('AUTH_FAILED', 'remote', `${peer}: SSH authentication failed: ${lastLines}`, {
      cause: fallback,
    });
  }
  return new VirError('NO_CONNECT', 'remote', `${peer}: ${lastLines}`, { cause: fallback });
}

/**
 * `+ssh` and `+ext`: a child process speaking the protocol on its stdio,
 * for ssh with `virt-ssh-helper` or `nc -U` on the far side, quoted for
 * the remote shell.
 *
 * @module
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { Duplex } from 'node:stream';
import { VirError } from '../../errors.js';
import { type ConnectUri, uriParam } from '../../uri.js';
import {
  DEFAULT_SOCKET_DIR,
  isTruthyParam,
  REMOTE_URI_PARAMS,
  requireHost,
  type Transport,
} from './transport-common.js';

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

export function openChild(
  command: string,
  args: string[],
  peer: string,
  signal?: AbortSignal,
): Promise<Transport> {
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

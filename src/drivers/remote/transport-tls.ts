import { readFileSync } from 'node:fs';
import { isIP, type Socket } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { VirError } from '../../errors.js';
import { type ConnectUri, uriParam } from '../../uri.js';
import {
  connectError,
  DEFAULT_TLS_PORT,
  hostPort,
  isTruthyParam,
  openSocket,
  requireHost,
  type Transport,
  type TransportOptions,
} from './transport-common.js';

export async function openTls(uri: ConnectUri, opts: TransportOptions): Promise<Transport> {
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

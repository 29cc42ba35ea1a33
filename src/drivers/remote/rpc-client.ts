/**
 * A libvirt RPC client over one byte stream (unix socket, TCP, TLS or an ssh
 * child's stdio).
 *
 * Calls are multiplexed: each gets a serial and its own pending entry, so
 * any number can be in flight and replies may come back in any order.
 * Asynchronous messages (events) go to listeners; the keepalive program is
 * answered and, when started, used to detect a dead peer. When the stream
 * ends, for whatever reason, every pending call is rejected with one clear
 * error and no later call is attempted.
 */
import type { Buffer } from 'node:buffer';
import type { Duplex } from 'node:stream';
import { VirError } from '../../errors.js';
import { abortError, watchCall } from './call-limits.js';
import { PacketFramer } from './framer.js';
import {
  KEEPALIVE_PROGRAM,
  KEEPALIVE_PROTOCOL_VERSION,
  KeepaliveProcedure,
} from './gen/keepalive-protocol.js';
import { decVirNetMessageError } from './gen/virnet-protocol.js';
import { virErrorFromRemote } from './libvirt-errors.js';
import { decodePacket, encodePacket, MessageStatus, MessageType, type PacketHeader } from './packet.js';
import type { Procedure } from './procedure.js';
import type { XdrReader } from './xdr-reader.js';
import { encVoid, XdrWriter } from './xdr-writer.js';

/** An asynchronous message from the server (an event), body not yet decoded. */
export interface ServerMessage {
  readonly header: PacketHeader;
  readonly body: XdrReader;
}

export interface KeepaliveOptions {
  /** Seconds of silence from the server before we send a ping (libvirt's default: 5). */
  readonly interval: number;
  /** Unanswered pings before the connection is declared dead (libvirt's default: 5). */
  readonly count: number;
}

/** What a stream's handler gets: one STREAM packet, or the error that ended the connection. */
export type StreamHandler = (packet: { status: number; body: XdrReader } | VirError) => void;

interface Pending {
  readonly name: string;
  readonly decode: (r: XdrReader) => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (err: VirError) => void;
  readonly cleanup: () => void;
}

/** What a client is told beside its stream. */
export interface RpcClientOptions {
  /** Milliseconds a call waits for its complete reply unless it says otherwise; 0: no limit (default). */
  readonly callTimeout?: number;
}

export class RpcClient {
  readonly #stream: Duplex;
  readonly #framer = new PacketFramer();
  readonly #writer = new XdrWriter(4096);
  readonly #pending = new Map<number, Pending>();
  /** Serials of calls abandoned by their caller: their late replies are dropped. */
  readonly #abandoned = new Set<number>();
  readonly #listeners = new Set<(msg: ServerMessage) => void>();
  readonly #closeListeners = new Set<(err: VirError) => void>();
  /** The STREAM packets of open streams go to their handler, by the serial of the call that opened them. */
  readonly #streams = new Map<number, StreamHandler>();
  readonly #callTimeout: number;
  #serial = 0;
  #corked = false;
  #closed: VirError | null = null;
  #keepaliveTimer: NodeJS.Timeout | undefined;
  #heardSinceTick = false;
  #missed = 0;
  /** Describes the peer in errors, e.g. `unix socket /run/libvirt/libvirt-sock`. */
  readonly peer: string;

  constructor(stream: Duplex, peer: string, opts: RpcClientOptions = {}) {
    this.#stream = stream;
    this.peer = peer;
    this.#callTimeout = opts.callTimeout ?? 0;
    stream.on('data', (chunk: Buffer) => this.#onData(chunk));
    // a transport may hand the stream over paused (TLS, after its confirmation byte)
    stream.resume();
    stream.on('error', (err: Error) => {
      // a daemon that dies with our calls unread resets the connection rather than closing it
      const code = (err as NodeJS.ErrnoException).code;
      const what =
        code === 'ECONNRESET' || code === 'EPIPE'
          ? `closed by the server (${code})`
          : `failed: ${err.message}`;
      this.#shutdown(new VirError('RPC', 'rpc', `connection to ${peer} ${what}`, { cause: err }));
    });
    stream.on('close', () => {
      this.#shutdown(new VirError('RPC', 'rpc', `connection to ${peer} closed by the server`));
    });
    stream.on('end', () => {
      this.#shutdown(new VirError('RPC', 'rpc', `connection to ${peer} closed by the server`));
    });
  }

  get closed(): boolean {
    return this.#closed !== null;
  }

  /** Number of calls waiting for their reply. */
  get pendingCalls(): number {
    return this.#pending.size;
  }

  /**
   * Sends one call and resolves with its decoded reply. Rejects with the
   * daemon's error as a VirError, `OPERATION_ABORTED` when `signal` fires,
   * `OPERATION_TIMEOUT` when no complete reply came within `timeout` ms
   * (default: the client's `callTimeout`; 0: none), or `RPC` when the
   * connection ends first.
   */
  call<A, R>(proc: Procedure<A, R, unknown>, args: A, signal?: AbortSignal, timeout?: number): Promise<R> {
    return this.#call(proc, args, signal, this.#nextSerial(), timeout);
  }

  /**
   * A call that opens a stream (volume upload and download): `onPacket`
   * gets the daemon's STREAM packets of it from the moment it is sent, and
   * the error that ends the connection, if it ends first.
   */
  callStream<A, R>(
    proc: Procedure<A, R, unknown>,
    args: A,
    onPacket: StreamHandler,
    signal?: AbortSignal,
  ): { serial: number; reply: Promise<R> } {
    const serial = this.#nextSerial();
    this.#streams.set(serial, onPacket);
    const reply = this.#call(proc, args, signal, serial);
    reply.catch(() => this.#streams.delete(serial));
    return { serial, reply };
  }

  /** Sends one STREAM packet of an open stream: data (`CONTINUE`), its end (`OK`) or an abort (`ERROR`). */
  sendStream(
    proc: { readonly program: number; readonly version: number; readonly procedure: number },
    serial: number,
    status: number,
    data?: Uint8Array,
  ): void {
    if (this.#closed) throw this.#closed;
    const header = { prog: proc.program, vers: proc.version, proc: proc.procedure, serial, status };
    const frame = encodePacket(
      this.#writer,
      { ...header, type: MessageType.STREAM },
      (w, d: Uint8Array) => w.raw(d),
      data ?? new Uint8Array(0),
    );
    this.#send(frame);
  }

  /** Forgets a finished stream: later packets of it are dropped. */
  endStream(serial: number): void {
    this.#streams.delete(serial);
  }

  #call<A, R>(
    proc: Procedure<A, R, unknown>,
    args: A,
    signal: AbortSignal | undefined,
    serial: number,
    timeout?: number,
  ): Promise<R> {
    if (this.#closed) return Promise.reject(this.#closed);
    if (signal?.aborted) return Promise.reject(abortError(proc.name, signal));
    let frame: Buffer;
    try {
      frame = encodePacket(
        this.#writer,
        {
          prog: proc.program,
          vers: proc.version,
          proc: proc.procedure,
          type: MessageType.CALL,
          serial,
          status: MessageStatus.OK,
        },
        proc.encodeArgs,
        args,
      );
    } catch (err) {
      return Promise.reject(
        err instanceof VirError ? err : new VirError('INVALID_ARG', 'rpc', `${proc.name}: ${String(err)}`),
      );
    }
    return new Promise<R>((resolve, reject) => {
      const cleanup = watchCall({
        name: proc.name,
        peer: this.peer,
        signal,
        timeout: timeout ?? this.#callTimeout,
        giveUp: (err) => {
          // the call is given up, not the connection: its late reply is dropped
          if (this.#pending.delete(serial)) {
            this.#abandoned.add(serial);
            reject(err);
          }
        },
      });
      this.#pending.set(serial, {
        name: proc.name,
        decode: proc.decodeRet,
        resolve: resolve as (v: unknown) => void,
        reject,
        cleanup,
      });
      this.#send(frame);
    });
  }

  /**
   * Writes a frame; frames written in the same tick leave in one writev, so
   * a burst of concurrent calls costs one system call, not one each.
   */
  #send(frame: Buffer): void {
    if (!this.#corked) {
      this.#corked = true;
      this.#stream.cork();
      process.nextTick(() => {
        this.#corked = false;
        this.#stream.uncork();
      });
    }
    this.#stream.write(frame);
  }

  /** Listens to asynchronous messages (events) of any program but keepalive. */
  onMessage(listener: (msg: ServerMessage) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Called once when the connection ends, with the reason. */
  onClose(listener: (err: VirError) => void): () => void {
    this.#closeListeners.add(listener);
    return () => this.#closeListeners.delete(listener);
  }

  /**
   * Starts pinging a silent server the way libvirt's client does: after
   * `interval` seconds without traffic send a PING; after `count` unanswered
   * ones, declare the peer dead and fail every pending call.
   */
  startKeepalive(opts: KeepaliveOptions): void {
    this.stopKeepalive();
    if (this.#closed || opts.interval <= 0) return;
    const timer = setInterval(() => this.#keepaliveTick(opts), opts.interval * 1000);
    // an idle connection must not keep the process alive by itself.
    timer.unref();
    this.#keepaliveTimer = timer;
  }

  stopKeepalive(): void {
    if (this.#keepaliveTimer) clearInterval(this.#keepaliveTimer);
    this.#keepaliveTimer = undefined;
  }

  /** Closes the stream; pending calls fail with `reason`. */
  close(reason = 'connection closed by the client'): void {
    this.#shutdown(new VirError('RPC', 'rpc', `${reason} (${this.peer})`));
  }

  #keepaliveTick(opts: KeepaliveOptions): void {
    if (this.#heardSinceTick) {
      this.#heardSinceTick = false;
      this.#missed = 0;
      return;
    }
    if (this.#missed >= opts.count) {
      this.#shutdown(
        new VirError(
          'RPC',
          'rpc',
          `connection to ${this.peer} closed: no keepalive response after ${opts.count} pings ` +
            `(${opts.interval * (opts.count + 1)} s of silence)`,
        ),
      );
      return;
    }
    this.#missed++;
    this.#sendKeepalive(KeepaliveProcedure.KEEPALIVE_PROC_PING);
  }

  #sendKeepalive(procedure: number): void {
    if (this.#closed) return;
    const frame = encodePacket(
      this.#writer,
      {
        prog: KEEPALIVE_PROGRAM,
        vers: KEEPALIVE_PROTOCOL_VERSION,
        proc: procedure,
        type: MessageType.MESSAGE,
        serial: 0,
        status: MessageStatus.OK,
      },
      encVoid,
      undefined,
    );
    this.#send(frame);
  }

  #nextSerial(): number {
    this.#serial = (this.#serial + 1) >>> 0;
    if (this.#serial === 0) this.#serial = 1;
    return this.#serial;
  }

  #onData(chunk: Buffer): void {
    if (this.#closed) return;
    this.#heardSinceTick = true;
    try {
      this.#framer.push(chunk, (frame) => this.#onPacket(frame));
    } catch (err) {
      this.#shutdown(
        err instanceof VirError
          ? new VirError(err.code, 'rpc', `${err.message} (from ${this.peer})`, { cause: err })
          : new VirError('RPC', 'rpc', `bad packet from ${this.peer}: ${String(err)}`, { cause: err }),
      );
    }
  }

  #onPacket(frame: Buffer): void {
    const { header, body } = decodePacket(frame);
    if (header.prog === KEEPALIVE_PROGRAM) {
      if (header.proc === KeepaliveProcedure.KEEPALIVE_PROC_PING) {
        this.#sendKeepalive(KeepaliveProcedure.KEEPALIVE_PROC_PONG);
      }
      return;
    }
    switch (header.type) {
      case MessageType.REPLY:
      case MessageType.REPLY_WITH_FDS:
        this.#onReply(header, body);
        return;
      case MessageType.MESSAGE:
        for (const l of this.#listeners) {
          // a throwing listener must not take the connection down with it.
          try {
            l({ header, body });
          } catch {}
        }
        return;
      case MessageType.STREAM:
        this.#streams.get(header.serial)?.({ status: header.status, body });
        return;
      default:
        // holes of sparse streams are not asked for: nothing sends them.
        return;
    }
  }

  #onReply(header: PacketHeader, body: XdrReader): void {
    const pending = this.#pending.get(header.serial);
    if (!pending) {
      if (this.#abandoned.delete(header.serial)) return;
      throw new VirError(
        'RPC',
        'rpc',
        `reply with unexpected serial ${header.serial} (procedure ${header.proc})`,
      );
    }
    this.#pending.delete(header.serial);
    pending.cleanup();
    if (header.status === MessageStatus.OK) {
      let value: unknown;
      try {
        value = pending.decode(body);
      } catch (err) {
        pending.reject(
          new VirError('RPC', 'rpc', `${pending.name}: cannot decode reply: ${errMessage(err)}`, {
            cause: err,
          }),
        );
        return;
      }
      pending.resolve(value);
    } else if (header.status === MessageStatus.ERROR) {
      let error: VirError;
      try {
        error = virErrorFromRemote(decVirNetMessageError(body), pending.name);
      } catch (err) {
        error = new VirError('RPC', 'rpc', `${pending.name}: cannot decode error reply: ${errMessage(err)}`);
      }
      pending.reject(error);
    } else {
      pending.reject(new VirError('RPC', 'rpc', `${pending.name}: unexpected reply status ${header.status}`));
    }
  }

  #shutdown(reason: VirError): void {
    if (this.#closed) return;
    this.#closed = reason;
    this.stopKeepalive();
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#abandoned.clear();
    for (const p of pending) {
      p.cleanup();
      p.reject(new VirError(reason.code, 'rpc', `${p.name}: ${reason.message}`, { cause: reason }));
    }
    this.#stream.destroy();
    for (const h of [...this.#streams.values()]) h(reason);
    this.#streams.clear();
    for (const l of this.#closeListeners) l(reason);
    this.#closeListeners.clear();
    this.#listeners.clear();
  }
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A QMP (QEMU Machine Protocol) client over any connected byte stream.
 *
 * QMP is one JSON object per line in both directions: a greeting from QEMU,
 * a `qmp_capabilities` handshake from us, then commands tagged with our own
 * ids, their replies (in any order, matched by id) and asynchronous events
 * interleaved with them. The client owns the stream: when it ends for any
 * reason every pending command is rejected with a {@link QmpError} saying why,
 * and event iterators finish.
 *
 * @module
 */
import { createConnection, type Socket } from 'node:net';
import { QmpError } from './qmp-error.js';

/** What QEMU says about itself when a client connects. */
export interface QmpGreeting {
  /** QEMU's version and package string. */
  version: {
    /** QEMU's version. */
    qemu: {
      /** Major version. */
      major: number;
      /** Minor version. */
      minor: number;
      /** Micro (patch) version. */
      micro: number;
    };
    /** The package string (the distribution's build). */
    package: string;
  };
  /** QMP capabilities the server offers (`oob`, ...). */
  capabilities: string[];
}

/** An asynchronous event (`STOP`, `SHUTDOWN`, `RESET`, ...). */
export interface QmpEvent {
  /** The event's name. */
  event: string;
  /** The event's arguments; empty when it has none. */
  data: Record<string, unknown>;
  /** Seconds and microseconds since the epoch, as QEMU stamps it. */
  timestamp: {
    /** Whole seconds. */
    seconds: number;
    /** Microseconds within the second. */
    microseconds: number;
  };
}

/** Per-command options of `QmpClient.execute`. */
export interface QmpCommandOptions {
  /** Stops waiting for the reply (QEMU may still run the command). */
  signal?: AbortSignal;
  /** Milliseconds to wait for the reply; default the client's `commandTimeoutMs`. 0 waits forever. */
  timeoutMs?: number;
}

/** Limits for a QMP session. */
export interface QmpOpenOptions {
  /** Aborts the handshake. */
  signal?: AbortSignal;
  /** Milliseconds to wait for the greeting and handshake. Default 10 s. */
  greetingTimeoutMs?: number;
  /** Default per-command timeout in milliseconds. Default 30 s; 0 waits forever. */
  commandTimeoutMs?: number;
  /** Largest single message accepted, in bytes. Default 64 MiB (a full QMP schema is ~2 MB). */
  maxMessageBytes?: number;
}

/** How `QmpClient.connect` reaches a monitor socket. */
export interface QmpConnectOptions extends QmpOpenOptions {
  /**
   * Keep retrying while the socket does not exist yet or refuses connections
   * (QEMU still starting), for at most this many milliseconds. Default 0.
   */
  retryForMs?: number;
}

interface Pending {
  command: string;
  resolve(value: unknown): void;
  reject(err: QmpError): void;
  cleanup(): void;
}

interface EventWaiter {
  push(ev: QmpEvent): void;
  end(): void;
}

const DEFAULT_GREETING_MS = 10_000;
const DEFAULT_COMMAND_MS = 30_000;
const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;

/**
 * A client for QEMU's monitor protocol: the greeting and capability handshake, commands with
 * timeouts and abort, and events as a stream.
 */
export class QmpClient {
  readonly #socket: Socket;
  readonly #pending = new Map<string, Pending>();
  readonly #listeners = new Set<(ev: QmpEvent) => void>();
  readonly #iterators = new Set<EventWaiter>();
  readonly #commandTimeoutMs: number;
  readonly #maxMessage: number;
  #chunks: string[] = [];
  #bufferedBytes = 0;
  #nextId = 1;
  #closedWith: QmpError | undefined;
  #greetingWaiter: ((greeting: unknown, err?: QmpError) => void) | undefined;
  #greeting: QmpGreeting | undefined;
  readonly #closed: Promise<QmpError>;
  #resolveClosed!: (err: QmpError) => void;

  private constructor(socket: Socket, options: QmpOpenOptions) {
    this.#socket = socket;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? DEFAULT_COMMAND_MS;
    this.#maxMessage = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE;
    this.#closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    // 'close' always follows 'error'; the reason is settled there, with the error as its cause.
    let socketError: Error | undefined;
    socket.on('error', (err) => {
      socketError = err;
    });
    socket.on('close', () => {
      const midReply = this.#bufferedBytes > 0;
      const what = midReply
        ? 'QMP connection closed in the middle of a reply'
        : 'QMP connection closed by QEMU';
      this.#shutdown(
        new QmpError('closed', socketError ? `${what} (${socketError.message})` : what, {
          cause: socketError,
        }),
      );
    });
  }

  /**
   * Wraps an already connected stream: waits for the greeting, negotiates
   * capabilities and returns a ready client. On any failure the stream is
   * destroyed before the error is thrown.
   */
  static async open(socket: Socket, options: QmpOpenOptions = {}): Promise<QmpClient> {
    const client = new QmpClient(socket, options);
    try {
      await client.#handshake(options);
      return client;
    } catch (err) {
      client.#shutdown(err instanceof QmpError ? err : new QmpError('greeting', String(err), { cause: err }));
      throw err;
    }
  }

  /** Connects to a QMP unix socket (QEMU's `-qmp unix:PATH,server=on`), then {@link open}s it. */
  static async connect(path: string, options: QmpConnectOptions = {}): Promise<QmpClient> {
    const deadline = Date.now() + (options.retryForMs ?? 0);
    for (;;) {
      if (options.signal?.aborted)
        throw new QmpError('aborted', 'QMP connect aborted', { cause: options.signal.reason });
      try {
        const socket = await connectUnix(path, options.signal);
        return await QmpClient.open(socket, options);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        const retriable = code === 'ENOENT' || code === 'ECONNREFUSED';
        if (!retriable || Date.now() >= deadline) {
          if (err instanceof QmpError) throw err;
          throw new QmpError('connect', `cannot connect to QMP socket ${path}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        await delay(20, options.signal);
      }
    }
  }

  /** The greeting QEMU sent. */
  get greeting(): QmpGreeting {
    // open() only returns after the greeting arrived.
    return this.#greeting as QmpGreeting;
  }

  /** Whether the connection has ended. */
  get isClosed(): boolean {
    return this.#closedWith !== undefined;
  }

  /** Settles (never rejects) with the reason once the connection has ended. */
  get closed(): Promise<QmpError> {
    return this.#closed;
  }

  /**
   * Runs one command and resolves with its `return` value. Rejects with a
   * {@link QmpError}: `command` (QEMU's own error, with its class), `closed`,
   * `malformed`, `timeout` or `aborted`. A reply that arrives after a timeout
   * or abort is dropped.
   */
  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    options: QmpCommandOptions = {},
  ): Promise<T> {
    if (this.#closedWith) return Promise.reject(this.#closedWith);
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(
        new QmpError('aborted', `QMP command '${command}' aborted`, { command, cause: signal.reason }),
      );
    }
    const id = `vk-${this.#nextId++}`;
    const message = args === undefined ? { execute: command, id } : { execute: command, arguments: args, id };
    let line: string;
    try {
      line = `${JSON.stringify(message)}\n`;
    } catch (err) {
      return Promise.reject(
        new QmpError('malformed', `QMP command '${command}' has arguments that are not JSON`, {
          command,
          cause: err,
        }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const timeoutMs = options.timeoutMs ?? this.#commandTimeoutMs;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const onAbort = () => {
        settle();
        reject(
          new QmpError('aborted', `QMP command '${command}' aborted`, { command, cause: signal?.reason }),
        );
      };
      const settle = () => {
        this.#pending.delete(id);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      this.#pending.set(id, {
        command,
        resolve: (v) => {
          settle();
          resolve(v as T);
        },
        reject: (e) => {
          settle();
          reject(e);
        },
        cleanup: settle,
      });
      if (timeoutMs > 0) {
        timer = setTimeout(() => {
          settle();
          reject(
            new QmpError('timeout', `QMP command '${command}' got no reply within ${timeoutMs} ms`, {
              command,
            }),
          );
        }, timeoutMs);
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#socket.write(line);
    });
  }

  /** Calls `listener` synchronously for every event; returns the unsubscribe function. */
  onEvent(listener: (ev: QmpEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Events from now on, as an async iterator that ends when the connection
   * closes or `signal` fires. Each iterator buffers for its own consumer.
   */
  events(options: { signal?: AbortSignal } = {}): AsyncIterableIterator<QmpEvent> {
    const queue: QmpEvent[] = [];
    let ended = this.#closedWith !== undefined || options.signal?.aborted === true;
    let wake: ((r: IteratorResult<QmpEvent>) => void) | undefined;
    const waiter: EventWaiter = {
      push(ev) {
        if (wake) {
          const w = wake;
          wake = undefined;
          w({ value: ev, done: false });
        } else queue.push(ev);
      },
      end: () => {
        ended = true;
        this.#iterators.delete(waiter);
        options.signal?.removeEventListener('abort', waiter.end);
        if (wake) {
          const w = wake;
          wake = undefined;
          w({ value: undefined, done: true });
        }
      },
    };
    if (!ended) {
      this.#iterators.add(waiter);
      options.signal?.addEventListener('abort', waiter.end, { once: true });
    }
    const iterator: AsyncIterableIterator<QmpEvent> = {
      next: () => {
        const ev = queue.shift();
        if (ev) return Promise.resolve({ value: ev, done: false });
        if (ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => {
          wake = resolve;
        });
      },
      return: () => {
        waiter.end();
        queue.length = 0;
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  /** Closes the connection; pending commands are rejected with `closed`. Idempotent. */
  async close(): Promise<void> {
    this.#shutdown(new QmpError('closed', 'QMP connection closed by the client'));
    await this.#closed;
  }

  async #handshake(options: QmpOpenOptions): Promise<void> {
    const timeoutMs = options.greetingTimeoutMs ?? DEFAULT_GREETING_MS;
    const greeting = await new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(
        () => done(undefined, new QmpError('timeout', `no QMP greeting within ${timeoutMs} ms`)),
        timeoutMs,
      );
      const onAbort = () =>
        done(undefined, new QmpError('aborted', 'QMP handshake aborted', { cause: options.signal?.reason }));
      const done = (value: unknown, err?: QmpError) => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#greetingWaiter = undefined;
        if (err) reject(err);
        else resolve(value);
      };
      if (options.signal?.aborted) return onAbort();
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (this.#closedWith) return done(undefined, this.#closedWith);
      this.#greetingWaiter = done;
    });
    const qmp = (greeting as { QMP?: unknown }).QMP as Partial<QmpGreeting> | undefined;
    if (typeof qmp !== 'object' || qmp === null || typeof qmp.version !== 'object') {
      throw new QmpError('greeting', 'peer did not send a QMP greeting');
    }
    this.#greeting = {
      version: qmp.version,
      capabilities: Array.isArray(qmp.capabilities) ? qmp.capabilities.map(String) : [],
    };
    const cmdOpts: QmpCommandOptions = { timeoutMs };
    if (options.signal) cmdOpts.signal = options.signal;
    await this.execute('qmp_capabilities', undefined, cmdOpts);
  }

  #onData(chunk: string): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf('\n', start);
      if (nl < 0) break;
      this.#chunks.push(chunk.slice(start, nl));
      const line = this.#chunks.join('');
      this.#chunks = [];
      this.#bufferedBytes = 0;
      start = nl + 1;
      if (line.trim() !== '') this.#onLine(line);
      if (this.#closedWith) return;
    }
    if (start < chunk.length) {
      const rest = chunk.slice(start);
      this.#chunks.push(rest);
      this.#bufferedBytes += rest.length;
      if (this.#bufferedBytes > this.#maxMessage) {
        this.#shutdown(new QmpError('malformed', `QMP message larger than ${this.#maxMessage} bytes`));
      }
    }
  }

  #onLine(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch (err) {
      this.#shutdown(new QmpError('malformed', `QMP peer sent invalid JSON: ${clip(line)}`, { cause: err }));
      return;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.#shutdown(
        new QmpError('malformed', `QMP peer sent a message that is not an object: ${clip(line)}`),
      );
      return;
    }
    const m = msg as Record<string, unknown>;
    if ('QMP' in m) {
      this.#greetingWaiter?.(m);
      return;
    }
    if (typeof m.event === 'string') {
      const ev: QmpEvent = {
        event: m.event,
        data: isRecord(m.data) ? m.data : {},
        timestamp: isRecord(m.timestamp)
          ? { seconds: Number(m.timestamp.seconds), microseconds: Number(m.timestamp.microseconds) }
          : { seconds: 0, microseconds: 0 },
      };
      for (const l of [...this.#listeners]) {
        try {
          l(ev);
        } catch {
          // A listener's bug must not kill the monitor connection.
        }
      }
      for (const it of [...this.#iterators]) it.push(ev);
      return;
    }
    const id = typeof m.id === 'string' ? m.id : undefined;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (!pending) {
      if ('return' in m || 'error' in m) return; // reply to a command we stopped waiting for
      this.#shutdown(new QmpError('malformed', `QMP peer sent an unknown message: ${clip(line)}`));
      return;
    }
    if ('return' in m) pending.resolve(m.return);
    else if (isRecord(m.error)) {
      const cls = typeof m.error.class === 'string' ? m.error.class : 'GenericError';
      const desc = typeof m.error.desc === 'string' ? m.error.desc : 'unknown error';
      pending.reject(
        new QmpError('command', `QMP command '${pending.command}' failed: ${desc}`, {
          command: pending.command,
          qmpClass: cls,
        }),
      );
    } else {
      pending.reject(
        new QmpError('malformed', `QMP reply to '${pending.command}' has neither return nor error`),
      );
    }
  }

  #shutdown(reason: QmpError): void {
    if (this.#closedWith) return;
    this.#closedWith = reason;
    this.#greetingWaiter?.(undefined, reason);
    for (const p of [...this.#pending.values()]) {
      p.reject(
        new QmpError(reason.reason, `QMP command '${p.command}' failed: ${reason.message}`, {
          command: p.command,
          cause: reason,
        }),
      );
    }
    this.#pending.clear();
    for (const it of [...this.#iterators]) it.end();
    this.#listeners.clear();
    this.#chunks = [];
    this.#socket.destroy();
    this.#resolveClosed(reason);
  }
}

function connectUnix(path: string, signal: AbortSignal | undefined): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ path });
    const onAbort = () => {
      socket.destroy();
      reject(new QmpError('aborted', 'QMP connect aborted', { cause: signal?.reason }));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    });
  });
}

function delay(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function clip(s: string): string {
  return s.length > 120 ? `${s.slice(0, 120)}...` : s;
}

/**
 * The guest agent's wire protocol, as libvirt speaks it to qemu-guest-agent:
 * one JSON object per line each way, over the unix socket QEMU listens on for
 * the `org.qemu.guest_agent.0` channel (virtkit connects; QEMU is the server).
 *
 * The agent keeps no session: a reply left over from a command that timed
 * out, or from an earlier client, may still be in the pipe. So after each
 * (re)connect and after any timeout, the next command is preceded by a
 * `guest-sync-delimited` with a fresh random id, itself preceded by a 0xFF
 * byte that resets the agent's JSON parser; the agent answers with 0xFF and
 * then the id, and everything before that is discarded. Commands go one at
 * a time, each with its own deadline.
 *
 * Command texts (which may hold a password) never appear in errors or logs.
 *
 * @module
 */
import { randomInt } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { throwIfAborted, VirError } from '../../../errors.js';

/** A reply line bigger than this is refused and the connection dropped (bounded memory). */
export const AGENT_MAX_REPLY_BYTES = 16 << 20;

const DELIMITER = 0xff;
const NEWLINE = 0x0a;

/** What one command waits for. */
export interface AgentSendOptions {
  /** Milliseconds for the sync and the reply together. */
  readonly timeout: number;
  readonly signal?: AbortSignal | undefined;
  /** The command's name, for errors (never its arguments). */
  readonly name: string;
  /**
   * For `guest-shutdown` and `guest-suspend-*`: a successful command gets no reply, so
   * resolve with `undefined` when the agent goes away (or `until` fires) instead.
   */
  readonly until?: Promise<void>;
}

export class AgentClient {
  readonly #path: string;
  #sock: Socket | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #wake: (() => void) | undefined;
  #closed = true;
  #synced = false;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(path: string) {
    this.#path = path;
  }

  /** Forgets the connection: the next command connects and syncs again. */
  reset(): void {
    this.#sock?.destroy();
    this.#sock = undefined;
    this.#closed = true;
    this.#synced = false;
    this.#buf = Buffer.alloc(0);
    this.#wake?.();
  }

  /** Sends one command line (a JSON object) and resolves to the reply line, after a sync when needed. */
  send(command: string, opts: AgentSendOptions): Promise<string | undefined> {
    const run = this.#queue.then(() => this.#send(command, opts));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #send(command: string, opts: AgentSendOptions): Promise<string | undefined> {
    const deadline = Date.now() + opts.timeout;
    try {
      if (!this.#sock || this.#closed) await this.#connect(opts);
      if (!this.#synced) await this.#sync(deadline, opts);
      this.#write(`${command}\n`);
      if (opts.until) return await this.#replyOrGone(deadline, opts);
      return await this.#reply(deadline, opts);
    } catch (err) {
      // whatever answer is still on its way must not be taken for the next command's
      this.#synced = false;
      throw err;
    }
  }

  async #connect(opts: AgentSendOptions): Promise<void> {
    this.reset();
    throwIfAborted(opts.signal, 'qemu');
    const sock = connect(this.#path);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', () => resolve());
      sock.once('error', (err) =>
        reject(
          new VirError('AGENT_UNRESPONSIVE', 'qemu', 'QEMU guest agent is not connected', { cause: err }),
        ),
      );
    });
    this.#sock = sock;
    this.#closed = false;
    sock.on('data', (chunk: Buffer) => {
      this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
      if (this.#buf.length > AGENT_MAX_REPLY_BYTES && this.#buf.indexOf(NEWLINE) < 0) this.reset();
      this.#wake?.();
    });
    const gone = () => {
      if (this.#sock !== sock) return;
      this.#closed = true;
      this.#synced = false;
      this.#wake?.();
    };
    sock.on('error', gone);
    sock.on('close', gone);
  }

  async #sync(deadline: number, opts: AgentSendOptions): Promise<void> {
    // a random id, so no stale answer to an earlier sync can pass for this one
    const id = randomInt(1, 2 ** 47);
    this.#write(Buffer.concat([Buffer.from([DELIMITER]), Buffer.from(syncLine(id))]));
    for (;;) {
      await this.#skipToDelimiter(deadline, opts, 'guest-sync-delimited');
      const line = await this.#line(deadline, opts, 'guest-sync-delimited');
      const reply = parseReply(line);
      if (reply && 'return' in reply && reply.return === id) break;
      // an error for the reset byte, or an old reply: keep looking for ours
    }
    this.#synced = true;
  }

  #write(data: string | Buffer): void {
    this.#sock?.write(data);
  }

  async #reply(deadline: number, opts: AgentSendOptions): Promise<string> {
    for (;;) {
      const line = await this.#line(deadline, opts, opts.name);
      if (line.trim() !== '') return line;
    }
  }

  /** The reply, or `undefined` once the agent hangs up or `until` fires (a shutdown under way). */
  async #replyOrGone(deadline: number, opts: AgentSendOptions): Promise<string | undefined> {
    let done = false;
    opts.until?.then(
      () => {
        done = true;
        this.#wake?.();
      },
      () => undefined,
    );
    for (;;) {
      const i = this.#buf.indexOf(NEWLINE);
      if (i >= 0) {
        const line = this.#take(i);
        if (line.trim() !== '') return line;
        continue;
      }
      if (this.#closed || done) return undefined;
      await this.#wait(deadline, opts, opts.name);
    }
  }

  async #skipToDelimiter(deadline: number, opts: AgentSendOptions, what: string): Promise<void> {
    for (;;) {
      const i = this.#buf.indexOf(DELIMITER);
      if (i >= 0) {
        this.#buf = this.#buf.subarray(i + 1);
        return;
      }
      this.#buf = Buffer.alloc(0);
      if (this.#closed) throw disconnected();
      await this.#wait(deadline, opts, what);
    }
  }

  async #line(deadline: number, opts: AgentSendOptions, what: string): Promise<string> {
    for (;;) {
      const i = this.#buf.indexOf(NEWLINE);
      if (i >= 0) return this.#take(i);
      if (this.#closed) throw disconnected();
      await this.#wait(deadline, opts, what);
    }
  }

  #take(i: number): string {
    const bytes = this.#buf.subarray(0, i);
    this.#buf = this.#buf.subarray(i + 1);
    // a delimiter byte may precede a line: it is never part of the JSON
    return Buffer.from(bytes.filter((b) => b !== DELIMITER)).toString('utf8');
  }

  #wait(deadline: number, opts: AgentSendOptions, what: string): Promise<void> {
    throwIfAborted(opts.signal, 'qemu');
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(timedOut(what, opts.timeout));
    return new Promise((resolve, reject) => {
      const finish = (err?: VirError) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.#wake = undefined;
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => {
        try {
          throwIfAborted(opts.signal, 'qemu');
        } catch (err) {
          finish(err as VirError);
        }
      };
      const timer = setTimeout(() => finish(timedOut(what, opts.timeout)), left);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.#wake = () => finish();
    });
  }
}

function syncLine(id: number): string {
  return `${JSON.stringify({ execute: 'guest-sync-delimited', arguments: { id } })}\n`;
}

/** A reply line as an object, or undefined when it is not one. */
export function parseReply(line: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(line);
    return typeof v === 'object' && v !== null && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function disconnected(): VirError {
  return new VirError('AGENT_UNRESPONSIVE', 'qemu', 'QEMU guest agent is not connected');
}

function timedOut(what: string, ms: number): VirError {
  return new VirError(
    'AGENT_COMMAND_TIMEOUT',
    'qemu',
    `Guest agent not available for now: no reply to ${what} within ${ms} ms`,
  );
}

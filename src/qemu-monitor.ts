/**
 * libvirt-qemu's escape hatch, typed: a QMP command (or an HMP line) sent
 * through the driver's own monitor connection (`virDomainQemuMonitorCommand`),
 * and what comes back. The facade checks the command here; what a driver
 * receives is always a {@link QemuMonitorRequest}.
 *
 * @module
 */
import { VirError } from './errors.js';

/** A QMP command as an object: `{ execute, arguments? }`, as QMP spells it. */
export interface QmpCommand {
  /** The command's name (`query-status`, `device_add`, ...). */
  readonly execute: string;
  /** Its arguments. */
  readonly arguments?: Readonly<Record<string, unknown>>;
}

/** What a driver is asked to send: a QMP command, or an HMP line through `human-monitor-command`. */
export type QemuMonitorRequest =
  | {
      /** A QMP command. */
      readonly kind: 'qmp';
      /** The command's name. */
      readonly execute: string;
      /** Its arguments. */
      readonly arguments?: Readonly<Record<string, unknown>>;
    }
  | {
      /** An HMP command line. */
      readonly kind: 'hmp';
      /** The line, as typed at QEMU's `(qemu)` prompt. */
      readonly commandLine: string;
    };

/**
 * QEMU's reply to a QMP command, as it sent it (without our `id`): `return`
 * when it ran, `error` when QEMU refused it. A QEMU-side error is a reply,
 * not a thrown error, as libvirt-qemu passes it through.
 */
export type QemuMonitorReply =
  | {
      /** The command's result. */
      readonly return: unknown;
    }
  | {
      /** QEMU's error. */
      readonly error: {
        /** QEMU's error class (`GenericError`, `CommandNotFound`, ...). */
        readonly class: string;
        /** Its description. */
        readonly desc: string;
      };
    };

/** Options of `Domain.qemuMonitorCommand`. */
export interface QemuMonitorCommandOptions {
  /** Stops waiting for the reply (QEMU may still run the command). */
  signal?: AbortSignal;
  /** `cmd` is an HMP line, sent through `human-monitor-command`; the result is its text. */
  hmp?: boolean;
  /** Milliseconds to wait for the reply; default the driver's QMP timeout. */
  timeout?: number;
}

/** Options of `Connection.qemuMonitorEvents`: which events of which domain. */
export interface QemuMonitorEventOptions {
  /** Ends the stream when aborted. */
  signal?: AbortSignal;
  /** Only this domain's events (a name, a UUID, or anything with `uuid`). */
  domain?:
    | {
        /** The domain's UUID. */
        readonly uuid: string;
      }
    | string;
  /**
   * Only events of this name: a string matches it exactly, ignoring case
   * (libvirt's `_NOCASE`); a RegExp is tested against it (libvirt's `_REGEX`).
   */
  event?: string | RegExp;
  /** Maximum buffered events before the oldest are dropped. Default 1024. */
  bufferSize?: number;
}

const COMMAND_NAME = /^[A-Za-z][A-Za-z0-9_-]{0,127}$/;

/**
 * The request a `qemuMonitorCommand(cmd, { hmp })` call makes: a QMP command
 * from its JSON text or object (only `execute` and `arguments`; ids belong
 * to the driver's monitor connection), or an HMP line. `INVALID_ARG` naming
 * the field at fault otherwise.
 */
export function monitorRequest(cmd: unknown, hmp: boolean): QemuMonitorRequest {
  if (hmp) {
    if (typeof cmd !== 'string' || cmd.trim() === '')
      throw invalid('cmd', 'an HMP command must be a non-empty string');
    if (cmd.length > 65536 || cmd.includes('\n'))
      throw invalid('cmd', 'an HMP command is one line of at most 64 KiB');
    return { kind: 'hmp', commandLine: cmd };
  }
  let obj: unknown = cmd;
  if (typeof cmd === 'string') {
    try {
      obj = JSON.parse(cmd);
    } catch (err) {
      throw invalid('cmd', `QMP command is not JSON: ${(err as Error).message}`);
    }
  }
  if (!obj || typeof obj !== 'object' || Array.isArray(obj))
    throw invalid('cmd', 'a QMP command must be an object { execute, arguments? }');
  const o = obj as Record<string, unknown>;
  for (const key of Object.keys(o)) {
    if (key !== 'execute' && key !== 'arguments')
      throw invalid(`cmd.${key}`, `a QMP command takes only 'execute' and 'arguments', not '${key}'`);
  }
  if (typeof o.execute !== 'string' || !COMMAND_NAME.test(o.execute))
    throw invalid('cmd.execute', `invalid QMP command name ${JSON.stringify(o.execute)}`);
  if (o.execute === 'qmp_capabilities')
    throw invalid('cmd.execute', 'qmp_capabilities belongs to the driver: the monitor is already negotiated');
  const args = o.arguments;
  if (args === undefined) return { kind: 'qmp', execute: o.execute };
  if (!args || typeof args !== 'object' || Array.isArray(args))
    throw invalid('cmd.arguments', 'QMP arguments must be an object');
  return { kind: 'qmp', execute: o.execute, arguments: args as Record<string, unknown> };
}

/** A passthrough's `timeout`: whole milliseconds from 1 to a day; `INVALID_ARG` naming `timeout` otherwise. */
export function monitorTimeout(timeout: unknown): number {
  if (typeof timeout !== 'number' || !Number.isSafeInteger(timeout) || timeout < 1 || timeout > 86_400_000)
    throw invalid('timeout', `invalid monitor command timeout ${String(timeout)} ms`);
  return timeout;
}

/** Whether a monitor event passes an event-name filter (see {@link QemuMonitorEventOptions.event}). */
export function eventNameMatches(name: string, filter: string | RegExp | undefined): boolean {
  if (filter === undefined) return true;
  if (typeof filter === 'string') return name.toLowerCase() === filter.toLowerCase();
  filter.lastIndex = 0;
  return filter.test(name);
}

function invalid(field: string, message: string): VirError {
  return new VirError('INVALID_ARG', 'domain', message, { field });
}

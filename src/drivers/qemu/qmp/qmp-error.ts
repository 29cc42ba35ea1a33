/**
 * Errors raised by the QMP client. They are VirErrors (domain `qmp`) with one
 * extra fact, `reason`, so callers can tell a QEMU-side command failure from a
 * dead monitor without parsing messages.
 *
 * @module
 */
import { VirError, type VirErrorCode } from '../../../errors.js';

/**
 * - `command`: QEMU answered the command with an error object.
 * - `closed`: the monitor connection ended before the reply came.
 * - `malformed`: the peer sent bytes that are not a QMP message.
 * - `timeout`: no reply (or greeting) within the allowed time.
 * - `aborted`: the caller's AbortSignal fired.
 * - `greeting`: the peer did not start like a QMP server.
 * - `connect`: the socket could not be opened.
 */
export type QmpErrorReason =
  | 'command'
  | 'closed'
  | 'malformed'
  | 'timeout'
  | 'aborted'
  | 'greeting'
  | 'connect';

const CODE_OF: Record<QmpErrorReason, VirErrorCode> = {
  command: 'OPERATION_FAILED',
  closed: 'OPERATION_FAILED',
  malformed: 'INTERNAL_ERROR',
  timeout: 'OPERATION_TIMEOUT',
  aborted: 'OPERATION_ABORTED',
  greeting: 'INTERNAL_ERROR',
  connect: 'OPERATION_FAILED',
};

export class QmpError extends VirError {
  /** Why the QMP call failed: a QEMU error, a timeout, a closed socket, ... */
  readonly reason: QmpErrorReason;
  /** The command that failed, when the error belongs to one. */
  readonly command: string | undefined;
  /** QEMU's error class (`GenericError`, `CommandNotFound`, ...) for `command` errors. */
  readonly qmpClass: string | undefined;

  constructor(
    reason: QmpErrorReason,
    message: string,
    details: { command?: string; qmpClass?: string; cause?: unknown } = {},
  ) {
    super(CODE_OF[reason], 'qmp', message, details.cause === undefined ? {} : { cause: details.cause });
    this.reason = reason;
    this.command = details.command;
    this.qmpClass = details.qmpClass;
  }
}

export function isQmpError(err: unknown, reason?: QmpErrorReason): err is QmpError {
  return err instanceof QmpError && (reason === undefined || err.reason === reason);
}

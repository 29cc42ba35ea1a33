/**
 * How long one RPC call may wait for its reply: the caller's `AbortSignal`
 * (`OPERATION_ABORTED`, or `OPERATION_TIMEOUT` for `AbortSignal.timeout`)
 * and a per-call deadline (`OPERATION_TIMEOUT`). Keepalive alone cannot
 * bound a call: a daemon that trickles one byte every 200 ms, or answers
 * pings but never the call, looks alive to it.
 */
import { whenAborted } from '../../abort-listeners.js';
import { VirError } from '../../errors.js';

/** The default of the `callTimeout` driver option, in milliseconds. */
export const DEFAULT_CALL_TIMEOUT = 120_000;

/** What bounds one call's wait. */
export interface CallLimits {
  /** The procedure's name, for the errors. */
  readonly name: string;
  /** The far end, for the timeout's message. */
  readonly peer: string;
  readonly signal: AbortSignal | undefined;
  /** Milliseconds until the call gives up; 0 or undefined: no deadline. */
  readonly timeout: number | undefined;
  /** Called at most once, with the error the call fails with. */
  readonly giveUp: (err: VirError) => void;
}

/** Starts watching a call; returns the function that stops (when its reply came). */
export function watchCall(limits: CallLimits): () => void {
  const { name, signal, timeout, giveUp } = limits;
  let done = false;
  const fail = (err: VirError) => {
    if (done) return;
    done = true;
    stop();
    giveUp(err);
  };
  const offAbort = signal ? whenAborted(signal, () => fail(abortError(name, signal))) : undefined;
  const timer =
    timeout !== undefined && timeout > 0
      ? setTimeout(
          () =>
            fail(
              new VirError(
                'OPERATION_TIMEOUT',
                'rpc',
                `${name}: no complete reply from ${limits.peer} within ${timeout} ms`,
              ),
            ),
          timeout,
        )
      : undefined;
  // a pending call must not keep the process alive by itself (the caller's await does)
  timer?.unref();
  function stop(): void {
    offAbort?.();
    if (timer) clearTimeout(timer);
  }
  return () => {
    done = true;
    stop();
  };
}

/** The error of a call whose signal fired: the signal's VirError, a timeout, or an abort. */
export function abortError(name: string, signal: AbortSignal): VirError {
  const reason: unknown = signal.reason;
  if (reason instanceof VirError) return reason;
  const timeout = typeof reason === 'object' && reason !== null && (reason as Error).name === 'TimeoutError';
  return new VirError(
    timeout ? 'OPERATION_TIMEOUT' : 'OPERATION_ABORTED',
    'rpc',
    `${name}: ${timeout ? 'timed out' : 'aborted'}`,
    { cause: reason },
  );
}

/** Checks a timeout option: a non-negative number of milliseconds (0: none). */
export function checkTimeout(value: unknown, field: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new VirError('INVALID_ARG', 'remote', `${field} must be a non-negative number of milliseconds`, {
      field,
    });
  }
  return value;
}

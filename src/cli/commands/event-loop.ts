/**
 * The waiting loop of `event` and the object event commands: print each
 * event's line until the first (or, with `--loop`, until `--timeout` or
 * Ctrl-C), then virsh's closing lines. As in virsh, the command succeeds
 * only when it received an event.
 *
 * @module
 */
import type { CommandContext } from '../command.js';

export interface EventLoop<E> {
  /** Whole seconds to wait at most; undefined waits until an event or Ctrl-C. */
  readonly timeout: number | undefined;
  /** `--loop`: go on after the first event. */
  readonly loop: boolean;
  /** The events, ended by `signal`. */
  stream(signal: AbortSignal): Promise<AsyncIterable<E>>;
  /** The line to print for an event, or undefined for one the command does not wait for. */
  line(e: E): string | undefined;
}

/** Runs the loop; true when at least one event was printed. */
export async function printEvents<E>(ctx: CommandContext, l: EventLoop<E>): Promise<boolean> {
  const stop = new AbortController();
  const onInterrupt = () => stop.abort('interrupt');
  ctx.signal.addEventListener('abort', onInterrupt, { once: true });
  const timer =
    l.timeout === undefined ? undefined : setTimeout(() => stop.abort('timeout'), l.timeout * 1000);
  let count = 0;
  try {
    for await (const e of await l.stream(stop.signal)) {
      const line = l.line(e);
      if (line === undefined) continue;
      ctx.out(line);
      count++;
      if (!l.loop) break;
    }
  } finally {
    if (timer) clearTimeout(timer);
    ctx.signal.removeEventListener('abort', onInterrupt);
  }
  if (stop.signal.reason === 'interrupt') ctx.out('event loop interrupted');
  else if (stop.signal.reason === 'timeout') ctx.out('event loop timed out');
  ctx.out(`events received: ${count}`);
  return count > 0;
}

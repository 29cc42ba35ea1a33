/**
 * A bounded wait for a promise that can be given up on: the runner's waits
 * for a process to go (SIGTERM, then SIGKILL) and for its monitor to open.
 *
 * @module
 */

/** Waits for `p`; 'timeout' after `ms` (0 = never), 'aborted' when the signal fires. */
export function raceTimeout(
  p: Promise<void>,
  ms: number,
  signal: AbortSignal | undefined,
): Promise<'done' | 'timeout' | 'aborted'> {
  if (signal?.aborted) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const timer = ms > 0 ? setTimeout(() => finish('timeout'), ms) : undefined;
    const onAbort = () => finish('aborted');
    signal?.addEventListener('abort', onAbort, { once: true });
    function finish(r: 'done' | 'timeout' | 'aborted') {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve(r);
    }
    void p.then(() => finish('done'));
  });
}

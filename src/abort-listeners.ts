/**
 * One `abort` listener per signal, however many calls wait on it.
 *
 * A program that hands the same `AbortSignal` to fifty concurrent calls
 * (or a connection whose every call also waits on its closing signal) would
 * otherwise add fifty listeners to it, and Node warns from the eleventh on
 * (`MaxListenersExceededWarning`). Here the first waiter adds the signal's
 * only listener, which fans out to the waiters of the moment; a waiter that
 * is done removes itself from the fan-out in O(1).
 *
 * @module
 */

const waiters = new WeakMap<AbortSignal, Set<() => void>>();

/**
 * Calls `fn` once when `signal` aborts (at once, in a microtask, if it
 * already has). Returns the function that stops waiting.
 */
export function whenAborted(signal: AbortSignal, fn: () => void): () => void {
  if (signal.aborted) {
    let live = true;
    queueMicrotask(() => {
      if (live) fn();
    });
    return () => {
      live = false;
    };
  }
  let set = waiters.get(signal);
  if (!set) {
    const fresh = new Set<() => void>();
    set = fresh;
    waiters.set(signal, fresh);
    signal.addEventListener(
      'abort',
      () => {
        waiters.delete(signal);
        for (const f of [...fresh]) {
          // one throwing waiter must not keep the others waiting
          try {
            f();
          } catch {}
        }
      },
      { once: true },
    );
  }
  const entry = () => fn();
  set.add(entry);
  const mine = set;
  return () => {
    mine.delete(entry);
  };
}

/**
 * The one way a test waits for something that happens on its own time (an
 * event delivered, a process gone, a file removed): poll a condition until
 * it holds, within a bound generous enough that a loaded CI host is slower,
 * never red, and fail with what was awaited and what was seen.
 *
 * A bound counted in tries (`for (let i = 0; i < 50 && !done; i++) sleep(20)`)
 * is a one-second budget that a busy two-core host exceeds; a bound in time
 * with a descriptive error is not a race, only a limit on a hang.
 */

/** What a truthy value of `T` can be. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>;

/** How a {@link waitFor} waits. */
export interface WaitOptions {
  /** What is awaited, for the error: 'the reboot event', 'the port files gone'. */
  what: string;
  /** The bound, in ms (default 20 s, within vitest's 30 s test timeout). */
  withinMs?: number;
  /** The pause between two looks, in ms (default 20). */
  everyMs?: number;
  /** What was seen, added to the error (a transcript, the events so far). */
  seen?: () => string;
}

/**
 * Waits until `probe` returns a truthy value and returns that value; throws
 * `no <what> within <ms> ms` (with {@link WaitOptions.seen}) after the bound.
 * The probe may be async; it is looked at once more at the bound, so a
 * condition that came while the last pause ran is not missed.
 */
export async function waitFor<T>(probe: () => T | Promise<T>, opts: WaitOptions): Promise<Truthy<T>> {
  const ms = opts.withinMs ?? 20_000;
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v as Truthy<T>;
    if (Date.now() >= end) {
      const seen = opts.seen ? `; seen: ${opts.seen()}` : '';
      throw new Error(`no ${opts.what} within ${ms} ms${seen}`);
    }
    await new Promise((r) => setTimeout(r, opts.everyMs ?? 20));
  }
}

/**
 * Waits until `list` (one a listener appends to, as events come) holds at
 * least `n` entries and returns it, for the caller to compare whole: an
 * entry delivered late is waited for, one that should not have come still
 * shows in the comparison (unless it comes after the `n`-th).
 */
export async function waitForLength<T>(
  list: readonly T[],
  n: number,
  opts: Partial<WaitOptions> = {},
): Promise<readonly T[]> {
  await waitFor(() => list.length >= n, {
    what: `${n} entries`,
    // events carry bigint statistics, which JSON.stringify refuses
    seen: () => JSON.stringify(list, (_k, v: unknown) => (typeof v === 'bigint' ? `${v}n` : v)),
    ...opts,
  });
  return list;
}

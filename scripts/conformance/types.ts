/** One case's outcome in the conformance report. */
export interface CaseResult {
  name: string;
  ok: boolean;
  /** Why it failed (or a note on a pass). */
  reason?: string;
}

/** Runs a case and turns any throw into a failed result with its message. */
export async function attempt(
  name: string,
  body: () => Promise<string | undefined> | string | undefined,
): Promise<CaseResult> {
  try {
    const problem = await body();
    return problem === undefined ? { name, ok: true } : { name, ok: false, reason: problem };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    const code = typeof e.code === 'string' ? `${e.code}: ` : '';
    return { name, ok: false, reason: `${code}${typeof e.message === 'string' ? e.message : String(err)}` };
  }
}

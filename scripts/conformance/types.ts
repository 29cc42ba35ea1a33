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

/**
 * libvirt's test comparison of formatted output with an expected file
 * (virTestCompareToFile): the file's backslash-newline pairs are joined, a
 * missing final newline of the output is supplied, then the two must be
 * byte for byte equal. Returns undefined when equal, else where they part.
 */
export function compareToFile(actual: string, fileText: string): string | undefined {
  const expected = fileText.replace(/\\\n/g, '');
  const got = actual.length > 0 && !actual.endsWith('\n') ? `${actual}\n` : actual;
  if (got === expected) return undefined;
  const a = got.split('\n');
  const e = expected.split('\n');
  for (let i = 0; i < Math.max(a.length, e.length); i++) {
    if (a[i] !== e[i]) {
      return `line ${i + 1}: ours ${JSON.stringify(a[i] ?? null)}, libvirt ${JSON.stringify(e[i] ?? null)}`;
    }
  }
  return 'differs';
}

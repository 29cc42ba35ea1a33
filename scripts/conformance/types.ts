import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** One case's outcome in the conformance report. */
export interface CaseResult {
  name: string;
  ok: boolean;
  /** Why it failed (or a note on a pass). */
  reason?: string;
}

/**
 * A fault in the conformance data itself (a case naming a file that is not
 * there, a field of the wrong type, a kind nobody knows), as opposed to a
 * fault of virtkit. It fails the case with the path at fault; it never
 * passes one, not even a case that expects an error.
 */
export class DataError extends Error {
  override readonly name = 'DataError';
}

/** Reads a file a case names, relative to `dir`; a missing one is a {@link DataError} naming `shown`. */
export function readDataFile(dir: string, rel: string, shown = rel): string {
  const path = join(dir, rel);
  if (!existsSync(path) || !statSync(path).isFile()) throw new DataError(`missing file ${shown}`);
  return readFileSync(path, 'utf8');
}

/** Reads `<dir>/cases.json` as a list of objects, or throws a {@link DataError} saying what is wrong. */
export function readCaseList(dir: string, shown: string): Array<Record<string, unknown>> {
  let list: unknown;
  try {
    list = JSON.parse(readDataFile(dir, 'cases.json', shown));
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError(`${shown} is not JSON: ${(err as Error).message}`);
  }
  if (!Array.isArray(list)) throw new DataError(`${shown} is not a list of cases`);
  for (const [i, c] of list.entries()) {
    if (typeof c !== 'object' || c === null || Array.isArray(c))
      throw new DataError(`${shown}[${i}] is not an object`);
  }
  return list as Array<Record<string, unknown>>;
}

/** A case's name, or where it sits in its file when it has none. */
export function caseName(c: Record<string, unknown>, index: number, shown: string): string {
  return typeof c.name === 'string' && c.name !== '' ? c.name : `${shown}[${index}]`;
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
    if (err instanceof DataError) return { name, ok: false, reason: `bad data: ${err.message}` };
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

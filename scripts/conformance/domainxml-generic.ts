/**
 * Family `domainxml/generic`: libvirt's genericxml2xml cases. Each valid
 * input is parsed with DomainDef, formatted (inactive when the case is not
 * `live`) and compared byte for byte with libvirt's expected output, and
 * the output is checked against our schema; each `parse-error` case must
 * be refused by the model as libvirt refuses it (see parseErrorProblem).
 *
 * libvirt's test harness fixes randomness and the host: new MACs come out
 * as 52:54:00:00:00:00 and the host arch is x86_64, so we pass the same.
 */
import { join } from 'node:path';
import { DomainDef } from '../../src/conf/domain/domain-def.js';
import { VirError } from '../../src/errors.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { validate } from '../../src/xml/validate.js';
import { attempt, type CaseResult, caseName, DataError, readCaseList, readDataFile } from './types.js';

interface DomainCase {
  name: string;
  family: string;
  expect: 'success' | 'parse-error';
  input: string;
  output?: string;
  live?: boolean;
}

export const HARNESS_OPTIONS = { defaultArch: 'x86_64', generateMac: () => '52:54:00:00:00:00' } as const;

/**
 * Why a parse-error case was refused, held against what libvirt refuses it
 * for: a rule of the domain model (a VirError of the model naming the line
 * or the field at fault), not a malformed document, a missing file or a
 * crash. When the case's name says what is missing (`...-missing-service`),
 * the error must be about that.
 */
export function parseErrorProblem(err: unknown, name: string): string | undefined {
  if (err instanceof DataError) throw err;
  if (!(err instanceof VirError)) return `expected a parse error of the model, got ${String(err)}`;
  const what = `${err.code} (${err.domain}): ${err.message}`;
  if (err.domain === 'xml') return `expected a parse error of the model, got an XML syntax error ${what}`;
  if (!MODEL_ERROR_CODES.has(err.code)) return `expected a parse error of the model, got ${what}`;
  if (err.line === undefined && !err.field?.startsWith('/domain')) {
    return `the parse error names neither a line nor a field: ${what}`;
  }
  const missing = /-missing-(?:[a-z]+-)*([a-z]+)$/.exec(name)?.[1];
  if (missing && !`${err.message} ${err.field ?? ''}`.toLowerCase().includes(missing)) {
    return `libvirt refuses it for a missing ${missing}; ours says: ${what}`;
  }
  return undefined;
}

/** The codes libvirt's domain parser fails with. */
const MODEL_ERROR_CODES = new Set<string>(['XML_ERROR', 'XML_DETAIL', 'CONFIG_UNSUPPORTED']);

export async function runCase(dir: string, c: DomainCase): Promise<string | undefined> {
  if (c.expect !== 'success' && c.expect !== 'parse-error') {
    throw new DataError(`${c.name}: unknown expect ${JSON.stringify(c.expect)}`);
  }
  if (typeof c.input !== 'string') throw new DataError(`${c.name}: no input file`);
  const input = readDataFile(dir, c.input, `domainxml/${c.input}`);
  if (c.expect === 'parse-error') {
    try {
      DomainDef.fromXML(input, HARNESS_OPTIONS);
    } catch (err) {
      return parseErrorProblem(err, c.name);
    }
    return 'parsed, but libvirt refuses this definition';
  }
  // A case that round-trips unchanged names its input as its output; none at all is bad data.
  if (typeof c.output !== 'string') throw new DataError(`${c.name}: a success case needs an output file`);
  const expected = readDataFile(dir, c.output, `domainxml/${c.output}`);
  const actual = DomainDef.fromXML(input, HARNESS_OPTIONS).toXML({ inactive: c.live === false });
  if (actual !== expected) {
    const diff = xmlDiff(expected, actual);
    return diff ? `output differs: ${diff}` : 'output differs in formatting only';
  }
  const v = await validate(actual, 'domain');
  if (!v.valid) return `schema: ${v.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`;
  return undefined;
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'domainxml');
  let cases: Array<Record<string, unknown>>;
  try {
    cases = readCaseList(dir, 'domainxml/cases.json');
  } catch (err) {
    return [{ name: 'domainxml/cases.json', ok: false, reason: `bad data: ${(err as Error).message}` }];
  }
  const out: CaseResult[] = [];
  for (const [i, entry] of cases.entries()) {
    // Entries of no known family are failed by the runner; this family runs its own.
    if (entry.family !== 'generic') continue;
    const name = caseName(entry, i, 'domainxml/cases.json');
    out.push(await attempt(name, () => runCase(dir, { ...(entry as unknown as DomainCase), name })));
  }
  return out;
}

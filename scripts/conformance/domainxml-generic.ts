/**
 * Family `domainxml/generic`: libvirt's genericxml2xml cases. Each valid
 * input is parsed with DomainDef, formatted (inactive when the case is not
 * `live`) and compared byte for byte with libvirt's expected output, and
 * the output is checked against our schema; each `parse-error` case must
 * be refused with a VirError.
 *
 * libvirt's test harness fixes randomness and the host: new MACs come out
 * as 52:54:00:00:00:00 and the host arch is x86_64, so we pass the same.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DomainDef } from '../../src/conf/domain/domain-def.js';
import { VirError } from '../../src/errors.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { validate } from '../../src/xml/validate.js';
import { attempt, type CaseResult } from './types.js';

interface DomainCase {
  name: string;
  family: string;
  expect: 'success' | 'parse-error';
  input: string;
  output?: string;
  live?: boolean;
}

export const HARNESS_OPTIONS = { defaultArch: 'x86_64', generateMac: () => '52:54:00:00:00:00' } as const;

export async function runCase(dir: string, c: DomainCase): Promise<string | undefined> {
  const input = readFileSync(join(dir, c.input), 'utf8');
  if (c.expect === 'parse-error') {
    try {
      DomainDef.fromXML(input, HARNESS_OPTIONS);
    } catch (err) {
      if (err instanceof VirError) return undefined;
      return `threw a non-VirError: ${String(err)}`;
    }
    return 'parsed, but libvirt refuses this definition';
  }
  const expected = readFileSync(join(dir, c.output ?? c.input), 'utf8');
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
  const cases = (JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as DomainCase[]).filter(
    (c) => c.family === 'generic',
  );
  const out: CaseResult[] = [];
  for (const c of cases) out.push(await attempt(c.name, () => runCase(dir, c)));
  return out;
}

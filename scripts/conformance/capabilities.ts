/**
 * Family `capabilities`: libvirt's expected host capabilities document is
 * parsed, formatted, validated against our schema and compared semantically
 * with the original.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Capabilities } from '../../src/conf/capabilities.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { validate } from '../../src/xml/validate.js';
import { attempt, type CaseResult } from './types.js';

interface CapsCase {
  name: string;
  expected: string;
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'capabilities');
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as CapsCase[];
  const out: CaseResult[] = [];
  for (const c of cases) {
    out.push(
      await attempt(c.name, async () => {
        const xml = readFileSync(join(dir, c.expected), 'utf8');
        const formatted = Capabilities.fromXML(xml).toXML();
        const diff = xmlDiff(xml, formatted);
        if (diff) return `round trip differs: ${diff}`;
        const v = await validate(formatted, 'capability');
        if (!v.valid) return `schema: ${v.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`;
        return undefined;
      }),
    );
  }
  return out;
}

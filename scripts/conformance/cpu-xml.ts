/**
 * Family `cpu-xml`: every CPU document under cpu/cases round-trips through
 * CpuDef (and CpuData for raw CPUID data) to a semantically equal document
 * that our schema accepts. `<cpuTest>` files hold several CPUs: each is a case.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpuDef } from '../../src/conf/cpu.js';
import { CpuData } from '../../src/conf/cpu-data.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { parseXml } from '../../src/xml/parse.js';
import { serializeXml } from '../../src/xml/serialize.js';
import { childElements } from '../../src/xml/tree.js';
import { validate } from '../../src/xml/validate.js';
import { attempt, type CaseResult } from './types.js';

async function checkCpu(xml: string): Promise<string | undefined> {
  const formatted = CpuDef.fromXML(xml).toXML();
  const diff = xmlDiff(xml, formatted);
  if (diff) return `round trip differs: ${diff}`;
  const v = await validate(formatted, 'cpu');
  if (!v.valid) return `schema: ${v.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`;
  return undefined;
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'cpu/cases');
  const out: CaseResult[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.xml')) continue;
    const text = readFileSync(join(dir, file), 'utf8');
    const root = parseXml(text);
    if (root.name === 'cpuTest') {
      const cpus = childElements(root, 'cpu');
      for (const [i, cpu] of cpus.entries()) {
        out.push(await attempt(`${file}#cpu[${i + 1}]`, () => checkCpu(serializeXml(cpu))));
      }
    } else if (root.name === 'cpudata') {
      out.push(
        await attempt(file, () => {
          const formatted = CpuData.fromXML(text).toXML();
          const diff = xmlDiff(text, formatted);
          return diff ? `round trip differs: ${diff}` : undefined;
        }),
      );
    } else {
      out.push(await attempt(file, () => checkCpu(text)));
    }
  }
  return out;
}

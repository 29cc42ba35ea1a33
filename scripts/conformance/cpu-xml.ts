/**
 * Family `cpu-xml`: every CPU document under cpu/cases round-trips through
 * CpuDef (and CpuData for raw CPUID data). `<cpuTest>` files hold several
 * CPUs: each is a case.
 *
 * How strictly depends on who wrote the file. A file that is libvirt's own
 * formatted output (the expected result of a cputest case) must come back
 * byte for byte, as libvirt's formatter wrote it. A hand-written input only
 * has to mean the same after libvirt's parser defaults are applied to it
 * (a `<topology>` without `dies`/`clusters` means 1 of each, which the
 * formatter then writes), and our output must be a fixed point: parsed and
 * formatted again it is unchanged byte for byte. Our schema must accept
 * every formatted CPU. Raw CPUID data (`<cpudata>`) comes back byte for byte.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpuDef } from '../../src/conf/cpu.js';
import { CpuData } from '../../src/conf/cpu-data.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { parseXml } from '../../src/xml/parse.js';
import { childElements, type XmlElement } from '../../src/xml/tree.js';
import { validate } from '../../src/xml/validate.js';
import { attempt, type CaseResult, compareToFile } from './types.js';

/** Case kinds whose `expected` file is a CPU formatted by libvirt (virCPUDefFormat). */
const FORMATTED_KINDS = new Set([
  'update',
  'baseline',
  'guest',
  'cpuid-host',
  'cpuid-guest',
  'cpuid-json',
  'cpuid-baseline',
  'update-live',
]);

/** The files under cases/ that libvirt's formatter wrote, named as in the directory. */
function libvirtOutputs(cpuDir: string): Set<string> {
  const out = new Set<string>();
  const list = JSON.parse(readFileSync(join(cpuDir, 'cases.json'), 'utf8')) as unknown;
  if (!Array.isArray(list)) return out;
  for (const c of list as Array<{ kind?: unknown; expected?: unknown }>) {
    if (typeof c.kind !== 'string' || !FORMATTED_KINDS.has(c.kind)) continue;
    if (typeof c.expected === 'string' && c.expected.startsWith('cases/')) {
      out.add(c.expected.slice('cases/'.length));
    }
  }
  return out;
}

/** A hand-written `<cpu>` with the values libvirt's parser fills in when they are left out. */
function withParserDefaults(el: XmlElement): XmlElement {
  const copy = structuredClone(el);
  for (const t of childElements(copy, 'topology')) {
    const names = new Set(t.attrs.map((a) => a.name));
    // the formatter's attribute order: sockets, dies, clusters, cores, threads
    const at = t.attrs.findIndex((a) => a.name === 'sockets') + 1;
    const missing = ['dies', 'clusters'].filter((n) => !names.has(n)).map((name) => ({ name, value: '1' }));
    t.attrs.splice(at, 0, ...missing);
  }
  return copy;
}

async function schemaProblem(formatted: string): Promise<string | undefined> {
  const v = await validate(formatted, 'cpu');
  if (v.valid) return undefined;
  return `schema: ${v.errors.map((e) => `line ${e.line}: ${e.message}`).join('; ')}`;
}

async function checkCpu(el: XmlElement, fileText: string | undefined): Promise<string | undefined> {
  const formatted = CpuDef.fromElement(el).toXML();
  if (fileText !== undefined) {
    const diff = compareToFile(formatted, fileText);
    if (diff) return `libvirt's output does not round-trip byte for byte: ${diff}`;
  } else {
    const diff = xmlDiff(withParserDefaults(el), formatted);
    if (diff) return `round trip differs: ${diff}`;
    const again = CpuDef.fromXML(formatted).toXML();
    const drift = compareToFile(again, formatted);
    if (drift) return `our output is not a fixed point: ${drift}`;
  }
  return schemaProblem(formatted);
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const cpuDir = join(dataDir, 'cpu');
  const dir = join(cpuDir, 'cases');
  if (!existsSync(dir)) return [{ name: 'cpu/cases', ok: false, reason: `${dir} is missing` }];
  const outputs = libvirtOutputs(cpuDir);
  const out: CaseResult[] = [];
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.xml')) continue;
    const text = readFileSync(join(dir, file), 'utf8');
    let root: XmlElement;
    try {
      root = parseXml(text);
    } catch (err) {
      out.push({ name: file, ok: false, reason: `not XML: ${(err as Error).message}` });
      continue;
    }
    if (root.name === 'cpuTest') {
      const cpus = childElements(root, 'cpu');
      if (cpus.length === 0) out.push({ name: file, ok: false, reason: '<cpuTest> holds no <cpu>' });
      for (const [i, cpu] of cpus.entries()) {
        out.push(await attempt(`${file}#cpu[${i + 1}]`, () => checkCpu(cpu, undefined)));
      }
    } else if (root.name === 'cpudata') {
      // Written by cputest's data script in libvirt's layout, after comment lines
      // saying what the data is (comments are not data: the model drops them).
      out.push(
        await attempt(file, () => {
          const body = text.replace(/^(<!--.*-->\n)+/, '');
          const diff = compareToFile(CpuData.fromXML(text).toXML(), body);
          return diff ? `round trip differs: ${diff}` : undefined;
        }),
      );
    } else if (root.name === 'cpu') {
      out.push(await attempt(file, () => checkCpu(root, outputs.has(file) ? text : undefined)));
    } else {
      out.push({ name: file, ok: false, reason: `unknown root element <${root.name}>` });
    }
  }
  return out;
}

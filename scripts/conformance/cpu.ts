/**
 * Family `cpu`: libvirt's x86 cputest cases (cpu/cases.json), each kind run
 * the way the conformance README describes, XML results compared
 * semantically (topology defaults filled in as libvirt's parser does).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CpuDef } from '../../src/conf/cpu.js';
import { CpuData } from '../../src/conf/cpu-data.js';
import {
  baselineCpu,
  compareCpu,
  cpuSignature,
  dataHasFeature,
  decodeCpuData,
  encodeCpu,
  expandCpuFeatures,
  formatSignature,
  type HypervisorModel,
  hasFeature,
  hostModelFromQemuExpansion,
  migratableHostCpu,
  type QemuCpuModelInfo,
  qemuExpansionSignature,
  translateCpu,
  updateCpu,
  updateCpuLive,
} from '../../src/cpu/index.js';
import { xmlDiff } from '../../src/xml/equal.js';
import { parseXml } from '../../src/xml/parse.js';
import { childElements, type XmlElement } from '../../src/xml/tree.js';
import { attempt, type CaseResult, compareToFile } from './types.js';

interface CpuCase {
  kind: string;
  name: string;
  host: string | null;
  cpu: string | string[] | null;
  expected: string;
  flags: string[];
  files: string[];
  feature?: string;
  models?: string[] | null;
  json?: string;
  note?: string;
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'cpu');
  const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as CpuCase[];
  const read = (rel: string) => readFileSync(join(dir, rel), 'utf8');
  const cpuFile = (short: string) => CpuDef.fromXML(read(`cases/x86_64-${short}.xml`));
  const out: CaseResult[] = [];
  for (const c of cases) {
    out.push(await attempt(c.name, () => runCase(c, read, cpuFile)));
  }
  return out;
}

/** cputest compares the formatted CPU with the expected file byte for byte. */
function sameCpu(actual: CpuDef, expectedXml: string): string | undefined {
  const diff = compareToFile(actual.toXML(), expectedXml);
  return diff ? `differs at ${diff}` : undefined;
}

function qmpObjects(text: string): unknown[] {
  // A transcript of JSON values separated by blank lines (or simply concatenated).
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (ch === '}') {
      depth--;
      if (depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return out;
}

interface QemuJson {
  expansion: QemuCpuModelInfo;
  models: HypervisorModel[] | null;
}

function qemuJson(text: string): QemuJson {
  let expansion: QemuCpuModelInfo | undefined;
  let models: HypervisorModel[] | null = null;
  for (const o of qmpObjects(text)) {
    const ret = (o as { return?: unknown }).return;
    if (Array.isArray(ret)) {
      models = ret.map((m) => {
        const def = m as { name: unknown; 'unavailable-features'?: unknown };
        const blockers = Array.isArray(def['unavailable-features'])
          ? def['unavailable-features'].map(String)
          : [];
        return { name: String(def.name), blockers };
      });
    } else if (ret && typeof ret === 'object' && 'model' in ret && !expansion) {
      expansion = (ret as { model: QemuCpuModelInfo }).model;
    }
  }
  if (!expansion) throw new Error('no query-cpu-model-expansion reply in the transcript');
  return { expansion, models };
}

/**
 * cputest's live-update check: after expanding both CPUs, a feature the
 * expected CPU requires must be required, and nothing may be required (or
 * expected disabled) that the other side does not match; a feature absent
 * from a side counts as disabled there.
 */
function liveDifference(actual: CpuDef, expected: CpuDef): string | undefined {
  if (actual.model?.name !== expected.model?.name) {
    return `model ${actual.model?.name ?? '-'} != ${expected.model?.name ?? '-'}`;
  }
  const policies = (cpu: CpuDef) => {
    const m = new Map<string, string>();
    for (const f of expandCpuFeatures(cpu).features ?? []) m.set(f.name, f.policy ?? 'require');
    return m;
  };
  const act = policies(actual);
  const exp = policies(expected);
  const missing: string[] = [];
  const extra: string[] = [];
  for (const name of new Set([...act.keys(), ...exp.keys()])) {
    const a = act.get(name);
    const e = exp.get(name);
    if (e === 'require' && a !== 'require') missing.push(name);
    else if (a === 'require' && e !== 'require') extra.push(name);
    else if (a === undefined && e === 'disable') extra.push(name);
  }
  if (missing.length === 0 && extra.length === 0) return undefined;
  return `missing [${missing.sort().join(' ')}] extra [${extra.sort().join(' ')}]`;
}

async function runCase(
  c: CpuCase,
  read: (rel: string) => string,
  cpuFile: (short: string) => CpuDef,
): Promise<string | undefined> {
  switch (c.kind) {
    case 'compare': {
      const host = cpuFile(c.host ?? '');
      let got: string;
      try {
        got = compareCpu(host, cpuFile(String(c.cpu))).result;
      } catch (err) {
        if (c.expected === 'ERROR') return undefined;
        throw err;
      }
      return got === c.expected ? undefined : `expected ${c.expected}, got ${got}`;
    }
    case 'update': {
      const host = migratableHostCpu(cpuFile(c.host ?? ''));
      const updated = updateCpu(cpuFile(String(c.cpu)), host);
      return sameCpu(updated, read(c.expected));
    }
    case 'baseline': {
      const root = parseXml(read(`cases/x86_64-${String(c.cpu)}.xml`));
      const cpus = childElements(root, 'cpu').map((el) => CpuDef.fromElement(el));
      let result: CpuDef;
      try {
        result = baselineCpu(cpus, {
          expandFeatures: c.flags.includes('expand-features'),
          migratable: c.flags.includes('migratable'),
        });
      } catch (err) {
        if (c.expected === 'ERROR') return undefined;
        throw err;
      }
      if (c.expected === 'ERROR') return 'expected an error, baseline succeeded';
      const problem = sameCpu(result, read(c.expected));
      if (problem) return problem;
      return everyInputFits(cpus, result);
    }
    case 'guest': {
      const host = cpuFile(c.host ?? '');
      try {
        const cpu = cpuFile(String(c.cpu));
        const cmp = compareCpu(host, cpu).result;
        if (cmp === 'INCOMPATIBLE') throw new Error('guest CPU is incompatible with the host');
        const updated = updateCpu(cpu, host);
        const result = translateCpu(updated, c.models ?? null);
        if (c.expected === 'ERROR') return 'expected an error, got a guest CPU';
        return sameCpu(result, read(c.expected));
      } catch (err) {
        if (c.expected === 'ERROR') return undefined;
        throw err;
      }
    }
    case 'hasfeature': {
      const host = cpuFile(c.host ?? '');
      // Both on the CPU definition and on the CPUID data it encodes to, as cputest does.
      let got: string;
      let gotData: string;
      try {
        got = hasFeature(host, c.feature ?? '') ? 'YES' : 'NO';
        gotData = dataHasFeature(encodeCpu(host), c.feature ?? '') ? 'YES' : 'NO';
      } catch (err) {
        if (c.expected === 'FAIL') return undefined;
        throw err;
      }
      if (got !== c.expected) return `expected ${c.expected}, got ${got}`;
      return gotData === c.expected
        ? undefined
        : `expected ${c.expected} on the encoded data, got ${gotData}`;
    }
    case 'cpuid-host': {
      const data = CpuData.fromXML(read(`cases/x86_64-cpuid-${c.host}.xml`));
      return sameCpu(decodeCpuData(data), read(c.expected));
    }
    case 'cpuid-guest': {
      const data = CpuData.fromXML(read(`cases/x86_64-cpuid-${c.host}.xml`));
      const models =
        c.json === 'models' || c.json === 'models-required'
          ? qemuJson(read(`cases/x86_64-cpuid-${c.host}.json`)).models
          : null;
      return sameCpu(decodeCpuData(data, { kind: 'guest', models }), read(c.expected));
    }
    case 'cpuid-signature': {
      const data = CpuData.fromXML(read(`cases/x86_64-cpuid-${c.host}.xml`));
      const got = formatSignature(cpuSignature(data));
      return got === read(c.expected) ? undefined : `got ${JSON.stringify(got)}`;
    }
    case 'cpuid-json': {
      const q = qemuJson(read(`cases/x86_64-cpuid-${c.host}.json`));
      return sameCpu(hostModelFromQemuExpansion(q.expansion, q.models), read(c.expected));
    }
    case 'cpuid-json-signature': {
      const q = qemuJson(read(`cases/x86_64-cpuid-${c.host}.json`));
      const got = formatSignature(qemuExpansionSignature(q.expansion));
      return got === read(c.expected) ? undefined : `got ${JSON.stringify(got)}`;
    }
    case 'update-live': {
      const base = `cases/x86_64-cpuid-${c.host}`;
      const expected = CpuDef.fromXML(read(c.expected));
      let cpu = CpuDef.fromXML(read(`${base}-guest.xml`));
      if (expected.model?.name && cpu.model?.name !== expected.model.name) {
        const q = qemuJson(read(`${base}.json`));
        const hv = q.models?.find((m) => m.name === expected.model?.name) ?? { name: expected.model.name };
        // cputest lets the CPU fall back to the model QEMU reported for the translation.
        if (cpu.model) cpu.model.fallback = 'allow';
        cpu = translateCpu(cpu, [hv]);
        if (cpu.model) cpu.model.fallback = 'forbid';
      }
      const live = updateCpuLive(cpu, read(`${base}-enabled.xml`), read(`${base}-disabled.xml`));
      return liveDifference(live, expected);
    }
    case 'cpuid-baseline': {
      const cpus = (c.cpu as string[]).map((s) => cpuFile(s));
      const result = baselineCpu(cpus, {});
      const problem = sameCpu(result, read(c.expected));
      if (problem) return problem;
      return everyInputFits(cpus, result);
    }
    default:
      return `unknown case kind ${c.kind}`;
  }
}

function everyInputFits(cpus: CpuDef[], baseline: CpuDef): string | undefined {
  for (const [i, cpu] of cpus.entries()) {
    const r = compareCpu(cpu, baseline).result;
    if (r !== 'IDENTICAL' && r !== 'SUPERSET') return `input ${i + 1} compares ${r} against the baseline`;
  }
  return undefined;
}

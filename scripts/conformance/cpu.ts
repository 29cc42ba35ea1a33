/**
 * Family `cpu`: libvirt's x86 cputest cases (cpu/cases.json), each kind run
 * the way the conformance README describes and compared as cputest compares:
 * formatted CPU XML and signatures byte for byte with libvirt's file, the
 * live update semantically (model and feature policies), outcomes by name.
 * A case that expects a failure passes only on the failure libvirt reports
 * (see cpu-expect.ts). Every file a case reads must be one it lists in
 * `files` and must exist; anything else fails the case as bad data.
 */
import { join } from 'node:path';
import { CpuDef } from '../../src/conf/cpu.js';
import { CpuData } from '../../src/conf/cpu-data.js';
import { incompatible } from '../../src/cpu/errors.js';
import {
  baselineCpu,
  compareCpu,
  cpuSignature,
  dataHasFeature,
  decodeCpuData,
  encodeCpu,
  formatSignature,
  hasFeature,
  hostModelFromQemuExpansion,
  migratableHostCpu,
  qemuExpansionSignature,
  translateCpu,
  updateCpu,
  updateCpuLive,
} from '../../src/cpu/index.js';
import { parseXml } from '../../src/xml/parse.js';
import { childElements, type XmlElement } from '../../src/xml/tree.js';
import {
  type CpuMapNames,
  type ExpectedFailure,
  expectedFailure,
  failedAsExpected,
  readCpuMapNames,
  shouldHaveFailed,
} from './cpu-expect.js';
import { liveDifference, qemuJson } from './cpu-qmp.js';
import {
  attempt,
  type CaseResult,
  caseName,
  compareToFile,
  DataError,
  readCaseList,
  readDataFile,
} from './types.js';

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

/** What a case may read: only the files it lists, each of which must be there. */
interface CaseFiles {
  read(rel: string): string;
  cpu(short: string): CpuDef;
  xml(rel: string): XmlElement;
  /** The map's names, for cases that expect a failure. */
  map(): CpuMapNames;
}

export async function run(dataDir: string): Promise<CaseResult[]> {
  const dir = join(dataDir, 'cpu');
  let cases: Array<Record<string, unknown>>;
  try {
    cases = readCaseList(dir, 'cpu/cases.json');
  } catch (err) {
    return [{ name: 'cpu/cases.json', ok: false, reason: `bad data: ${(err as Error).message}` }];
  }
  let map: CpuMapNames | undefined;
  const out: CaseResult[] = [];
  for (const [i, entry] of cases.entries()) {
    const name = caseName(entry, i, 'cpu/cases.json');
    const c = entry as unknown as CpuCase;
    const listed = new Set(Array.isArray(c.files) ? c.files : []);
    const read = (rel: string) => {
      if (!listed.has(rel)) throw new DataError(`${name} reads ${rel}, which its files do not list`);
      return readDataFile(dir, rel, `cpu/${rel}`);
    };
    const files: CaseFiles = {
      read,
      cpu: (short) => CpuDef.fromXML(read(`cases/x86_64-${short}.xml`)),
      xml: (rel) => parseXml(read(rel)),
      map: () => {
        map ??= readCpuMapNames(dir);
        return map;
      },
    };
    out.push(await attempt(name, () => runCase(c, files)));
  }
  return out;
}

/** cputest compares the formatted CPU with the expected file byte for byte. */
function sameCpu(actual: CpuDef, expectedXml: string): string | undefined {
  const diff = compareToFile(actual.toXML(), expectedXml);
  return diff ? `differs at ${diff}` : undefined;
}

function text(value: unknown, field: string, c: CpuCase): string {
  if (typeof value !== 'string' || value === '') throw new DataError(`${c.name}: ${field} must be a name`);
  return value;
}

/** Runs `body`, which must fail as `want`; it must not succeed. */
function mustFail(want: ExpectedFailure, body: () => string): string | undefined {
  let got: string;
  try {
    got = body();
  } catch (err) {
    return failedAsExpected(err, want);
  }
  return shouldHaveFailed(want, got);
}

async function runCase(c: CpuCase, f: CaseFiles): Promise<string | undefined> {
  const failing = c.expected === 'ERROR' || c.expected === 'FAIL';
  const want = failing ? expectedFailure(c, f.map(), f.xml) : undefined;
  switch (c.kind) {
    case 'compare': {
      const host = f.cpu(text(c.host, 'host', c));
      const cpu = () => f.cpu(text(c.cpu, 'cpu', c));
      if (want) return mustFail(want, () => `compare gave ${compareCpu(host, cpu()).result}`);
      const got = compareCpu(host, cpu()).result;
      return got === c.expected ? undefined : `expected ${c.expected}, got ${got}`;
    }
    case 'update': {
      const host = migratableHostCpu(f.cpu(text(c.host, 'host', c)));
      const updated = updateCpu(f.cpu(text(c.cpu, 'cpu', c)), host);
      return sameCpu(updated, f.read(c.expected));
    }
    case 'baseline': {
      const root = f.xml(`cases/x86_64-${text(c.cpu, 'cpu', c)}.xml`);
      const cpus = childElements(root, 'cpu').map((el) => CpuDef.fromElement(el));
      if (cpus.length === 0) throw new DataError(`${c.name}: its <cpuTest> holds no <cpu>`);
      const options = {
        expandFeatures: c.flags.includes('expand-features'),
        migratable: c.flags.includes('migratable'),
      };
      if (want) return mustFail(want, () => `baseline gave ${baselineCpu(cpus, options).model?.name}`);
      const result = baselineCpu(cpus, options);
      return sameCpu(result, f.read(c.expected)) ?? everyInputFits(cpus, result);
    }
    case 'guest': {
      const host = f.cpu(text(c.host, 'host', c));
      const cpu = f.cpu(text(c.cpu, 'cpu', c));
      const guest = () => {
        // cputest counts an INCOMPATIBLE compare as a failure of the case, like an error.
        const cmp = compareCpu(host, cpu);
        if (cmp.result === 'INCOMPATIBLE') throw incompatible(cmp.reason ?? 'the guest CPU is incompatible');
        return translateCpu(updateCpu(cpu, host), c.models ?? null);
      };
      if (want) return mustFail(want, () => `got a guest CPU with model ${guest().model?.name}`);
      return sameCpu(guest(), f.read(c.expected));
    }
    case 'hasfeature': {
      const host = f.cpu(text(c.host, 'host', c));
      const feature = text(c.feature, 'feature', c);
      // Both on the CPU definition and on the CPUID data it encodes to, as cputest does.
      if (want) {
        const onDef = mustFail(want, () => `hasFeature said ${hasFeature(host, feature)}`);
        if (onDef) return onDef;
        const onData = mustFail(
          want,
          () => `the data check said ${dataHasFeature(encodeCpu(host), feature)}`,
        );
        return onData && `on the encoded data: ${onData}`;
      }
      const got = hasFeature(host, feature) ? 'YES' : 'NO';
      if (got !== c.expected) return `expected ${c.expected}, got ${got}`;
      const gotData = dataHasFeature(encodeCpu(host), feature) ? 'YES' : 'NO';
      return gotData === c.expected
        ? undefined
        : `expected ${c.expected} on the encoded data, got ${gotData}`;
    }
    case 'cpuid-host': {
      const data = CpuData.fromXML(f.read(`cases/x86_64-cpuid-${text(c.host, 'host', c)}.xml`));
      return sameCpu(decodeCpuData(data), f.read(c.expected));
    }
    case 'cpuid-guest': {
      const host = text(c.host, 'host', c);
      const data = CpuData.fromXML(f.read(`cases/x86_64-cpuid-${host}.xml`));
      let models = null;
      if (c.json === 'models' || c.json === 'models-required') {
        models = qemuJson(f.read(`cases/x86_64-cpuid-${host}.json`)).models;
        if (!models) throw new DataError(`${c.name}: its .json has no query-cpu-definitions reply`);
      }
      return sameCpu(decodeCpuData(data, { kind: 'guest', models }), f.read(c.expected));
    }
    case 'cpuid-signature': {
      const data = CpuData.fromXML(f.read(`cases/x86_64-cpuid-${text(c.host, 'host', c)}.xml`));
      const diff = compareToFile(formatSignature(cpuSignature(data)), f.read(c.expected));
      return diff ? `signature differs at ${diff}` : undefined;
    }
    case 'cpuid-json': {
      const q = qemuJson(f.read(`cases/x86_64-cpuid-${text(c.host, 'host', c)}.json`));
      return sameCpu(hostModelFromQemuExpansion(q.expansion, q.models), f.read(c.expected));
    }
    case 'cpuid-json-signature': {
      const q = qemuJson(f.read(`cases/x86_64-cpuid-${text(c.host, 'host', c)}.json`));
      const diff = compareToFile(formatSignature(qemuExpansionSignature(q.expansion)), f.read(c.expected));
      return diff ? `signature differs at ${diff}` : undefined;
    }
    case 'update-live':
      return updateLive(c, f);
    case 'cpuid-baseline': {
      if (!Array.isArray(c.cpu) || c.cpu.length < 2) throw new DataError(`${c.name}: cpu must list two CPUs`);
      const cpus = c.cpu.map((s) => f.cpu(text(s, 'cpu', c)));
      const result = baselineCpu(cpus, {});
      return sameCpu(result, f.read(c.expected)) ?? everyInputFits(cpus, result);
    }
    default:
      throw new DataError(`${c.name}: unknown case kind ${JSON.stringify(c.kind)}`);
  }
}

/** cputest's live update: guest CPU + what QEMU enabled/disabled, compared semantically. */
function updateLive(c: CpuCase, f: CaseFiles): string | undefined {
  const base = `cases/x86_64-cpuid-${text(c.host, 'host', c)}`;
  const expected = CpuDef.fromXML(f.read(c.expected));
  let cpu = CpuDef.fromXML(f.read(`${base}-guest.xml`));
  if (expected.model?.name && cpu.model?.name !== expected.model.name) {
    const q = qemuJson(f.read(`${base}.json`));
    const hv = q.models?.find((m) => m.name === expected.model?.name) ?? { name: expected.model.name };
    // cputest lets the CPU fall back to the model QEMU reported for the translation.
    if (cpu.model) cpu.model.fallback = 'allow';
    cpu = translateCpu(cpu, [hv]);
    if (cpu.model) cpu.model.fallback = 'forbid';
  }
  const live = updateCpuLive(cpu, f.read(`${base}-enabled.xml`), f.read(`${base}-disabled.xml`));
  return liveDifference(live, expected);
}

function everyInputFits(cpus: CpuDef[], baseline: CpuDef): string | undefined {
  for (const [i, cpu] of cpus.entries()) {
    const r = compareCpu(cpu, baseline).result;
    if (r !== 'IDENTICAL' && r !== 'SUPERSET') return `input ${i + 1} compares ${r} against the baseline`;
  }
  return undefined;
}

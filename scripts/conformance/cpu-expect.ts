/**
 * Why libvirt fails the cputest cases that expect a failure (`ERROR`,
 * `FAIL`), derived from each case and the data it reads, never from
 * virtkit: the CPU map in cpu/map says which model and feature names exist,
 * the CPU files say what the case asks for. A case passes only when virtkit
 * fails for that reason ({@link CpuError.reason}, naming the same model or
 * feature), so an unrelated error, or a missing file, can never pass it.
 *
 * What libvirt's cputest asserts, by kind:
 * - hasfeature FAIL: checking a feature name the map does not define.
 * - compare ERROR: the CPU under test is invalid, i.e. its model or one of
 *   its features is not in the map.
 * - baseline ERROR: the input CPUs name different vendors; otherwise they
 *   have nothing in common.
 * - guest ERROR: the hypervisor's model list lacks the CPU's model and
 *   `fallback='forbid'` allows no other; with fallback allowed, no listed
 *   model exists to fall back to; with the model available (or no list),
 *   the CPU does not fit the host.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CpuError, type CpuErrorReason } from '../../src/cpu/errors.js';
import { parseXml } from '../../src/xml/parse.js';
import { childElements, getAttr, textContent, type XmlElement } from '../../src/xml/tree.js';
import { DataError, readDataFile } from './types.js';

export interface ExpectedFailure {
  reason: CpuErrorReason;
  /** The model or feature name the error must be about. */
  subject?: string;
  /** Why the data says so, for the report. */
  because: string;
}

/** Model and feature names the CPU map defines (x86_*.xml under cpu/map). */
export interface CpuMapNames {
  models: ReadonlySet<string>;
  features: ReadonlySet<string>;
  /** Vendor of each model that names one. */
  vendors: ReadonlyMap<string, string>;
}

export function readCpuMapNames(cpuDir: string): CpuMapNames {
  const mapDir = join(cpuDir, 'map');
  let files: string[];
  try {
    files = readdirSync(mapDir).filter((f) => /^x86_.*\.xml$/.test(f));
  } catch {
    throw new DataError('missing folder cpu/map');
  }
  const models = new Set<string>();
  const features = new Set<string>();
  const vendors = new Map<string, string>();
  for (const f of files) {
    const root = parseXml(readDataFile(mapDir, f, `cpu/map/${f}`));
    for (const el of root.children) {
      if (el.type !== 'element') continue;
      const name = getAttr(el, 'name');
      if (!name) continue;
      if (el.name === 'feature') features.add(name);
      if (el.name === 'model') {
        models.add(name);
        const vendor = childElements(el, 'vendor')[0];
        const vn = vendor && getAttr(vendor, 'name');
        if (vn) vendors.set(name, vn);
      }
    }
  }
  if (models.size === 0 || features.size === 0)
    throw new DataError('cpu/map defines no x86 models or features');
  return { models, features, vendors };
}

interface CpuAsked {
  model: string | undefined;
  fallback: string | undefined;
  vendor: string | undefined;
  features: string[];
}

function asked(el: XmlElement): CpuAsked {
  const model = childElements(el, 'model')[0];
  const vendor = childElements(el, 'vendor')[0];
  return {
    model: model ? textContent(model).trim() || undefined : undefined,
    fallback: model ? getAttr(model, 'fallback') : undefined,
    vendor: vendor ? textContent(vendor).trim() : undefined,
    features: childElements(el, 'feature').map((f) => getAttr(f, 'name') ?? ''),
  };
}

/** The first name in the CPU the map does not know, as libvirt would trip over it. */
function invalidName(cpu: CpuAsked, map: CpuMapNames): ExpectedFailure | undefined {
  if (cpu.model && !map.models.has(cpu.model)) {
    return { reason: 'unknown-model', subject: cpu.model, because: `cpu/map has no model ${cpu.model}` };
  }
  const f = cpu.features.find((n) => !map.features.has(n));
  if (f !== undefined)
    return { reason: 'unknown-feature', subject: f, because: `cpu/map has no feature ${f}` };
  return undefined;
}

export interface FailingCase {
  kind: string;
  name: string;
  cpu: unknown;
  feature?: unknown;
  models?: unknown;
}

/** The failure libvirt reports for an ERROR/FAIL case; a DataError when the data cannot say. */
export function expectedFailure(
  c: FailingCase,
  map: CpuMapNames,
  readXml: (rel: string) => XmlElement,
): ExpectedFailure {
  switch (c.kind) {
    case 'hasfeature': {
      const f = String(c.feature);
      if (map.features.has(f)) throw new DataError(`${c.name} expects FAIL, but cpu/map defines ${f}`);
      return { reason: 'unknown-feature', subject: f, because: `cpu/map has no feature ${f}` };
    }
    case 'compare': {
      const found = invalidName(asked(readXml(`cases/x86_64-${String(c.cpu)}.xml`)), map);
      if (!found)
        throw new DataError(`${c.name} expects ERROR, but its CPU names only known models and features`);
      return found;
    }
    case 'baseline': {
      const cpus = childElements(readXml(`cases/x86_64-${String(c.cpu)}.xml`), 'cpu').map(asked);
      for (const cpu of cpus) {
        const found = invalidName(cpu, map);
        if (found) return found;
      }
      const named = cpus.map((x) => x.vendor ?? (x.model ? map.vendors.get(x.model) : undefined));
      const distinct = [...new Set(named.filter((v): v is string => v !== undefined))];
      if (distinct.length > 1) {
        return { reason: 'vendor-mismatch', because: `the CPUs are of vendors ${distinct.join(' and ')}` };
      }
      return { reason: 'incompatible', because: 'the CPUs have no features in common' };
    }
    case 'guest': {
      const cpu = asked(readXml(`cases/x86_64-${String(c.cpu)}.xml`));
      const found = invalidName(cpu, map);
      if (found) return found;
      const models = Array.isArray(c.models) ? c.models.map(String) : null;
      if (models && cpu.model && !models.includes(cpu.model)) {
        if (cpu.fallback === 'forbid') {
          return {
            reason: 'model-not-supported',
            subject: cpu.model,
            because: `${cpu.model} is not among [${models.join(' ')}] and fallback is forbid`,
          };
        }
        if (!models.some((m) => map.models.has(m))) {
          return {
            reason: 'no-suitable-model',
            because: `none of [${models.join(' ')}] is a model in cpu/map`,
          };
        }
      }
      return { reason: 'incompatible', because: 'the guest CPU does not fit the host' };
    }
    default:
      throw new DataError(`${c.name}: a ${c.kind} case cannot expect a failure`);
  }
}

/** undefined when `err` is the failure expected, else what went wrong instead. */
export function failedAsExpected(err: unknown, want: ExpectedFailure): string | undefined {
  if (err instanceof DataError) throw err;
  const wanted = `${want.reason}${want.subject ? ` '${want.subject}'` : ''} (${want.because})`;
  if (!(err instanceof CpuError)) {
    const e = err as { code?: unknown; message?: unknown };
    const what = `${typeof e.code === 'string' ? `${e.code}: ` : ''}${String(e.message ?? err)}`;
    return `expected the error ${wanted}, got ${what}`;
  }
  if (err.reason !== want.reason || (want.subject !== undefined && err.subject !== want.subject)) {
    return `expected the error ${wanted}, got ${err.reason}${err.subject ? ` '${err.subject}'` : ''}: ${err.message}`;
  }
  return undefined;
}

/** The message for an operation that succeeded where libvirt fails. */
export function shouldHaveFailed(want: ExpectedFailure, got: string): string {
  return `expected the error ${want.reason}${want.subject ? ` '${want.subject}'` : ''} (${want.because}), ${got}`;
}

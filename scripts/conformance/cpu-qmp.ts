/**
 * Reading the QMP transcripts of libvirt's cputest data (`x86_64-cpuid-<cpu>.json`)
 * and cputest's semantic check of a live update.
 */
import type { CpuDef } from '../../src/conf/cpu.js';
import { expandCpuFeatures, type HypervisorModel, type QemuCpuModelInfo } from '../../src/cpu/index.js';
import { DataError } from './types.js';

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

export interface QemuJson {
  expansion: QemuCpuModelInfo;
  models: HypervisorModel[] | null;
}

export function qemuJson(text: string): QemuJson {
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
  if (!expansion) throw new DataError('no query-cpu-model-expansion reply in the transcript');
  return { expansion, models };
}

/**
 * cputest's live-update check: after expanding both CPUs, a feature the
 * expected CPU requires must be required, and nothing may be required (or
 * expected disabled) that the other side does not match; a feature absent
 * from a side counts as disabled there.
 */
export function liveDifference(actual: CpuDef, expected: CpuDef): string | undefined {
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

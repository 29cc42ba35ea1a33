/**
 * The x86 CPU engine: CPU definitions as feature sets, compare, decode
 * (feature set → closest model + feature list), baseline, update and
 * translate, with libvirt's semantics as its cputest pins them down.
 *
 * Everything here works on {@link FeatureSet}s from the database; CpuDef
 * objects are only read at the edges and built again for results.
 *
 * @module
 */
import type { CpuDef, CpuFeature, CpuFeaturePolicy } from '../conf/cpu.js';
import { CpuDef as CpuDefClass } from '../conf/cpu.js';
import { VirError } from '../errors.js';
import type { FeatureSet } from './feature-set.js';
import { type X86Database, type X86Model, type X86Vendor, x86Database } from './x86-db.js';

/** Family/model/stepping of a CPU, as CPUID leaf 1 reports them. */
export interface CpuSignatureValue {
  family: number;
  model: number;
  stepping: number;
}

/** What the engine knows about a CPU before a model is chosen for it. */
export interface X86Data {
  vendor?: X86Vendor | undefined;
  signature?: CpuSignatureValue | undefined;
  features: FeatureSet;
}

export type CompareResult = 'IDENTICAL' | 'SUPERSET' | 'INCOMPATIBLE';

export interface CompareOutcome {
  result: CompareResult;
  /** Why the CPUs are incompatible (or, for SUPERSET, what the host has in excess). */
  reason?: string;
  /** The features at fault: missing, forbidden or extra. */
  features?: string[];
}

const X86_ARCHES = new Set(['x86_64', 'i686', 'i386', 'i486', 'i586']);

/** Host style: a physical CPU whose features carry no policy. */
export function isHostCpu(cpu: CpuDef): boolean {
  return cpu.mode === undefined && cpu.match === undefined && (cpu.features ?? []).every((f) => !f.policy);
}

function policyOf(f: CpuFeature, host: boolean): CpuFeaturePolicy {
  return host ? 'require' : (f.policy ?? 'require');
}

export function unknownFeature(name: string): VirError {
  return new VirError('INVALID_ARG', 'cpu', `unknown CPU feature '${name}'`, {
    field: `feature[@name='${name}']`,
  });
}

export function unknownModel(name: string): VirError {
  return new VirError('INVALID_ARG', 'cpu', `unknown CPU model '${name}'`, { field: 'model' });
}

export function lookupModel(db: X86Database, name: string): X86Model {
  const m = db.model(name);
  if (!m) throw unknownModel(name);
  return m;
}

export function lookupFeatureIndex(db: X86Database, name: string): number {
  const f = db.feature(name);
  if (!f) throw unknownFeature(name);
  return f.index;
}

export function lookupVendor(db: X86Database, name: string): X86Vendor {
  const v = db.vendor(name);
  if (!v) throw new VirError('INVALID_ARG', 'cpu', `unknown CPU vendor '${name}'`, { field: 'vendor' });
  return v;
}

/**
 * The features of `cpu` with the given policy; `require` also includes the
 * model's own features. A host CPU only has required features. With `'all'`,
 * the features the CPU ends up with: model + force + require − disable − forbid.
 */
export function featuresWithPolicy(
  cpu: CpuDef,
  policy: CpuFeaturePolicy | 'all',
  db = x86Database(),
): FeatureSet {
  const host = isHostCpu(cpu);
  const set = db.emptySet();
  if (host && policy !== 'require' && policy !== 'all') {
    for (const f of cpu.features ?? []) lookupFeatureIndex(db, f.name);
    return set;
  }
  if (cpu.model?.name && (policy === 'require' || policy === 'all')) {
    set.union(lookupModel(db, cpu.model.name).features);
  }
  for (const f of cpu.features ?? []) {
    const p = policyOf(f, host);
    const i = lookupFeatureIndex(db, f.name);
    if (policy === 'all') {
      if (p === 'force' || p === 'require') set.add(i);
      else if (p === 'disable' || p === 'forbid') set.delete(i);
    } else if (p === policy) {
      set.add(i);
    }
  }
  return set;
}

/** Validates every model and feature name of a CPU (unknown names are errors). */
export function checkNames(cpu: CpuDef, db = x86Database()): void {
  if (cpu.model?.name) lookupModel(db, cpu.model.name);
  for (const f of cpu.features ?? []) lookupFeatureIndex(db, f.name);
}

/**
 * libvirt's CPU comparison: can `host` run `cpu`, and does it offer more?
 * Unknown model or feature names throw (libvirt's ERROR result).
 */
export function compareX86(host: CpuDef, cpu: CpuDef, db = x86Database()): CompareOutcome {
  if (cpu.arch && !X86_ARCHES.has(cpu.arch)) {
    return { result: 'INCOMPATIBLE', reason: `CPU arch ${cpu.arch} does not match host arch` };
  }
  if (cpu.vendor && (!host.vendor || host.vendor !== cpu.vendor)) {
    return {
      result: 'INCOMPATIBLE',
      reason: `host CPU vendor does not match required CPU vendor ${cpu.vendor}`,
    };
  }
  const hostSet = featuresWithPolicy(host, 'require', db);
  const force = featuresWithPolicy(cpu, 'force', db);
  const require = featuresWithPolicy(cpu, 'require', db);
  const optional = featuresWithPolicy(cpu, 'optional', db);
  const disable = featuresWithPolicy(cpu, 'disable', db);
  const forbid = featuresWithPolicy(cpu, 'forbid', db);

  const forbidden = forbid.clone().intersect(hostSet);
  if (!forbidden.isEmpty()) {
    return {
      result: 'INCOMPATIBLE',
      reason: 'host CPU provides forbidden features',
      features: db.names(forbidden),
    };
  }
  // Model features the guest overrides explicitly are not required from the host.
  require.subtract(force).subtract(optional).subtract(disable);
  if (!require.isSubsetOf(hostSet)) {
    return {
      result: 'INCOMPATIBLE',
      reason: 'host CPU does not provide required features',
      features: db.names(require.clone().subtract(hostSet)),
    };
  }
  const extra = hostSet.clone().subtract(optional).subtract(require).subtract(disable).subtract(force);
  if (extra.isEmpty()) return { result: 'IDENTICAL' };
  if (!isHostCpu(cpu) && cpu.match === 'strict') {
    return {
      result: 'INCOMPATIBLE',
      reason: 'host CPU does not strictly match guest CPU: extra features',
      features: db.names(extra),
    };
  }
  return { result: 'SUPERSET', features: db.names(extra) };
}

export interface DecodeOptions {
  /** `host`: a physical CPU (the model may not lack anything); `guest`: a guest CPU. */
  kind: 'host' | 'guest';
  /** Models the hypervisor supports; undefined or null = all of them. */
  models?: readonly string[] | null | undefined;
  /** The model to pick when it is allowed (fallback decides what happens if not). */
  preferred?: string | undefined;
  fallback?: 'allow' | 'forbid' | undefined;
  /** Drop features that cannot be migrated. */
  migratable?: boolean | undefined;
}

export interface Decoded {
  model: X86Model;
  vendor: X86Vendor | undefined;
  /** Features beyond the model, in database order. */
  required: FeatureSet;
  /** Model features the data lacks, in database order. */
  disabled: FeatureSet;
}

export function signatureMatches(model: X86Model, sig: CpuSignatureValue | undefined): boolean {
  if (!sig) return false;
  for (const s of model.signatures) {
    if (
      s.family === sig.family &&
      s.model === sig.model &&
      (s.steppings === 0 || (s.steppings >>> sig.stepping) & 1)
    ) {
      return true;
    }
  }
  return false;
}

/**
 * Finds the model that describes `data` with the fewest extra features,
 * preferring models whose signature matches the CPU's, newest first on ties.
 */
export function decodeX86(data: X86Data, options: DecodeOptions, db = x86Database()): Decoded {
  const allowed = options.models ? new Set(options.models) : undefined;
  let best: Decoded | undefined;
  let bestCount = 0;
  let bestSig = false;
  for (let i = db.models.length - 1; i >= 0; i--) {
    const model = db.models[i];
    if (!model) continue;
    if (allowed && !allowed.has(model.name)) {
      if (options.preferred === model.name && options.fallback !== 'allow') {
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'cpu',
          `CPU model ${model.name} is not supported by hypervisor`,
          {
            field: 'model',
          },
        );
      }
      continue;
    }
    if (data.vendor && model.vendor && data.vendor.name !== model.vendor) continue;
    if (options.kind === 'host' ? !model.decodeHost : !model.decodeGuest) continue;
    const required = data.features.clone().subtract(model.features);
    const disabled = model.features.clone().subtract(data.features);
    if (options.kind === 'host' && !disabled.isEmpty()) continue;
    const candidate: Decoded = { model, vendor: data.vendor, required, disabled };
    if (options.preferred === model.name) {
      best = candidate;
      break;
    }
    const count = required.size + disabled.size;
    const sig = signatureMatches(model, data.signature);
    let take = false;
    if (!best) take = true;
    else if (bestSig && !sig) take = false;
    else if (!bestSig && sig) take = true;
    else if (bestCount > count) take = true;
    if (take) {
      best = candidate;
      bestCount = count;
      bestSig = sig;
    }
  }
  if (!best) {
    throw new VirError('CONFIG_UNSUPPORTED', 'cpu', 'cannot find a suitable CPU model for the given data');
  }
  if (options.migratable) {
    for (const i of best.required) if (!db.features[i]?.migratable) best.required.delete(i);
  }
  return best;
}

/** Builds the CPU definition of a decoded model (host style or a guest `custom` CPU). */
export function decodedToCpu(
  d: Decoded,
  kind: 'host' | 'guest',
  db = x86Database(),
  extra: { fallback?: 'allow' | 'forbid'; match?: 'minimum' | 'exact' | 'strict'; vendor?: boolean } = {},
): CpuDef {
  const features: CpuFeature[] = [];
  for (const i of d.required) features.push(feat(db, i, kind === 'host' ? undefined : 'require'));
  if (kind === 'guest') for (const i of d.disabled) features.push(feat(db, i, 'disable'));
  const cpu = new CpuDefClass({});
  if (kind === 'guest') {
    cpu.mode = 'custom';
    cpu.match = extra.match ?? 'exact';
    cpu.model = { fallback: extra.fallback ?? 'allow', name: d.model.name };
  } else {
    cpu.model = { name: d.model.name };
  }
  if (d.vendor && extra.vendor !== false) cpu.vendor = d.vendor.name;
  if (features.length > 0) cpu.features = features;
  return cpu;
}

function feat(db: X86Database, i: number, policy: CpuFeaturePolicy | undefined): CpuFeature {
  const name = db.features[i]?.name ?? `#${i}`;
  return policy ? { policy, name } : { name };
}

/** Sets a feature's policy in place when listed, appends it otherwise (libvirt's UpdateFeature). */
export function setFeaturePolicy(cpu: CpuDef, name: string, policy: CpuFeaturePolicy | undefined): void {
  const list = cpu.features ?? [];
  const existing = list.find((f) => f.name === name);
  if (existing) {
    if (policy) existing.policy = policy;
    else delete existing.policy;
  } else {
    list.push(policy ? { policy, name } : { name });
  }
  cpu.features = list;
}

/** A deep copy of a CPU definition. */
export function copyCpu(cpu: CpuDef): CpuDef {
  return CpuDefClass.fromElement(cpu.toElement());
}

/** Drops the features that cannot be migrated (libvirt's migratable copy of a host CPU). */
export function migratableCopy(cpu: CpuDef, db = x86Database()): CpuDef {
  const out = copyCpu(cpu);
  if (out.features) {
    out.features = out.features.filter((f) => db.feature(f.name)?.migratable !== false);
    if (out.features.length === 0) delete out.features;
  }
  return out;
}

/**
 * libvirt's update: `optional` features resolved against the host, and a
 * `host-model` (or `match='minimum'`) CPU replaced by the host's model and
 * features, the guest's own feature policies applied on top.
 * `host-passthrough` and `maximum` CPUs are left alone.
 */
export function updateX86(guest: CpuDef, host: CpuDef | undefined, db = x86Database()): CpuDef {
  const out = copyCpu(guest);
  if (guest.mode === 'host-passthrough' || guest.mode === 'maximum') return out;
  const mode = guest.mode ?? 'custom';
  const hasOptional = (guest.features ?? []).some((f) => f.policy === 'optional');
  const relative = mode === 'host-model' || guest.match === 'minimum' || hasOptional;
  if (!relative) return out;
  if (!host?.model?.name) {
    throw new VirError('CPU_INCOMPATIBLE', 'cpu', 'unknown host CPU model');
  }
  const hostSet = featuresWithPolicy(host, 'all', db);
  for (const f of out.features ?? []) {
    if (f.policy === 'optional') {
      f.policy = hostSet.has(lookupFeatureIndex(db, f.name)) ? 'require' : 'disable';
    }
  }
  if (mode !== 'host-model' && guest.match !== 'minimum') return out;

  const updated = new CpuDefClass({});
  updated.mode = 'custom';
  updated.match = 'exact';
  if (out.check) updated.check = out.check;
  if (out.migratable !== undefined) updated.migratable = out.migratable;
  updated.model = { fallback: out.model?.fallback ?? 'allow', name: host.model.name };
  if (out.model?.vendorId) updated.model.vendorId = out.model.vendorId;
  if (mode === 'host-model' && host.vendor) updated.vendor = host.vendor;
  for (const key of ['topology', 'cache', 'maxPhysAddr', 'numa'] as const) {
    if (out[key] !== undefined) (updated as unknown as Record<string, unknown>)[key] = out[key];
  }
  for (const f of host.features ?? []) setFeaturePolicy(updated, f.name, 'require');
  for (const f of out.features ?? []) setFeaturePolicy(updated, f.name, f.policy ?? 'require');
  return updated;
}

/**
 * libvirt's translate: a `custom` CPU whose model the hypervisor does not
 * support is re-expressed with a supported model (unless fallback='forbid').
 */
export function translateX86(
  cpu: CpuDef,
  models: readonly string[] | null | undefined,
  db = x86Database(),
): CpuDef {
  const out = copyCpu(cpu);
  if ((cpu.mode ?? 'custom') !== 'custom' || !cpu.model?.name || !models) return out;
  if (models.includes(cpu.model.name)) return out;
  if (cpu.model.fallback === 'forbid') {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'cpu',
      `CPU model ${cpu.model.name} is not supported by hypervisor`,
      {
        field: 'model',
      },
    );
  }
  const data: X86Data = { features: featuresWithPolicy(cpu, 'all', db) };
  if (cpu.vendor) data.vendor = lookupVendor(db, cpu.vendor);
  const d = decodeX86(data, { kind: 'guest', models }, db);
  const translated = decodedToCpu(d, 'guest', db);
  for (const f of cpu.features ?? []) {
    const p = f.policy ?? 'require';
    if (p !== 'require') setFeaturePolicy(translated, f.name, p);
  }
  out.model = { ...out.model, name: d.model.name };
  if (translated.features) out.features = translated.features;
  else delete out.features;
  return out;
}

export interface BaselineOptions {
  /** List every model feature explicitly. */
  expandFeatures?: boolean;
  /** Leave out features that cannot be migrated. */
  migratable?: boolean;
  /** Models to choose from; all when omitted. */
  models?: readonly string[] | null;
}

/** The most capable guest CPU every one of `cpus` can run. */
export function baselineX86(
  cpus: readonly CpuDef[],
  options: BaselineOptions = {},
  db = x86Database(),
): CpuDef {
  const first = cpus[0];
  if (!first) throw new VirError('INVALID_ARG', 'cpu', 'baseline needs at least one CPU', { field: 'cpus' });
  let vendor: X86Vendor | undefined;
  let allVendors = true;
  let sameModel: string | undefined = first.model?.name;
  let base: FeatureSet | undefined;
  for (const [i, cpu] of cpus.entries()) {
    if (!cpu.model?.name) {
      throw new VirError('INVALID_ARG', 'cpu', `CPU ${i + 1} of the baseline has no model`, {
        field: `cpu[${i + 1}]`,
      });
    }
    const set = featuresWithPolicy(cpu, 'require', db);
    if (cpu.vendor) {
      const v = lookupVendor(db, cpu.vendor);
      if (vendor && vendor !== v) {
        throw new VirError(
          'CPU_INCOMPATIBLE',
          'cpu',
          `CPU vendors do not match: ${vendor.name} and ${v.name}`,
          {
            field: `cpu[${i + 1}]/vendor`,
          },
        );
      }
      vendor = v;
    } else {
      allVendors = false;
    }
    if (cpu.model.name !== sameModel) sameModel = undefined;
    base = base ? base.intersect(set) : set;
  }
  if (!base || base.isEmpty()) throw new VirError('CPU_INCOMPATIBLE', 'cpu', 'CPUs are incompatible');
  const d = decodeX86(
    { vendor, features: base },
    {
      kind: 'guest',
      models: options.models,
      preferred: sameModel,
      fallback: 'allow',
      migratable: options.migratable,
    },
    db,
  );
  const cpu = decodedToCpu(d, 'guest', db, {
    fallback: sameModel !== undefined && d.model.name === sameModel ? 'forbid' : 'allow',
    vendor: allVendors,
  });
  return options.expandFeatures ? expandX86(cpu, db) : cpu;
}

/** Lists every feature of the model explicitly (libvirt's expand features). */
export function expandX86(cpu: CpuDef, db = x86Database()): CpuDef {
  const out = copyCpu(cpu);
  if (!out.model?.name) return out;
  const model = lookupModel(db, out.model.name);
  const host = isHostCpu(out);
  const listed = new Set((out.features ?? []).map((f) => f.name));
  const features = out.features ?? [];
  for (const i of model.features) {
    const name = db.features[i]?.name;
    if (name && !listed.has(name)) features.push(host ? { name } : { policy: 'require', name });
  }
  if (features.length > 0) out.features = features;
  return out;
}

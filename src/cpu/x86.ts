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
import {
  incompatible,
  modelNotSupported,
  noSuitableModel,
  unknownFeature,
  unknownHostModel,
  unknownModel,
  unknownVendor,
  vendorMismatch,
} from './errors.js';
import type { FeatureSet } from './feature-set.js';
import { type X86Database, type X86Model, type X86Vendor, x86Database } from './x86-db.js';

/** Family/model/stepping of a CPU, as CPUID leaf 1 reports them. */
export interface CpuSignatureValue {
  /** CPUID family, with the extended family added in. */
  family: number;
  /** CPUID model, with the extended model added in. */
  model: number;
  /** CPUID stepping. */
  stepping: number;
}

/** What the engine knows about a CPU before a model is chosen for it. */
export interface X86Data {
  /** The vendor, when CPUID or the definition gives one. */
  vendor?: X86Vendor | undefined;
  /** The family/model/stepping, when known. */
  signature?: CpuSignatureValue | undefined;
  /** The features the CPU has. */
  features: FeatureSet;
}

/** How a CPU relates to a host: libvirt's `virCPUCompareResult` by name. */
export type CompareResult = 'IDENTICAL' | 'SUPERSET' | 'INCOMPATIBLE';

/** What `compareCpu` found. */
export interface CompareOutcome {
  /** Identical, superset (the host has more) or incompatible. */
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
  if (!v) throw unknownVendor(name);
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
  // Everything the host ends up with (a guest-style "host" has its disabled features removed).
  const hostSet = featuresWithPolicy(host, 'all', db);
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

/** A model the hypervisor supports, with the features that keep it from being usable. */
export interface HypervisorModel {
  /** The model name. */
  name: string;
  /** libvirt feature names (QEMU spellings are accepted too). */
  blockers?: readonly string[];
}

export interface DecodeOptions {
  /** `host`: a physical CPU (the model may not lack anything); `guest`: a guest CPU. */
  kind: 'host' | 'guest';
  /** Models the hypervisor supports; undefined or null = all of them. */
  models?: readonly (string | HypervisorModel)[] | null | undefined;
  /** Models to prefer: one name is picked whenever allowed; several only win ties on disabled features. */
  preferred?: readonly string[] | undefined;
  fallback?: 'allow' | 'forbid' | undefined;
  /** Drop features that cannot be migrated. */
  migratable?: boolean | undefined;
}

export interface DecodedFeature {
  index: number;
  policy: 'require' | 'disable';
}

export interface Decoded {
  model: X86Model;
  vendor: X86Vendor | undefined;
  /** Features beyond the model (require) then model features the data lacks (disable), database order. */
  features: DecodedFeature[];
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

// Haswell and early Broadwell parts whose TSX microcode disables it: hle/rtm are not trusted.
function dropBrokenTsx(data: X86Data, db: X86Database): FeatureSet {
  const sig = data.signature;
  if (data.vendor?.name !== 'Intel' || !sig || sig.family !== 6) return data.features;
  const broken =
    (sig.model === 63 && sig.stepping < 4) || sig.model === 60 || sig.model === 69 || sig.model === 70;
  if (!broken) return data.features;
  const out = data.features.clone();
  for (const name of ['hle', 'rtm']) {
    const f = db.feature(name);
    if (f) out.delete(f.index);
  }
  return out;
}

/**
 * Finds the model that describes `data` best: a model whose signature
 * matches the CPU's wins, then the shortest feature list (disabled
 * features cost more and more), newest model first on ties.
 */
export function decodeX86(data: X86Data, options: DecodeOptions, db = x86Database()): Decoded {
  let allowed: Map<string, HypervisorModel> | undefined;
  if (options.models) {
    allowed = new Map();
    for (const m of options.models) {
      const hm = typeof m === 'string' ? { name: m } : m;
      allowed.set(hm.name, hm);
    }
  }
  const preferred = options.preferred && options.preferred.length > 0 ? options.preferred : undefined;
  const single = preferred?.length === 1 ? preferred[0] : undefined;
  const features = dropBrokenTsx(data, db);
  let best: X86Model | undefined;
  let bestBlockers: number[] = [];
  let bestScore = { total: 0, disabled: 0 };
  let bestSig = false;
  for (let i = db.models.length - 1; i >= 0; i--) {
    const model = db.models[i];
    if (!model) continue;
    const hvModel = allowed?.get(model.name);
    if (allowed && !hvModel) {
      if (single === model.name && options.fallback === 'forbid') throw modelNotSupported(model.name);
      continue;
    }
    if (data.vendor && model.vendor && data.vendor.name !== model.vendor) continue;
    if (options.kind === 'host' ? !model.decodeHost : !model.decodeGuest) continue;

    // Score from counts first; the feature list is only built for the winner.
    const blockers = blockersOutside(hvModel, features, model, db);
    const nRequired = features.countMinus(model.features);
    const nDisabled = model.features.countMinus(features) + blockers.length;
    if (options.kind === 'host' && nDisabled > 0) continue;
    const sc =
      options.kind === 'host'
        ? { total: nRequired, disabled: 0 }
        : guestScore(nRequired, nDisabled + removedOutside(model, features, blockers));
    const isPreferred = preferred?.includes(model.name) ?? false;
    if (isPreferred && single !== undefined) {
      best = model;
      bestBlockers = blockers;
      break;
    }
    const sig = signatureMatches(model, data.signature);
    let take: boolean;
    if (!best) take = true;
    else if (data.signature && bestSig && !sig) take = false;
    else if (data.signature && !bestSig && sig) take = true;
    else
      take =
        sc.total < bestScore.total ||
        (sc.total === bestScore.total && sc.disabled < bestScore.disabled) ||
        (isPreferred && sc.disabled < bestScore.disabled);
    if (take) {
      best = model;
      bestBlockers = blockers;
      bestScore = sc;
      bestSig = sig;
    }
  }
  if (!best) {
    throw noSuitableModel();
  }
  const required = features.clone().subtract(best.features);
  const disabled = best.features.clone().subtract(features);
  for (const b of bestBlockers) disabled.add(b);
  const list: DecodedFeature[] = [];
  for (const f of required) list.push({ index: f, policy: 'require' });
  for (const f of disabled) list.push({ index: f, policy: 'disable' });
  // The removed features close the list (they were counted in the score above).
  if (options.kind === 'guest') {
    for (const r of best.removedList) {
      if (!required.has(r) && !disabled.has(r)) list.push({ index: r, policy: 'disable' });
    }
  }
  const out: Decoded = { model: best, vendor: data.vendor, features: list };
  if (options.migratable) {
    out.features = out.features.filter((f) => db.features[f.index]?.migratable !== false);
  }
  return out;
}

/** Blockers of the hypervisor's model that are neither extra features of the data nor already model gaps. */
function blockersOutside(
  hvModel: HypervisorModel | undefined,
  features: FeatureSet,
  model: X86Model,
  db: X86Database,
): number[] {
  if (!hvModel?.blockers?.length) return [];
  const out: number[] = [];
  for (const b of hvModel.blockers) {
    const f = db.featureAnyName(b);
    if (!f) continue;
    const isRequired = features.has(f.index) && !model.features.has(f.index);
    const isDisabled = model.features.has(f.index) && !features.has(f.index);
    if (!isRequired && !isDisabled && !out.includes(f.index)) out.push(f.index);
  }
  return out;
}

/** Disabled features cost 2, 3, 4, ... each: the sum for `n` of them. */
function penalty(n: number): number {
  return 2 * n + (n * (n - 1)) / 2;
}

/**
 * A guest candidate's score as libvirt computes it: the candidate lists its
 * `required` features, then its `disabled` ones (model gaps, blockers and
 * the model's removed features). libvirt walks that list with a bound that
 * shrinks by one for each disabled feature it meets, so only the first half
 * (rounded up) of the disabled features is charged a penalty; the others
 * count as plain features. The choice of model depends on that detail, so
 * it is reproduced here.
 */
function guestScore(required: number, disabled: number): { total: number; disabled: number } {
  const charged = Math.ceil(disabled / 2);
  const cost = penalty(charged);
  return { total: required + disabled - charged + cost, disabled: cost };
}

/** The model's removed features not already listed as required, disabled or blocking (libvirt adds them as disabled). */
function removedOutside(model: X86Model, features: FeatureSet, blockers: readonly number[]): number {
  let n = 0;
  for (const r of model.removedList) {
    if (blockers.includes(r)) continue;
    const isRequired = features.has(r) && !model.features.has(r);
    const isDisabled = model.features.has(r) && !features.has(r);
    if (!isRequired && !isDisabled) n++;
  }
  return n;
}

/** Builds the CPU definition of a decoded model (host style or a guest `custom` CPU). */
export function decodedToCpu(
  d: Decoded,
  kind: 'host' | 'guest',
  db = x86Database(),
  extra: { fallback?: 'allow' | 'forbid'; match?: 'minimum' | 'exact' | 'strict'; vendor?: boolean } = {},
): CpuDef {
  const features: CpuFeature[] = d.features.map((f) =>
    feat(db, f.index, kind === 'host' ? undefined : f.policy),
  );
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
  // Spread keeps kept-unknown XML (a symbol property) with each object.
  const out = new CpuDefClass({ ...cpu });
  if (cpu.model) out.model = { ...cpu.model };
  if (cpu.features) out.features = cpu.features.map((f) => ({ ...f }));
  if (cpu.topology) out.topology = { ...cpu.topology };
  if (cpu.signature) out.signature = { ...cpu.signature };
  if (cpu.cache) out.cache = { ...cpu.cache };
  if (cpu.maxPhysAddr) out.maxPhysAddr = { ...cpu.maxPhysAddr };
  return out;
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

/** Lists the model's removed features as `disable` unless the CPU already mentions them. */
export function disableRemovedFeatures(cpu: CpuDef, model: X86Model, db = x86Database()): void {
  for (const i of model.removedList) {
    const name = db.features[i]?.name;
    if (name && !(cpu.features ?? []).some((f) => f.name === name)) {
      cpu.features = [...(cpu.features ?? []), { policy: 'disable', name }];
    }
  }
}

/**
 * libvirt's update: `optional` features resolved against the host, and a
 * `host-model` (or `match='minimum'`) CPU replaced by the host's model and
 * features, the guest's own feature policies applied on top; features the
 * guest model lost in newer releases are listed as disabled.
 * `host-passthrough` and `maximum` CPUs are left alone.
 */
export function updateX86(guest: CpuDef, host: CpuDef | undefined, db = x86Database()): CpuDef {
  const out = copyCpu(guest);
  const mode = guest.mode ?? 'custom';
  if (mode === 'host-passthrough' || mode === 'maximum') return out;
  if (mode === 'custom' && !guest.model?.name) return out;
  const relative =
    mode === 'host-model' ||
    guest.match === 'minimum' ||
    (guest.features ?? []).some((f) => f.policy === 'optional');
  let result = out;
  if (relative) {
    if (!host?.model?.name) {
      throw unknownHostModel();
    }
    const hostSet = featuresWithPolicy(host, 'all', db);
    for (const f of out.features ?? []) {
      if (f.policy === 'optional') {
        f.policy = hostSet.has(lookupFeatureIndex(db, f.name)) ? 'require' : 'disable';
      }
    }
    if (mode === 'host-model' || guest.match === 'minimum') {
      const updated = copyCpu(out);
      updated.mode = 'custom';
      updated.match = 'exact';
      updated.model = { ...(out.model ?? {}), name: host.model.name };
      if (!out.model?.vendorId && host.model.vendorId) updated.model.vendorId = host.model.vendorId;
      // A custom CPU keeps its own vendor (none means any); host-model takes the host's.
      if (mode !== 'custom') {
        if (host.vendor) updated.vendor = host.vendor;
        else delete updated.vendor;
      }
      delete updated.features;
      // a host CPU lists what it has; a host-model CPU (domain capabilities) also what it turns off
      for (const f of host.features ?? []) setFeaturePolicy(updated, f.name, f.policy ?? 'require');
      for (const f of out.features ?? []) setFeaturePolicy(updated, f.name, f.policy ?? 'require');
      result = updated;
    }
  }
  if (result.model?.name) disableRemovedFeatures(result, lookupModel(db, result.model.name), db);
  return normaliseGuest(result);
}

/** Guest CPUs as libvirt formats them: mode and (for custom models) fallback made explicit. */
export function normaliseGuest(cpu: CpuDef): CpuDef {
  if (isHostCpu(cpu)) return cpu;
  cpu.mode ??= 'custom';
  if (cpu.mode === 'custom' && cpu.model?.name) cpu.model.fallback ??= 'allow';
  return cpu;
}

/**
 * libvirt's translate: a `custom` CPU whose model the hypervisor does not
 * support is re-expressed with a supported model (unless fallback='forbid').
 */
export function translateX86(
  cpu: CpuDef,
  models: readonly (string | HypervisorModel)[] | null | undefined,
  db = x86Database(),
): CpuDef {
  const out = copyCpu(cpu);
  const mode = cpu.mode ?? 'custom';
  if (mode !== 'custom' || !cpu.model?.name || !models) return normaliseGuest(out);
  if (models.some((m) => (typeof m === 'string' ? m : m.name) === cpu.model?.name))
    return normaliseGuest(out);
  if ((cpu.model.fallback ?? 'allow') !== 'allow') throw modelNotSupported(cpu.model.name);
  const model = lookupModel(db, cpu.model.name);
  const data: X86Data = { features: featuresWithPolicy(cpu, 'all', db) };
  if (model.vendor) data.vendor = lookupVendor(db, model.vendor);
  const sig = model.signatures[0];
  if (sig) {
    const stepping = sig.steppings === 0 ? 0 : 31 - Math.clz32(sig.steppings & -sig.steppings);
    data.signature = { family: sig.family, model: sig.model, stepping };
  }
  const d = decodeX86(data, { kind: 'guest', models, fallback: cpu.model.fallback ?? 'allow' }, db);
  const translated = decodedToCpu(d, 'guest', db);
  for (const f of cpu.features ?? []) setFeaturePolicy(translated, f.name, f.policy ?? 'require');
  out.model = { ...out.model, name: d.model.name };
  if (translated.features) out.features = translated.features;
  else delete out.features;
  return normaliseGuest(out);
}

/** What `baselineCpu` computes: the features listed, migratability, the models allowed. */
export interface BaselineOptions {
  /** List every model feature explicitly. */
  expandFeatures?: boolean;
  /** Leave out features that cannot be migrated. */
  migratable?: boolean;
  /** Models to choose from; all when omitted. */
  models?: readonly (string | HypervisorModel)[] | null;
  /**
   * The features the hypervisor knows (libvirt or QEMU spellings): the
   * baseline keeps only these. All when omitted.
   */
  features?: readonly string[];
}

/** The most capable guest CPU every one of `cpus` can run. */
export function baselineX86(
  cpus: readonly CpuDef[],
  options: BaselineOptions = {},
  db = x86Database(),
): CpuDef {
  const first = cpus[0];
  if (!first) throw new VirError('INVALID_ARG', 'cpu', 'baseline needs at least one CPU', { field: 'cpus' });
  let outputVendor = true;
  let vendor: X86Vendor | undefined;
  if (first.vendor) vendor = lookupVendor(db, first.vendor);
  else outputVendor = false;
  const names: string[] = [];
  const base = featuresWithPolicy(first, 'all', db);
  if (first.model?.name) names.push(first.model.name);
  for (const [i, cpu] of cpus.entries()) {
    if (i === 0) continue;
    if (cpu.model?.name && !names.includes(cpu.model.name)) names.push(cpu.model.name);
    const set = featuresWithPolicy(cpu, 'all', db);
    const modelVendor = cpu.model?.name ? lookupModel(db, cpu.model.name).vendor : undefined;
    if (cpu.vendor && modelVendor && cpu.vendor !== modelVendor) {
      throw vendorMismatch(
        `CPU vendor ${modelVendor} of model ${cpu.model?.name} differs from vendor ${cpu.vendor}`,
        `cpu[${i + 1}]/vendor`,
        cpu.vendor,
      );
    }
    let vn = cpu.vendor;
    if (!vn) {
      outputVendor = false;
      vn = modelVendor;
    }
    if (vn) {
      if (!vendor) vendor = lookupVendor(db, vn);
      else if (vendor.name !== vn) {
        throw vendorMismatch(
          `CPU vendors do not match: ${vendor.name} and ${vn}`,
          `cpu[${i + 1}]/vendor`,
          vn,
        );
      }
    }
    base.intersect(set);
  }
  if (options.features) {
    const known = db.emptySet();
    for (const name of options.features) {
      const f = db.featureAnyName(name);
      if (f) known.add(f.index);
    }
    base.intersect(known);
  }
  if (base.isEmpty()) throw incompatible('CPUs are incompatible');
  const d = decodeX86(
    { vendor, features: base },
    {
      kind: 'guest',
      models: options.models,
      preferred: names,
      fallback: 'allow',
      migratable: options.migratable,
    },
    db,
  );
  const cpu = decodedToCpu(d, 'guest', db, {
    fallback: names.length === 1 && d.model.name === names[0] ? 'forbid' : 'allow',
    vendor: outputVendor,
  });
  return options.expandFeatures ? expandX86(cpu, db) : cpu;
}

/**
 * Lists every feature of the model explicitly (libvirt's expand features):
 * the model's features first, then the CPU's own required/disabled ones.
 */
export function expandX86(cpu: CpuDef, db = x86Database()): CpuDef {
  const out = copyCpu(cpu);
  if (!out.model?.name) return out;
  const model = lookupModel(db, out.model.name);
  const host = isHostCpu(out);
  const expanded = new CpuDefClass({});
  for (const i of model.features) {
    const name = db.features[i]?.name ?? `#${i}`;
    setFeaturePolicy(expanded, name, host ? undefined : 'require');
  }
  for (const f of cpu.features ?? []) {
    if (!host && f.policy !== 'require' && f.policy !== 'disable' && f.policy !== undefined) continue;
    setFeaturePolicy(expanded, f.name, host ? undefined : (f.policy ?? 'require'));
  }
  if (!host) disableRemovedFeatures(expanded, model, db);
  if (expanded.features?.length) out.features = expanded.features;
  else delete out.features;
  return out;
}

/**
 * Adjusts a running guest's CPU to what the hypervisor actually enabled
 * and disabled: features it added become `require`, features it could not
 * give become `disable`. With `check='full'` any difference is an error.
 */
export function updateLiveX86(
  cpu: CpuDef,
  enabled: FeatureSet,
  disabled: FeatureSet,
  db = x86Database(),
): CpuDef {
  const out = copyCpu(cpu);
  const passthrough = out.mode === 'host-passthrough' || out.mode === 'maximum';
  const current = featuresWithPolicy(out, 'all', db);
  const modelDisabled = passthrough ? featuresWithPolicy(out, 'disable', db) : undefined;
  const added: string[] = [];
  const removed: string[] = [];
  const full = out.check === 'full';
  for (const f of db.features) {
    let expected: 'require' | 'disable' | undefined;
    if (current.has(f.index)) expected = 'require';
    else if (!passthrough || modelDisabled?.has(f.index)) expected = 'disable';
    if (expected === 'disable' && enabled.has(f.index)) {
      if (full) added.push(f.name);
      else setFeaturePolicy(out, f.name, 'require');
    }
    if (disabled.has(f.index) || (expected === 'require' && !enabled.has(f.index))) {
      if (full) removed.push(f.name);
      else setFeaturePolicy(out, f.name, 'disable');
    }
  }
  if (out.model?.name) disableRemovedFeatures(out, lookupModel(db, out.model.name), db);
  if (added.length > 0 || removed.length > 0) {
    const parts = [];
    if (added.length > 0) parts.push(`extra features: ${added.join(',')}`);
    if (removed.length > 0) parts.push(`missing features: ${removed.join(',')}`);
    throw incompatible(`guest CPU doesn't match specification: ${parts.join(', ')}`);
  }
  if (full && !disabled.isEmpty()) {
    throw incompatible("guest CPU doesn't match specification");
  }
  return out;
}

/**
 * Feature-policy resolution: for a guest CPU on a given host, every
 * feature the guest could see, whether it ends up on or off, and why. This
 * is what libvirt decides silently when it starts or migrates a domain; here
 * a UI can show it feature by feature.
 *
 * @module
 */
import type { CpuDef, CpuFeaturePolicy, CpuMatch, CpuMode } from '../conf/cpu.js';
import { VirError } from '../errors.js';
import {
  copyCpu,
  featuresWithPolicy,
  type HypervisorModel,
  isHostCpu,
  lookupFeatureIndex,
  lookupModel,
  migratableCopy,
  normaliseGuest,
  translateX86,
  updateX86,
} from './x86.js';
import { x86Database } from './x86-db.js';

/** Where a feature's policy came from. */
export type FeatureSource =
  /** Written in the guest's `<feature policy=...>`. */
  | 'explicit'
  /** Part of the guest's CPU model, no explicit policy. */
  | 'model'
  /** A host feature outside the model: the default policy of the CPU's `match`. */
  | 'match'
  /** Taken from the host (`host-model` / `host-passthrough` / `maximum`). */
  | 'host';

/** One feature of a resolved guest CPU: whether the guest gets it, and why. */
export interface ResolvedFeature {
  /** The feature's libvirt name. */
  name: string;
  /** Whether the guest gets the feature. */
  enabled: boolean;
  /** The policy that decided it (after defaults and the migration rule). */
  policy: CpuFeaturePolicy;
  /** The policy as written, when the guest gave one. */
  requested?: CpuFeaturePolicy;
  /**
   * Where the decision came from: the guest's own `<feature>`, the model, the host, or the match
   * default.
   */
  source: FeatureSource;
  /** Whether the host CPU has the feature. */
  onHost: boolean;
  /** Whether the feature is part of the (resolved) model. */
  inModel: boolean;
  /** False for features that block migration (e.g. `invtsc`). */
  migratable: boolean;
  /** One sentence: why the feature is on or off. */
  reason: string;
}

/** A policy the host cannot honour. */
export interface CpuViolation {
  /** The feature at fault (or the vendor, for `policy: vendor`). */
  feature: string;
  /** The rule broken: a required feature missing, a forbidden one present, or the wrong vendor. */
  policy: 'require' | 'forbid' | 'vendor';
  /** The problem in words, for a message. */
  problem: string;
}

/** What `resolveGuestCpu` decided for a guest CPU on one host. */
export interface ResolvedCpu {
  /** The guest CPU's mode (`custom`, `host-model`, `host-passthrough`, `maximum`). */
  mode: CpuMode;
  /** The match the policies were defaulted by, for custom CPUs. */
  match: CpuMatch | undefined;
  /** The model the guest runs (after host-model / translation); undefined for passthrough. */
  model: string | undefined;
  /** The vendor the guest sees. */
  vendor: string | undefined;
  /** Every feature that matters, in database order. */
  features: ResolvedFeature[];
  /** Broken `require` / `forbid` policies (and a vendor mismatch). Empty when the guest fits. */
  violations: CpuViolation[];
  /** The guest CPU as it will be realised: a custom CPU, or the passthrough definition. */
  cpu: CpuDef;
}

/**
 * What `resolveGuestCpu` resolves for: the hypervisor's models, a migration, and whether to throw.
 */
export interface ResolveOptions {
  /** Models the hypervisor supports; a custom model outside them is translated (fallback='allow'). */
  models?: readonly (string | HypervisorModel)[] | null;
  /** Resolve for an outgoing migration: `optional` becomes `require`, non-migratable host features are left out. */
  migration?: boolean;
  /** Return violations instead of throwing CPU_INCOMPATIBLE. */
  allowViolations?: boolean;
}

const MATCH_DEFAULT: Record<CpuMatch, CpuFeaturePolicy> = {
  minimum: 'optional',
  exact: 'disable',
  strict: 'forbid',
};

/**
 * Resolves a guest CPU against a host CPU (host style, e.g. from
 * capabilities). Throws `CPU_INCOMPATIBLE` naming the features at fault
 * when a `require`d feature is missing or a `forbid`den one present (unless
 * `allowViolations`), `INVALID_ARG` for unknown models or features.
 */
export function resolveGuestCpu(guest: CpuDef, host: CpuDef, options: ResolveOptions = {}): ResolvedCpu {
  const db = x86Database();
  if (!host.model?.name) throw new VirError('CPU_INCOMPATIBLE', 'cpu', 'unknown host CPU: it has no model');
  if (isHostCpu(guest)) {
    throw new VirError(
      'INVALID_ARG',
      'cpu',
      'expected a guest CPU (with mode or match), got a host-style CPU',
      {
        field: 'cpu',
      },
    );
  }
  const mode = guest.mode ?? 'custom';
  const hostCpu = options.migration ? migratableCopy(host, db) : host;
  const hostSet = featuresWithPolicy(hostCpu, 'all', db);
  const requested = new Map<string, CpuFeaturePolicy>();
  for (const f of guest.features ?? []) {
    lookupFeatureIndex(db, f.name);
    requested.set(f.name, f.policy ?? 'require');
  }

  if (mode === 'host-passthrough' || mode === 'maximum') {
    return resolvePassthrough(guest, mode, hostSet, requested, options);
  }

  // host-model and match='minimum' are filled from the host the way libvirt's update does.
  let cpu = normaliseGuest(copyCpu(guest));
  if (mode === 'host-model' || guest.match === 'minimum') cpu = updateX86(cpu, hostCpu, db);
  if (!cpu.model?.name)
    throw new VirError('INVALID_ARG', 'cpu', 'no guest CPU model specified', { field: 'model' });
  if (options.models) cpu = translateX86(cpu, options.models, db);
  const model = lookupModel(db, cpu.model?.name ?? '');
  const match = guest.match ?? 'exact';
  const explicit = new Map<number, CpuFeaturePolicy>();
  for (const f of cpu.features ?? []) explicit.set(lookupFeatureIndex(db, f.name), f.policy ?? 'require');

  const features: ResolvedFeature[] = [];
  const violations: CpuViolation[] = [];
  if (guest.vendor && host.vendor && guest.vendor !== host.vendor) {
    violations.push({
      feature: 'vendor',
      policy: 'vendor',
      problem: `guest requires vendor ${guest.vendor}, host is ${host.vendor}`,
    });
  }
  for (const f of db.features) {
    const inModel = model.features.has(f.index);
    const onHost = hostSet.has(f.index);
    const exp = explicit.get(f.index);
    if (!inModel && !onHost && exp === undefined) continue;
    let source: FeatureSource;
    let policy: CpuFeaturePolicy;
    if (exp !== undefined) {
      policy = exp;
      if (requested.has(f.name)) source = 'explicit';
      else source = mode === 'host-model' || guest.match === 'minimum' ? 'host' : 'model';
    } else if (inModel) {
      policy = 'require';
      source = 'model';
    } else {
      policy = MATCH_DEFAULT[match];
      source = 'match';
    }
    if (options.migration && policy === 'optional') policy = 'require';
    const enabled = policy === 'force' || policy === 'require' || (policy === 'optional' && onHost);
    const r: ResolvedFeature = {
      name: f.name,
      enabled,
      policy,
      source,
      onHost,
      inModel,
      migratable: f.migratable,
      reason: '',
    };
    const req = requested.get(f.name);
    if (req !== undefined) r.requested = req;
    r.reason = explain(r, match);
    if (policy === 'require' && !onHost) {
      violations.push({ feature: f.name, policy: 'require', problem: 'required but the host lacks it' });
    }
    if (policy === 'forbid' && onHost) {
      violations.push({ feature: f.name, policy: 'forbid', problem: 'forbidden but the host has it' });
    }
    features.push(r);
  }
  // Host extras outside the model are off under exact/strict and already explicit after a
  // host-model or minimum update, so the realised CPU is the (updated, translated) definition.
  const realised = copyCpu(cpu);
  const byName = new Map(features.map((r) => [r.name, r]));
  for (const f of realised.features ?? []) {
    if (f.policy === 'optional') f.policy = byName.get(f.name)?.enabled ? 'require' : 'disable';
  }
  // A hypervisor model with blockers cannot give those features: unless the guest turns
  // them off, starting it would fail (QEMU's `unavailable-features`).
  const hv = options.models?.find((m) => typeof m !== 'string' && m.name === model.name);
  if (hv && typeof hv !== 'string') {
    const byName = new Map(features.map((r) => [r.name, r]));
    for (const b of hv.blockers ?? []) {
      const f = db.featureAnyName(b);
      const r = f ? byName.get(f.name) : undefined;
      if (r?.enabled && !violations.some((v) => v.feature === r.name)) {
        violations.push({
          feature: r.name,
          policy: 'require',
          problem: `the hypervisor cannot provide it with model ${model.name}`,
        });
      }
    }
  }
  if (options.migration) {
    for (const r of features) {
      if (r.enabled && !r.migratable && !violations.some((v) => v.feature === r.name)) {
        violations.push({ feature: r.name, policy: 'require', problem: 'enabled but blocks migration' });
      }
    }
  }
  const out: ResolvedCpu = {
    mode,
    match: guest.match,
    model: model.name,
    vendor: cpu.vendor ?? host.vendor,
    features,
    violations,
    cpu: realised,
  };
  return check(out, guest, options);
}

function resolvePassthrough(
  guest: CpuDef,
  mode: 'host-passthrough' | 'maximum',
  hostSet: ReturnType<typeof featuresWithPolicy>,
  requested: Map<string, CpuFeaturePolicy>,
  options: ResolveOptions,
): ResolvedCpu {
  const db = x86Database();
  const features: ResolvedFeature[] = [];
  const violations: CpuViolation[] = [];
  for (const f of db.features) {
    const onHost = hostSet.has(f.index);
    const req = requested.get(f.name);
    if (!onHost && req === undefined) continue;
    const policy = req ?? 'require';
    const enabled = policy === 'force' || policy === 'require' || (policy === 'optional' && onHost);
    const r: ResolvedFeature = {
      name: f.name,
      enabled,
      policy,
      source: req === undefined ? 'host' : 'explicit',
      onHost,
      inModel: false,
      migratable: f.migratable,
      reason: '',
    };
    if (req !== undefined) r.requested = req;
    r.reason =
      req === undefined
        ? `the host has it and ${mode} passes every host feature through`
        : explain(r, guest.match ?? 'exact');
    if (policy === 'require' && !onHost && mode === 'host-passthrough') {
      violations.push({ feature: f.name, policy: 'require', problem: 'required but the host lacks it' });
    }
    if (policy === 'forbid' && onHost) {
      violations.push({ feature: f.name, policy: 'forbid', problem: 'forbidden but the host has it' });
    }
    features.push(r);
  }
  const out: ResolvedCpu = {
    mode,
    match: undefined,
    model: undefined,
    vendor: undefined,
    features,
    violations,
    cpu: copyCpu(guest),
  };
  return check(out, guest, options);
}

function check(out: ResolvedCpu, guest: CpuDef, options: ResolveOptions): ResolvedCpu {
  if (out.violations.length > 0 && !options.allowViolations && guest.check !== 'none') {
    const names = out.violations.map((v) => `${v.feature} (${v.problem})`).join(', ');
    throw new VirError('CPU_INCOMPATIBLE', 'cpu', `guest CPU is incompatible with the host: ${names}`);
  }
  return out;
}

function explain(r: ResolvedFeature, match: CpuMatch): string {
  const host = r.onHost ? 'the host has it' : 'the host lacks it';
  switch (r.source) {
    case 'host':
      return r.policy === 'disable'
        ? `the host-model CPU lists it as disabled (${host})`
        : `taken from the host CPU (${host})`;
    case 'explicit':
      switch (r.policy) {
        case 'force':
          return `policy 'force': enabled whether or not the host has it (${host})`;
        case 'require':
          return r.requested === 'optional'
            ? `policy 'optional' becomes 'require' for a migration (${host})`
            : `policy 'require': enabled, and ${r.onHost ? 'the host provides it' : 'the host must provide it but lacks it'}`;
        case 'optional':
          return `policy 'optional': ${r.onHost ? 'enabled because the host has it' : 'disabled because the host lacks it'}`;
        case 'disable':
          return `policy 'disable': turned off (${host})`;
        case 'forbid':
          return `policy 'forbid': turned off, and ${r.onHost ? 'the host must not have it but does' : 'the host does not have it'}`;
      }
      return host;
    case 'model':
      return `part of the CPU model: required (${host})`;
    case 'match':
      return `not in the model; match='${match}' defaults it to '${MATCH_DEFAULT[match]}'${
        r.policy !== MATCH_DEFAULT[match] ? ` ('${r.policy}' for a migration)` : ''
      }: ${r.enabled ? 'enabled' : 'disabled'} (${host})`;
  }
}

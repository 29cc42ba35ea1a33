/**
 * The two verdicts of a plan cell, with libvirt's QEMU driver rules:
 *
 * - **start**: the CPU mode must be supported; forbidden features must be
 *   absent; a `custom` model the hypervisor reports usable, with no feature
 *   other than disabled ones, always starts; otherwise a model marked for
 *   the compatible check (the older, unversioned names of the CPU map) is
 *   compared with everything the host offers, and any other model counts
 *   QEMU's blockers plus the guest's explicitly required features missing
 *   from the host-model CPU (libvirt's `qemuDomainCheckCPU`).
 * - **incoming migration**: the running guest's CPU is what libvirt made of
 *   it on the source (optional features the source has become `require`,
 *   the others `disable`; a host-model guest becomes the source's host-model
 *   CPU), and the destination must pass the start check for it, i.e. offer
 *   every feature the running guest has. host-passthrough and maximum
 *   guests move only between identical hosts; features that cannot migrate
 *   block any migration.
 *
 * Everything works on the sets prepared once per guest and host, so a cell
 * costs a few word operations unless it fails (then the names are made).
 *
 * @module
 */
import type { FeatureSet } from '../feature-set.js';
import { type X86Model, x86Database } from '../x86-db.js';
import type { PreparedGuest } from './guest.js';
import type { PreparedHost } from './host.js';
import type { FleetBlocker, FleetVerdict } from './types.js';

/** The guest CPU as it runs: its model and every feature it has. */
export interface RunningCpu {
  model: X86Model;
  enabled: FeatureSet;
  /** `enabled` less the model's own features: what the CPU lists explicitly. */
  beyondModel: FeatureSet;
  /** Why each enabled feature is there, for the blocker reasons. */
  why(feature: number): string;
  /** Enabled features that cannot migrate: they block every destination. */
  notMigratable: FleetBlocker[];
}

/** How a set part words its blockers; data, not closures, so a passing cell allocates nothing. */
type Why =
  | { t: 'forbid' | 'require' | 'strict'; host: string }
  | { t: 'need'; host: string; cpu: RunningCpu }
  | { t: 'not-migratable'; mode: string };

/** Features of `a` not in `b` (all of `a` without `b`), each one blocker. */
interface SetPart {
  a: FeatureSet;
  b: FeatureSet | undefined;
  kind: FleetBlocker['kind'];
  why: Why;
}

function wording(w: Why, name: string, i: number): string {
  switch (w.t) {
    case 'forbid':
      return `policy 'forbid', and host ${w.host} has ${name}`;
    case 'require':
      return `policy 'require', and host ${w.host} lacks ${name}`;
    case 'strict':
      return `match='strict', and host ${w.host} has ${name}, which the guest does not list`;
    case 'need':
      return `${w.cpu.why(i)}, and host ${w.host} lacks ${name}`;
    case 'not-migratable':
      return `${name} is enabled in the ${w.mode} guest and cannot be migrated`;
  }
}

type Part = FleetBlocker | SetPart;

/**
 * A verdict whose blocker list is made when first read: a fleet matrix has
 * tens of thousands of failing cells, most of which nobody looks into.
 */
export class Verdict implements FleetVerdict {
  readonly ok: boolean;
  readonly from?: string | undefined;
  #parts: readonly Part[];
  #blockers: FleetBlocker[] | undefined;

  /** `from`: the migration source, for migration verdicts (`null` for start verdicts). */
  constructor(ok: boolean, parts: readonly Part[], from: string | undefined | null = null) {
    this.ok = ok;
    this.#parts = parts;
    if (from !== null) this.from = from;
  }

  get blockers(): FleetBlocker[] {
    if (!this.#blockers) {
      const out: FleetBlocker[] = [];
      for (const p of this.#parts) {
        if ('a' in p) featureBlockers(p, out);
        else out.push(p);
      }
      this.#blockers = out;
    }
    return this.#blockers;
  }

  /** Adds the feature numbers at fault to `into`; false when a blocker names no feature. */
  blockingFeatures(into: FeatureSet): boolean {
    let onlyFeatures = true;
    for (const p of this.#parts) {
      if ('a' in p) {
        const a = p.a.words;
        const b = p.b?.words;
        for (let i = 0; i < a.length; i++)
          into.words[i] = (into.words[i] ?? 0) | ((a[i] ?? 0) & ~(b?.[i] ?? 0));
      } else if (p.feature !== undefined) {
        const f = x86Database().feature(p.feature);
        if (f) into.add(f.index);
      } else {
        onlyFeatures = false;
      }
    }
    return onlyFeatures;
  }

  toJSON(): FleetVerdict & { from?: string } {
    const out: FleetVerdict & { from?: string } = { ok: this.ok, blockers: this.blockers };
    if (this.from !== undefined) out.from = this.from;
    return out;
  }
}

function featureBlockers(p: SetPart, out: FleetBlocker[]): void {
  const db = x86Database();
  const aw = p.a.words;
  const bw = p.b?.words;
  for (let wi = 0; wi < aw.length; wi++) {
    let w = (aw[wi] ?? 0) & ~(bw?.[wi] ?? 0);
    while (w !== 0) {
      const low = w & -w;
      const i = (wi << 5) + (31 - Math.clz32(low));
      w ^= low;
      const name = db.features[i]?.name ?? `#${i}`;
      out.push({ kind: p.kind, feature: name, reason: wording(p.why, name, i) });
    }
  }
}

/** Collects the parts of one verdict; a set part is kept only when it is not empty. */
class Parts {
  static readonly NONE: readonly Part[] = Object.freeze([]);
  #list: Part[] | undefined;

  get list(): readonly Part[] {
    return this.#list ?? Parts.NONE;
  }

  add(b: Part): void {
    this.#list ??= [];
    this.#list.push(b);
  }

  /** Members of `a` missing from `b`. */
  minus(a: FeatureSet, b: FeatureSet, kind: FleetBlocker['kind'], why: Why): void {
    if (!a.isSubsetOf(b)) this.add({ a, b, kind, why });
  }

  /** Members of `a` also in `b`. */
  common(a: FeatureSet, b: FeatureSet, kind: FleetBlocker['kind'], why: Why): void {
    if (a.intersects(b)) this.add({ a: a.clone().intersect(b), b: undefined, kind, why });
  }

  get empty(): boolean {
    return this.#list === undefined;
  }
}

function archFits(guest: string | undefined, host: string): boolean {
  if (guest === undefined || guest === host) return true;
  // qemu-system-x86_64 runs 32-bit x86 guests too.
  return host === 'x86_64' && /^i[3-6]86$/.test(guest);
}

/** Blockers that do not depend on the CPU's features: architecture, unknown host CPU, mode. */
function hostBlocker(g: PreparedGuest, h: PreparedHost): FleetBlocker | undefined {
  if (!archFits(g.arch, h.arch)) {
    return { kind: 'arch', reason: `the guest is ${g.arch}, host ${h.name} is ${h.arch}` };
  }
  if (!h.offered) {
    return { kind: 'host-cpu', reason: `the CPU of host ${h.name} is unknown: ${h.problems.join('; ')}` };
  }
  if (h.modes && !h.modes.has(g.mode)) {
    return { kind: 'mode', reason: `the hypervisor of ${h.name} does not support CPU mode '${g.mode}'` };
  }
  return undefined;
}

/** The running CPU a custom guest asks a host for when it starts. */
const startCpus = new WeakMap<PreparedGuest, RunningCpu>();

function startCpu(g: PreparedGuest, model: X86Model): RunningCpu {
  let cpu = startCpus.get(g);
  if (!cpu) {
    cpu = {
      model,
      enabled: g.needed,
      beyondModel: g.needed.clone().subtract(model.features),
      notMigratable: [],
      why: (i) => (g.require.has(i) ? "policy 'require'" : `part of model ${model.name}`),
    };
    startCpus.set(g, cpu);
  }
  return cpu;
}

/** Can `g` be started on `h`? */
export function checkStart(g: PreparedGuest, h: PreparedHost): FleetVerdict {
  const parts = new Parts();
  const pre = hostBlocker(g, h);
  const offered = h.offered;
  if (pre || !offered) {
    if (pre) parts.add(pre);
    return startVerdict(g, parts);
  }
  if (g.forbid.intersects(offered))
    parts.common(g.forbid, offered, 'forbidden', { t: 'forbid', host: h.name });
  if (g.mode === 'host-passthrough' || g.mode === 'host-model') {
    // The guest gets the host's CPU (or its host-model CPU): only explicit requirements can fail.
    if (!g.require.isSubsetOf(offered))
      parts.minus(g.require, offered, 'missing', { t: 'require', host: h.name });
  } else if (g.mode === 'custom' && g.model) {
    vendorBlocker(parts, g.vendor, h);
    modelBlockers(parts, g, startCpu(g, g.model), h, g.hasEnabledFeatures, g.fallback);
  }
  return startVerdict(g, parts);
}

function startVerdict(g: PreparedGuest, parts: Parts): Verdict {
  // check='none': libvirt starts the guest without checking; the problems are still shown.
  return new Verdict(parts.empty || g.check === 'none', parts.list);
}

function vendorBlocker(parts: Parts, vendor: string | undefined, h: PreparedHost): void {
  if (!vendor || vendor === h.vendor) return;
  parts.add({
    kind: 'vendor',
    reason: `the guest requires vendor ${vendor}, host ${h.name} is ${h.vendor ?? 'unknown'}`,
  });
}

/**
 * The model and feature part of the start check for a custom CPU: `cpu.enabled`
 * is what the host must provide (features beyond the model are explicit).
 */
function modelBlockers(
  parts: Parts,
  g: PreparedGuest,
  cpu: RunningCpu,
  h: PreparedHost,
  hasEnabledFeatures: boolean,
  fallback: 'allow' | 'forbid',
): void {
  const offered = h.offered as FeatureSet;
  const entry = h.models?.get(cpu.model.name);
  if (h.models && !entry && fallback === 'forbid') {
    parts.add({
      kind: 'model',
      reason: `the hypervisor of ${h.name} does not offer model ${cpu.model.name} and fallback='forbid'`,
    });
    return;
  }
  if (entry?.usable === 'yes' && !hasEnabledFeatures) return;
  if (!entry || cpu.model.compatCheck || !h.hostModel || g.match === 'minimum') {
    if (!cpu.enabled.isSubsetOf(offered))
      parts.minus(cpu.enabled, offered, 'missing', { t: 'need', host: h.name, cpu });
    if (g.match === 'strict' && cpu.enabled === g.needed) {
      parts.minus(offered, g.listed, 'forbidden', { t: 'strict', host: h.name });
    }
    return;
  }
  // QEMU's verdict on the model, then what the guest adds on top of it.
  const db = x86Database();
  for (const b of entry.blockers) {
    if (!cpu.enabled.has(b)) continue;
    const name = db.features[b]?.name ?? `#${b}`;
    parts.add({
      kind: 'hypervisor',
      feature: name,
      reason: `the hypervisor of ${h.name} cannot give ${name} with model ${cpu.model.name}`,
    });
  }
  if (!cpu.beyondModel.isSubsetOf(h.hostModel.set)) {
    parts.minus(cpu.beyondModel, h.hostModel.set, 'missing', { t: 'need', host: h.name, cpu });
  }
}

/** The CPU `g` runs with on `src` (libvirt's update at start), or undefined for the passthrough modes. */
export function runningOn(g: PreparedGuest, src: PreparedHost): RunningCpu | undefined {
  const db = x86Database();
  const offered = src.offeredMigratable;
  if (!offered) return undefined;
  let model: X86Model | undefined;
  let enabled: FeatureSet;
  let why: (i: number) => string;
  if (g.mode === 'custom' && g.model) {
    const m = g.model;
    model = m;
    enabled = m.features.clone().union(g.require).union(g.force);
    enabled.union(g.optional.clone().intersect(offered)).subtract(g.disable).subtract(g.forbid);
    why = (i) =>
      g.optional.has(i)
        ? `policy 'optional', enabled on ${src.name} (it becomes 'require' for the migration)`
        : g.require.has(i) || g.force.has(i)
          ? `policy '${g.force.has(i) ? 'force' : 'require'}'`
          : `part of model ${m.name}`;
  } else if (g.mode === 'host-model') {
    model =
      src.hostModel?.model ?? (src.offeredCpu?.model?.name ? db.model(src.offeredCpu.model.name) : undefined);
    enabled = offered.clone().union(g.require).union(g.force).subtract(g.disable).subtract(g.forbid);
    why = (i) =>
      g.require.has(i) || g.force.has(i)
        ? "policy 'require'"
        : `taken from the host-model CPU of ${src.name}`;
  } else {
    return undefined;
  }
  if (!model) return undefined;
  return {
    model,
    enabled,
    beyondModel: enabled.clone().subtract(model.features),
    why,
    notMigratable: notMigratable(enabled, g.mode),
  };
}

/** Can `dst` receive `g` running on `src` (with `cpu`, see {@link runningOn}) by live migration? */
export function checkMigration(
  g: PreparedGuest,
  src: PreparedHost | undefined,
  srcStart: FleetVerdict | undefined,
  cpu: RunningCpu | undefined,
  dst: PreparedHost,
): FleetVerdict & { from: string | undefined } {
  const from = src?.name;
  const parts = new Parts();
  if (!src) return sourceFailure('the guest can start on no host, so there is nothing to migrate', from);
  if (!srcStart?.ok) return sourceFailure(`the guest cannot run on its source host ${src.name}`, from);
  const pre = hostBlocker(g, dst);
  if (pre || !dst.offered) {
    if (pre) parts.add(pre);
    return new Verdict(false, parts.list, from) as Verdict & { from: string | undefined };
  }
  if (g.forbid.intersects(dst.offered))
    parts.common(g.forbid, dst.offered, 'forbidden', { t: 'forbid', host: dst.name });
  if (g.mode === 'host-passthrough' || g.mode === 'maximum') {
    if (src !== dst && src.identity !== dst.identity) {
      parts.add({
        kind: 'not-identical',
        reason: `a ${g.mode} guest moves only between identical hosts, and ${dst.name} differs from ${src.name}`,
      });
    }
    for (const b of notMigratable(g.require.clone().union(g.force), g.mode)) parts.add(b);
  } else if (!cpu) {
    return sourceFailure(`the CPU the guest runs with on ${src.name} is unknown`, from);
  } else {
    for (const b of cpu.notMigratable) parts.add(b);
    vendorBlocker(parts, g.mode === 'custom' ? g.vendor : src.vendor, dst);
    // The running CPU lists every feature: nothing but the model's own features is implicit.
    const explicit = !cpu.beyondModel.isEmpty() || !cpu.model.features.isSubsetOf(cpu.enabled);
    const fallback = g.mode === 'host-model' ? 'forbid' : g.fallback;
    modelBlockers(parts, g, cpu, dst, explicit, fallback);
  }
  return new Verdict(parts.empty, parts.list, from) as Verdict & { from: string | undefined };
}

function sourceFailure(reason: string, from: string | undefined): Verdict & { from: string | undefined } {
  return new Verdict(false, [{ kind: 'source', reason }], from) as Verdict & { from: string | undefined };
}

let nonMigratable: FeatureSet | undefined;

function notMigratable(enabled: FeatureSet, mode: string): FleetBlocker[] {
  const db = x86Database();
  if (!nonMigratable) {
    nonMigratable = db.emptySet();
    for (const f of db.features) if (!f.migratable) nonMigratable.add(f.index);
  }
  const out: FleetBlocker[] = [];
  if (!enabled.intersects(nonMigratable)) return out;
  featureBlockers(
    {
      a: enabled.clone().intersect(nonMigratable),
      b: undefined,
      kind: 'not-migratable',
      why: { t: 'not-migratable', mode },
    },
    out,
  );
  return out;
}

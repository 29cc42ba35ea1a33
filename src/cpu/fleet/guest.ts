/**
 * A fleet guest as the planner sees it: its CPU definition reduced, once,
 * to the feature sets of each policy. Unknown model or feature names are
 * refused here (`INVALID_ARG` naming the guest and the field), so a plan
 * never silently ignores part of a guest.
 *
 * @module
 */
import { type CpuCheck, CpuDef, type CpuMatch, type CpuMode } from '../../conf/cpu.js';
import { VirError } from '../../errors.js';
import { parseXml } from '../../xml/parse.js';
import type { XmlElement } from '../../xml/tree.js';
import { CpuError } from '../errors.js';
import type { FeatureSet } from '../feature-set.js';
import { copyCpu, isHostCpu, setFeaturePolicy } from '../x86.js';
import { type X86Model, x86Database } from '../x86-db.js';
import type { FleetDomain, FleetGuestInput } from './types.js';

export interface PreparedGuest {
  name: string;
  /** The guest's architecture (its `<os><type arch>`), when a domain gave one. */
  arch: string | undefined;
  cpu: CpuDef;
  mode: CpuMode;
  match: CpuMatch;
  check: CpuCheck;
  model: X86Model | undefined;
  vendor: string | undefined;
  fallback: 'allow' | 'forbid';
  force: FeatureSet;
  /** Explicit `require` features. */
  require: FeatureSet;
  optional: FeatureSet;
  disable: FeatureSet;
  forbid: FeatureSet;
  /** What the host must provide: model and required features, less those the guest overrides. */
  needed: FeatureSet;
  /** Every feature the guest mentions or its model has (a strict match allows the host nothing else). */
  listed: FeatureSet;
  /** Whether any explicit feature is other than disabled (a usable model alone is then not enough). */
  hasEnabledFeatures: boolean;
  source: string | undefined;
  /** Where the guest came from in the input, for error messages. */
  field: string;
}

/** libvirt's QEMU driver gives an x86 guest without `<cpu>` QEMU's default model, unchecked. */
const DEFAULT_CPU =
  "<cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model></cpu>";

type GuestDef = FleetDomain | CpuDef;

/**
 * A domain's name, architecture and `<cpu>`, read from its XML without the
 * rest of the domain model (which a CPU-only page would otherwise bundle).
 */
function domainFromXml(root: XmlElement): FleetDomain {
  const child = (el: XmlElement | undefined, name: string) =>
    el?.children.find((c): c is XmlElement => c.type === 'element' && c.name === name);
  const text = (el: XmlElement | undefined) =>
    el?.children
      .map((c) => (c.type === 'text' ? c.value : ''))
      .join('')
      .trim();
  const cpuEl = child(root, 'cpu');
  const arch = child(child(root, 'os'), 'type')?.attrs.find((a) => a.name === 'arch')?.value;
  const out: FleetDomain = { name: text(child(root, 'name')) ?? '' };
  if (cpuEl) out.cpu = CpuDef.fromElement(cpuEl, '/domain/cpu');
  if (arch !== undefined) out.os = { type: { arch } };
  return out;
}

function parseGuest(
  input: FleetGuestInput,
  field: string,
): { name?: string; def: GuestDef; source?: string } {
  const one = (g: GuestDef | string): GuestDef => {
    if (typeof g !== 'string') return g;
    try {
      const root = parseXml(g);
      return root.name === 'domain' ? domainFromXml(root) : CpuDef.fromElement(root);
    } catch (err) {
      if (err instanceof VirError) throw new VirError(err.code, 'cpu', `${field}: ${err.message}`, { field });
      throw err;
    }
  };
  if (typeof input === 'string' || input instanceof CpuDef || !('guest' in input)) return { def: one(input) };
  const out: { name?: string; def: GuestDef; source?: string } = { def: one(input.guest) };
  if (input.name !== undefined) out.name = input.name;
  if (input.source !== undefined) out.source = input.source;
  return out;
}

/** Reads one guest; `index` is its position in the input (0-based). */
export function prepareGuest(input: FleetGuestInput, index: number): PreparedGuest {
  const field = `guests[${index + 1}]`;
  const parsed = parseGuest(input, field);
  const def = parsed.def;
  const isCpu = def instanceof CpuDef;
  const cpu = isCpu ? def : (def.cpu ?? CpuDef.fromXML(DEFAULT_CPU));
  const name = parsed.name ?? (isCpu ? undefined : def.name || undefined) ?? `guest${index + 1}`;
  const arch = isCpu ? def.arch : def.os?.type?.arch;
  return prepareGuestCpu(cpu, { name, arch, source: parsed.source, field });
}

/** The guest with `feature` turned off (`policy='disable'`): the "what if" of a plan. */
export function withoutFeature(g: PreparedGuest, feature: string): PreparedGuest {
  const cpu = copyCpu(g.cpu);
  setFeaturePolicy(cpu, feature, 'disable');
  return prepareGuestCpu(cpu, { name: g.name, arch: g.arch, source: g.source, field: g.field });
}

export function prepareGuestCpu(
  cpu: CpuDef,
  meta: { name: string; arch: string | undefined; source: string | undefined; field: string },
): PreparedGuest {
  const db = x86Database();
  const { field } = meta;
  if (isHostCpu(cpu) && cpu.model?.name === undefined) {
    throw new VirError('INVALID_ARG', 'cpu', `${field}: the guest CPU has no model`, {
      field: `${field}/cpu/model`,
    });
  }
  const mode = cpu.mode ?? 'custom';
  let model: X86Model | undefined;
  if (mode === 'custom') {
    const name = cpu.model?.name;
    if (!name)
      throw new VirError('INVALID_ARG', 'cpu', `${field}: the guest CPU has no model`, {
        field: `${field}/cpu/model`,
      });
    model = db.model(name);
    if (!model) {
      throw new CpuError('INVALID_ARG', 'unknown-model', `${field}: unknown CPU model '${name}'`, {
        subject: name,
        field: `${field}/cpu/model`,
      });
    }
  }
  if (cpu.vendor && !db.vendor(cpu.vendor)) {
    throw new CpuError('INVALID_ARG', 'unknown-vendor', `${field}: unknown CPU vendor '${cpu.vendor}'`, {
      subject: cpu.vendor,
      field: `${field}/cpu/vendor`,
    });
  }
  const force = db.emptySet();
  const require = db.emptySet();
  const optional = db.emptySet();
  const disable = db.emptySet();
  const forbid = db.emptySet();
  const sets = { force, require, optional, disable, forbid };
  let hasEnabledFeatures = false;
  for (const [i, f] of (cpu.features ?? []).entries()) {
    const feat = db.feature(f.name);
    if (!feat) {
      throw new CpuError('INVALID_ARG', 'unknown-feature', `${field}: unknown CPU feature '${f.name}'`, {
        subject: f.name,
        field: `${field}/cpu/feature[${i + 1}]/@name`,
      });
    }
    // A host-style guest (features without policy) requires them, as libvirt reads it.
    const policy = f.policy ?? 'require';
    sets[policy].add(feat.index);
    if (policy !== 'disable') hasEnabledFeatures = true;
  }
  const needed = (model ? model.features.clone() : db.emptySet()).union(require);
  needed.subtract(force).subtract(optional).subtract(disable);
  const listed = (model ? model.features.clone() : db.emptySet()).union(require).union(force);
  listed.union(optional).union(disable);
  return {
    name: meta.name,
    arch: meta.arch,
    cpu,
    mode,
    match: cpu.match ?? 'exact',
    check: cpu.check ?? 'partial',
    model,
    vendor: cpu.vendor,
    fallback: cpu.model?.fallback ?? 'allow',
    ...sets,
    needed,
    listed,
    hasEnabledFeatures,
    source: meta.source,
    field,
  };
}

/**
 * A fleet host as the planner sees it: from its capabilities (the physical
 * CPU) and domain capabilities (what its hypervisor can give a guest — the
 * host-model CPU, the models it offers and what blocks each), the feature
 * sets every check works on, computed once per host.
 *
 * Host documents may come from a newer libvirt than our CPU map: a feature
 * name we do not know is left out (no guest we understand can need it), a
 * model name we do not know is a problem of that host.
 *
 * @module
 */
import { Capabilities } from '../../conf/capabilities.js';
import { CpuDef, type CpuMode } from '../../conf/cpu.js';
import { DomainCapabilities, type DomainCapsCpuMode } from '../../conf/domaincaps.js';
import { VirError } from '../../errors.js';
import type { FeatureSet } from '../feature-set.js';
import { decodedToCpu, decodeX86 } from '../x86.js';
import { type X86Database, type X86Model, x86Database } from '../x86-db.js';
import type { FleetHostInput } from './types.js';

/** One model the host's hypervisor offers. */
export interface HostModelEntry {
  usable: 'yes' | 'no' | 'unknown' | undefined;
  /** Feature numbers QEMU reports as keeping the model from running here. */
  blockers: number[];
}

export interface PreparedHost {
  name: string;
  arch: string;
  vendor: string | undefined;
  /** The physical CPU's model (capabilities), when known. */
  cpuModel: string | undefined;
  /** Everything a guest can get here: the host-model CPU's features, else the host CPU's. */
  offered: FeatureSet | undefined;
  /** The same without the features that cannot migrate (what libvirt fills optional features from). */
  offeredMigratable: FeatureSet | undefined;
  /** The hypervisor's host-model CPU: its model and its feature set. */
  hostModel: { model: X86Model; set: FeatureSet } | undefined;
  /** CPU modes the hypervisor supports; undefined = not known (every mode is assumed). */
  modes: ReadonlySet<CpuMode> | undefined;
  /** Models of the `custom` mode; undefined = not known (every model of the database). */
  models: ReadonlyMap<string, HostModelEntry> | undefined;
  /** Equal for hosts a host-passthrough guest may move between. */
  identity: string | undefined;
  /** A host-style CPU with exactly the offered features (baseline input). */
  offeredCpu: CpuDef | undefined;
  problems: string[];
}

const X86 = /^(x86_64|i[3-6]86)$/;

/** Features of a CPU definition, tolerating names the database lacks. */
function tolerantSet(
  cpu: { model?: { name?: string }; features?: readonly { name: string; policy?: string }[] },
  db: X86Database,
  problems: string[],
  what: string,
): FeatureSet | undefined {
  const name = cpu.model?.name;
  if (!name) return undefined;
  const model = db.model(name);
  if (!model) {
    problems.push(`${what} model '${name}' is not in the CPU database`);
    return undefined;
  }
  const set = model.features.clone();
  for (const f of cpu.features ?? []) {
    const feat = db.featureAnyName(f.name);
    if (!feat) continue;
    if (f.policy === 'disable' || f.policy === 'forbid') set.delete(feat.index);
    else set.add(feat.index);
  }
  return set;
}

function parseCaps(input: FleetHostInput, field: string): Capabilities | undefined {
  const c = input.capabilities;
  return typeof c === 'string' ? withField(() => Capabilities.fromXML(c), `${field}/capabilities`) : c;
}

function parseDomCaps(input: FleetHostInput, field: string): DomainCapabilities | undefined {
  const c = input.domainCapabilities;
  return typeof c === 'string'
    ? withField(() => DomainCapabilities.fromXML(c), `${field}/domainCapabilities`)
    : c;
}

/** Re-throws a parse error with the host's place in the input. */
function withField<T>(fn: () => T, field: string): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof VirError) throw new VirError(err.code, 'cpu', `${field}: ${err.message}`, { field });
    throw err;
  }
}

function hostModelOf(
  mode: DomainCapsCpuMode | undefined,
  db: X86Database,
  problems: string[],
): { model: X86Model; set: FeatureSet } | undefined {
  if (!mode?.supported) return undefined;
  const name = mode.models?.[0]?.name;
  const features = (mode.features ?? []).map((f) => ({ name: f.name, policy: f.policy }));
  const set = tolerantSet({ model: { name: name ?? '' }, features }, db, problems, 'host-model');
  const model = name ? db.model(name) : undefined;
  return set && model ? { model, set } : undefined;
}

function modelsOf(mode: DomainCapsCpuMode | undefined, db: X86Database): Map<string, HostModelEntry> {
  const out = new Map<string, HostModelEntry>();
  if (!mode?.supported) return out;
  for (const m of mode.models ?? []) {
    const blockers: number[] = [];
    for (const b of m.blockers ?? []) {
      const f = db.featureAnyName(b);
      if (f) blockers.push(f.index);
    }
    out.set(m.name, { usable: m.usable, blockers });
  }
  return out;
}

/** Reads one host's documents into the sets the checks use. */
export function prepareHost(input: FleetHostInput, index: number): PreparedHost {
  const field = `hosts[${index + 1}]`;
  if (typeof input?.name !== 'string' || input.name === '') {
    throw new VirError('INVALID_ARG', 'cpu', `${field} needs a name`, { field: `${field}/name` });
  }
  const db = x86Database();
  const problems: string[] = [];
  const caps = parseCaps(input, field);
  const domcaps = parseDomCaps(input, field);
  const cpu =
    typeof input.cpu === 'string'
      ? withField(() => CpuDef.fromXML(input.cpu as string), `${field}/cpu`)
      : (input.cpu ?? (caps ? new CpuDef(caps.host.cpu) : undefined));
  if (!cpu && !domcaps) {
    throw new VirError(
      'INVALID_ARG',
      'cpu',
      `${field} (${input.name}) has no capabilities, domain capabilities or CPU`,
      {
        field,
      },
    );
  }
  const arch = cpu?.arch ?? domcaps?.arch ?? 'x86_64';
  const out: PreparedHost = {
    name: input.name,
    arch,
    vendor: cpu?.vendor ?? domcaps?.cpuMode('host-model')?.vendor,
    cpuModel: cpu?.model?.name,
    offered: undefined,
    offeredMigratable: undefined,
    hostModel: undefined,
    modes: undefined,
    models: undefined,
    identity: undefined,
    offeredCpu: undefined,
    problems,
  };
  if (!X86.test(arch)) {
    problems.push(`architecture '${arch}' has no CPU database`);
    return out;
  }
  if (domcaps?.arch && cpu?.arch && domcaps.arch !== cpu.arch) {
    problems.push(`domain capabilities are for ${domcaps.arch}, the host CPU is ${cpu.arch}`);
  }
  const cpuSet = cpu ? tolerantSet(cpu, db, problems, 'host CPU') : undefined;
  if (cpu && !cpu.model?.name) problems.push('the host CPU has no model (capabilities without a CPU model)');
  if (domcaps) {
    out.hostModel = hostModelOf(domcaps.cpuMode('host-model'), db, problems);
    const modes = new Set<CpuMode>();
    for (const m of domcaps.cpu?.modes ?? []) if (m.supported) modes.add(m.name as CpuMode);
    out.modes = modes;
    out.models = modelsOf(domcaps.cpuMode('custom'), db);
  }
  out.offered = out.hostModel?.set ?? cpuSet;
  if (!out.offered) {
    if (problems.length === 0) problems.push('no CPU model is known for this host');
    return out;
  }
  // Only a host with no CPU known at all is unusable: a host-model CPU makes up for a bare host CPU.
  if (out.hostModel) out.problems = problems.filter((p) => !p.startsWith('the host CPU has no model'));
  out.offeredMigratable = out.offered.clone();
  for (const f of db.features) if (!f.migratable) out.offeredMigratable.delete(f.index);
  out.vendor ??= (out.hostModel?.model ?? (cpu?.model?.name ? db.model(cpu.model.name) : undefined))?.vendor;
  const sig = cpu?.signature;
  out.identity = [
    out.vendor ?? '',
    sig ? `${sig.family}/${sig.model}/${sig.stepping ?? ''}` : '',
    out.hostModel?.model.name ?? out.cpuModel ?? '',
    Array.from(out.offered.words, (w) => w.toString(16)).join('.'),
  ].join('|');
  out.offeredCpu = offeredHostCpu(out, cpu, db);
  return out;
}

/** A host-style CPU whose features are exactly what the host offers a guest. */
function offeredHostCpu(host: PreparedHost, cpu: CpuDef | undefined, db: X86Database): CpuDef | undefined {
  if (!host.offered) return undefined;
  // The host CPU itself when it is what guests get and the database knows all of it (libvirt's input).
  const known = cpu?.model?.name && (cpu.features ?? []).every((f) => db.feature(f.name) !== undefined);
  if (!host.hostModel && known) return cpu;
  const vendor = host.vendor ? db.vendor(host.vendor) : undefined;
  try {
    const d = decodeX86({ vendor, features: host.offered }, { kind: 'host' }, db);
    const out = decodedToCpu(d, 'host', db);
    out.arch = host.arch;
    return out;
  } catch {
    return cpu?.model?.name ? cpu : undefined;
  }
}

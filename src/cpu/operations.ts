/**
 * The public CPU operations: compare, baseline, update, translate, feature
 * checks, CPUID decoding and the QEMU host-model. Each accepts CpuDef
 * objects or `<cpu>` XML and returns new definitions (inputs are never
 * modified).
 *
 * @module
 */
import { CpuDef } from '../conf/cpu.js';
import { CpuData } from '../conf/cpu-data.js';
import { VirError } from '../errors.js';
import {
  type RegisterValues,
  registersOf,
  signatureFromEax,
  x86DataFromCpuData,
  x86DataFromRegisters,
  x86DataToCpuData,
} from './cpuid.js';
import { CpuError, incompatible, noModel } from './errors.js';
import {
  type BaselineOptions,
  baselineX86,
  type CompareOutcome,
  type CpuSignatureValue,
  compareX86,
  decodedToCpu,
  decodeX86,
  expandX86,
  featuresWithPolicy,
  type HypervisorModel,
  isHostCpu,
  lookupFeatureIndex,
  lookupVendor,
  migratableCopy,
  translateX86,
  updateLiveX86,
  updateX86,
  type X86Data,
} from './x86.js';
import { x86Database } from './x86-db.js';

/** A CPU as a model or as `<cpu>` XML (host or guest form). */
export type CpuInput = CpuDef | string;
/** Raw CPUID/MSR data as a model or as `<cpudata>` XML. */
export type CpuDataInput = CpuData | string;

export type { BaselineOptions, CompareOutcome, CpuSignatureValue, HypervisorModel };

function toCpu(input: CpuInput): CpuDef {
  return typeof input === 'string' ? CpuDef.fromXML(input) : input;
}

function toData(input: CpuDataInput): CpuData {
  return typeof input === 'string' ? CpuData.fromXML(input) : input;
}

function checkArch(cpu: CpuDef): void {
  if (cpu.arch && !/^(x86_64|i[3-6]86)$/.test(cpu.arch)) {
    throw new CpuError('NO_SUPPORT', 'unsupported-arch', `CPU architecture '${cpu.arch}' is not supported`, {
      subject: cpu.arch,
      field: 'arch',
    });
  }
}

/** How `compareCpu` reports an incompatible CPU. */
export interface CompareOptions {
  /** Throw CPU_INCOMPATIBLE instead of returning an INCOMPATIBLE outcome. */
  failIncompatible?: boolean;
}

/**
 * Compares a guest (or host-style) CPU with a host CPU: `IDENTICAL`,
 * `SUPERSET` (the host offers more) or `INCOMPATIBLE`, with the features at
 * fault. Unknown model or feature names throw `INVALID_ARG`. A CPU in a
 * host-based mode (`host-model`, `host-passthrough`, `maximum`) is compared
 * by its explicit features only, as libvirt does.
 */
export function compareCpu(host: CpuInput, cpu: CpuInput, options: CompareOptions = {}): CompareOutcome {
  const h = toCpu(host);
  const c = toCpu(cpu);
  if (!h.model?.name) {
    if (options.failIncompatible) throw incompatible('unknown host CPU');
    return { result: 'INCOMPATIBLE', reason: 'unknown host CPU' };
  }
  // host-model, host-passthrough and maximum CPUs name no model: libvirt compares what they
  // list (their explicit features) and nothing else, so they fit any host without forbidden ones.
  if (!c.model?.name && (isHostCpu(c) || (c.mode ?? 'custom') === 'custom')) throw noModel();
  const out = compareX86(h, c);
  if (out.result === 'INCOMPATIBLE' && options.failIncompatible) {
    const feats = out.features?.length ? `: ${out.features.join(', ')}` : '';
    throw incompatible(`${out.reason ?? 'incompatible CPU'}${feats}`);
  }
  return out;
}

/** The guest CPU every one of `cpus` (host style) can run; vendors must agree. */
export function baselineCpu(cpus: readonly CpuInput[], options: BaselineOptions = {}): CpuDef {
  if (cpus.length === 0)
    throw new VirError('INVALID_ARG', 'cpu', 'baseline needs at least one CPU', { field: 'cpus' });
  const defs = cpus.map(toCpu);
  for (const d of defs) checkArch(d);
  return baselineX86(defs, options);
}

/**
 * Fills a guest CPU from a host: `optional` features become `require` or
 * `disable`, and `host-model` / `match='minimum'` CPUs take the host's model
 * and features (pass a {@link migratableHostCpu} to leave out features that
 * cannot migrate). `host-passthrough` and `maximum` come back unchanged.
 */
export function updateCpu(guest: CpuInput, host: CpuInput | undefined): CpuDef {
  return updateX86(toCpu(guest), host === undefined ? undefined : toCpu(host));
}

/** A host CPU without the features that cannot be migrated (e.g. `invtsc`). */
export function migratableHostCpu(host: CpuInput): CpuDef {
  return migratableCopy(toCpu(host));
}

/**
 * Re-expresses a `custom` guest CPU with one of `models` (the hypervisor's
 * supported models) when its own model is not among them; throws
 * `CONFIG_UNSUPPORTED` when its fallback is `forbid`.
 */
export function translateCpu(cpu: CpuInput, models: readonly (string | HypervisorModel)[] | null): CpuDef {
  return translateX86(toCpu(cpu), models);
}

/** The CPU with all of its model's features listed explicitly. */
export function expandCpuFeatures(cpu: CpuInput): CpuDef {
  return expandX86(toCpu(cpu));
}

/** Whether the CPU (host style, or a guest's resulting set) has `feature`; unknown names throw. */
export function hasFeature(cpu: CpuInput, feature: string): boolean {
  const c = toCpu(cpu);
  const db = x86Database();
  const i = lookupFeatureIndex(db, feature);
  return featuresWithPolicy(c, 'all', db).has(i);
}

/** What `decodeCpuData` decodes for, and from which models it may choose. */
export interface DecodeCpuOptions {
  /** `host` (default): a host CPU as in capabilities; `guest`: a custom guest CPU, match exact. */
  kind?: 'host' | 'guest';
  /** Models the hypervisor supports (guest decoding); all when omitted. */
  models?: readonly (string | HypervisorModel)[] | null;
  /** Leave out features that cannot migrate. */
  migratable?: boolean;
}

function x86DataToCpuDef(data: X86Data, options: DecodeCpuOptions): CpuDef {
  const kind = options.kind ?? 'host';
  const d = decodeX86(data, { kind, models: options.models, migratable: options.migratable });
  if (kind === 'guest') return decodedToCpu(d, 'guest', x86Database(), { fallback: 'forbid' });
  const cpu = decodedToCpu(d, 'host');
  const host = new CpuDef({ arch: 'x86_64' });
  if (cpu.model) host.model = cpu.model;
  if (cpu.vendor) host.vendor = cpu.vendor;
  if (data.signature) host.signature = { ...data.signature };
  if (cpu.features) host.features = cpu.features;
  return host;
}

/** Decodes raw CPUID/MSR data into a host CPU (or a guest CPU with `kind: 'guest'`). */
export function decodeCpuData(data: CpuDataInput, options: DecodeCpuOptions = {}): CpuDef {
  return x86DataToCpuDef(x86DataFromCpuData(toData(data)), options);
}

/**
 * Encodes a CPU into the raw CPUID/MSR data it would report: the features
 * it ends up with (model + force + require − disable − forbid), its vendor
 * string and, for a host CPU with a signature, leaf 1's family/model/stepping.
 */
export function encodeCpu(cpu: CpuInput): CpuData {
  const c = toCpu(cpu);
  checkArch(c);
  const db = x86Database();
  const data: X86Data = { features: featuresWithPolicy(c, 'all', db) };
  if (c.vendor) data.vendor = lookupVendor(db, c.vendor);
  if (c.signature)
    data.signature = {
      family: c.signature.family,
      model: c.signature.model,
      stepping: c.signature.stepping ?? 0,
    };
  return x86DataToCpuData(data, db);
}

/** Whether raw CPUID data has every bit of `feature`; unknown names throw `INVALID_ARG`. */
export function dataHasFeature(data: CpuDataInput, feature: string): boolean {
  const db = x86Database();
  const i = lookupFeatureIndex(db, feature);
  return x86DataFromCpuData(toData(data), db).features.has(i);
}

/** Family/model/stepping from raw CPUID data; `INVALID_ARG` when leaf 1 is missing. */
export function cpuSignature(data: CpuDataInput): CpuSignatureValue {
  const regs: RegisterValues = registersOf(toData(data));
  const eax = regs.get('cpuid:1:0:eax');
  if (eax === undefined) {
    throw new VirError('INVALID_ARG', 'cpu', 'CPUID data has no leaf 0x1: cannot compute the CPU signature', {
      field: "cpuid[@eax_in='0x00000001']",
    });
  }
  return signatureFromEax(eax);
}

/** One `query-cpu-model-expansion` model: name and properties. */
export interface QemuCpuModelInfo {
  /** QEMU's model name. */
  name: string;
  /** QEMU's properties of the expanded model (feature name → on/off, and others). */
  props: Record<string, unknown>;
}

/** Vendor, signature and enabled features from a QEMU CPU model expansion. */
export function x86DataFromQemuExpansion(model: QemuCpuModelInfo): X86Data {
  const db = x86Database();
  const features = db.emptySet();
  const out: X86Data = { features };
  let family: number | undefined;
  let modelNo: number | undefined;
  let stepping: number | undefined;
  for (const [name, value] of Object.entries(model.props)) {
    if (value === true) {
      const f = db.featureAnyName(name);
      if (f) features.add(f.index);
    } else if (name === 'vendor' && typeof value === 'string') {
      out.vendor = db.vendorById(value);
    } else if (name === 'family' && typeof value === 'number') family = value;
    else if (name === 'model' && typeof value === 'number') modelNo = value;
    else if (name === 'stepping' && typeof value === 'number') stepping = value;
  }
  if (family !== undefined && modelNo !== undefined) {
    out.signature = { family, model: modelNo, stepping: stepping ?? 0 };
  }
  return out;
}

/** Signature from a QEMU CPU model expansion (`family`, `model`, `stepping` properties). */
export function qemuExpansionSignature(model: QemuCpuModelInfo): CpuSignatureValue {
  const sig = x86DataFromQemuExpansion(model).signature;
  if (!sig)
    throw new VirError('INVALID_ARG', 'cpu', 'the CPU model expansion has no family/model properties');
  return sig;
}

/**
 * Adjusts a running guest's CPU to what QEMU actually enabled and disabled
 * (CPUID data QEMU reports): features QEMU added become `require`, model
 * features it could not enable become `disable`. With `check='full'` a
 * missing feature is an error (`CPU_INCOMPATIBLE`).
 */
export function updateCpuLive(cpu: CpuInput, enabled: CpuDataInput, disabled: CpuDataInput): CpuDef {
  const db = x86Database();
  const on = x86DataFromRegisters(registersOf(toData(enabled)), db).features;
  const off = x86DataFromRegisters(registersOf(toData(disabled)), db).features;
  return updateLiveX86(toCpu(cpu), on, off, db);
}

/** One CPU model of the database, as `cpuModels()` lists it. */
export interface CpuModelInfo {
  /** The model name, as in `<model>`. */
  name: string;
  /** The vendor (`Intel`, `AMD`, ...), when the model has one. */
  vendor: string | undefined;
  /** The features the model includes, by libvirt name. */
  features: string[];
  /** Features the model lost in newer releases (migration keeps them disabled). */
  removedFeatures: string[];
}

/** The CPU models of the database for an architecture (x86 only for now). */
export function cpuModels(arch = 'x86_64'): CpuModelInfo[] {
  if (!/^(x86_64|i[3-6]86|x86)$/.test(arch)) return [];
  const db = x86Database();
  return db.models.map((m) => ({
    name: m.name,
    vendor: m.vendor,
    features: db.names(m.features),
    removedFeatures: db.names(m.removed),
  }));
}

/** The database's model by name, for UIs listing what a model brings; undefined if unknown. */
export function cpuModel(name: string): CpuModelInfo | undefined {
  const db = x86Database();
  const m = db.model(name);
  if (!m) return undefined;
  return {
    name: m.name,
    vendor: m.vendor,
    features: db.names(m.features),
    removedFeatures: db.names(m.removed),
  };
}

/**
 * The x86 CPU model database: the generated tables of ./data/x86-map.ts
 * turned, once and lazily, into indexed lookups (model and feature by name in
 * O(1), model feature lists as bit sets, CPUID/MSR masks per feature).
 *
 * @module
 */
import { X86_CANONICAL, X86_FEATURES, X86_MODELS, X86_VENDORS } from './data/x86-map.js';
import { FeatureSet } from './feature-set.js';

/** One register of CPUID (kind 0) or MSR (kind 1) data, identified by a string key. */
export interface RegisterMask {
  /** `cpuid:<leaf>:<subleaf>:<reg>` or `msr:<index>:<reg>` (see {@link registerKey}). */
  key: string;
  mask: number;
}

/**
 * One x86 feature of the database: its name, CPUID/MSR bits and whether it survives a migration.
 */
export interface X86Feature {
  /** Position in the database; also the bit in a {@link FeatureSet}. */
  index: number;
  /** libvirt's name for the feature (`avx2`, `vmx`, ...). */
  name: string;
  /** False for features that cannot survive a migration (e.g. `invtsc`). */
  migratable: boolean;
  /** Other spellings, QEMU's among them (e.g. `sse4_2` for `sse4.2`). */
  aliases: readonly string[];
  /** The CPUID/MSR bits that make the feature, grouped by register. */
  masks: readonly RegisterMask[];
}

export interface X86Signature {
  /** CPU family the signature matches. */
  family: number;
  /** CPU model number the signature matches. */
  model: number;
  /** Bit mask of matching steppings; 0 matches any. */
  steppings: number;
}

/** One named x86 CPU model (`Skylake-Client`, `EPYC-Rome`, ...) and its features. */
export interface X86Model {
  /** Position in the map: the decoder prefers later (newer) models on ties. */
  index: number;
  /** The model name, as in `<model>`. */
  name: string;
  /** The vendor the model belongs to (`Intel`, `AMD`, ...), when it has one. */
  vendor: string | undefined;
  /** May the decoder pick this model for a host CPU / a guest CPU. */
  decodeHost: boolean;
  /** May the decoder pick this model for a guest CPU (`decodeHost`: for a host CPU). */
  decodeGuest: boolean;
  /**
   * A partial check of a guest using this model compares it with the host
   * CPU; without the flag the hypervisor's own verdict (its blockers) counts.
   */
  compatCheck: boolean;
  /** The family/model numbers of real CPUs of this model, for choosing a model from CPUID. */
  signatures: readonly X86Signature[];
  /** The features the model includes. */
  features: FeatureSet;
  /** Features the model used to have (kept for migration compatibility). */
  removed: FeatureSet;
  /** The same, in the order the map lists them (the order libvirt adds them in). */
  removedList: readonly number[];
  /** Features added to the model after its first release. */
  added: FeatureSet;
}

/** A CPU vendor the database knows. */
export interface X86Vendor {
  /** libvirt's vendor name, as in `<vendor>` (`Intel`, `AMD`, `Hygon`). */
  name: string;
  /** The 12-character CPUID vendor string, e.g. `GenuineIntel`. */
  id: string;
}

/** The x86 CPU map: libvirt's features, models and vendors, with lookups by name. */
export interface X86Database {
  /** Every feature, in database order (a feature's index is its bit in a FeatureSet). */
  readonly features: readonly X86Feature[];
  /** Every model, oldest first. */
  readonly models: readonly X86Model[];
  /** Every vendor. */
  readonly vendors: readonly X86Vendor[];
  /** Feature by its libvirt name. */
  feature(name: string): X86Feature | undefined;
  /** Feature by its libvirt name or an alias (QEMU spelling). */
  featureAnyName(name: string): X86Feature | undefined;
  /** A model by name. */
  model(name: string): X86Model | undefined;
  /** The versioned name the map gives a model (`Broadwell` -> `Broadwell-v1`), if any. */
  canonical(name: string): string | undefined;
  /** A vendor by libvirt's name. */
  vendor(name: string): X86Vendor | undefined;
  /** A vendor by its CPUID vendor string (`GenuineIntel`). */
  vendorById(id: string): X86Vendor | undefined;
  /** An empty set sized for this database. */
  emptySet(): FeatureSet;
  /** Feature set from libvirt feature names; unknown names are ignored. */
  setOf(names: Iterable<string>): FeatureSet;
  /** The libvirt names of a set's features, in database order. */
  names(set: FeatureSet): string[];
}

const REG_NAMES = ['eax', 'ebx', 'ecx', 'edx', 'edx', 'eax'] as const;

/** Key of one register, shared by the database and the CPUID decoder. */
export function registerKey(kind: number, leaf: number, sub: number, reg: number): string {
  return kind === 0 ? `cpuid:${leaf}:${sub}:${REG_NAMES[reg]}` : `msr:${leaf}:${REG_NAMES[reg]}`;
}

function build(): X86Database {
  const size = X86_FEATURES.length;
  const features: X86Feature[] = [];
  const byName = new Map<string, X86Feature>();
  const byAnyName = new Map<string, X86Feature>();
  for (const [index, [name, migratable, aliases, bits]] of X86_FEATURES.entries()) {
    const masks = new Map<string, number>();
    for (const [kind, leaf, sub, reg, bit] of bits) {
      const key = registerKey(kind, leaf, sub, reg);
      masks.set(key, ((masks.get(key) ?? 0) | (1 << bit)) >>> 0);
    }
    const f: X86Feature = {
      index,
      name,
      migratable: migratable === 1,
      aliases,
      masks: [...masks].map(([key, mask]) => ({ key, mask })),
    };
    features.push(f);
    byName.set(name, f);
    byAnyName.set(name, f);
  }
  for (const f of features) for (const a of f.aliases) if (!byAnyName.has(a)) byAnyName.set(a, f);

  const models: X86Model[] = X86_MODELS.map(([name, vendor, flags, sigs, feats, removed, added], index) => ({
    index,
    name,
    vendor: vendor === '' ? undefined : vendor,
    decodeHost: (flags & 1) !== 0,
    decodeGuest: (flags & 2) !== 0,
    compatCheck: (flags & 4) !== 0,
    signatures: sigs.map(([family, model, steppings]) => ({ family, model, steppings })),
    features: FeatureSet.of(size, feats),
    removed: FeatureSet.of(size, removed),
    removedList: removed,
    added: FeatureSet.of(size, added),
  }));
  const modelByName = new Map(models.map((m) => [m.name, m]));
  const canonical = new Map(X86_CANONICAL);
  const vendors = X86_VENDORS.map(([name, id]) => ({ name, id }));
  const vendorByName = new Map(vendors.map((v) => [v.name, v]));
  const vendorById = new Map(vendors.map((v) => [v.id, v]));

  return {
    features,
    models,
    vendors,
    feature: (name) => byName.get(name),
    featureAnyName: (name) => byAnyName.get(name),
    model: (name) => modelByName.get(name),
    canonical: (name) => canonical.get(name),
    vendor: (name) => vendorByName.get(name),
    vendorById: (id) => vendorById.get(id),
    emptySet: () => new FeatureSet(size),
    setOf(names) {
      const s = new FeatureSet(size);
      for (const n of names) {
        const f = byName.get(n);
        if (f) s.add(f.index);
      }
      return s;
    },
    names: (set) => [...set].map((i) => features[i]?.name ?? `#${i}`),
  };
}

let db: X86Database | undefined;

/** The x86 database, built on first use. */
export function x86Database(): X86Database {
  db ??= build();
  return db;
}

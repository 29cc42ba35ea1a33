/**
 * The facts of an x86 CPU model map (libvirt's `cpu_map` format: an index
 * naming feature and model files): feature names in CPUID order with their
 * QEMU spellings, and each model's vendor, signatures, features and whether
 * it may describe a guest CPU. It comes from the CPU engine's database
 * ({@link cpuMapFromDatabase}) or from map files the caller reads (no I/O here).
 *
 * @module
 */
import { type X86Database, x86Database } from '../../../cpu/x86-db.js';
import { VirError } from '../../../errors.js';
import { parseXml } from '../../../xml/parse.js';
import { childElements, getAttr, type XmlElement } from '../../../xml/tree.js';
import type { CpuModelCatalog } from './domain-caps-builder.js';

export interface X86CpuMapModel {
  name: string;
  vendor?: string;
  signatures: Array<{ family: number; model?: number }>;
  features: ReadonlySet<string>;
  /** Whether the model may be the base of a guest CPU definition. */
  decodeGuest: boolean;
}

export interface X86CpuMap {
  /** Feature names in the map's (CPUID) order. */
  features: readonly string[];
  /** QEMU spelling -> map name, for the features QEMU names differently. */
  qemuNames: ReadonlyMap<string, string>;
  /** Models in map order (oldest first). */
  models: readonly X86CpuMapModel[];
}

/**
 * Reads a map from its index and a file reader (`read(name)` returns the
 * text of `name`, or undefined when missing: missing files are skipped).
 */
export function parseX86CpuMap(indexXml: string, read: (file: string) => string | undefined): X86CpuMap {
  const index = parseXml(indexXml);
  const files: string[] = [];
  const walk = (el: XmlElement) => {
    for (const c of el.children) {
      if (c.type !== 'element') continue;
      // A full index also names other architectures' files: only x86 belongs here.
      if (c.name === 'arch' && getAttr(c, 'name') !== 'x86') continue;
      if (c.name === 'include') {
        const f = getAttr(c, 'filename');
        if (f) files.push(f);
      } else walk(c);
    }
  };
  walk(index);
  const features: string[] = [];
  const qemuNames = new Map<string, string>();
  const models: X86CpuMapModel[] = [];
  const byName = new Map<string, X86CpuMapModel>();
  for (const file of files) {
    const text = read(file);
    if (text === undefined) continue;
    const root = parseXml(text);
    for (const el of root.children) {
      if (el.type !== 'element') continue;
      if (el.name === 'feature') {
        const name = getAttr(el, 'name');
        if (!name) continue;
        features.push(name);
        for (const a of childElements(el, 'alias')) {
          const alias = getAttr(a, 'name');
          if (alias && getAttr(a, 'source') === 'qemu') qemuNames.set(alias, name);
        }
      } else if (el.name === 'model') {
        const model = readModel(el, byName, file);
        models.push(model);
        byName.set(model.name, model);
      }
    }
  }
  return { features, qemuNames, models };
}

function readModel(el: XmlElement, known: ReadonlyMap<string, X86CpuMapModel>, file: string): X86CpuMapModel {
  const name = getAttr(el, 'name');
  if (!name)
    throw new VirError('XML_DETAIL', 'cpu', `CPU map ${file}: model without a name`, {
      field: 'model/@name',
    });
  const feats = new Set<string>();
  const model: X86CpuMapModel = { name, signatures: [], features: feats, decodeGuest: true };
  for (const c of el.children) {
    if (c.type !== 'element') continue;
    switch (c.name) {
      case 'model': {
        // A model built on another starts from all of its facts.
        const base = known.get(getAttr(c, 'name') ?? '');
        if (base) {
          for (const f of base.features) feats.add(f);
          model.signatures.push(...base.signatures);
          if (base.vendor) model.vendor = base.vendor;
        }
        break;
      }
      case 'vendor': {
        const v = getAttr(c, 'name');
        if (v) model.vendor = v;
        break;
      }
      case 'signature': {
        const family = Number(getAttr(c, 'family'));
        const m = getAttr(c, 'model');
        if (Number.isInteger(family))
          model.signatures.push(m === undefined ? { family } : { family, model: Number(m) });
        break;
      }
      case 'feature': {
        const f = getAttr(c, 'name');
        if (!f) break;
        if (getAttr(c, 'removed') === 'yes') feats.delete(f);
        else feats.add(f);
        break;
      }
      case 'decode':
        model.decodeGuest = getAttr(c, 'guest') !== 'off';
        break;
      default:
        break;
    }
  }
  return model;
}

/** The catalogue view of a map for domain capabilities (which models exist, vendors, feature names). */
export function catalogFromCpuMap(map: X86CpuMap): CpuModelCatalog {
  const models = new Map(map.models.map((m) => [m.name, m]));
  return {
    has: (name) => models.has(name),
    vendor: (name) => models.get(name)?.vendor,
    featureName: (q) => map.qemuNames.get(q) ?? q,
  };
}

/** The CPU engine's shipped x86 database seen as a map (the default when no map directory is given). */
export function cpuMapFromDatabase(db: X86Database = x86Database()): X86CpuMap {
  const qemuNames = new Map<string, string>();
  for (const f of db.features) for (const a of f.aliases) if (!qemuNames.has(a)) qemuNames.set(a, f.name);
  const models = [...db.models]
    .sort((a, b) => a.index - b.index)
    .map(
      (m): X86CpuMapModel => ({
        name: m.name,
        ...(m.vendor ? { vendor: m.vendor } : {}),
        signatures: m.signatures.map((s) => ({ family: s.family, model: s.model })),
        features: new Set(db.names(m.features)),
        decodeGuest: m.decodeGuest,
      }),
    );
  const features = [...db.features].sort((a, b) => a.index - b.index).map((f) => f.name);
  return { features, qemuNames, models };
}

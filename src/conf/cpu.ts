/**
 * `<cpu>`: libvirt's CPU definition, in both of its styles.
 *
 * The host style (in capabilities, `virsh capabilities`, cputest host files)
 * has `<arch>`, a bare `<model>` and features without policy. The guest
 * style (in domain XML) has `mode`/`match`/`check`, a model with `fallback`
 * and features with a `policy`. One type covers both, as in libvirt; which
 * fields are meaningful depends on {@link CpuDef.isHostStyle}.
 *
 * @module
 */
import { VirError } from '../errors.js';
import { parseXml } from '../xml/parse.js';
import { serializeXml } from '../xml/serialize.js';
import type { XmlElement, XmlNode } from '../xml/tree.js';
import {
  assignParsed,
  attr,
  child,
  childAttr,
  children,
  childText,
  elementMapper,
  enumOf,
  type Field,
  type Infer,
  int,
  onOff,
  req,
  str,
  text,
  trimmed,
  uint,
  uint64,
  yesNo,
} from './binding.js';
import { toKiB } from './units.js';

/**
 * The `mode` values of a guest `<cpu>`: a named model, the host's model, the host CPU itself, or
 * the most the hypervisor can do.
 */
export const CPU_MODES = ['custom', 'host-model', 'host-passthrough', 'maximum'] as const;
/** One of `CPU_MODES`. */
export type CpuMode = (typeof CPU_MODES)[number];

/**
 * The `match` values of a custom `<cpu>`: how closely the guest CPU must match the model; they set
 * the default feature policy.
 */
export const CPU_MATCHES = ['minimum', 'exact', 'strict'] as const;
/** One of `CPU_MATCHES`. */
export type CpuMatch = (typeof CPU_MATCHES)[number];

/**
 * The `check` values of a guest `<cpu>`: how strictly the hypervisor checks the CPU it gave the
 * guest.
 */
export const CPU_CHECKS = ['none', 'partial', 'full'] as const;
/** One of `CPU_CHECKS`. */
export type CpuCheck = (typeof CPU_CHECKS)[number];

/** The `policy` values of a guest `<feature>`, from the strongest yes to the strongest no. */
export const CPU_FEATURE_POLICIES = ['force', 'require', 'optional', 'disable', 'forbid'] as const;
/** One of `CPU_FEATURE_POLICIES`. */
export type CpuFeaturePolicy = (typeof CPU_FEATURE_POLICIES)[number];

/**
 * The `fallback` values of `<model>`: whether another model may be used when the hypervisor lacks
 * this one.
 */
export const CPU_FALLBACKS = ['allow', 'forbid'] as const;
/** One of `CPU_FALLBACKS`. */
export type CpuFallback = (typeof CPU_FALLBACKS)[number];

const nonNegative = int({ min: 0, max: 0xffffffff });
const positive = int({ min: 1, max: 0xffffffff });

export const cpuModelMapper = elementMapper('model', {
  fallback: attr('fallback', enumOf(CPU_FALLBACKS)),
  vendorId: attr('vendor_id', str),
  name: text(trimmed),
});
export type CpuModel = Infer<typeof cpuModelMapper.spec>;

export const cpuSignatureMapper = elementMapper('signature', {
  family: req(attr('family', nonNegative)),
  model: req(attr('model', nonNegative)),
  stepping: attr('stepping', nonNegative),
});
export type CpuSignature = Infer<typeof cpuSignatureMapper.spec>;

export const cpuCounterMapper = elementMapper('counter', {
  name: req(attr('name', str)),
  frequency: attr('frequency', uint64),
  scaling: attr('scaling', yesNo),
});
export type CpuCounter = Infer<typeof cpuCounterMapper.spec>;

const cpuTopologyRawMapper = elementMapper('topology', {
  sockets: req(attr('sockets', positive)),
  dies: attr('dies', positive),
  clusters: attr('clusters', positive),
  cores: req(attr('cores', positive)),
  threads: req(attr('threads', positive)),
});
export type CpuTopology = Infer<typeof cpuTopologyRawMapper.spec>;

/**
 * `<topology>`. `dies` and `clusters` are optional in the format and mean 1
 * when left out; libvirt stores that 1 on parse and its formatter always
 * writes all five counts. So a parsed topology carries them, and one built
 * in code without them is written with them, as libvirt writes it.
 */
export const cpuTopologyMapper = {
  name: 'topology',
  spec: cpuTopologyRawMapper.spec,
  /** Reads `<topology>`, storing `dies` and `clusters` as 1 when left out. */
  read(el: XmlElement, path?: string): CpuTopology {
    const t = cpuTopologyRawMapper.read(el, path);
    t.dies ??= 1;
    t.clusters ??= 1;
    return t;
  },
  /** Writes all five counts, in libvirt's order, `dies` and `clusters` as 1 when unset. */
  write(t: CpuTopology): XmlElement {
    const el = cpuTopologyRawMapper.write(t);
    // in libvirt's order: sockets, dies, clusters, cores, threads
    let at = el.attrs.findIndex((a) => a.name === 'sockets') + 1;
    for (const name of ['dies', 'clusters']) {
      const i = el.attrs.findIndex((a) => a.name === name);
      if (i < 0) el.attrs.splice(at, 0, { name, value: '1' });
      at = el.attrs.findIndex((a) => a.name === name) + 1;
    }
    return el;
  },
};

export const cpuCacheMapper = elementMapper('cache', {
  level: attr('level', int({ min: 1, max: 3 })),
  mode: req(attr('mode', enumOf(['emulate', 'passthrough', 'disable'] as const))),
});
export type CpuCache = Infer<typeof cpuCacheMapper.spec>;

export const cpuMaxPhysAddrMapper = elementMapper('maxphysaddr', {
  mode: req(attr('mode', enumOf(['emulate', 'passthrough'] as const))),
  bits: attr('bits', int({ min: 0, max: 255 })),
  limit: attr('limit', int({ min: 0, max: 255 })),
});
export type CpuMaxPhysAddr = Infer<typeof cpuMaxPhysAddrMapper.spec>;

export const cpuFeatureMapper = elementMapper('feature', {
  policy: attr('policy', enumOf(CPU_FEATURE_POLICIES)),
  name: req(attr('name', str)),
});
export type CpuFeature = Infer<typeof cpuFeatureMapper.spec>;

const siblingMapper = elementMapper('sibling', {
  id: req(attr('id', nonNegative)),
  value: req(attr('value', int({ min: 10, max: 255 }))),
});

const distancesMapper = elementMapper('distances', {
  siblings: children(siblingMapper),
});

const cacheSizeMapper = elementMapper('size', { value: req(attr('value', uint)), unit: attr('unit', str) });
const cacheLineMapper = elementMapper('line', { value: req(attr('value', uint)), unit: attr('unit', str) });
const numaCacheMapper = elementMapper('cache', {
  level: req(attr('level', positive)),
  associativity: attr('associativity', enumOf(['none', 'direct', 'full'] as const)),
  policy: attr('policy', enumOf(['none', 'writeback', 'writethrough'] as const)),
  size: child(cacheSizeMapper),
  line: child(cacheLineMapper),
});

/** Memory of a NUMA cell, normalised to KiB on read as libvirt does. */
const kibSize = {
  parse(raw: string): bigint {
    return uint64.parse(raw);
  },
  format: (v: bigint) => v.toString(),
};

const numaCellRawMapper = elementMapper('cell', {
  id: attr('id', nonNegative),
  cpus: attr('cpus', str),
  memory: req(attr('memory', kibSize)),
  unit: attr('unit', str),
  memAccess: attr('memAccess', enumOf(['shared', 'private'] as const)),
  discard: attr('discard', yesNo),
  distances: child(distancesMapper),
  caches: children(numaCacheMapper),
});

/** `<cell>` with its memory converted to KiB (and written back with `unit='KiB'`). */
export const cpuNumaCellMapper = {
  name: 'cell',
  /** Reads `<cell>` with `memory` in KiB whatever its `unit`; `XML_DETAIL` naming `@memory` if it does not fit. */
  read(el: XmlElement, path?: string) {
    const cell = numaCellRawMapper.read(el, path);
    try {
      cell.memory = toKiB(cell.memory, cell.unit ?? 'KiB');
    } catch (err) {
      throw new VirError(
        'XML_DETAIL',
        'conf',
        `invalid memory of NUMA cell ${path ?? ''}: ${(err as Error).message}`,
        {
          field: `${path ?? '/cell'}/@memory`,
          ...(el.line !== undefined ? { line: el.line } : {}),
        },
      );
    }
    cell.unit = 'KiB';
    return cell;
  },
  /** Writes `<cell>` with `memory` and `unit` as they are. */ write: numaCellRawMapper.write,
};
export type CpuNumaCell = Infer<typeof numaCellRawMapper.spec>;

/** One `<latency>` or `<bandwidth>` of `<interconnects>`; bandwidth in KiB (per second), as libvirt keeps it. */
export interface NumaInterconnect {
  /** Whether it is a latency or a bandwidth figure. */
  kind: 'latency' | 'bandwidth';
  /** The NUMA cell the access comes from. */
  initiator: number;
  /** The NUMA cell whose memory is accessed. */
  target: number;
  /** The memory-side cache level the figure is for; absent: the memory itself. */
  cache?: number;
  /** Which accesses the figure is for. */
  type: 'access' | 'read' | 'write';
  /** The figure: nanoseconds for latency, KiB per second for bandwidth. */
  value: bigint;
}

const ACCESS_TYPES = ['access', 'read', 'write'] as const;

/**
 * `<interconnects>`: latencies and bandwidths in document order (libvirt keeps
 * them in one list, so a bandwidth may come before a latency and stays there).
 */
const interconnectsField: Field<NumaInterconnect[]> = {
  attrNames: [],
  childNames: ['interconnects'],
  ownsText: false,
  read(el, ctx) {
    const box = el.children.find((c) => c.type === 'element' && c.name === 'interconnects');
    if (box?.type !== 'element') return undefined;
    const out: NumaInterconnect[] = [];
    for (const c of box.children) {
      if (c.type !== 'element' || (c.name !== 'latency' && c.name !== 'bandwidth')) continue;
      const field = `${ctx.path}/interconnects/${c.name}`;
      const get = (name: string) => c.attrs.find((a) => a.name === name)?.value;
      const num = (name: string, required: boolean): number | undefined => {
        const v = get(name);
        if (v === undefined) {
          if (!required) return undefined;
          throw new VirError('XML_DETAIL', 'conf', `missing '${name}' of ${field}`, {
            field: `${field}/@${name}`,
          });
        }
        if (!/^\d+$/.test(v) || Number(v) > 0xffffffff)
          throw new VirError('XML_DETAIL', 'conf', `invalid '${name}' of ${field}: '${v}'`, {
            field: `${field}/@${name}`,
          });
        return Number(v);
      };
      const type = get('type');
      if (!ACCESS_TYPES.includes(type as (typeof ACCESS_TYPES)[number]))
        throw new VirError('XML_DETAIL', 'conf', `invalid access type '${type ?? ''}' of ${field}`, {
          field: `${field}/@type`,
        });
      const raw = get('value') ?? '';
      if (!/^\d+$/.test(raw))
        throw new VirError('XML_DETAIL', 'conf', `invalid value '${raw}' of ${field}`, {
          field: `${field}/@value`,
        });
      let value = BigInt(raw);
      if (c.name === 'bandwidth') {
        try {
          value = toKiB(value, get('unit') ?? 'KiB');
        } catch (err) {
          throw new VirError(
            'XML_DETAIL',
            'conf',
            `invalid bandwidth of ${field}: ${(err as Error).message}`,
            {
              field: `${field}/@value`,
            },
          );
        }
      }
      const cache = num('cache', false);
      out.push({
        kind: c.name,
        initiator: num('initiator', true) ?? 0,
        target: num('target', true) ?? 0,
        ...(cache !== undefined && cache > 0 ? { cache } : {}),
        type: type as NumaInterconnect['type'],
        value,
      });
    }
    return out.length > 0 ? out : undefined;
  },
  writeChildren(value, out) {
    const kids: XmlNode[] = value.map((l) => ({
      type: 'element',
      name: l.kind,
      attrs: [
        { name: 'initiator', value: String(l.initiator) },
        { name: 'target', value: String(l.target) },
        ...(l.cache !== undefined ? [{ name: 'cache', value: String(l.cache) }] : []),
        { name: 'type', value: l.type },
        { name: 'value', value: String(l.value) },
        ...(l.kind === 'bandwidth' ? [{ name: 'unit', value: 'KiB' }] : []),
      ],
      children: [],
    }));
    out.push({ type: 'element', name: 'interconnects', attrs: [], children: kids });
  },
};

export const cpuNumaMapper = elementMapper('numa', {
  cells: children(cpuNumaCellMapper, { min: 1 }),
  /** The `<interconnects>` child: latencies and bandwidths between NUMA cells. */
  interconnects: interconnectsField,
});
export type CpuNuma = Infer<typeof cpuNumaMapper.spec>;

/**
 * The `<cpu>` fields in libvirt's output order. Exported so that the
 * capabilities host CPU can extend the same table.
 */
export const cpuSpec = {
  mode: attr('mode', enumOf(CPU_MODES)),
  match: attr('match', enumOf(CPU_MATCHES)),
  check: attr('check', enumOf(CPU_CHECKS)),
  migratable: attr('migratable', onOff),
  deprecatedFeatures: attr('deprecated_features', onOff),
  arch: childText('arch', trimmed),
  model: child(cpuModelMapper),
  vendor: childText('vendor', trimmed),
  microcode: childAttr('microcode', 'version', uint),
  signature: child(cpuSignatureMapper),
  counter: child(cpuCounterMapper),
  topology: child(cpuTopologyMapper),
  cache: child(cpuCacheMapper),
  maxPhysAddr: child(cpuMaxPhysAddrMapper),
  features: children(cpuFeatureMapper),
  numa: child(cpuNumaMapper),
};

export const cpuMapper = elementMapper('cpu', cpuSpec, {
  check(cpu, ctx) {
    const seen = new Set<string>();
    for (const f of cpu.features ?? []) {
      if (seen.has(f.name)) {
        throw new VirError('XML_DETAIL', 'conf', `CPU feature '${f.name}' specified more than once`, {
          field: `${ctx.path}/feature[@name='${f.name}']`,
          ...(ctx.el.line !== undefined ? { line: ctx.el.line } : {}),
        });
      }
      seen.add(f.name);
    }
  },
});

/** The fields of a `<cpu>`, as `CpuDef` holds them. */
export type CpuDefData = Infer<typeof cpuSpec>;

export interface CpuDef extends CpuDefData {}

/** A CPU definition (`<cpu>`), host or guest style. */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class CpuDef {
  constructor(data: CpuDefData = {}) {
    Object.assign(this, data);
  }

  /** Parses `<cpu>` XML. Throws `XML_ERROR` / `XML_DETAIL` with the line at fault. */
  static fromXML(xml: string): CpuDef {
    return CpuDef.fromElement(parseXml(xml));
  }

  /** Reads an already parsed `<cpu>` element. */
  static fromElement(el: XmlElement, path = '/cpu'): CpuDef {
    if (el.name !== 'cpu') {
      throw new VirError('XML_ERROR', 'conf', `expected root element <cpu>, found <${el.name}>`, {
        ...(el.line !== undefined ? { line: el.line } : {}),
        field: '/',
      });
    }
    const data = cpuMapper.read(el, path);
    const def = new CpuDef();
    assignParsed(def, data);
    return def;
  }

  /**
   * Host style: describes a physical CPU (no `mode`/`match`, features
   * without policy), as in capabilities. Guest style otherwise.
   */
  get isHostStyle(): boolean {
    return (
      this.mode === undefined && this.match === undefined && (this.features ?? []).every((f) => !f.policy)
    );
  }

  /** The model as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(): XmlElement {
    return cpuMapper.write(this);
  }

  /** Formats the model as libvirt does. */
  toXML(): string {
    return serializeXml(this.toElement());
  }
}

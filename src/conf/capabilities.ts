/**
 * `<capabilities>`: what a host and its hypervisor can run
 * (`virConnectGetCapabilities`).
 *
 * A remote client decides everything from this document, so every part
 * libvirt writes has a typed field: the host (CPU, power management, IOMMU,
 * migration, NUMA topology, cache and memory bandwidth, security models) and
 * one guest per OS type and architecture (emulator, machines, domain types,
 * features).
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
  children,
  childText,
  elementMapper,
  type Field,
  flag,
  type Infer,
  int,
  onOff,
  req,
  str,
  text,
  trimmed,
  uint,
  yesNo,
} from './binding.js';
import { capsCacheMapper, capsMemoryBandwidthMapper, capsTopologyMapper } from './capabilities-topology.js';
import { cpuSpec } from './cpu.js';

export * from './capabilities-topology.js';

// --- host / cpu --------------------------------------------------------------

/** `<features>` inside the host CPU: empty flag elements such as `<pae/>`, `<vmx/>`. */
const hostCpuFlagsField: Field<string[]> = {
  attrNames: [],
  childNames: ['features'],
  ownsText: false,
  read(el) {
    const f = el.children.find((c): c is XmlElement => c.type === 'element' && c.name === 'features');
    if (!f) return undefined;
    return f.children.filter((c): c is XmlElement => c.type === 'element').map((c) => c.name);
  },
  writeChildren(value, out) {
    out.push({
      type: 'element',
      name: 'features',
      attrs: [],
      children: value.map((name): XmlNode => ({ type: 'element', name, attrs: [], children: [] })),
    });
  },
};

const capsPagesMapper = elementMapper('pages', {
  unit: attr('unit', str),
  size: req(attr('size', uint)),
});
export type CapsPages = Infer<typeof capsPagesMapper.spec>;

const { arch: cpuArch, ...cpuRest } = cpuSpec;

export const capsHostCpuMapper = elementMapper('cpu', {
  ...pick(cpuRest, ['mode', 'match', 'check', 'migratable', 'deprecatedFeatures']),
  /** The text of the `<arch>` child of the host `<cpu>`. */
  arch: cpuArch,
  /** The host CPU's extra facts (`<microcode>`, `<signature>`, ...) as the host reports them. */
  flags: hostCpuFlagsField,
  ...pick(cpuRest, [
    'model',
    'vendor',
    'microcode',
    'signature',
    'counter',
    'topology',
    'cache',
    'maxPhysAddr',
    'features',
    'numa',
  ]),
  pages: children(capsPagesMapper),
});
export type CapsHostCpu = Infer<typeof capsHostCpuMapper.spec>;

function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) out[k] = obj[k];
  return out;
}

// --- host / power management, iommu, migration --------------------------------

export const capsPowerManagementMapper = elementMapper('power_management', {
  suspendMem: flag('suspend_mem'),
  suspendDisk: flag('suspend_disk'),
  suspendHybrid: flag('suspend_hybrid'),
});
export type CapsPowerManagement = Infer<typeof capsPowerManagementMapper.spec>;

const uriTransportMapper = elementMapper('uri_transport', { name: req(text(trimmed)) });
const uriTransportsMapper = elementMapper('uri_transports', { transports: children(uriTransportMapper) });

export const capsMigrationMapper = elementMapper('migration_features', {
  live: flag('live'),
  uriTransports: child(uriTransportsMapper),
});
export type CapsMigrationFeatures = Infer<typeof capsMigrationMapper.spec>;

// --- host / security models ---------------------------------------------------

const baseLabelMapper = elementMapper('baselabel', {
  type: req(attr('type', str)),
  label: req(text(str)),
});

export const capsSecModelMapper = elementMapper('secmodel', {
  model: req(childText('model', trimmed)),
  doi: req(childText('doi', str)),
  baseLabels: children(baseLabelMapper),
});
export type CapsSecModel = Infer<typeof capsSecModelMapper.spec>;

export const capsHostMapper = elementMapper('host', {
  uuid: childText('uuid', trimmed),
  cpu: req(child(capsHostCpuMapper)),
  powerManagement: child(capsPowerManagementMapper),
  /** Whether the host has an IOMMU (`<iommu support>`). */
  iommu: childIommu(),
  migration: child(capsMigrationMapper),
  topology: child(capsTopologyMapper),
  cache: child(capsCacheMapper),
  memoryBandwidth: child(capsMemoryBandwidthMapper),
  secModels: children(capsSecModelMapper),
});
export type CapsHost = Infer<typeof capsHostMapper.spec>;

function childIommu(): Field<boolean> {
  const m = elementMapper('iommu', { support: req(attr('support', yesNo)) });
  const f = child(m);
  return {
    attrNames: [],
    childNames: ['iommu'],
    ownsText: false,
    read: (el, ctx) => f.read(el, ctx)?.support,
    writeChildren: (value, out) => f.writeChildren?.({ support: value }, out),
  };
}

// --- guests ---------------------------------------------------------------------

export const capsMachineMapper = elementMapper('machine', {
  canonical: attr('canonical', str),
  maxCpus: attr('maxCpus', uint),
  deprecated: attr('deprecated', yesNo),
  name: req(text(trimmed)),
});
export type CapsMachine = Infer<typeof capsMachineMapper.spec>;

export const capsGuestDomainMapper = elementMapper('domain', {
  type: req(attr('type', str)),
  emulator: childText('emulator', trimmed),
  machines: children(capsMachineMapper),
});
export type CapsGuestDomain = Infer<typeof capsGuestDomainMapper.spec>;

export const capsGuestArchMapper = elementMapper('arch', {
  name: req(attr('name', str)),
  wordsize: childText('wordsize', int({ min: 1, max: 128 })),
  emulator: childText('emulator', trimmed),
  loader: childText('loader', trimmed),
  machines: children(capsMachineMapper),
  domains: children(capsGuestDomainMapper),
});
export type CapsGuestArch = Infer<typeof capsGuestArchMapper.spec>;

/** A guest feature: `<acpi default='on' toggle='yes'/>` or a bare `<pae/>`. */
export interface CapsGuestFeature {
  /** The feature's element name (`acpi`, `pae`, ...). */
  name: string;
  /** Whether it is on unless a definition says otherwise. */
  default?: boolean;
  /** Whether a definition may turn it off or on. */
  toggle?: boolean;
}

const guestFeatureAttrs = elementMapper('feature', {
  default: attr('default', onOff),
  toggle: attr('toggle', yesNo),
});

const guestFeaturesField: Field<CapsGuestFeature[]> = {
  attrNames: [],
  childNames: ['features'],
  ownsText: false,
  read(el, ctx) {
    const f = el.children.find((c): c is XmlElement => c.type === 'element' && c.name === 'features');
    if (!f) return undefined;
    const out: CapsGuestFeature[] = [];
    for (const c of f.children) {
      if (c.type !== 'element') continue;
      const a = guestFeatureAttrs.read(c, `${ctx.path}/features/${c.name}`);
      out.push({ name: c.name, ...a });
    }
    return out;
  },
  writeChildren(value, out) {
    out.push({
      type: 'element',
      name: 'features',
      attrs: [],
      children: value.map(({ name, ...a }) => ({ ...guestFeatureAttrs.write(a), name })),
    });
  },
};

export const capsGuestMapper = elementMapper('guest', {
  osType: req(childText('os_type', trimmed)),
  arch: req(child(capsGuestArchMapper)),
  /** The `<features>` child: the guest features the hypervisor offers for this architecture. */
  features: guestFeaturesField,
});
export type CapsGuest = Infer<typeof capsGuestMapper.spec>;

export const capabilitiesMapper = elementMapper('capabilities', {
  host: req(child(capsHostMapper)),
  guests: children(capsGuestMapper),
});
export type CapabilitiesData = Infer<typeof capabilitiesMapper.spec>;

export interface Capabilities extends CapabilitiesData {}

/** Host and guest capabilities (`<capabilities>`). */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class Capabilities {
  constructor(data: CapabilitiesData) {
    Object.assign(this, data);
  }

  /** Parses capabilities XML. Throws `XML_ERROR` / `XML_DETAIL` with the line at fault. */
  static fromXML(xml: string): Capabilities {
    const el = parseXml(xml);
    if (el.name !== 'capabilities') {
      throw new VirError(
        'XML_ERROR',
        'capabilities',
        `expected root element <capabilities>, found <${el.name}>`,
        {
          ...(el.line !== undefined ? { line: el.line } : {}),
          field: '/',
        },
      );
    }
    return assignParsed(new Capabilities({ host: { cpu: {} } }), capabilitiesMapper.read(el));
  }

  /** Every guest of the given OS type and/or architecture. */
  findGuests(query: { osType?: string; arch?: string; domainType?: string } = {}): CapsGuest[] {
    return (this.guests ?? []).filter(
      (g) =>
        (query.osType === undefined || g.osType === query.osType) &&
        (query.arch === undefined || g.arch.name === query.arch) &&
        (query.domainType === undefined || (g.arch.domains ?? []).some((d) => d.type === query.domainType)),
    );
  }

  /** The model as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(): XmlElement {
    return capabilitiesMapper.write(this);
  }

  /**
   * libvirt's layout: like every document, plus a blank line around each
   * top-level section, so our output matches `virsh capabilities` byte for byte.
   */
  toXML(): string {
    const body = serializeXml(this.toElement());
    return (
      body
        .replace(/\n {2}<(host|guest)>/g, '\n\n  <$1>')
        // libvirt opens and closes <migration_features> on two lines even when it holds nothing.
        .replace(/\n( *)<migration_features\/>/, '\n$1<migration_features>\n$1</migration_features>')
        .replace(/\n<\/capabilities>\n$/, '\n\n</capabilities>\n')
    );
  }
}

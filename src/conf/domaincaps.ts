/**
 * `<domainCapabilities>`: what one emulator/arch/machine/virttype
 * combination offers a guest definition (`virConnectGetDomainCapabilities`).
 *
 * Most of the document is one pattern repeated: an element with
 * `supported='yes|no'` holding `<enum name='...'>` lists of allowed values.
 * That pattern is {@link DomainCapsSupport}; the CPU modes, the loader's
 * firmware paths and the models with their blockers have their own shapes.
 *
 * @module
 */
import { VirError } from '../errors.js';
import { parseXml } from '../xml/parse.js';
import { serializeXml } from '../xml/serialize.js';
import type { XmlElement } from '../xml/tree.js';
import {
  assignParsed,
  attr,
  child,
  childAttr,
  children,
  childText,
  type ElementMapper,
  elementMapper,
  enumOf,
  type Field,
  type Infer,
  req,
  str,
  text,
  trimmed,
  uint,
  yesNo,
} from './binding.js';

// --- the common pattern -------------------------------------------------------

/** `<value>` children as plain strings. */
const valuesField: Field<string[]> = {
  attrNames: [],
  childNames: ['value'],
  ownsText: false,
  read(el) {
    const out: string[] = [];
    for (const c of el.children) {
      if (c.type !== 'element' || c.name !== 'value') continue;
      let t = '';
      for (const k of c.children) if (k.type === 'text' || k.type === 'cdata') t += k.value;
      out.push(t.trim());
    }
    return out;
  },
  writeChildren(value, out) {
    for (const v of value)
      out.push({ type: 'element', name: 'value', attrs: [], children: [{ type: 'text', value: v }] });
  },
};

const enumMapper = elementMapper('enum', {
  name: req(attr('name', str)),
  /** The `<value>` children: the values the hypervisor accepts for the named attribute. */
  values: valuesField,
});
/** `<enum name='bus'><value>virtio</value>...</enum>`; an empty enum means "none of them". */
export type DomainCapsEnum = Infer<typeof enumMapper.spec>;

const supportSpec = {
  supported: req(attr('supported', yesNo)),
  enums: children(enumMapper),
};

function supportMapper(name: string) {
  return elementMapper(name, supportSpec);
}

/** `supported` plus the value lists that go with it. */
export type DomainCapsSupport = Infer<typeof supportSpec>;

// --- os ------------------------------------------------------------------------

const loaderMapper = elementMapper('loader', {
  supported: req(attr('supported', yesNo)),
  /** The `<value>` children: the firmware files the hypervisor offers. */
  values: valuesField,
  enums: children(enumMapper),
});
export type DomainCapsLoader = Infer<typeof loaderMapper.spec>;

const osMapper = elementMapper('os', {
  supported: req(attr('supported', yesNo)),
  enums: children(enumMapper),
  loader: child(loaderMapper),
});
export type DomainCapsOs = Infer<typeof osMapper.spec>;

// --- cpu -------------------------------------------------------------------------

/** A CPU model line: host-model's resolved model, or one of the custom models. */
export interface DomainCapsCpuModel {
  /** The model name. */
  name: string;
  /** host-model: what happens when the model is unknown to the destination. */
  fallback?: 'allow' | 'forbid';
  /** custom: whether the model runs on this host (`unknown` when the hypervisor cannot tell). */
  usable?: 'yes' | 'no' | 'unknown';
  /** Whether the hypervisor marks the model deprecated. */
  deprecated?: boolean;
  /** The model's vendor. */
  vendor?: string;
  /** custom: the versioned model this name stands for. */
  canonical?: string;
  /** custom, unusable models: the features that block them (written as `<blockers>` after the model). */
  blockers?: string[];
}

const cpuModelAttrs = elementMapper('model', {
  fallback: attr('fallback', enumOf(['allow', 'forbid'] as const)),
  usable: attr('usable', enumOf(['yes', 'no', 'unknown'] as const)),
  deprecated: attr('deprecated', yesNo),
  vendor: attr('vendor', str),
  canonical: attr('canonical', str),
  name: req(text(trimmed)),
});

const blockerFeatureMapper = elementMapper('feature', { name: req(attr('name', str)) });
const blockersMapper = elementMapper('blockers', {
  model: req(attr('model', str)),
  features: children(blockerFeatureMapper),
});

/** `<model>` and `<blockers model=...>` siblings, kept paired in document order. */
const cpuModelsField: Field<DomainCapsCpuModel[]> = {
  attrNames: [],
  childNames: ['model', 'blockers'],
  ownsText: false,
  read(el, ctx) {
    const out: DomainCapsCpuModel[] = [];
    for (const c of el.children) {
      if (c.type !== 'element') continue;
      if (c.name === 'model') out.push(cpuModelAttrs.read(c, `${ctx.path}/model[${out.length + 1}]`));
      else if (c.name === 'blockers') {
        const b = blockersMapper.read(c, `${ctx.path}/blockers`);
        const m = out.find((x) => x.name === b.model);
        if (m) m.blockers = (b.features ?? []).map((f) => f.name);
      }
    }
    return out.length > 0 ? out : undefined;
  },
  writeChildren(value, out) {
    for (const { blockers, ...m } of value) {
      out.push(cpuModelAttrs.write(m));
      if (blockers) {
        out.push(blockersMapper.write({ model: m.name, features: blockers.map((name) => ({ name })) }));
      }
    }
  },
};

const maxPhysAddrMapper = elementMapper('maxphysaddr', {
  mode: req(attr('mode', str)),
  limit: attr('limit', uint),
});

const cpuFeatureMapper = elementMapper('feature', {
  policy: req(attr('policy', str)),
  name: req(attr('name', str)),
});

const cpuModeMapper = elementMapper('mode', {
  name: req(attr('name', str)),
  supported: req(attr('supported', yesNo)),
  enums: children(enumMapper),
  /** The `<model>` children of a CPU mode. */
  models: cpuModelsField,
  vendor: childText('vendor', trimmed),
  maxPhysAddr: child(maxPhysAddrMapper),
  features: children(cpuFeatureMapper),
});
/** One CPU mode: `host-passthrough`, `maximum`, `host-model` (resolved model and features) or `custom` (models). */
export type DomainCapsCpuMode = Infer<typeof cpuModeMapper.spec>;

const cpuMapper = elementMapper('cpu', { modes: children(cpuModeMapper) });
export type DomainCapsCpu = Infer<typeof cpuMapper.spec>;

// --- devices and features ---------------------------------------------------

/** Device kinds in libvirt's order. */
export const DOMAIN_CAPS_DEVICES = [
  'disk',
  'graphics',
  'video',
  'hostdev',
  'rng',
  'filesystem',
  'tpm',
  'redirdev',
  'channel',
  'crypto',
  'interface',
  'panic',
  'console',
] as const;
/** One of `DOMAIN_CAPS_DEVICES`. */
export type DomainCapsDeviceName = (typeof DOMAIN_CAPS_DEVICES)[number];

/** Feature elements in libvirt's order, by XML name. */
export const DOMAIN_CAPS_FEATURES = [
  'gic',
  'vmcoreinfo',
  'genid',
  'backingStoreInput',
  'backup',
  'async-teardown',
  's390-pv',
  'ps2',
  'tdx',
  'sev',
  'sgx',
  'hyperv',
  'launchSecurity',
] as const;
/** One of `DOMAIN_CAPS_FEATURES`. */
export type DomainCapsFeatureName = (typeof DOMAIN_CAPS_FEATURES)[number];

function supportTable<const N extends string>(
  names: readonly N[],
): {
  /** The child of this name: whether the hypervisor supports it, and the values it accepts. */
  [K in N]: Field<DomainCapsSupport>;
} {
  const spec = {} as { [K in N]: Field<DomainCapsSupport> };
  for (const n of names) spec[n] = child(supportMapper(n) as ElementMapper<DomainCapsSupport>);
  return spec;
}

const dev = supportTable(DOMAIN_CAPS_DEVICES);
const devicesMapper = elementMapper('devices', {
  /** The `<disk>` child: the disk devices (`diskDevice`), buses and models offered. */
  disk: dev.disk,
  /** The `<graphics>` child: the display types (`vnc`, `spice`, `dbus`, ...) offered. */
  graphics: dev.graphics,
  /** The `<video>` child: the video models (`virtio`, `vga`, `qxl`, ...) offered. */
  video: dev.video,
  /** The `<hostdev>` child: the host device assignment modes and types offered. */
  hostdev: dev.hostdev,
  /** The `<rng>` child: the random number generator models and backends offered. */
  rng: dev.rng,
  /** The `<filesystem>` child: the shared filesystem drivers (`path`, `virtiofs`, ...) offered. */
  filesystem: dev.filesystem,
  /** The `<tpm>` child: the TPM models, backends and versions offered. */
  tpm: dev.tpm,
  /** The `<redirdev>` child: the USB redirection buses offered. */
  redirdev: dev.redirdev,
  /** The `<channel>` child: the channel types (`pty`, `unix`, ...) offered. */
  channel: dev.channel,
  /** The `<crypto>` child: the crypto device models, types and backends offered. */
  crypto: dev.crypto,
  /** The `<interface>` child: the network interface backends offered. */
  interface: dev.interface,
  /** The `<panic>` child: the panic notifier models offered. */
  panic: dev.panic,
  /** The `<console>` child: the console types offered. */
  console: dev.console,
});
export type DomainCapsDevices = Infer<typeof devicesMapper.spec>;

/** `<sev>`: AMD SEV's C-bit position, address bits lost, and how many (SEV-ES) guests the host can run. */
const sevMapper = elementMapper('sev', {
  supported: req(attr('supported', yesNo)),
  cbitpos: childText('cbitpos', uint),
  reducedPhysBits: childText('reducedPhysBits', uint),
  maxGuests: childText('maxGuests', uint),
  maxESGuests: childText('maxESGuests', uint),
  cpu0Id: childText('cpu0Id', trimmed),
});
export type DomainCapsSev = Infer<typeof sevMapper.spec>;

const sgxSectionMapper = elementMapper('section', {
  node: req(attr('node', uint)),
  size: req(attr('size', uint)),
  unit: req(attr('unit', str)),
});
const sgxSizeMapper = elementMapper('section_size', {
  unit: req(attr('unit', str)),
  value: req(text(uint)),
});

/** `<sgx>`: Intel SGX launch control, versions and the EPC memory (sizes in KiB). */
const sgxMapper = elementMapper('sgx', {
  supported: req(attr('supported', yesNo)),
  flc: childText('flc', yesNo),
  sgx1: childText('sgx1', yesNo),
  sgx2: childText('sgx2', yesNo),
  sectionSize: child(sgxSizeMapper),
  sections: child(elementMapper('sections', { sections: children(sgxSectionMapper) })),
});
export type DomainCapsSgx = Infer<typeof sgxMapper.spec>;

const plain = supportTable(DOMAIN_CAPS_FEATURES);
const featuresMapper = elementMapper('features', {
  /** The `<gic>` child: ARM GIC support. */
  gic: plain.gic,
  /** The `<vmcoreinfo>` child: support for the guest crash-dump note. */
  vmcoreinfo: plain.vmcoreinfo,
  /** The `<genid>` child: support for VM generation ids. */
  genid: plain.genid,
  /** The `<backingStoreInput>` child: whether backing chains given in the XML are used. */
  backingStoreInput: plain.backingStoreInput,
  /** The `<backup>` child: support for incremental backup. */
  backup: plain.backup,
  /** The `<async-teardown>` child: support for tearing the guest down in the background. */
  'async-teardown': plain['async-teardown'],
  /** The `<s390-pv>` child: support for s390 protected virtualization. */
  's390-pv': plain['s390-pv'],
  /** The `<ps2>` child: whether PS/2 can be turned off. */
  ps2: plain.ps2,
  /** The `<tdx>` child: Intel TDX support. */
  tdx: plain.tdx,
  sev: child(sevMapper),
  sgx: child(sgxMapper),
  /** The `<hyperv>` child: the Hyper-V enlightenments offered. */
  hyperv: plain.hyperv,
  /** The `<launchSecurity>` child: the confidential-guest technologies offered. */
  launchSecurity: plain.launchSecurity,
});
/** Features by XML name, in libvirt's order. */
export type DomainCapsFeatures = Infer<typeof featuresMapper.spec>;

// --- the document -------------------------------------------------------------

export const domainCapabilitiesMapper = elementMapper('domainCapabilities', {
  path: req(childText('path', trimmed)),
  domain: req(childText('domain', trimmed)),
  machine: childText('machine', trimmed),
  arch: req(childText('arch', trimmed)),
  vcpuMax: childAttr('vcpu', 'max', uint),
  iothreads: childAttr('iothreads', 'supported', yesNo),
  os: child(osMapper),
  cpu: child(cpuMapper),
  memoryBacking: child(supportMapper('memoryBacking')),
  devices: child(devicesMapper),
  features: child(featuresMapper),
});
export type DomainCapabilitiesData = Infer<typeof domainCapabilitiesMapper.spec>;

export interface DomainCapabilities extends DomainCapabilitiesData {}

/** Domain capabilities (`<domainCapabilities>`). */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class DomainCapabilities {
  constructor(data: DomainCapabilitiesData) {
    Object.assign(this, data);
  }

  /** Parses domain capabilities XML. Throws `XML_ERROR` / `XML_DETAIL` with the line at fault. */
  static fromXML(xml: string): DomainCapabilities {
    const el = parseXml(xml);
    if (el.name !== 'domainCapabilities') {
      throw new VirError(
        'XML_ERROR',
        'capabilities',
        `expected root element <domainCapabilities>, found <${el.name}>`,
        {
          ...(el.line !== undefined ? { line: el.line } : {}),
          field: '/',
        },
      );
    }
    return assignParsed(
      new DomainCapabilities({ path: '', domain: '', arch: '' }),
      domainCapabilitiesMapper.read(el),
    );
  }

  /** A CPU mode by name. */
  cpuMode(name: string): DomainCapsCpuMode | undefined {
    return this.cpu?.modes?.find((m) => m.name === name);
  }

  /** The values of one enum of a device (`device('disk', 'bus')`), or undefined when not listed. */
  deviceEnum(device: DomainCapsDeviceName, enumName: string): string[] | undefined {
    const d = this.devices?.[device];
    return (
      d?.enums?.find((e) => e.name === enumName)?.values ??
      (d?.enums?.some((e) => e.name === enumName) ? [] : undefined)
    );
  }

  /** The model as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(): XmlElement {
    return domainCapabilitiesMapper.write(this);
  }

  /** Formats the model as libvirt does. */
  toXML(): string {
    return serializeXml(this.toElement());
  }
}

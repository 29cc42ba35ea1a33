/**
 * The `pci` capability of a node device and what nests inside it: SR-IOV
 * physical/virtual functions, the header type, mediated device types, VPD
 * (vital product data), the IOMMU group and PCI Express link facts.
 *
 * @module
 */
import {
  attr,
  child,
  childAttr,
  children,
  childText,
  elementMapper,
  enumOf,
  type Infer,
  int,
  req,
  str,
  text,
} from '../binding.js';
import { objectError } from '../object-xml.js';
import { pciAddressMapper } from '../storage/common.js';
import { capabilitiesField, dec, hexId } from './capability.js';

// --- mediated device types (also under css and ap_matrix) ---------------------

const mdevTypeMapper = elementMapper('type', {
  id: req(attr('id', str)),
  name: childText('name', str),
  deviceAPI: req(childText('deviceAPI', str)),
  availableInstances: req(childText('availableInstances', dec)),
});
export type MdevType = Infer<typeof mdevTypeMapper.spec>;

export const mdevTypesCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['mdev_types']))),
  types: children(mdevTypeMapper),
});
export type MdevTypesCap = Infer<typeof mdevTypesCapMapper.spec>;

// --- nested PCI capabilities --------------------------------------------------

const physFunctionMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['phys_function']))),
  address: child(pciAddressMapper),
});

const virtFunctionsMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['virt_functions']))),
  maxCount: attr('maxCount', dec),
  addresses: children(pciAddressMapper),
});

const pciBridgeMapper = elementMapper('capability', { type: req(attr('type', enumOf(['pci-bridge']))) });
const cardbusBridgeMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['cardbus-bridge']))),
});

const vpdFieldMapper = (name: string) =>
  elementMapper(name, {
    index: req(attr('index', str)),
    value: req(text(str)),
  });
const vendorFieldMapper = vpdFieldMapper('vendor_field');
const systemFieldMapper = vpdFieldMapper('system_field');
export type VpdCustomField = Infer<typeof vendorFieldMapper.spec>;

const vpdFieldsMapper = elementMapper('fields', {
  access: req(attr('access', enumOf(['readonly', 'readwrite']))),
  changeLevel: childText('change_level', str),
  manufactureId: childText('manufacture_id', str),
  partNumber: childText('part_number', str),
  serialNumber: childText('serial_number', str),
  assetTag: childText('asset_tag', str),
  vendorFields: children(vendorFieldMapper),
  systemFields: children(systemFieldMapper),
});
export type VpdFields = Infer<typeof vpdFieldsMapper.spec>;

const vpdMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['vpd']))),
  name: childText('name', str),
  fields: children(vpdFieldsMapper),
});
export type VpdCap = Infer<typeof vpdMapper.spec>;

/** Nested capabilities in the order libvirt writes them. */
const PCI_SUBCAPS = {
  phys_function: physFunctionMapper,
  virt_functions: virtFunctionsMapper,
  'pci-bridge': pciBridgeMapper,
  'cardbus-bridge': cardbusBridgeMapper,
  mdev_types: mdevTypesCapMapper,
  vpd: vpdMapper,
} as const;
/** A nested capability of a PCI device (SR-IOV functions, mediated devices, PCIe bridge, ...). */
export type PciSubCapability =
  | Infer<typeof physFunctionMapper.spec>
  | Infer<typeof virtFunctionsMapper.spec>
  | Infer<typeof pciBridgeMapper.spec>
  | Infer<typeof cardbusBridgeMapper.spec>
  | MdevTypesCap
  | VpdCap;

// --- iommu group, numa, pci-express -----------------------------------------

const iommuGroupMapper = elementMapper('iommuGroup', {
  number: req(attr('number', dec)),
  addresses: children(pciAddressMapper),
});

const pcieLinkMapper = elementMapper('link', {
  validity: req(attr('validity', enumOf(['cap', 'sta']))),
  port: attr('port', int({ min: -1, max: 0x7fffffff, hex: false })),
  speed: attr('speed', enumOf(['2.5', '5', '8', '16', '32', '64'])),
  width: req(attr('width', dec)),
});
export type PcieLink = Infer<typeof pcieLinkMapper.spec>;

const pciExpressMapper = elementMapper('pci-express', { links: children(pcieLinkMapper) });

export const pciCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['pci']))),
  class: childText('class', hexId(6, 0xffffff)),
  domain: req(childText('domain', dec)),
  bus: req(childText('bus', dec)),
  slot: req(childText('slot', dec)),
  function: req(childText('function', dec)),
  product: req(child(elementMapper('product', { id: req(attr('id', hexId(4))), name: text(str) }))),
  vendor: req(child(elementMapper('vendor', { id: req(attr('id', hexId(4))), name: text(str) }))),
  capabilities: capabilitiesField<PciSubCapability>(PCI_SUBCAPS, {
    sorted: true,
    // Any other type is an unknown header type, which libvirt passes over; `endpoint` is the default.
    ignore: (t) => t !== undefined,
    unknown: (_t, el, path) => {
      throw objectError('XML_ERROR', `${path}/@type`, 'missing capability type', el);
    },
  }),
  iommuGroup: child(iommuGroupMapper),
  numaNode: childAttr('numa', 'node', int({ min: -0x80000000, max: 0x7fffffff, hex: false })),
  pciExpress: child(pciExpressMapper),
});
export type PciCapability = Infer<typeof pciCapMapper.spec>;

/** libvirt's reading of a PCI capability (defaults, what it does not keep, one of each nested type). */
export function normalizePci(cap: PciCapability, field: string): PciCapability {
  const subs = cap.capabilities ?? [];
  const seen = new Set<string>();
  const kept: PciSubCapability[] = [];
  let header = false;
  for (const s of subs) {
    const isHeader = s.type === 'pci-bridge' || s.type === 'cardbus-bridge';
    // The first header type wins; the others are ignored.
    if (isHeader ? header : seen.has(s.type) && s.type !== 'vpd' && s.type !== 'mdev_types') continue;
    if (isHeader) header = true;
    if (s.type === 'phys_function' && !s.address)
      throw objectError('XML_ERROR', `${field}/capability`, "missing address in 'phys_function' capability");
    if (s.type === 'virt_functions' && s.maxCount === 0) delete s.maxCount;
    if (s.type === 'vpd') {
      if (s.name === undefined)
        throw objectError(
          'XML_ERROR',
          `${field}/capability/name`,
          'could not read a device name from the <name> element',
        );
      s.fields = normalizeVpdFields(s.fields ?? [], field);
      if (s.fields.length === 0) delete s.fields;
    }
    // A later VPD or mdev_types replaces an earlier one.
    const prev = kept.findIndex((k) => k.type === s.type);
    if (prev >= 0) kept.splice(prev, 1);
    seen.add(s.type);
    kept.push(s);
  }
  if (kept.length > 0) cap.capabilities = kept;
  else delete cap.capabilities;
  // An IOMMU group is written only with its members.
  if (cap.iommuGroup && !cap.iommuGroup.addresses) delete cap.iommuGroup;
  // -1 is libvirt's "no NUMA node" (0 is a node).
  if (cap.numaNode !== undefined && cap.numaNode < 0) delete cap.numaNode;
  if (cap.pciExpress) {
    const links = cap.pciExpress.links ?? [];
    const byValidity = (v: 'cap' | 'sta') => links.find((l) => l.validity === v);
    const kept2 = [byValidity('cap'), byValidity('sta')].filter((l): l is PcieLink => l !== undefined);
    for (const l of kept2) if (l.port !== undefined && l.port < 0) delete l.port;
    cap.pciExpress = kept2.length > 0 ? { links: kept2 } : {};
  }
  return cap;
}

/** One read-only and one read-write field set at most; fields that do not belong to the access kind are dropped. */
function normalizeVpdFields(fields: VpdFields[], field: string): VpdFields[] {
  const out: VpdFields[] = [];
  for (const access of ['readonly', 'readwrite'] as const) {
    const sets = fields.filter((f) => f.access === access);
    if (sets.length === 0) continue;
    const merged: Record<string, unknown> = { access };
    for (const f of sets) {
      for (const [i, v] of [...(f.vendorFields ?? []), ...(f.systemFields ?? [])].entries())
        if (v.index.length !== 1)
          throw objectError(
            'XML_ERROR',
            `${field}/capability/fields/*[${i + 1}]/@index`,
            `index value '${v.index}' malformed`,
          );
      if (access === 'readonly') {
        merged.changeLevel = f.changeLevel ?? merged.changeLevel;
        merged.manufactureId = f.manufactureId ?? merged.manufactureId;
        merged.partNumber = f.partNumber ?? merged.partNumber;
        merged.serialNumber = f.serialNumber ?? merged.serialNumber;
      } else {
        merged.assetTag = f.assetTag ?? merged.assetTag;
        merged.systemFields = mergeCustom(
          merged.systemFields as VpdCustomField[] | undefined,
          f.systemFields,
        );
      }
      merged.vendorFields = mergeCustom(merged.vendorFields as VpdCustomField[] | undefined, f.vendorFields);
    }
    for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
    out.push(merged as VpdFields);
  }
  return out;
}

/** Custom fields keyed by index: a repeated index updates the earlier value in place. */
function mergeCustom(
  a: VpdCustomField[] | undefined,
  b: VpdCustomField[] | undefined,
): VpdCustomField[] | undefined {
  if (!b) return a;
  const out = [...(a ?? [])];
  for (const f of b) {
    const i = out.findIndex((x) => x.index === f.index);
    if (i >= 0) out[i] = f;
    else out.push(f);
  }
  return out.length > 0 ? out : undefined;
}

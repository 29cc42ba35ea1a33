/**
 * `<device>`: a host device as the node device driver reports it
 * (`virNodeDeviceGetXMLDesc`), or the definition of one to create (a
 * mediated device, an NPIV vHBA).
 *
 * Parsing follows libvirt: the name and at least one capability are
 * required; facts a driver reads from sysfs (the bound driver, a mediated
 * device's parent address, vport counts, block counts) are not read from
 * the document.
 *
 * @module
 */
import { serializeXml } from '../../xml/serialize.js';
import type { XmlElement } from '../../xml/tree.js';
import {
  assignParsed,
  attr,
  child,
  children,
  childText,
  elementMapper,
  enumOf,
  type Field,
  type Infer,
  req,
  str,
  text,
} from '../binding.js';
import {
  ignored,
  keepEndTag,
  objectError,
  type ParseObjectOptions,
  parseRoot,
  withoutUnknown,
} from '../object-xml.js';
import { capabilitiesField } from './capability.js';
import {
  type DrmCapability,
  drmCapMapper,
  NET_FEATURES,
  type NetCapability,
  netCapMapper,
  normalizeStorage,
  type ScsiCapability,
  type ScsiGenericCapability,
  type ScsiHostCapability,
  type ScsiTargetCapability,
  type StorageCapability,
  type SystemCapability,
  scsiCapMapper,
  scsiGenericCapMapper,
  scsiHostCapMapper,
  scsiTargetCapMapper,
  storageCapMapper,
  systemCapMapper,
  type UsbDeviceCapability,
  type UsbInterfaceCapability,
  usbDeviceCapMapper,
  usbInterfaceCapMapper,
} from './caps-misc.js';
import { normalizePci, type PciCapability, pciCapMapper } from './caps-pci.js';
import {
  type ApCardCapability,
  type ApMatrixCapability,
  type ApQueueCapability,
  apCardCapMapper,
  apMatrixCapMapper,
  apQueueCapMapper,
  type CcwCapability,
  type CcwGroupCapability,
  type CssCapability,
  ccwCapMapper,
  ccwGroupCapMapper,
  cssCapMapper,
  type MdevCapability,
  mdevCapMapper,
  normalizeMdev,
} from './caps-s390.js';

/** Capabilities a device definition may have, by type. */
const DEVICE_CAPS = {
  system: systemCapMapper,
  pci: pciCapMapper,
  usb_device: usbDeviceCapMapper,
  usb: usbInterfaceCapMapper,
  net: netCapMapper,
  scsi_host: scsiHostCapMapper,
  scsi_target: scsiTargetCapMapper,
  scsi: scsiCapMapper,
  storage: storageCapMapper,
  scsi_generic: scsiGenericCapMapper,
  drm: drmCapMapper,
  mdev: mdevCapMapper,
  ccw: ccwCapMapper,
  css: cssCapMapper,
  ap_card: apCardCapMapper,
  ap_queue: apQueueCapMapper,
  ap_matrix: apMatrixCapMapper,
  ccwgroup: ccwGroupCapMapper,
} as const;

/** One `<capability>` of a host device, by its `type`. */
export type NodeDeviceCapability =
  | SystemCapability
  | PciCapability
  | UsbDeviceCapability
  | UsbInterfaceCapability
  | NetCapability
  | ScsiHostCapability
  | ScsiTargetCapability
  | ScsiCapability
  | StorageCapability
  | ScsiGenericCapability
  | DrmCapability
  | MdevCapability
  | CcwCapability
  | CssCapability
  | ApCardCapability
  | ApQueueCapability
  | ApMatrixCapability
  | CcwGroupCapability;

/** Types libvirt knows but reports only as nested capabilities or from sysfs: not valid at the top. */
const REPORT_ONLY = new Set([
  'ccwgroup_member',
  'mdev_types',
  'fc_host',
  'vports',
  'scsi_generic',
  'vdpa',
  'vpd',
]);

const devnodeMapper = elementMapper('devnode', {
  type: req(attr('type', enumOf(['dev', 'link']))),
  path: req(text(str)),
});
export type NodeDeviceDevnode = Infer<typeof devnodeMapper.spec>;

const parentMapper = elementMapper('parent', {
  name: text(str),
  wwnn: attr('wwnn', str),
  wwpn: attr('wwpn', str),
  fabricWwn: attr('fabric_wwn', str),
});
export type NodeDeviceParent = Infer<typeof parentMapper.spec>;

const deviceCapsField = capabilitiesField<NodeDeviceCapability>(DEVICE_CAPS, {
  unknown: (type, el, path) => {
    const known = type !== undefined && REPORT_ONLY.has(type);
    throw objectError(
      type === undefined ? 'XML_ERROR' : known ? 'INTERNAL_ERROR' : 'CONFIG_UNSUPPORTED',
      `${path}/@type`,
      type === undefined ? 'missing capability type' : `unknown capability type '${type}'`,
      el,
    );
  },
});

/** libvirt writes each of a device's capabilities with an end tag, even an empty one. */
const deviceCapabilities: Field<NodeDeviceCapability[]> = {
  ...deviceCapsField,
  writeChildren(value, out) {
    const start = out.length;
    deviceCapsField.writeChildren?.(value, out);
    for (const n of out.slice(start)) if (n.type === 'element') keepEndTag(n, 1);
  },
};

export const nodeDeviceMapper = elementMapper('device', {
  name: childText('name', str),
  path: childText('path', str),
  devnodes: children(devnodeMapper),
  parent: child(parentMapper),
  // The driver bound to the device right now: state, not definition.
  /** The `<driver>` child: the host's current driver, read and dropped. */
  driver: ignored('driver'),
  /** The `<capability>` children: what the device is (PCI, USB, network, storage, ...). */
  capabilities: deviceCapabilities,
});
type NodeDeviceData = Infer<typeof nodeDeviceMapper.spec>;

/** How `NodeDeviceDef.toXML` formats. */
export interface FormatNodeDeviceOptions {
  /** Format the persistent definition only (no sysfs path or device nodes). */
  inactive?: boolean;
}

export interface NodeDeviceDef extends NodeDeviceData {}

/**
 * A host device (`<device>`) with its capabilities (PCI, USB, network, storage, mediated devices, ...).
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class NodeDeviceDef {
  /**
   * Parses node device XML. Throws `NO_NAME` without a name,
   * `XML_ERROR`/`INTERNAL_ERROR`/`CONFIG_UNSUPPORTED` for missing or bad
   * capability data, naming the field and line.
   */
  static fromXML(xml: string, options: ParseObjectOptions = {}): NodeDeviceDef {
    return NodeDeviceDef.fromElement(parseRoot(xml, 'device'), options);
  }

  /** Reads an element already parsed (by `parseXml` or as part of a larger document). */
  static fromElement(el: XmlElement, options: ParseObjectOptions = {}): NodeDeviceDef {
    let data = nodeDeviceMapper.read(el, '/device');
    if (options.preserveUnknown === false) data = withoutUnknown(data);
    const def = assignParsed(new NodeDeviceDef(), data);
    normalizeDevice(def, el);
    return def;
  }

  /** The model as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(options: FormatNodeDeviceOptions = {}): XmlElement {
    const out: NodeDeviceData = { ...this };
    if (options.inactive) {
      delete out.path;
      delete out.devnodes;
    }
    const el = nodeDeviceMapper.write(out);
    return el;
  }

  /** Formats the device as libvirt does. */
  toXML(options: FormatNodeDeviceOptions = {}): string {
    return serializeXml(this.toElement(options));
  }
}

function normalizeDevice(def: NodeDeviceDef, el: XmlElement): void {
  if (def.name === undefined) throw objectError('NO_NAME', '/device/name', 'missing device name', el);
  const p = def.parent;
  if (p) {
    if ((p.wwnn === undefined) !== (p.wwpn === undefined))
      throw objectError('XML_ERROR', '/device/parent', 'parent wwnn and wwpn must be given together', el);
  }
  // One device node of type 'dev' (the last wins), then the links in order.
  const nodes = def.devnodes ?? [];
  const dev = nodes.filter((n) => n.type === 'dev').at(-1);
  const links = nodes.filter((n) => n.type === 'link');
  const ordered = [...(dev ? [dev] : []), ...links];
  if (ordered.length > 0) def.devnodes = ordered;
  else delete def.devnodes;

  const caps = def.capabilities;
  if (!caps)
    throw objectError('INTERNAL_ERROR', '/device/capability', `no device capabilities for '${def.name}'`, el);
  for (const [i, cap] of caps.entries()) {
    const at = `/device/capability[${i + 1}]`;
    switch (cap.type) {
      case 'pci':
        normalizePci(cap, at);
        break;
      case 'storage':
        normalizeStorage(cap, at);
        break;
      case 'mdev':
        normalizeMdev(cap, at);
        break;
      case 'system':
        cap.firmware ??= {};
        break;
      case 'scsi_host':
        for (const s of cap.capabilities ?? []) {
          if (s.type === 'vport_ops') {
            s.maxVports ??= 0;
            s.vports ??= 0;
          }
        }
        break;
      case 'net': {
        const names = new Set((cap.features ?? []).map((f) => f.name));
        const features = NET_FEATURES.filter((n) => names.has(n)).map((name) => ({ name }));
        if (features.length > 0) cap.features = features;
        else delete cap.features;
        if (cap.link && cap.link.speed === 0) delete cap.link.speed;
        if (cap.link && cap.link.speed === undefined && cap.link.state === undefined) delete cap.link;
        if (cap.subtype && cap.subtype.length > 1) cap.subtype = cap.subtype.slice(0, 1);
        break;
      }
      case 'ccwgroup':
        cap.members ??= {};
        if (cap.capabilities && cap.capabilities.length > 1) cap.capabilities = cap.capabilities.slice(0, 1);
        break;
      case 'ccw':
        if (cap.capabilities) {
          const m = cap.capabilities.filter((c) => c.type === 'ccwgroup_member').at(-1);
          if (m) cap.capabilities = [m];
          else delete cap.capabilities;
        }
        break;
      default:
        break;
    }
  }
}

/**
 * `<networkport>`: one guest interface's reservation on a virtual network
 * (`virNetworkPortGetXMLDesc`): whose it is (the owning domain), its MAC,
 * the bandwidth, VLAN and virtual port profile it got, and how the
 * hypervisor plugs it in (`<plug>`: a bridge, a macvtap link device or a
 * PCI function).
 *
 * @module
 */
import { serializeXml } from '../../xml/serialize.js';
import type { XmlElement } from '../../xml/tree.js';
import {
  assignParsed,
  attr,
  child,
  childText,
  elementMapper,
  enumOf,
  type Infer,
  req,
  str,
  yesNo,
} from '../binding.js';
import { objectError, type ParseObjectOptions, parseRoot, uuid, withoutUnknown } from '../object-xml.js';
import { pciAddressMapper } from '../storage/common.js';
import { macAddressCodec } from './addr.js';
import {
  bandwidthMapper,
  normalizeVirtualPort,
  normalizeVlan,
  virtualPortMapper,
  vlanMapper,
} from './netdev.js';

/** How the hypervisor plugs a port in (`<plug type>`), as libvirt names them; `none` without `<plug>`. */
export const PORT_PLUG_TYPES = ['none', 'network', 'bridge', 'direct', 'hostdev-pci'] as const;
/** One of {@link PORT_PLUG_TYPES}. */
export type PortPlugType = (typeof PORT_PLUG_TYPES)[number];

/** macvtap modes, as libvirt names them. */
export const DIRECT_MODES = ['vepa', 'private', 'bridge', 'passthrough'] as const;

const ownerMapper = elementMapper('owner', {
  name: childText('name', str),
  uuid: childText('uuid', uuid),
});

const plugDriverMapper = elementMapper('driver', {
  name: attr('name', str),
});

const plugMapper = elementMapper('plug', {
  type: attr('type', enumOf(PORT_PLUG_TYPES)),
  bridge: attr('bridge', str),
  // libvirt's "default" is the absence of the attribute, so only these two are written
  macTableManager: attr('macTableManager', enumOf(['kernel', 'libvirt'])),
  dev: attr('dev', str),
  mode: attr('mode', enumOf(DIRECT_MODES)),
  managed: attr('managed', yesNo),
  driver: child(plugDriverMapper),
  address: child(pciAddressMapper),
});
export type NetworkPortPlug = Infer<typeof plugMapper.spec>;

const portMapper = elementMapper('networkport', {
  uuid: childText('uuid', uuid),
  owner: child(ownerMapper),
  group: childText('group', str),
  mac: req(child(elementMapper('mac', { address: attr('address', macAddressCodec) }))),
  virtualPort: child(virtualPortMapper),
  bandwidth: child(bandwidthMapper),
  vlan: child(vlanMapper),
  port: child(elementMapper('port', { isolated: attr('isolated', yesNo) })),
  rxfilters: child(elementMapper('rxfilters', { trustGuest: attr('trustGuest', yesNo) })),
  plug: child(plugMapper),
});
type NetworkPortData = Infer<typeof portMapper.spec>;

export interface NetworkPortDef extends NetworkPortData {}

/**
 * A `<networkport>` document, typed: its fields are the element's children
 * (`uuid`, `owner`, `mac`, `plug`, ...). Parse with {@link NetworkPortDef.fromXML}.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class NetworkPortDef {
  /**
   * Parses port XML with libvirt's checks: a UUID, an owner with name and
   * UUID, and a MAC are required; each plug type needs its own attribute
   * (a bridge name, a link device, a PCI address). Throws `XML_ERROR` naming
   * the field.
   */
  static fromXML(xml: string, options: ParseObjectOptions = {}): NetworkPortDef {
    return NetworkPortDef.fromElement(parseRoot(xml, 'networkport'), options);
  }

  /** Reads an element already parsed (by `parseXml` or as part of a larger document), with the same checks. */
  static fromElement(el: XmlElement, options: ParseObjectOptions = {}): NetworkPortDef {
    let data = portMapper.read(el, '/networkport');
    if (options.preserveUnknown === false) data = withoutUnknown(data);
    const def = assignParsed(new NetworkPortDef(), data);
    normalizePort(def, el);
    return def;
  }

  /** How the port is plugged (`none` without `<plug>`). */
  get plugType(): PortPlugType {
    return this.plug?.type ?? 'none';
  }

  /** The port as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(): XmlElement {
    return portMapper.write(this);
  }

  /** Formats the port as libvirt does. */
  toXML(): string {
    return serializeXml(this.toElement());
  }
}

function normalizePort(def: NetworkPortDef, el: XmlElement): void {
  const need = (ok: unknown, field: string, what: string) => {
    if (ok === undefined) throw objectError('XML_ERROR', field, `network port has no ${what}`, el);
  };
  need(def.uuid, '/networkport/uuid', 'uuid');
  need(def.owner?.name, '/networkport/owner/name', 'owner name');
  need(def.owner?.uuid, '/networkport/owner/uuid', 'owner UUID');
  need(def.mac?.address, '/networkport/mac/@address', 'mac');
  if (def.vlan) def.vlan = normalizeVlan(def.vlan, '/networkport/vlan');
  if (def.virtualPort) {
    const vp = normalizeVirtualPort(def.virtualPort, '/networkport/virtualport', false);
    if (vp) def.virtualPort = vp;
    else delete def.virtualPort;
  }
  const b = def.bandwidth;
  if (b) {
    // a port may carry the class id the network gave it, and a floor
    for (const dir of ['inbound', 'outbound'] as const) {
      const r = b[dir];
      if (r && r.average === undefined && r.floor === undefined)
        throw objectError(
          'XML_DETAIL',
          `/networkport/bandwidth/${dir}`,
          'missing mandatory average or floor attributes',
          el,
        );
    }
  }
  if (def.rxfilters && def.rxfilters.trustGuest === undefined) delete def.rxfilters;
  if (def.port && def.port.isolated === undefined) delete def.port;
  const plug = def.plug;
  if (!plug) return;
  const type = plug.type ?? 'none';
  const at = '/networkport/plug';
  // each type writes only its own attributes, as libvirt does
  const keep = (...keys: Array<keyof NetworkPortPlug>) => {
    for (const k of Object.keys(plug) as Array<keyof NetworkPortPlug>)
      if (k !== 'type' && !keys.includes(k)) delete plug[k];
  };
  switch (type) {
    case 'none':
      delete def.plug;
      return;
    case 'network':
    case 'bridge':
      if (plug.bridge === undefined)
        throw objectError('XML_ERROR', `${at}/@bridge`, 'Missing network port bridge name', el);
      keep('bridge', 'macTableManager');
      return;
    case 'direct':
      if (plug.dev === undefined)
        throw objectError('XML_ERROR', `${at}/@dev`, 'Missing network port link device name', el);
      plug.mode ??= 'vepa';
      keep('dev', 'mode');
      return;
    case 'hostdev-pci':
      if (plug.address === undefined)
        throw objectError('XML_ERROR', `${at}/address`, 'Missing network port PCI address', el);
      keep('managed', 'driver', 'address');
      return;
  }
}

/**
 * `<network>`: a virtual network definition (`virNetworkGetXMLDesc`).
 *
 * Parsing applies libvirt's defaults (NAT when `<forward>` names no mode,
 * STP on with no delay for networks that own their bridge, the forward
 * device as the first interface of the pool) and its checks of what each
 * forward mode allows, naming the field and line at fault.
 *
 * @module
 */
import { serializeXml } from '../../xml/serialize.js';
import type { XmlElement } from '../../xml/tree.js';
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
  rawChild,
  str,
  yesNo,
} from '../binding.js';
import { fillMetadata, metadataPlaceholder } from '../metadata-xml.js';
import {
  elementOf,
  ignoredAttrs,
  newUuid,
  objectError,
  type ParseObjectOptions,
  parseRoot,
  uuid,
  withCanonicalPrefixes,
  withoutUnknown,
} from '../object-xml.js';
import { isMulticastMac, macAddressCodec } from './addr.js';
import { dnsMapper, normalizeDns } from './dns.js';
import { type ForwardMode, forwardMapper, modeHasBridge, normalizeForward } from './forward.js';
import { checkRoute, ipsField, normalizeIp, routesField } from './ip.js';
import {
  bandwidthMapper,
  normalizeBandwidth,
  normalizeVirtualPort,
  normalizeVlan,
  virtualPortMapper,
  vlanMapper,
} from './netdev.js';

/** `stp` is on unless it says exactly "off", as libvirt reads it. */
const stpCodec = { parse: (raw: string) => raw !== 'off', format: (v: boolean) => (v ? 'on' : 'off') };

const bridgeMapper = elementMapper('bridge', {
  name: attr('name', str),
  zone: attr('zone', str),
  stp: attr('stp', stpCodec),
  delay: attr('delay', int({ min: 0, hex: false })),
  macTableManager: attr('macTableManager', enumOf(['default', 'kernel', 'libvirt'])),
});
export type NetworkBridge = Infer<typeof bridgeMapper.spec>;

const domainMapper = elementMapper('domain', {
  name: attr('name', str),
  localOnly: attr('localOnly', yesNo),
  register: attr('register', yesNo),
});

/** `default='yes'` in any case marks the default port group; anything else does not. */
const defaultCodec = {
  parse: (raw: string) => raw.toLowerCase() === 'yes',
  format: (v: boolean) => (v ? 'yes' : 'no'),
};

const portGroupMapper = elementMapper('portgroup', {
  name: attr('name', str),
  default: attr('default', defaultCodec),
  trustGuestRxFilters: attr('trustGuestRxFilters', yesNo),
  vlan: child(vlanMapper),
  virtualPort: child(virtualPortMapper),
  bandwidth: child(bandwidthMapper),
});
export type NetworkPortGroup = Infer<typeof portGroupMapper.spec>;

/** Extra dnsmasq options of the network's DHCP/DNS server (`<dnsmasq:options>`). */
export const DNSMASQ_NS = 'http://libvirt.org/schemas/network/dnsmasq/1.0';

const dnsmasqOptionsField: Field<string[]> = {
  attrNames: [],
  childNames: ['dnsmasq:options'],
  ownsText: false,
  read(el) {
    const c = el.children.find((k): k is XmlElement => k.type === 'element' && k.name === 'dnsmasq:options');
    if (!c) return undefined;
    const out: string[] = [];
    for (const o of c.children) {
      if (o.type !== 'element' || o.name !== 'dnsmasq:option') continue;
      const value = o.attrs.find((a) => a.name === 'value')?.value;
      if (value === undefined)
        throw objectError(
          'XML_ERROR',
          '/network/dnsmasq:options/dnsmasq:option/@value',
          'no dnsmasq options value specified',
          o,
        );
      out.push(value);
    }
    return out.length > 0 ? out : undefined;
  },
  writeChildren(value, out) {
    out.push(
      elementOf(
        'dnsmasq:options',
        [],
        value.map((v) => elementOf('dnsmasq:option', [['value', v]])),
      ),
    );
  },
};

export const networkMapper = elementMapper('network', {
  /** The `xmlns:dnsmasq` declaration: read and dropped, written back by `toElement` when dnsmasq options are there. */
  xmlns: ignoredAttrs('xmlns:dnsmasq'),
  /** The `connections` count of guests attached now: live state, read and dropped. */
  connections: ignoredAttrs('connections'),
  ipv6: attr('ipv6', yesNo),
  trustGuestRxFilters: attr('trustGuestRxFilters', yesNo),
  name: childText('name', str),
  uuid: childText('uuid', uuid),
  title: childText('title', str),
  description: childText('description', str),
  metadata: rawChild('metadata'),
  forward: child(forwardMapper),
  bridge: child(bridgeMapper),
  mtu: childAttr('mtu', 'size', int({ min: 0, max: 0xffffffff, hex: false })),
  mac: childAttr('mac', 'address', macAddressCodec),
  domain: child(domainMapper),
  dns: child(dnsMapper),
  vlan: child(vlanMapper),
  bandwidth: child(bandwidthMapper),
  isolatedPort: childAttr('port', 'isolated', yesNo),
  /** The `<ip>` children: the addresses and DHCP ranges the network serves. */
  ips: ipsField,
  /** The `<route>` children: static routes of the network. */
  routes: routesField,
  virtualPort: child(virtualPortMapper),
  portGroups: children(portGroupMapper),
  /** The `<dnsmasq:options>` child: options passed to dnsmasq as they are. */
  dnsmasqOptions: dnsmasqOptionsField,
});
type NetworkData = Infer<typeof networkMapper.spec>;

/** How `NetworkDef.toXML` formats. */
export interface FormatNetworkOptions {
  /** Format the persistent definition only (libvirt's `--inactive`). */
  inactive?: boolean;
}

export interface NetworkDef extends NetworkData {}

/**
 * A virtual network (`<network>`): libvirt's defaults and checks on parse, libvirt's output on format, unknown XML kept.
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the interface carries the mapped fields
export class NetworkDef {
  /**
   * Parses network XML with libvirt's defaults and checks; throws
   * `NO_NAME`, `XML_ERROR`, `XML_DETAIL` or `CONFIG_UNSUPPORTED` naming the
   * field and line at fault.
   */
  static fromXML(xml: string, options: ParseObjectOptions = {}): NetworkDef {
    return NetworkDef.fromElement(parseRoot(xml, 'network'), options);
  }

  /** Reads an element already parsed (by `parseXml` or as part of a larger document). */
  static fromElement(el: XmlElement, options: ParseObjectOptions = {}): NetworkDef {
    let data = networkMapper.read(withCanonicalPrefixes(el, new Map([[DNSMASQ_NS, 'dnsmasq']])), '/network');
    if (options.preserveUnknown === false) data = withoutUnknown(data);
    const def = assignParsed(new NetworkDef(), data);
    try {
      normalizeNetwork(def);
    } catch (err) {
      throw withLine(err, el);
    }
    return def;
  }

  /** The forward mode (`none` when the network is isolated). */
  get forwardMode(): ForwardMode {
    return this.forward?.mode ?? 'none';
  }

  /** The model as an XML tree, as `toXML` would write it, for embedding in a larger document. */
  toElement(options: FormatNetworkOptions = {}): XmlElement {
    const el = networkMapper.write(this);
    if (this.dnsmasqOptions) el.attrs.unshift({ name: 'xmlns:dnsmasq', value: DNSMASQ_NS });
    const fwd = this.forward;
    // A live network's pool of VFs is shown next to its PF; the definition keeps only the PF.
    if (options.inactive && fwd?.pfs && fwd.interfaces) {
      for (const c of el.children)
        if (c.type === 'element' && c.name === 'forward')
          c.children = c.children.filter((k) => !(k.type === 'element' && k.name === 'interface'));
    }
    return el;
  }

  /** Formats the definition as libvirt does. */
  toXML(options: FormatNetworkOptions = {}): string {
    const el = this.toElement(options);
    const md = this.metadata;
    if (!md) return serializeXml(el);
    el.children = el.children.map((c) => (c === md ? metadataPlaceholder() : c));
    return fillMetadata(serializeXml(el), md, 1);
  }
}

/** Adds the line of the element a model error names, when the parsed tree has it. */
function withLine(err: unknown, root: XmlElement): unknown {
  if (!(err instanceof Error) || !('field' in err) || (err as { line?: number }).line !== undefined)
    return err;
  const field = (err as { field?: string }).field;
  if (field === undefined) return err;
  let cur: XmlElement = root;
  for (const step of field.split('/').slice(2)) {
    const m = /^([^[@]+)(?:\[(\d+)\])?$/.exec(step);
    if (!m) break;
    const idx = m[2] === undefined ? 1 : Number(m[2]);
    const next = cur.children.filter((c): c is XmlElement => c.type === 'element' && c.name === m[1])[
      idx - 1
    ];
    if (!next) break;
    cur = next;
  }
  if (cur.line === undefined) return err;
  const e = err as Error & { field: string; code: string };
  return objectError(e.code as never, e.field, e.message.replace(/^[^:]*: /, ''), cur);
}

function normalizeNetwork(def: NetworkDef): void {
  if (def.name === undefined) throw objectError('NO_NAME', '/network/name', 'missing network name');
  if (def.name.includes('/'))
    throw objectError('XML_ERROR', '/network/name', `name '${def.name}' cannot contain '/'`);
  def.uuid ??= newUuid();
  if (def.title?.includes('\n'))
    throw objectError('XML_ERROR', '/network/title', "network title can't contain newlines");
  // Only ipv6='yes' changes anything; libvirt writes the attribute only then.
  if (def.ipv6 === false) delete def.ipv6;

  const dom = def.domain;
  if (dom) {
    if (dom.register === true && dom.localOnly !== true)
      throw objectError(
        'CONFIG_UNSUPPORTED',
        '/network/domain/@register',
        "register='yes' requires localOnly='yes'",
      );
    // localOnly='no' is the default and not written; register is written either way.
    if (dom.localOnly === false) delete dom.localOnly;
    if (dom.name === undefined && dom.localOnly === undefined && dom.register === undefined)
      delete def.domain;
  }
  if (def.bandwidth) def.bandwidth = normalizeBandwidth(def.bandwidth, '/network/bandwidth', true);
  if (def.vlan) def.vlan = normalizeVlan(def.vlan, '/network/vlan');

  const bridge = def.bridge;
  if (bridge?.macTableManager === 'default')
    throw objectError(
      'XML_ERROR',
      '/network/bridge/@macTableManager',
      "invalid macTableManager setting 'default'",
    );
  if (def.mac !== undefined && isMulticastMac(def.mac))
    throw objectError(
      'XML_ERROR',
      '/network/mac/@address',
      `invalid multicast bridge mac address '${def.mac}'`,
    );
  if (def.mtu === 0) delete def.mtu;
  if (def.dns) {
    const dns = normalizeDns(def.dns, '/network/dns');
    if (dns) def.dns = dns;
    else delete def.dns;
  }
  if (def.virtualPort) {
    const vp = normalizeVirtualPort(def.virtualPort, '/network/virtualport', true);
    if (vp) def.virtualPort = vp;
    else delete def.virtualPort;
  }
  for (const [i, pg] of (def.portGroups ?? []).entries()) {
    const at = `/network/portgroup[${i + 1}]`;
    if (pg.name === undefined)
      throw objectError('XML_ERROR', `${at}/@name`, 'missing required name attribute in portgroup');
    if (pg.default === false) delete pg.default;
    if (pg.virtualPort) {
      const vp = normalizeVirtualPort(pg.virtualPort, `${at}/virtualport`, false);
      if (vp) pg.virtualPort = vp;
      else delete pg.virtualPort;
    }
    if (pg.bandwidth) pg.bandwidth = normalizeBandwidth(pg.bandwidth, `${at}/bandwidth`);
    if (pg.vlan) pg.vlan = normalizeVlan(pg.vlan, `${at}/vlan`);
  }
  const ips = def.ips ?? [];
  for (const [i, ip] of ips.entries()) normalizeIp(ip, `/network/ip[${i + 1}]`);
  for (const [i, r] of (def.routes ?? []).entries()) checkRoute(r, `/network/route[${i + 1}]`, ips);

  if (def.forward) {
    const fwd = normalizeForward(def.forward, '/network/forward');
    if (fwd) def.forward = fwd;
    else delete def.forward;
  }
  const mode = def.forward?.mode ?? 'none';
  const nifs = (def.forward?.interfaces?.length ?? 0) + (def.forward?.addresses?.length ?? 0);
  const npfs = def.forward?.pfs?.length ?? 0;
  if (mode === 'route' || mode === 'nat') {
    if (ips.length === 0)
      throw objectError(
        'XML_ERROR',
        '/network/ip',
        `${mode} forwarding requested, but no IP address provided`,
      );
    if (nifs > 1)
      throw objectError(
        'XML_ERROR',
        '/network/forward',
        'multiple forwarding interfaces specified, only one is supported',
      );
  }
  if (mode === 'open' && nifs > 0)
    throw objectError(
      'XML_ERROR',
      '/network/forward/@dev',
      "forward dev not allowed with forward mode='open'",
    );
  if (mode === 'private' || mode === 'vepa' || mode === 'passthrough' || mode === 'hostdev') {
    if (bridge?.name !== undefined)
      throw objectError('XML_ERROR', '/network/bridge/@name', `bridge name not allowed in ${mode} mode`);
    if (bridge?.zone !== undefined)
      throw objectError('XML_ERROR', '/network/bridge/@zone', `bridge zone not allowed in ${mode} mode`);
    if (bridge?.macTableManager !== undefined)
      throw objectError(
        'XML_ERROR',
        '/network/bridge/@macTableManager',
        `bridge macTableManager setting not allowed in ${mode} mode`,
      );
  }
  // What bridge mode refuses, the other modes without a bridge of their own refuse too.
  if (!modeHasBridge(mode)) {
    if ((bridge?.delay ?? 0) > 0 || bridge?.stp !== undefined || bridge?.zone !== undefined)
      throw objectError(
        'XML_ERROR',
        '/network/bridge',
        `bridge delay/stp/zone options not allowed in ${mode} mode`,
      );
    if (bridge?.name !== undefined && (nifs > 0 || npfs > 0))
      throw objectError(
        'XML_ERROR',
        '/network/bridge/@name',
        `forward mode='${mode}' takes a bridge name or a forward dev, not both`,
      );
  }
  if (def.mtu !== undefined && !modeHasBridge(mode))
    throw objectError(
      'XML_ERROR',
      '/network/mtu',
      `mtu size only allowed in open, route, nat, and isolated mode, not in ${mode}`,
    );

  if (modeHasBridge(mode)) {
    const b: NetworkBridge = def.bridge ?? {};
    b.stp ??= true;
    b.delay ??= 0;
    // Written in libvirt's attribute order: name, zone, stp, delay, macTableManager.
    def.bridge = b;
  } else if (bridge && bridge.name === undefined && bridge.macTableManager === undefined) {
    delete def.bridge;
  }

  const md = def.metadata;
  if (md && !md.children.some((c) => c.type === 'element')) delete def.metadata;
}

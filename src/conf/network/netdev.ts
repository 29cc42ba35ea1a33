/**
 * Per-port network settings shared by networks and their port groups (and
 * by domain interfaces): VLAN tags, bandwidth limits and the virtual port
 * profile of 802.1Qbg/Qbh switches, Open vSwitch or MidoNet.
 *
 * @module
 */
import {
  attr,
  child,
  children,
  elementMapper,
  enumOf,
  type Infer,
  int,
  req,
  str,
  uint64,
} from '../binding.js';
import { objectError, uuid } from '../object-xml.js';

// --- vlan --------------------------------------------------------------------

const vlanTagMapper = elementMapper('tag', {
  id: req(attr('id', int({ min: 0, max: 4095, hex: false }))),
  nativeMode: attr('nativeMode', enumOf(['tagged', 'untagged'])),
});

const trunkCodec = {
  parse: (raw: string) => raw.toLowerCase() === 'yes' || (raw.toLowerCase() === 'no' ? false : raw),
  format: (v: boolean | string) => (v === true ? 'yes' : 'no'),
};

export const vlanMapper = elementMapper('vlan', {
  trunk: attr('trunk', trunkCodec),
  tags: children(vlanTagMapper),
});
export type NetVlan = Infer<typeof vlanMapper.spec>;

/**
 * libvirt's VLAN rules: at least one tag; several tags make a trunk
 * (`trunk='no'` then is an error, as with a native tag); one native tag at
 * most; `trunk='no'` on a single tag is accepted and dropped.
 */
export function normalizeVlan(v: NetVlan, field: string): NetVlan {
  const tags = v.tags ?? [];
  if (tags.length === 0)
    throw objectError('XML_ERROR', `${field}/tag`, "each <vlan> needs at least one <tag id='n'/>");
  const natives = tags.filter((t) => t.nativeMode !== undefined);
  if (natives.length > 1) throw objectError('XML_ERROR', field, 'duplicate native vlan setting');
  if (typeof v.trunk === 'string')
    throw objectError('XML_ERROR', `${field}/@trunk`, `invalid trunk='${v.trunk}', must be yes or no`);
  if (v.trunk === false) {
    if (tags.length > 1)
      throw objectError('XML_ERROR', `${field}/@trunk`, "trunk='yes' is required for more than one vlan tag");
    if (natives.length > 0)
      throw objectError('XML_ERROR', `${field}/@trunk`, "trunk='no' is not allowed with a native vlan id");
  }
  const trunk = v.trunk === true || (v.trunk === undefined && tags.length > 1);
  // The native mode is a property of a tag id: every tag with that id shows it.
  const native = natives[0];
  const out: NetVlan = {
    tags: tags.map((t) =>
      native && t.id === native.id && native.nativeMode
        ? { id: t.id, nativeMode: native.nativeMode }
        : { id: t.id },
    ),
  };
  if (trunk) out.trunk = true;
  return out;
}

// --- bandwidth ---------------------------------------------------------------

const rateSpec = {
  average: attr('average', uint64),
  peak: attr('peak', uint64),
  floor: attr('floor', uint64),
  burst: attr('burst', uint64),
};
const inboundMapper = elementMapper('inbound', rateSpec);
const outboundMapper = elementMapper('outbound', rateSpec);
export type NetBandwidthRate = Infer<typeof inboundMapper.spec>;

export const bandwidthMapper = elementMapper('bandwidth', {
  classId: attr('classID', int({ min: 0, max: 0xffffffff, hex: false })),
  inbound: child(inboundMapper),
  outbound: child(outboundMapper),
});
export type NetBandwidth = Infer<typeof bandwidthMapper.spec>;

/** Bandwidth rules; `floor` only where the caller supports it (a network's ports), `classID` never in a definition. */
export function normalizeBandwidth(b: NetBandwidth, field: string, allowFloor = false): NetBandwidth {
  if (b.classId !== undefined)
    throw objectError(
      'XML_DETAIL',
      `${field}/@classID`,
      'classID attribute not supported on <bandwidth> in this usage context',
    );
  for (const dir of ['inbound', 'outbound'] as const) {
    const r = b[dir];
    if (!r) continue;
    const at = `${field}/${dir}`;
    if (r.average === undefined && r.floor === undefined)
      throw objectError('XML_DETAIL', at, 'missing mandatory average or floor attributes');
    if ((r.peak !== undefined || r.burst !== undefined) && r.average === undefined)
      throw objectError('CONFIG_UNSUPPORTED', at, "'peak' and 'burst' require 'average' attribute");
    if (r.floor !== undefined && !allowFloor)
      throw objectError(
        'CONFIG_UNSUPPORTED',
        `${at}/@floor`,
        'floor attribute is not supported for this config',
      );
    // Zero means "no limit": libvirt writes a rate only when it has an average or floor.
    for (const k of ['average', 'peak', 'floor', 'burst'] as const) if (r[k] === 0n) delete r[k];
    if (r.average === undefined && r.floor === undefined) delete b[dir];
  }
  return b;
}

// --- virtualport -------------------------------------------------------------

/** The `type` values of `<virtualport>`: the switch protocol the port speaks. */
export const VIRTUALPORT_TYPES = ['802.1Qbg', '802.1Qbh', 'openvswitch', 'midonet'] as const;
/** One of `VIRTUALPORT_TYPES`. */
export type VirtualPortType = (typeof VIRTUALPORT_TYPES)[number];

const parametersMapper = elementMapper('parameters', {
  managerId: attr('managerid', int({ min: 0, max: 255, hex: false })),
  typeId: attr('typeid', int({ min: 0, max: 0xffffff, hex: false })),
  typeIdVersion: attr('typeidversion', int({ min: 0, max: 255, hex: false })),
  instanceId: attr('instanceid', uuid),
  interfaceId: attr('interfaceid', uuid),
  profileId: attr('profileid', str),
});
export type VirtualPortParameters = Infer<typeof parametersMapper.spec>;

export const virtualPortMapper = elementMapper('virtualport', {
  type: attr('type', enumOf(VIRTUALPORT_TYPES)),
  parameters: child(parametersMapper),
});
export type VirtualPort = Infer<typeof virtualPortMapper.spec>;

/** Which parameters each port type has (an untyped profile may carry any). */
const PARAMS_OF: Record<VirtualPortType, ReadonlyArray<keyof VirtualPortParameters>> = {
  '802.1Qbg': ['managerId', 'typeId', 'typeIdVersion', 'instanceId'],
  '802.1Qbh': ['profileId'],
  openvswitch: ['interfaceId', 'profileId'],
  midonet: ['interfaceId'],
};

/**
 * Virtual port rules: a network's own profile must name its type; a
 * profile id is at most 39 characters; parameters that do not belong to
 * the type are not written back (libvirt ignores them).
 */
export function normalizeVirtualPort(
  v: VirtualPort,
  field: string,
  requireType: boolean,
): VirtualPort | undefined {
  if (requireType && v.type === undefined)
    throw objectError('XML_ERROR', `${field}/@type`, 'missing required virtualport type');
  const p = v.parameters;
  if (p?.profileId !== undefined && p.profileId.length > 39)
    throw objectError('XML_ERROR', `${field}/parameters/@profileid`, 'profileid parameter too long');
  if (p && v.type !== undefined) {
    const keep = PARAMS_OF[v.type];
    for (const k of Object.keys(p) as Array<keyof VirtualPortParameters>) if (!keep.includes(k)) delete p[k];
  }
  if (p && Object.keys(p).length === 0) delete v.parameters;
  if (v.type === undefined && !v.parameters) return undefined;
  return v;
}

/**
 * Node device capabilities of mediated devices and of s390 channel I/O
 * (CCW devices, subchannels, CCW groups) and crypto adapters (AP cards,
 * queues and the matrix).
 *
 * @module
 */
import {
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
import { ignored, keepEndTag, objectError, uuid } from '../object-xml.js';
import { anyBase, capabilitiesField, dec } from './capability.js';
import { type MdevTypesCap, mdevTypesCapMapper } from './caps-pci.js';

// --- mdev --------------------------------------------------------------------

const mdevAttrMapper = elementMapper('attr', {
  name: attr('name', str),
  value: attr('value', str),
});
export type MdevAttr = Infer<typeof mdevAttrMapper.spec>;

/** The IOMMU group of a mediated device: libvirt always writes it, group 0 when unknown. */
const iommuGroupNumber: Field<number> = {
  attrNames: [],
  childNames: ['iommuGroup'],
  ownsText: false,
  read(el, ctx) {
    const c = el.children.find((k) => k.type === 'element' && k.name === 'iommuGroup');
    if (c?.type !== 'element') return undefined;
    const raw = c.attrs.find((a) => a.name === 'number')?.value;
    if (raw === undefined) return undefined;
    try {
      return dec.parse(raw);
    } catch {
      throw objectError(
        'INTERNAL_ERROR',
        `${ctx.path}/iommuGroup/@number`,
        `invalid iommuGroup number '${raw}'`,
        c,
      );
    }
  },
  writeChildren(value, out) {
    out.push({
      type: 'element',
      name: 'iommuGroup',
      attrs: [{ name: 'number', value: String(value) }],
      children: [],
    });
  },
};

export const mdevCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['mdev']))),
  mdevType: childAttrStr('type', 'id'),
  uuid: childText('uuid', uuid),
  // Where the parent sits is looked up by the driver, not read from a definition.
  parentAddr: ignored('parent_addr'),
  /** The `number` of the `<iommuGroup>` child; 0 when unknown. */
  iommuGroup: iommuGroupNumber,
  attrs: children(mdevAttrMapper),
});
export type MdevCapability = Infer<typeof mdevCapMapper.spec>;

function childAttrStr(name: string, attrName: string): Field<string> {
  return {
    attrNames: [],
    childNames: [name],
    ownsText: false,
    read(el) {
      const c = el.children.find((k) => k.type === 'element' && k.name === name);
      return c?.type === 'element' ? c.attrs.find((a) => a.name === attrName)?.value : undefined;
    },
    writeChildren(value, out) {
      out.push({ type: 'element', name, attrs: [{ name: attrName, value }], children: [] });
    },
  };
}

/**
 * libvirt's parse-time rules for a `<capability type='mdev'>`: the type id
 * is required (`CONFIG_UNSUPPORTED` naming `field`), the IOMMU group
 * defaults to 0, attributes without a name or value are dropped as libvirt
 * drops them. Changes `cap` and returns it.
 */
export function normalizeMdev(cap: MdevCapability, field: string): MdevCapability {
  if (cap.mdevType === undefined)
    throw objectError('CONFIG_UNSUPPORTED', `${field}/type/@id`, 'missing type id attribute');
  cap.iommuGroup ??= 0;
  // An attribute without a name or a value is skipped, as libvirt skips it.
  const attrs = (cap.attrs ?? []).filter((a) => a.name !== undefined && a.value !== undefined);
  if (attrs.length > 0) cap.attrs = attrs;
  else delete cap.attrs;
  return cap;
}

// --- ccw addresses -----------------------------------------------------------

const ccwAddressSpec = {
  cssid: req(childText('cssid', anyBase(0, 0xff))),
  ssid: req(childText('ssid', anyBase(0, 0x3))),
  devno: req(childText('devno', devnoCodec())),
};

function devnoCodec() {
  const inner = anyBase(4, 0xffff);
  // libvirt reads a device number in base 16, with or without 0x.
  return {
    parse: (raw: string) => inner.parse(/^\s*0x/i.test(raw) ? raw : `0x${raw.trim()}`),
    format: inner.format,
  };
}

const CCW_STATES = ['offline', 'online'] as const;

const ccwGroupMemberMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['ccwgroup_member']))),
  groupDevice: req(childText('group_device', str)),
});

export const ccwCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['ccw']))),
  state: childText('state', enumOf(CCW_STATES)),
  ...ccwAddressSpec,
  capabilities: capabilitiesField<Infer<typeof ccwGroupMemberMapper.spec>>(
    { ccwgroup_member: ccwGroupMemberMapper },
    { ignore: () => true },
  ),
});
export type CcwCapability = Infer<typeof ccwCapMapper.spec>;

const channelDevAddrMapper = elementMapper('channel_dev_addr', ccwAddressSpec);

export const cssCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['css']))),
  // A subchannel's state and group membership are read like a CCW device's but never written.
  state: ignored('state'),
  ...ccwAddressSpec,
  channelDevAddr: child(channelDevAddrMapper),
  capabilities: capabilitiesField<MdevTypesCap>(
    { mdev_types: mdevTypesCapMapper },
    { ignore: (t) => t !== undefined },
  ),
});
export type CssCapability = Infer<typeof cssCapMapper.spec>;

// --- ap ----------------------------------------------------------------------

export const apCardCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['ap_card']))),
  apAdapter: req(childText('ap-adapter', anyBase(2, 0xffffffff))),
});
export type ApCardCapability = Infer<typeof apCardCapMapper.spec>;

export const apQueueCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['ap_queue']))),
  apAdapter: req(childText('ap-adapter', anyBase(2, 0xffffffff))),
  apDomain: req(childText('ap-domain', anyBase(4, 255))),
});
export type ApQueueCapability = Infer<typeof apQueueCapMapper.spec>;

export const apMatrixCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['ap_matrix']))),
  capabilities: capabilitiesField<MdevTypesCap>(
    { mdev_types: mdevTypesCapMapper },
    { ignore: (t) => t !== undefined },
  ),
});
export type ApMatrixCapability = Infer<typeof apMatrixCapMapper.spec>;

// --- ccwgroup ----------------------------------------------------------------

const ccwDeviceMapper = elementMapper('ccw_device', {
  ref: req(attr('ref', str)),
  device: req(text(str)),
});
const membersMapper = elementMapper('members', { devices: children(ccwDeviceMapper) });

/** libvirt always writes `<members>`, with an end tag even when it lists none. */
const membersField: Field<Infer<typeof membersMapper.spec>> = {
  attrNames: [],
  childNames: ['members'],
  ownsText: false,
  read(el, ctx) {
    const c = el.children.find((k) => k.type === 'element' && k.name === 'members');
    return c?.type === 'element' ? membersMapper.read(c, `${ctx.path}/members`) : undefined;
  },
  writeChildren(value, out) {
    out.push(keepEndTag(membersMapper.write(value), 2));
  },
};

const QETH_TYPES = ['qeth_generic', 'qeth_layer2', 'qeth_layer3'] as const;
const qethMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(QETH_TYPES))),
  cardType: childText('card_type', str),
  chpid: childText('chpid', str),
});
export type CcwGroupQeth = Infer<typeof qethMapper.spec>;

export const ccwGroupCapMapper = elementMapper('capability', {
  type: req(attr('type', enumOf(['ccwgroup']))),
  state: childText('state', enumOf(CCW_STATES)),
  ...ccwAddressSpec,
  /** The `<members>` child: the CCW devices the group is made of. */
  members: membersField,
  capabilities: capabilitiesField<CcwGroupQeth>({
    qeth_generic: qethMapper,
    qeth_layer2: qethMapper,
    qeth_layer3: qethMapper,
  }),
});
export type CcwGroupCapability = Infer<typeof ccwGroupCapMapper.spec>;

/**
 * Parts shared by storage pools and volumes: permissions, PCI addresses,
 * hosts, CHAP/Ceph authentication with its secret reference, and SCSI/FC
 * adapters.
 *
 * @module
 */
import {
  attr,
  type Codec,
  child,
  childText,
  elementMapper,
  enumOf,
  hexUint,
  type Infer,
  int,
  refine,
  req,
  str,
  trimmed,
  yesNo,
} from '../binding.js';
import { objectError, uuid } from '../object-xml.js';

/** File modes: octal on both sides, at most 0777 (libvirt writes a leading `0`). */
const octalModeText = refine(trimmed, (s) =>
  !/^[0-7]+$/.test(s)
    ? `'${s}' is not an octal mode`
    : Number.parseInt(s, 8) > 0o777
      ? `mode ${s} has bits beyond 0777`
      : undefined,
);
const modeCodec: Codec<number> = {
  parse: (raw) => Number.parseInt(octalModeText.parse(raw), 8),
  format: (n) => `0${n.toString(8)}`,
};

/**
 * Owner and group ids. libvirt once wrote `-1` for "unset" and still reads
 * it, as it reads 4294967295 (the same value as a 32-bit id): both mean no
 * id and are dropped by `normalizePerms`.
 */
const ownerId = int({ min: -1, max: 0xffffffff, hex: false });

export const permissionsMapper = elementMapper('permissions', {
  mode: childText('mode', modeCodec),
  owner: childText('owner', ownerId),
  group: childText('group', ownerId),
  label: childText('label', str),
});
export type StoragePermissions = Infer<typeof permissionsMapper.spec>;

/** Applies libvirt's reading of ids (-1 and 2^32-1 mean unset); returns undefined when nothing is left. */
export function normalizePerms(p: StoragePermissions | undefined): StoragePermissions | undefined {
  if (!p) return undefined;
  for (const k of ['owner', 'group'] as const) {
    const v = p[k];
    if (v === -1 || v === 0xffffffff) delete p[k];
    // libvirt prints ids as signed 32-bit numbers.
    else if (v !== undefined && v > 0x7fffffff) p[k] = v - 0x100000000;
  }
  const empty =
    p.mode === undefined && p.owner === undefined && p.group === undefined && p.label === undefined;
  return empty ? undefined : p;
}

export const pciAddressMapper = elementMapper('address', {
  domain: req(attr('domain', hexUint(4, 0xffff))),
  bus: req(attr('bus', hexUint(2, 0xff))),
  slot: req(attr('slot', hexUint(2, 0x1f))),
  function: req(attr('function', hexUint(1, 7))),
});
export type HostPciAddress = Infer<typeof pciAddressMapper.spec>;

/** `<secret type? uuid|usage/>`: which libvirt secret holds a key or password. */
export const secretRefMapper = elementMapper('secret', {
  type: attr('type', str),
  uuid: attr('uuid', uuid),
  usage: attr('usage', str),
});
export type SecretRef = Infer<typeof secretRefMapper.spec>;

/** The `type` values of a pool source's `<auth>`: iSCSI CHAP or Ceph. */
export const STORAGE_AUTH_TYPES = ['chap', 'ceph'] as const;

export const authMapper = elementMapper('auth', {
  type: attr('type', enumOf(STORAGE_AUTH_TYPES)),
  username: req(attr('username', str)),
  secret: req(child(secretRefMapper)),
});
export type StorageAuth = Infer<typeof authMapper.spec>;

export const hostMapper = elementMapper('host', {
  name: req(attr('name', str)),
  port: attr('port', int({ min: 0, max: 65535 })),
});
export type StorageHost = Infer<typeof hostMapper.spec>;

const parentAddrMapper = elementMapper('parentaddr', {
  uniqueId: req(attr('unique_id', int({ min: 0, max: 0x7fffffff }))),
  address: req(child(pciAddressMapper)),
});

/** The `type` values of a pool source's `<adapter>`: a SCSI host or a Fibre Channel (vHBA) host. */
export const ADAPTER_TYPES = ['scsi_host', 'fc_host'] as const;

export const adapterMapper = elementMapper('adapter', {
  type: attr('type', enumOf(ADAPTER_TYPES)),
  name: attr('name', str),
  parent: attr('parent', str),
  parentWwnn: attr('parent_wwnn', str),
  parentWwpn: attr('parent_wwpn', str),
  parentFabricWwn: attr('parent_fabric_wwn', str),
  managed: attr('managed', yesNo),
  wwnn: attr('wwnn', trimmed),
  wwpn: attr('wwpn', trimmed),
  parentAddr: child(parentAddrMapper),
});
export type StorageAdapter = Infer<typeof adapterMapper.spec>;

const WWN_RE = /^(0x)?[0-9a-f]{16}$/i;

/**
 * libvirt's adapter rules: an untyped adapter is an old-style SCSI host
 * name and may carry nothing else; a SCSI host needs a name or a parent
 * address, not both; an FC host needs valid WWNN and WWPN. Fields that do
 * not belong to the type are dropped, as libvirt never reads them.
 */
export function normalizeAdapter(a: StorageAdapter, field: string): StorageAdapter {
  if (a.type === undefined) {
    if (a.wwnn !== undefined || a.wwpn !== undefined || a.parent !== undefined)
      throw objectError('XML_ERROR', field, "'wwnn', 'wwpn' and 'parent' need the adapter 'type'");
    if (a.parentAddr) throw objectError('XML_ERROR', field, "<parentaddr> needs the adapter 'type'");
    if (a.name === undefined) throw objectError('XML_ERROR', field, 'missing storage pool source adapter');
    a.type = 'scsi_host';
  }
  if (a.type === 'scsi_host') {
    if (a.name !== undefined && a.parentAddr)
      throw objectError('XML_ERROR', field, "use of 'name' and 'parentaddr' together is not allowed");
    if (a.name === undefined && !a.parentAddr)
      throw objectError('XML_ERROR', field, "scsi_host adapter needs 'name' or <parentaddr>");
    for (const k of [
      'parent',
      'parentWwnn',
      'parentWwpn',
      'parentFabricWwn',
      'managed',
      'wwnn',
      'wwpn',
    ] as const)
      delete a[k];
  } else {
    if (a.wwnn === undefined || a.wwpn === undefined)
      throw objectError('XML_ERROR', field, "fc_host adapter needs both 'wwnn' and 'wwpn'");
    for (const k of ['wwnn', 'wwpn', 'parentWwnn', 'parentWwpn', 'parentFabricWwn'] as const) {
      const v = a[k];
      if (v !== undefined && !WWN_RE.test(v))
        throw objectError('XML_ERROR', `${field}/@${k}`, `'${v}' is not a 16-digit WWN`);
    }
    if ((a.parentWwnn === undefined) !== (a.parentWwpn === undefined))
      throw objectError('XML_ERROR', field, "'parent_wwnn' and 'parent_wwpn' go together");
    delete a.name;
    delete a.parentAddr;
  }
  return a;
}

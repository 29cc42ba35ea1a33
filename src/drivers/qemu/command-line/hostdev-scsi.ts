/**
 * SCSI host devices (`<hostdev type='scsi'>`): a LUN of a host SCSI
 * adapter (opened through its `/dev/sgN` generic device, which the host
 * names: `paths.scsiHostDevice`) or an iSCSI LUN QEMU logs in to itself.
 * Each is a `-blockdev` backend node `libvirt-N-backend` and a
 * `scsi-generic` device on the guest's SCSI controller, as libvirt writes
 * them. An iSCSI password is an `-object secret`, never written in clear.
 *
 * @module
 */
import { type HostdevDef, hostdevMapper } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { ArgvBuilder } from './argv-builder.js';
import type { Props } from './device-props.js';
import { scsiDriveProps } from './disk-device.js';
import { attrOf, childEl, childEls, type ImageLayer, type NetHost } from './disk-layers.js';
import { networkStorageProps } from './disk-network.js';
import { checkValue } from './escape.js';
import { secretObjectProps } from './secret-objects.js';
import type { CommandLinePaths } from './types.js';

function refuse(what: string, field: string): never {
  throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${what} is not supported by virtkit's QEMU driver yet`, {
    field,
  });
}

/** The host side the SCSI host devices need: the generic device lookup and the secrets. */
export type ScsiHostdevHost = Pick<CommandLinePaths, 'scsiHostDevice' | 'secrets'>;

/** What libvirt's parser knows of a SCSI `<hostdev>` beyond the model: any other child is refused. */
const KNOWN_CHILDREN = new Set(['source', 'readonly', 'shareable', 'boot', 'alias', 'address']);

/** Writes one SCSI host device: its backend node (number `n`) and its `scsi-generic` device. */
export function buildScsiHostdev(
  b: ArgvBuilder,
  def: DomainDef,
  h: HostdevDef,
  id: string,
  n: number,
  bootindex: number | undefined,
  host: ScsiHostdevHost,
  field: string,
): void {
  const el = hostdevMapper.write(h);
  for (const c of el.children)
    if (c.type === 'element' && !KNOWN_CHILDREN.has(c.name))
      refuse(`<${c.name}> of a SCSI host device`, `${field}/${c.name}`);
  for (const a of ['sgio', 'rawio'] as const)
    if (h[a] !== undefined) refuse(`@${a} of a SCSI host device (a host setting)`, `${field}/@${a}`);
  if (h.address?.type !== 'drive') refuse('a SCSI host device without a drive address', `${field}/address`);
  const source = childEl(el, 'source');
  if (!source)
    throw new VirError('XML_DETAIL', 'qemu', 'a SCSI host device needs a <source>', {
      field: `${field}/source`,
    });
  const node = `libvirt-${n}-backend`;
  const backend =
    attrOf(source, 'protocol') === 'iscsi'
      ? iscsiBackend(b, source, node, host, `${field}/source`)
      : adapterBackend(source, host, `${field}/source`);
  const readonly = childEl(el, 'readonly') !== undefined;
  b.props('-blockdev', { ...backend, 'node-name': node, 'read-only': readonly }, field);
  const p: Props = { driver: 'scsi-generic', drive: node, id };
  if (bootindex !== undefined) p.bootindex = bootindex;
  b.props('-device', { ...p, ...scsiDriveProps(def, h.address) }, field);
}

/**
 * The host LUN a SCSI `<hostdev>` on a host adapter takes, for the start's
 * lookup of its generic device; undefined for an iSCSI one, or one whose
 * source the builder refuses anyway (with its own words); `readonly` as
 * the device is opened.
 */
export function hostScsiLun(
  h: HostdevDef,
): { adapter: string; bus: number; target: number; unit: number; readonly: boolean } | undefined {
  if (h.type !== 'scsi') return undefined;
  const el = hostdevMapper.write(h);
  const source = childEl(el, 'source');
  const protocol = attrOf(source, 'protocol');
  if (!source || (protocol !== undefined && protocol !== 'adapter')) return undefined;
  const adapter = attrOf(childEl(source, 'adapter'), 'name');
  const addr = childEl(source, 'address');
  const nums = ['bus', 'target', 'unit'].map((k) => attrOf(addr, k) ?? '');
  if (adapter === undefined || !nums.every((v) => /^\d+$/.test(v))) return undefined;
  const [bus, target, unit] = nums.map(Number) as [number, number, number];
  return { adapter, bus, target, unit, readonly: childEl(el, 'readonly') !== undefined };
}

/** A LUN of a host adapter, `<adapter name='scsi_hostN'/>` and `<address bus target unit>`. */
function adapterBackend(source: XmlElement, host: ScsiHostdevHost, field: string): Props {
  const protocol = attrOf(source, 'protocol');
  if (protocol !== undefined && protocol !== 'adapter')
    refuse(`SCSI host device protocol '${protocol}'`, `${field}/@protocol`);
  const adapter = attrOf(childEl(source, 'adapter'), 'name');
  if (adapter === undefined)
    throw new VirError('XML_DETAIL', 'qemu', 'a SCSI host device needs an adapter name', {
      field: `${field}/adapter/@name`,
    });
  const addr = childEl(source, 'address');
  const num = (k: string) => {
    const v = attrOf(addr, k) ?? '';
    if (!/^\d+$/.test(v))
      throw new VirError('XML_DETAIL', 'qemu', `SCSI host address ${k} '${v}' is not a number`, {
        field: `${field}/address/@${k}`,
      });
    return Number(v);
  };
  const lun = { adapter, bus: num('bus'), target: num('target'), unit: num('unit') };
  if (host.scsiHostDevice === undefined)
    refuse(
      'a host SCSI LUN without the host lookup of its generic device (paths.scsiHostDevice)',
      `${field}/adapter`,
    );
  return { driver: 'host_device', filename: checkValue(host.scsiHostDevice(lun), 'paths.scsiHostDevice') };
}

/** An iSCSI LUN: the network disk's iscsi driver, with the backend's own secret id. */
function iscsiBackend(
  b: ArgvBuilder,
  source: XmlElement,
  node: string,
  host: ScsiHostdevHost,
  field: string,
): Props {
  const hosts: NetHost[] = childEls(source, 'host').map((e) => {
    const out: NetHost = {};
    for (const k of ['name', 'port', 'transport', 'socket'] as const) {
      const v = attrOf(e, k);
      if (v !== undefined) out[k] = v;
    }
    return out;
  });
  const hostField = field.slice(0, -'/source'.length);
  const layer: ImageLayer = {
    type: 'network',
    protocol: 'iscsi',
    hosts,
    source,
    field: hostField,
    format: 'raw',
  };
  const name = attrOf(source, 'name');
  if (name !== undefined) layer.path = name;
  const auth = childEl(source, 'auth');
  const secret = `${node}-secret0`;
  if (auth) {
    const s = childEl(auth, 'secret');
    if (!s)
      throw new VirError('XML_DETAIL', 'qemu', '<auth> needs a <secret>', { field: `${field}/auth/secret` });
    const ref: { uuid?: string; type?: string; usage?: string } = {};
    for (const k of ['uuid', 'type', 'usage'] as const) {
      const v = attrOf(s, k);
      if (v !== undefined) ref[k] = v;
    }
    const username = attrOf(auth, 'username');
    layer.auth = { secret: ref, field: `${field}/auth`, ...(username !== undefined ? { username } : {}) };
    b.props('-object', secretObjectProps(secret, ref, host.secrets, `${field}/auth`), `${field}/auth`);
  }
  const props = networkStorageProps(layer, node);
  if (auth) props['password-secret'] = secret;
  return props;
}

/**
 * A vhost-scsi target of the host kernel (`<hostdev type='scsi_host'>`,
 * `<source protocol='vhost' wwpn>`): a `vhost-scsi-pci` device on
 * `/dev/vhost-scsi`, which the caller opens (`paths.vhostScsiFd`).
 */
export function vhostScsiProps(
  h: HostdevDef,
  id: string,
  bootindex: number | undefined,
  vhostScsiFd: CommandLinePaths['vhostScsiFd'],
  field: string,
): Props {
  const el = hostdevMapper.write(h);
  for (const c of el.children)
    if (
      c.type === 'element' &&
      c.name !== 'source' &&
      c.name !== 'boot' &&
      c.name !== 'address' &&
      c.name !== 'alias'
    )
      refuse(`<${c.name}> of a vhost-scsi host device`, `${field}/${c.name}`);
  const source = childEl(el, 'source');
  const protocol = attrOf(source, 'protocol');
  if (protocol !== 'vhost') refuse(`scsi_host protocol '${protocol ?? ''}'`, `${field}/source/@protocol`);
  const wwpn = attrOf(source, 'wwpn') ?? '';
  // libvirt's rule: a T10 NAA name, 'naa.' and 16 hex digits.
  if (!/^naa\.[0-9a-fA-F]{16}$/.test(wwpn))
    throw new VirError('XML_DETAIL', 'qemu', `'${wwpn}' is not a vhost-scsi WWPN (naa. and 16 hex digits)`, {
      field: `${field}/source/@wwpn`,
    });
  const model = h.model ?? 'virtio';
  const driver =
    model === 'virtio'
      ? 'vhost-scsi-pci'
      : model === 'virtio-transitional' || model === 'virtio-non-transitional'
        ? `vhost-scsi-pci-${model.slice('virtio-'.length)}`
        : refuse(`vhost-scsi model '${model}'`, `${field}/@model`);
  if (h.address !== undefined && h.address.type !== 'pci')
    refuse(`a vhost-scsi device on a '${h.address.type}' address`, `${field}/address`);
  if (vhostScsiFd === undefined)
    refuse(
      'a vhost-scsi device without the host opening /dev/vhost-scsi (paths.vhostScsiFd)',
      `${field}/source`,
    );
  const p: Props = { driver, wwpn, vhostfd: String(vhostScsiFd(wwpn)), id };
  if (bootindex !== undefined) p.bootindex = bootindex;
  return p;
}

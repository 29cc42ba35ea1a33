/**
 * Host devices passed through to the guest: PCI `<hostdev>` and
 * `<interface type='hostdev'>` as `vfio-pci`, mediated devices (vGPUs) by
 * their sysfs path, and USB devices by their bus and device number.
 *
 * Reads `devices.hostdevs` (mode, type, model, display, ramfb, driver
 * name, source address or UUID, boot order, ROM, address) and
 * `devices.interfaces` of type `hostdev` (source address, driver name,
 * teaming, boot order, address). Anything else is refused, naming it.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { HostdevDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps } from './device-props.js';
import { buildScsiHostdev, type ScsiHostdevHost, vhostScsiProps } from './hostdev-scsi.js';
import { networkHostdev } from './net-backends.js';
import type { CommandLinePaths, NetHost } from './types.js';
import type { UsbAddrFn } from './usb-addresses.js';

/** A host PCI address as numbers (the typed `<hostdev>` source) or as raw XML (`<interface type='hostdev'>`). */
interface HostPci {
  domain?: number;
  bus?: number;
  slot?: number;
  function?: number;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function rawAttr(el: XmlElement | undefined, name: string): string | undefined {
  return el?.attrs.find((a) => a.name === name)?.value;
}

/** PCI address parts and their largest values. */
const PCI_PARTS = { domain: 0xffff, bus: 0xff, slot: 0x1f, function: 7 } as const;

function hostPciFromXml(el: XmlElement | undefined, field: string): HostPci | undefined {
  if (!el) return undefined;
  const type = rawAttr(el, 'type');
  if (type !== undefined && type !== 'pci')
    throw refuse(`a host PCI function cannot have a '${type}' address`, `${field}/@type`);
  const n = (name: keyof typeof PCI_PARTS) => {
    const v = rawAttr(el, name) ?? '0';
    const x = /^(0x)?[0-9a-f]+$/i.test(v) ? Number.parseInt(v, 16) : Number.NaN;
    if (!(x <= PCI_PARTS[name]))
      throw new VirError('XML_DETAIL', 'qemu', `'${v}' is not a PCI ${name} number`, {
        field: `${field}/@${name}`,
      });
    return x;
  };
  return { domain: n('domain'), bus: n('bus'), slot: n('slot'), function: n('function') };
}

/** `0000:03:07.1`, as vfio-pci's `host` property takes it. */
function hostPciAddress(a: HostPci | undefined): string | undefined {
  if (!a) return undefined;
  const hex = (v: number | undefined, width: number) => (v ?? 0).toString(16).padStart(width, '0');
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${hex(a.function, 1)}`;
}

/** A user alias (`<alias name='ua-...'/>`), which replaces the generated one. */
function userAlias(h: HostdevDef): string | undefined {
  const alias = unknownContent(h)?.nodes.find(
    (x) => x.node.type === 'element' && x.node.name === 'alias',
  )?.node;
  const name = alias?.type === 'element' ? alias.attrs.find((a) => a.name === 'name')?.value : undefined;
  return name?.startsWith('ua-') ? name : undefined;
}

function refuse(message: string, field: string): VirError {
  return new VirError('CONFIG_UNSUPPORTED', 'qemu', message, { field });
}

/** `rombar`/`romfile` from a `<rom>` kept as XML, as libvirt writes them. */
function romProps(rom: XmlElement | undefined, field: string): Props {
  if (!rom) return {};
  if (rawAttr(rom, 'enabled') === 'no') return { romfile: '' };
  const p: Props = {};
  const bar = rawAttr(rom, 'bar');
  if (bar !== undefined) p.rombar = bar === 'on' ? 1 : 0;
  const file = rawAttr(rom, 'file');
  if (file !== undefined) {
    // An empty file is the older spelling of a disabled ROM: QEMU gets an empty romfile.
    if (file !== '' && !file.startsWith('/'))
      throw new VirError('XML_DETAIL', 'qemu', 'a ROM file must be an absolute path', {
        field: `${field}/rom/@file`,
      });
    p.romfile = file;
  }
  return p;
}

/** The `<source><address>` the model keeps as XML: a hostdev's own, or unknown content of an interface's source. */
function rawSourceAddress(owner: object | undefined): XmlElement | undefined {
  const own = (owner as { address?: unknown } | undefined)?.address;
  if (typeof own === 'object' && own !== null && (own as XmlElement).type === 'element')
    return own as XmlElement;
  const node = owner
    ? unknownContent(owner)?.nodes.find((x) => x.node.type === 'element' && x.node.name === 'address')?.node
    : undefined;
  return node?.type === 'element' ? node : undefined;
}

export function buildHostdevs(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  boot: Map<object, number>,
  usbAddr: UsbAddrFn = () => ({}),
  scsiHost: ScsiHostdevHost & Pick<CommandLinePaths, 'vhostScsiFd'> & { firstNode: number } = {
    firstNode: 1,
  },
  netHost?: NetHost,
): void {
  const dev = def.devices ?? {};
  let n = 0;
  let node = scsiHost.firstNode;
  const finish = (p: Props, address: DeviceAddress | undefined, field: string, extra: Props = {}) => {
    b.props('-device', { ...p, ...pciProps(address, facts), ...extra }, field);
  };
  for (const [i, iface] of (dev.interfaces ?? []).entries()) {
    // a virtual network that hands out host PCI functions makes the interface one of them
    const fromNetwork = networkHostdev(iface, netHost);
    if (iface.type !== 'hostdev' && fromNetwork === undefined) continue;
    const field = `/domain/devices/interface[${i + 1}]`;
    const drv = iface.driver?.name;
    if (drv !== undefined && drv !== 'vfio')
      throw refuse(`host device driver '${drv}' is not supported`, `${field}/driver/@name`);
    const host = hostPciAddress(
      fromNetwork ?? hostPciFromXml(rawSourceAddress(iface.source), `${field}/source/address`),
    );
    if (!host)
      throw new VirError('XML_DETAIL', 'qemu', 'PCI host device without a source address', {
        field: `${field}/source/address`,
      });
    const p: Props = { driver: 'vfio-pci', host, id: `hostdev${n++}` };
    const idx = boot.get(iface);
    if (idx !== undefined) p.bootindex = idx;
    // the standby half of a failover pair names its virtio-net partner
    if (iface.teaming?.type === 'transient' && iface.teaming.persistent !== undefined)
      p.failover_pair_id = iface.teaming.persistent;
    finish(p, iface.address, field);
  }
  for (const [i, h] of (dev.hostdevs ?? []).entries()) {
    const field = `/domain/devices/hostdev[${i + 1}]`;
    // A user alias takes no number from the generated ones.
    const id = userAlias(h) ?? `hostdev${n++}`;
    // An unassigned device is bound on the host (managed='yes', which the start refuses) but
    // given to no guest bus: QEMU never sees it. Its host address is still checked.
    if (h.address?.type === 'unassigned') {
      if (h.type === 'pci' && !hostPciAddress(pciSource(h)))
        throw new VirError('XML_DETAIL', 'qemu', 'PCI host device without a source address', {
          field: `${field}/source/address`,
        });
      continue;
    }
    if (h.mode !== 'subsystem')
      throw refuse(`host device mode '${h.mode}' is not supported`, `${field}/@mode`);
    if (h.type === 'pci')
      buildPci(h, id, boot, field, (p) => finish(p, h.address, field, romProps(h.rom, field)));
    else if (h.type === 'mdev') {
      if (h.model !== 'vfio-pci')
        throw refuse(`mediated device model '${h.model ?? ''}' is not supported`, `${field}/@model`);
      const uuid = rawAttr(rawSourceAddress(h.source), 'uuid') ?? '';
      if (!UUID_RE.test(uuid))
        throw new VirError('XML_DETAIL', 'qemu', `'${uuid}' is not a mediated device UUID`, {
          field: `${field}/source/address/@uuid`,
        });
      const p: Props = {
        driver: h.ramfb ? 'vfio-pci-nohotplug' : 'vfio-pci',
        id,
        sysfsdev: `/sys/bus/mdev/devices/${uuid.toLowerCase()}`,
      };
      if (h.display !== undefined) p.display = h.display ? 'on' : 'off';
      if (h.ramfb) p.ramfb = true;
      const idx = boot.get(h);
      if (idx !== undefined) p.bootindex = idx;
      finish(p, h.address, field, romProps(h.rom, field));
    } else if (h.type === 'usb') {
      const a = h.source?.address;
      if (!a || !('device' in a))
        throw refuse(
          'a USB host device chosen by vendor and product needs its bus and device looked up on the host (a start and a hot-plug do it)',
          `${field}/source`,
        );
      const p: Props = {
        driver: 'usb-host',
        hostdevice: `/dev/bus/usb/${String(a.bus).padStart(3, '0')}/${String(a.device).padStart(3, '0')}`,
        id,
      };
      const idx = boot.get(h);
      if (idx !== undefined) p.bootindex = idx;
      if (h.rom) throw refuse('ROM tuning is only supported for PCI devices', `${field}/rom`);
      b.props('-device', { ...p, ...usbAddr(h) }, field);
    } else if (h.type === 'scsi') buildScsiHostdev(b, def, h, id, node++, boot.get(h), scsiHost, field);
    else if (h.type === 'scsi_host')
      finish(vhostScsiProps(h, id, boot.get(h), scsiHost.vhostScsiFd, field), h.address, field);
    else throw refuse(`host device type '${h.type}' is not supported`, `${field}/@type`);
  }
}

/** The host PCI function of a `<hostdev type='pci'>`. */
function pciSource(h: HostdevDef): HostPci | undefined {
  const addr = h.source?.address;
  return addr && !('type' in addr) && !('device' in addr) ? addr : undefined;
}

function buildPci(
  h: HostdevDef,
  id: string,
  boot: Map<object, number>,
  field: string,
  finish: (p: Props) => void,
): void {
  const drv = h.driver ? rawAttr(h.driver, 'name') : undefined;
  if (drv !== undefined && drv !== 'vfio')
    throw refuse(`host device driver '${drv}' is not supported`, `${field}/driver/@name`);
  const host = hostPciAddress(pciSource(h));
  if (!host)
    throw new VirError('XML_DETAIL', 'qemu', 'PCI host device without a source address', {
      field: `${field}/source/address`,
    });
  const p: Props = { driver: h.ramfb ? 'vfio-pci-nohotplug' : 'vfio-pci', host, id };
  const idx = boot.get(h);
  if (idx !== undefined) p.bootindex = idx;
  if (h.display !== undefined) p.display = h.display ? 'on' : 'off';
  if (h.ramfb) p.ramfb = true;
  finish(p);
}

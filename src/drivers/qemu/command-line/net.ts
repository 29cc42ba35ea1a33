/**
 * Guest NICs: one `-netdev` (net-backends.ts) and one `-device` per
 * `<interface>`, in libvirt's property order.
 *
 * Reads, besides what net-backends.ts reads: the model, MAC, the virtio
 * `<driver>` options and offloads, MTU, teaming, boot order, user alias,
 * ROM, ACPI index and the PCI or USB address. Host-side settings
 * (bandwidth, VLAN, virtual port, packet filter, coalescing, backend
 * device paths, target name) are the {@link NetHost}'s to apply; without
 * one, an interface carrying them is refused. Anything else the model
 * kept but this module does not know is refused too, naming it.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { InterfaceDef } from '../../../conf/domain/devices/index.js';
import { isVirtioNicModel } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import { acpiIndexProps, type Props, pciProps } from './device-props.js';
import { actualConnection, netdevProps, networkHostdev, type StartedForNic } from './net-backends.js';
import type { CommandLinePaths, NetHost } from './types.js';
import type { UsbAddrFn } from './usb-addresses.js';

/** Elements of `<interface>` that only the host side acts on. */
const HOST_SIDE = new Set(['virtualport', 'vlan', 'bandwidth', 'port', 'coalesce']);

/** QEMU device type names: letters, digits, `-`, `_`, `.`, `,` never. */
const DEVICE_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function unsupported(message: string, field: string): VirError {
  return new VirError('CONFIG_UNSUPPORTED', 'qemu', message, { field });
}

/** The QEMU device of a NIC model on its bus. */
function nicDriver(n: InterfaceDef, field: string): string {
  const model = n.model?.type ?? 'rtl8139';
  if (isVirtioNicModel(model)) {
    const ccw = n.address?.type === 'ccw';
    const base = ccw ? 'virtio-net-ccw' : 'virtio-net-pci';
    const suffix = model.toLowerCase().slice('virtio'.length);
    if (suffix && ccw) throw unsupported(`model '${model}' needs a PCI address`, `${field}/model/@type`);
    return `${base}${suffix}`;
  }
  if (!DEVICE_NAME.test(model))
    throw new VirError('XML_DETAIL', 'qemu', `'${model}' is not a QEMU device name`, {
      field: `${field}/model/@type`,
    });
  return model;
}

/** The properties only a virtio NIC has, in libvirt's order. */
function virtioProps(n: InterfaceDef): Props {
  const d = n.driver ?? {};
  const p: Props = {
    iommu_platform: d.iommu,
    ats: d.ats,
    packed: d.packed,
    'page-per-vq': d.pagePerVq,
    tx: d.txmode === 'iothread' ? 'bh' : d.txmode,
    ioeventfd: d.ioeventfd,
    event_idx: d.eventIdx,
    csum: d.host?.csum,
    gso: d.host?.gso,
    host_tso4: d.host?.tso4,
    host_tso6: d.host?.tso6,
    host_ecn: d.host?.ecn,
    host_ufo: d.host?.ufo,
    mrg_rxbuf: d.host?.mrgRxbuf,
    guest_csum: d.guest?.csum,
    guest_tso4: d.guest?.tso4,
    guest_tso6: d.guest?.tso6,
    guest_ecn: d.guest?.ecn,
    guest_ufo: d.guest?.ufo,
  };
  if ((d.queues ?? 0) > 1) {
    p.mq = true;
    // two vectors per queue pair, one for config changes and one for control (libvirt's rule)
    if (n.address?.type !== 'ccw') p.vectors = 2 * (d.queues ?? 0) + 2;
  }
  Object.assign(p, {
    rx_queue_size: d.rxQueueSize,
    tx_queue_size: d.txQueueSize,
    rss: d.rss,
    hash: d.rssHashReport,
    host_mtu: n.mtu?.size,
    failover: n.teaming?.type === 'persistent' ? true : undefined,
  });
  return p;
}

/** Refuses what this builder would otherwise leave out of QEMU's view. */
export function checkConsumed(n: InterfaceDef, host: NetHost | undefined, field: string): void {
  for (const x of unknownContent(n)?.nodes ?? []) {
    if (x.node.type !== 'element') continue;
    const name = x.node.name;
    if (HOST_SIDE.has(name) && host) continue;
    throw unsupported(
      HOST_SIDE.has(name)
        ? `<${name}> needs a host network setup virtkit does not do yet`
        : `<interface><${name}> is not supported yet`,
      `${field}/${name}`,
    );
  }
  const hostOnly: Array<[unknown, string]> = [
    [n.filterref, 'filterref'],
    [n.coalesce, 'coalesce'],
    [n.backend?.tap ?? n.backend?.vhost, 'backend'],
  ];
  for (const [v, name] of hostOnly)
    if (v !== undefined && !host)
      throw unsupported(`<${name}> needs a host network setup virtkit does not do yet`, `${field}/${name}`);
  // guest addresses and port forwards are passt's to carry out, on user and vhost-user NICs alike
  if (n.backend?.type !== 'passt') {
    if (n.ips?.length) throw unsupported('<interface><ip> is not supported yet', `${field}/ip`);
    if (n.portForwards?.length)
      throw unsupported('port forwards are for the passt backend only', `${field}/portForward`);
  }
  const drv = n.driver?.name;
  if (drv !== undefined && drv !== 'qemu' && drv !== 'vhost')
    throw unsupported(`driver '${drv}' is for passed-through NICs`, `${field}/driver/@name`);
  if (n.backendDomain) throw unsupported('<backenddomain> is a Xen setting', `${field}/backenddomain`);
  if (n.link?.state === 'down')
    throw unsupported("link state 'down' is not supported yet", `${field}/link/@state`);
  if (n.mtu && !isVirtioNicModel(n.model?.type))
    throw unsupported('setting the MTU needs a virtio NIC', `${field}/mtu`);
  if (n.rom && n.address?.type !== undefined && n.address.type !== 'pci')
    throw unsupported('ROM tuning is only supported for PCI devices', `${field}/rom`);
}

function romProps(n: InterfaceDef, field: string): Props {
  const r = n.rom;
  if (!r) return {};
  if (r.enabled === false) return { romfile: '' };
  const p: Props = {};
  if (r.bar !== undefined) p.rombar = r.bar ? 1 : 0;
  if (r.file !== undefined) {
    // An empty file is the older spelling of a disabled ROM: QEMU gets an empty romfile.
    if (r.file !== '' && !r.file.startsWith('/'))
      throw new VirError('XML_DETAIL', 'qemu', 'a ROM file must be an absolute path', {
        field: `${field}/rom/@file`,
      });
    p.romfile = r.file;
  }
  return p;
}

export function buildNets(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  boot: Map<object, number>,
  host: NetHost | undefined,
  usbAddr: UsbAddrFn,
  started: Pick<CommandLinePaths, 'passtSocket' | 'bridgeTap' | 'networks' | 'bridgeHelper'> = {},
): void {
  // the driver's own networks answer when no NetHost does (the runtime path)
  const networks = host ?? started.networks;
  let next = 0;
  for (const [i, n] of (def.devices?.interfaces ?? []).entries()) {
    const field = `/domain/devices/interface[${i + 1}]`;
    if (n.type === 'hostdev') continue;
    checkConsumed(n, host, field);
    // a network that hands out PCI functions: the interface is a host device (see hostdevs.ts)
    if (networkHostdev(n, networks) !== undefined) continue;
    const user = n.alias?.name;
    const alias = user?.startsWith('ua-') ? user : `net${next++}`;
    buildNic(
      b,
      n,
      { alias, field, facts, bootindex: boot.get(n), host, usbAddr, ...(networks ? { networks } : {}) },
      {
        passtSocket: () => started.passtSocket?.(alias, i),
        tap: () => started.bridgeTap?.(i),
        bridgeHelper: () => started.bridgeHelper?.(i),
      },
    );
  }
}

/** What one NIC's options depend on besides the interface: its QEMU id, its place, the machine. */
export interface NicContext {
  alias: string;
  field: string;
  facts: MachineFacts;
  bootindex: number | undefined;
  host: NetHost | undefined;
  usbAddr: UsbAddrFn;
  /** What virtual networks resolve to, when not the {@link NetHost}'s. */
  networks?: Pick<NetHost, 'resolveNetwork'>;
}

/** One interface's `-netdev` and `-device` (also what a hot-plug sends, see domains/hotplug-nic.ts). */
export function buildNic(b: ArgvBuilder, n: InterfaceDef, x: NicContext, started: StartedForNic = {}): void {
  const { alias, field, facts, host } = x;
  const actual = actualConnection(n, host ?? x.networks, field);
  const netdev = netdevProps(b, n, alias, actual, host, field, started);
  b.props('-netdev', { ...netdev, id: `host${alias}` }, field);
  const driver = nicDriver(n, field);
  const p: Props = { driver, ...(isVirtioNicModel(n.model?.type) ? virtioProps(n) : {}) };
  Object.assign(p, { netdev: `host${alias}`, id: alias, mac: n.mac?.address, bootindex: x.bootindex });
  if (driver === 'usb-net') Object.assign(p, x.usbAddr(n));
  else Object.assign(p, pciProps(n.address, facts));
  Object.assign(p, acpiIndexProps(n.acpi, n.address, field));
  Object.assign(p, romProps(n, field));
  b.props('-device', dropUndefined(p), field);
}

function dropUndefined(p: Props): Props {
  return Object.fromEntries(Object.entries(p).filter(([, v]) => v !== undefined));
}

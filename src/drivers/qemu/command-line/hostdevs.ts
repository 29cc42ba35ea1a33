/**
 * Host devices passed through to the guest: PCI `<hostdev>` and
 * `<interface type='hostdev'>` as `vfio-pci`.
 *
 * Reads `devices.hostdevs`, `devices.interfaces` of type `hostdev`, their
 * addresses and boot order.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps } from './device-props.js';

/** `0000:03:07.1` from a PCI `<address>` element kept as XML. */
/** A host PCI address as numbers (the typed `<hostdev>` source) or as raw XML (`<interface type='hostdev'>`). */
interface HostPci {
  domain?: number;
  bus?: number;
  slot?: number;
  function?: number;
}

function hostPciFromXml(el: XmlElement | undefined): HostPci | undefined {
  if (!el) return undefined;
  const n = (name: string) => Number.parseInt(el.attrs.find((a) => a.name === name)?.value ?? '0', 16);
  return { domain: n('domain'), bus: n('bus'), slot: n('slot'), function: n('function') };
}

function hostPciAddress(a: HostPci | undefined): string | undefined {
  if (!a) return undefined;
  const hex = (v: number | undefined, width: number) => (v ?? 0).toString(16).padStart(width, '0');
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${hex(a.function, 1)}`;
}

export function buildHostdevs(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  boot: Map<object, number>,
): void {
  const dev = def.devices ?? {};
  let n = 0;
  const emit = (
    owner: object,
    source: HostPci | undefined,
    address: DeviceAddress | undefined,
    field: string,
    failoverPair?: string,
  ) => {
    const host = hostPciAddress(source);
    if (!host)
      throw new VirError('XML_DETAIL', 'qemu', 'PCI host device without a source address', { field });
    const p: Props = { driver: 'vfio-pci', host, id: `hostdev${n++}` };
    // the standby half of a failover pair names its virtio-net partner
    if (failoverPair !== undefined) p.failover_pair_id = failoverPair;
    const idx = boot.get(owner);
    if (idx !== undefined) p.bootindex = idx;
    b.props('-device', { ...p, ...pciProps(address, facts) }, field);
  };
  for (const [i, iface] of (dev.interfaces ?? []).entries()) {
    if (iface.type !== 'hostdev') continue;
    const drv = iface.driver?.name;
    if (drv !== undefined && drv !== 'vfio')
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `host device driver '${drv}' is not supported`, {
        field: `/domain/devices/interface[${i + 1}]/driver/@name`,
      });
    const src = iface.source
      ? unknownContent(iface.source)?.nodes.find(
          (x) => x.node.type === 'element' && x.node.name === 'address',
        )?.node
      : undefined;
    emit(
      iface,
      hostPciFromXml(src?.type === 'element' ? src : undefined),
      iface.address,
      `/domain/devices/interface[${i + 1}]/source/address`,
      iface.teaming?.type === 'transient' ? iface.teaming.persistent : undefined,
    );
  }
  for (const [i, h] of (dev.hostdevs ?? []).entries()) {
    if (h.mode !== 'subsystem' || h.type !== 'pci') {
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `host device type '${h.type}' is not supported`, {
        field: `/domain/devices/hostdev[${i + 1}]/@type`,
      });
    }
    const addr = h.source?.address;
    emit(
      h,
      addr && !('type' in addr) && !('device' in addr) ? addr : undefined,
      h.address,
      `/domain/devices/hostdev[${i + 1}]/source/address`,
    );
  }
}

/**
 * How a detach names a host device or a vsock, after libvirt's rules
 * (`virDomainHostdevFind`, `virDomainVsockDefEquals`): a `<hostdev>` by
 * its type and its host source alone (a PCI or USB address, a USB vendor
 * and product, a SCSI adapter and LUN or iSCSI target, a mediated device's
 * UUID), whatever else the fragment says; a `<vsock>` by its model and its
 * CID (an automatic CID matches whatever number the guest was given).
 *
 * @module
 */
import { VirError } from '../../errors.js';
import { serializeXml, type XmlElement } from '../../xml/index.js';
import { type HostdevDef, hostdevMapper, type VsockDef } from './devices/index.js';

/** The `<source>` of a host device as canonical XML (the typed parts and any kept XML). */
function sourceKey(h: HostdevDef): string {
  const el = hostdevMapper.write({ mode: h.mode, type: h.type, ...(h.source ? { source: h.source } : {}) });
  const src = el.children.find((c): c is XmlElement => c.type === 'element' && c.name === 'source');
  return src ? serializeXml(src) : '';
}

const hex = (v: number | undefined, width: number) => (v ?? 0).toString(16).padStart(width, '0');

/** libvirt's words for a host device that is not there, by type. */
function notFound(h: HostdevDef): string {
  const a = h.source?.address as Record<string, unknown> | undefined;
  if (h.type === 'pci' && a && !('type' in a))
    return `host pci device ${hex(a.domain as number, 4)}:${hex(a.bus as number, 2)}:${hex(a.slot as number, 2)}.${hex(a.function as number, 1)} not found`;
  if (h.type === 'usb') {
    if (a && 'device' in a)
      return `host usb device ${String(a.bus).padStart(3, '0')}.${String(a.device).padStart(3, '0')} not found`;
    return `host usb device vendor=0x${hex(h.source?.vendor?.id, 4)}, product=0x${hex(h.source?.product?.id, 4)} not found`;
  }
  if (h.type === 'mdev') {
    const el = a as XmlElement | undefined;
    const uuid = el?.attrs?.find((x) => x.name === 'uuid')?.value ?? '';
    return `mediated device '${uuid}' not found`;
  }
  return `host ${h.type} device not found`;
}

/** The index of the host device in `list` with the type and source of `probe`; `DEVICE_MISSING` when none. */
export function findHostdevIndex(list: readonly HostdevDef[], probe: HostdevDef): number {
  const key = sourceKey(probe);
  const i = list.findIndex((h) => h.type === probe.type && sourceKey(h) === key);
  if (i < 0) throw new VirError('DEVICE_MISSING', 'conf', notFound(probe), { field: '/hostdev/source' });
  return i;
}

/** Whether `probe` names `vsock`: the same model, and the same CID unless both are automatic. */
export function vsockMatches(vsock: VsockDef, probe: VsockDef): boolean {
  if ((vsock.model ?? 'virtio') !== (probe.model ?? 'virtio')) return false;
  if (vsock.cid?.auto === true && probe.cid?.auto === true) return true;
  return (
    (vsock.cid?.auto ?? false) === (probe.cid?.auto ?? false) && vsock.cid?.address === probe.cid?.address
  );
}

/**
 * What several device builders share: the `bus`/`addr` properties of a PCI
 * address, the bus name of a PCI controller index, which device each boot
 * entry points at (`bootindex`), and attributes the model keeps only as
 * unknown XML.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { VirtioDriverOptions } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { XmlElement } from '../../../xml/tree.js';

export type Props = Record<string, unknown>;

/** An attribute of a child element the model keeps only as unknown XML. */
export function rawAttr(owner: object, child: string, name: string): string | undefined {
  return rawElement(owner, child)?.attrs.find((a) => a.name === name)?.value;
}

/** A user alias (`<alias name='ua-…'/>`, kept as unknown XML), which libvirt uses as the QEMU id. */
export function userAliasOf(owner: object): string | undefined {
  const name = rawAttr(owner, 'alias', 'name');
  return name?.startsWith('ua-') ? name : undefined;
}

/** A child element the model keeps only as unknown XML. */
export function rawElement(owner: object, child: string): XmlElement | undefined {
  for (const n of unknownContent(owner)?.nodes ?? [])
    if (n.node.type === 'element' && n.node.name === child) return n.node;
  return undefined;
}

/** libvirt's `<driver>` virtio options and the QEMU property each sets, in libvirt's order. */
const VIRTIO_OPTIONS: Array<[string, string]> = [
  ['iommu', 'iommu_platform'],
  ['ats', 'ats'],
  ['packed', 'packed'],
  ['page_per_vq', 'page-per-vq'],
];

/**
 * The virtio transport options of a device's `<driver>` element, which
 * libvirt writes right after the `driver` property. A value other than
 * `on`/`off` is refused, naming the attribute.
 */
export function virtioOptions(driver: XmlElement | undefined, field: string): Props {
  const out: Props = {};
  for (const [attr, prop] of VIRTIO_OPTIONS) {
    const v = driver?.attrs.find((a) => a.name === attr)?.value;
    if (v === undefined) continue;
    if (v !== 'on' && v !== 'off')
      throw new VirError('XML_DETAIL', 'qemu', `invalid value '${v}' for ${attr} (on or off)`, {
        field: `${field}/driver/@${attr}`,
      });
    out[prop] = v === 'on';
  }
  return out;
}

/**
 * Refuses virtio options in the raw `<driver>` of a device that is not a
 * virtio device (`what` says which), rather than starting it without them.
 */
export function refuseRawVirtioOptions(driver: XmlElement | undefined, field: string, what: string): void {
  for (const [attr] of VIRTIO_OPTIONS)
    if (driver?.attrs.some((a) => a.name === attr))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: ${what} is not a virtio device`, {
        field: `${field}/driver/@${attr}`,
      });
}

/** The same options from a typed `<driver>` (`iommu`, `ats`, `packed`, `pagePerVq`). */
export function virtioDriverProps(d: VirtioDriverOptions | undefined): Props {
  const out: Props = {};
  if (d?.iommu !== undefined) out.iommu_platform = d.iommu;
  if (d?.ats !== undefined) out.ats = d.ats;
  if (d?.packed !== undefined) out.packed = d.packed;
  if (d?.pagePerVq !== undefined) out['page-per-vq'] = d.pagePerVq;
  return out;
}

/** The first virtio option a typed `<driver>` sets, if any (to refuse it on a device that is not virtio). */
export function firstVirtioOption(d: VirtioDriverOptions | undefined): string | undefined {
  if (d?.iommu !== undefined) return 'iommu';
  if (d?.ats !== undefined) return 'ats';
  if (d?.packed !== undefined) return 'packed';
  if (d?.pagePerVq !== undefined) return 'page_per_vq';
  return undefined;
}

/**
 * The QEMU device of a virtio model: `virtio-transitional` and
 * `virtio-non-transitional` pick the variants that do (or do not) also
 * speak the legacy interface.
 */
export function virtioModel(base: string, model: string | undefined): string {
  if (model === 'virtio-transitional') return `${base}-transitional`;
  if (model === 'virtio-non-transitional') return `${base}-non-transitional`;
  return base;
}

/** Bus name QEMU gives a PCI controller index. */
export function pciBusName(index: number, facts: MachineFacts): string {
  if (index === 0) return facts.pciRoot === 'pcie-root' ? 'pcie.0' : 'pci.0';
  return `pci.${index}`;
}

/** `bus`/`addr` (and multifunction) of a device with a PCI address. */
export function pciProps(a: DeviceAddress | undefined, facts: MachineFacts): Props {
  if (a?.type !== 'pci') return {};
  // QEMU's PC machines have one PCI domain; a device elsewhere cannot be placed as asked
  if ((a.domain ?? 0) !== 0)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `PCI address domain 0x${a.domain?.toString(16).padStart(4, '0')}: this machine has only PCI domain 0`,
      { field: 'address/@domain' },
    );
  const out: Props = { bus: pciBusName(a.bus ?? 0, facts) };
  if (a.multifunction !== undefined) out.multifunction = a.multifunction;
  const fn = a.function ?? 0;
  out.addr =
    fn === 0 ? `0x${(a.slot ?? 0).toString(16)}` : `0x${(a.slot ?? 0).toString(16)}.0x${fn.toString(16)}`;
  return out;
}

/**
 * `acpi-index` of a device's `<acpi index>`, which QEMU takes only on PCI
 * devices (libvirt writes it right after the address); refused elsewhere.
 */
export function acpiIndexProps(
  acpi: { index: number } | undefined,
  a: DeviceAddress | undefined,
  field: string,
): Props {
  if (acpi === undefined) return {};
  if (a?.type !== 'pci')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'an ACPI index needs a PCI address', {
      field: `${field}/acpi`,
    });
  return { 'acpi-index': acpi.index };
}

/** Which device each `<boot dev>` points at, as bootindex numbers. */
export function bootIndexes(def: DomainDef): Map<object, number> {
  const out = new Map<object, number>();
  const dev = def.devices ?? {};
  let n = 0;
  for (const b of def.os?.boot ?? []) {
    let target: object | undefined;
    if (b.dev === 'hd')
      target = (dev.disks ?? []).find((d) => ['disk', 'lun'].includes(d.device ?? 'disk') && !out.has(d));
    else if (b.dev === 'cdrom') target = (dev.disks ?? []).find((d) => d.device === 'cdrom');
    else if (b.dev === 'fd') target = (dev.disks ?? []).find((d) => d.device === 'floppy');
    else if (b.dev === 'network') target = (dev.interfaces ?? [])[0];
    n++;
    if (target && !out.has(target)) out.set(target, n);
  }
  for (const list of [dev.disks, dev.interfaces, dev.hostdevs, dev.redirdevs] as Array<
    Array<{ boot?: { order: number } }> | undefined
  >)
    for (const d of list ?? []) if (d.boot) out.set(d, d.boot.order);
  return out;
}

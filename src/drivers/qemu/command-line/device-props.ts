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
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { MachineFacts } from '../../../machine/machine-types.js';

export type Props = Record<string, unknown>;

/** An attribute of a child element the model keeps only as unknown XML. */
export function rawAttr(owner: object, child: string, name: string): string | undefined {
  for (const n of unknownContent(owner)?.nodes ?? []) {
    const el = n.node;
    if (el.type === 'element' && el.name === child) return el.attrs.find((a) => a.name === name)?.value;
  }
  return undefined;
}

/** Bus name QEMU gives a PCI controller index. */
export function pciBusName(index: number, facts: MachineFacts): string {
  if (index === 0) return facts.pciRoot === 'pcie-root' ? 'pcie.0' : 'pci.0';
  return `pci.${index}`;
}

/** `bus`/`addr` (and multifunction) of a device with a PCI address. */
export function pciProps(a: DeviceAddress | undefined, facts: MachineFacts): Props {
  if (a?.type !== 'pci') return {};
  const out: Props = { bus: pciBusName(a.bus ?? 0, facts) };
  if (a.multifunction !== undefined) out.multifunction = a.multifunction;
  const fn = a.function ?? 0;
  out.addr =
    fn === 0 ? `0x${(a.slot ?? 0).toString(16)}` : `0x${(a.slot ?? 0).toString(16)}.0x${fn.toString(16)}`;
  return out;
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
  for (const list of [dev.disks, dev.interfaces, dev.hostdevs] as Array<
    Array<{ boot?: { order: number } }> | undefined
  >)
    for (const d of list ?? []) if (d.boot) out.set(d, d.boot.order);
  return out;
}

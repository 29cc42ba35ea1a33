/**
 * Small platform options libvirt writes around the boot order: the VM
 * generation ID device and the 64-bit PCI hole of the root bus.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';

/** `-device vmgenid` carrying `<genid>` (already generated when the definition asked for one). */
export function buildGenid(b: ArgvBuilder, def: DomainDef): void {
  if (def.genid === undefined) return;
  const field = '/domain/genid';
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(def.genid))
    throw new VirError('XML_DETAIL', 'qemu', `${field}: '${def.genid}' is not a UUID`, { field });
  b.props('-device', { driver: 'vmgenid', guid: def.genid, id: 'vmgenid0' }, field);
}

/** The `<pcihole64>` size in KiB of a controller, which the model keeps as written. */
function pcihole64KiB(controller: object, field: string): number | undefined {
  for (const n of unknownContent(controller)?.nodes ?? []) {
    const el = n.node;
    if (el.type !== 'element' || el.name !== 'pcihole64') continue;
    const text = el.children
      .map((c) => (c.type === 'text' ? c.value : ''))
      .join('')
      .trim();
    const unit = (el.attrs.find((a) => a.name === 'unit')?.value ?? 'KiB').toLowerCase();
    const scale: Record<string, number> = { k: 1, kib: 1, m: 1024, mib: 1024, g: 1024 ** 2, gib: 1024 ** 2 };
    const factor = scale[unit];
    if (!/^\d+$/.test(text) || factor === undefined)
      throw new VirError('XML_DETAIL', 'qemu', `${field}: '${text} ${unit}' is not a size`, { field });
    return Number(text) * factor;
  }
  return undefined;
}

/** `-global <host bridge>.pci-hole64-size=…K` for a root controller with `<pcihole64>`. */
export function buildGlobalControllers(b: ArgvBuilder, def: DomainDef): void {
  for (const [i, c] of (def.devices?.controllers ?? []).entries()) {
    if (c.type !== 'pci') continue;
    const field = `/domain/devices/controller[${i + 1}]/pcihole64`;
    const kib = pcihole64KiB(c, field);
    if (kib === undefined) continue;
    const host =
      c.model === 'pci-root' ? 'i440FX-pcihost' : c.model === 'pcie-root' ? 'q35-pcihost' : undefined;
    if (host === undefined)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        '64-bit PCI hole setting is only for root PCI controllers',
        {
          field,
        },
      );
    b.add('-global', `${host}.pci-hole64-size=${kib}K`);
  }
}

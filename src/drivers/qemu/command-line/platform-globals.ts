/**
 * Small platform options: the ACPI sleep states, the VM generation ID
 * device, the 64-bit PCI hole of the root bus, and the ACPI ERST pstore.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import { addressMapper } from '../../../conf/domain/address.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { toKiB } from '../../../conf/units.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { XmlElement } from '../../../xml/index.js';
import type { ArgvBuilder } from './argv-builder.js';
import { pciProps } from './device-props.js';

/**
 * `<pm>`: S3/S4 are switched through the chipset's power-management
 * device (ICH9's LPC bridge on q35, PIIX4's PM function elsewhere), one
 * `-global` per state the definition mentions; a state left out keeps
 * QEMU's default. Only x86 chipsets have these properties.
 */
export function buildPowerManagement(b: ArgvBuilder, def: DomainDef, facts: MachineFacts): void {
  const states: Array<[string, boolean | undefined, string]> = [
    ['disable_s3', def.pm?.suspendToMem?.enabled, 'suspend-to-mem'],
    ['disable_s4', def.pm?.suspendToDisk?.enabled, 'suspend-to-disk'],
  ];
  const set = states.filter(([, on]) => on !== undefined);
  if (set.length === 0) return;
  const arch = def.os?.type.arch;
  if (arch !== undefined && arch !== 'x86_64' && arch !== 'i686')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'setting ACPI S3/S4 is only supported on x86', {
      field: `/domain/pm/${set[0]?.[2] ?? ''}`,
    });
  const device = facts.family === 'q35' ? 'ICH9-LPC' : 'PIIX4_PM';
  for (const [prop, on] of set) b.add('-global', `${device}.${prop}=${on ? 0 : 1}`);
}

/** `-device vmgenid` carrying `<genid>` (already generated when the definition asked for one). */
export function buildGenid(b: ArgvBuilder, def: DomainDef): void {
  if (def.genid === undefined) return;
  const field = '/domain/genid';
  if (!/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(def.genid))
    throw new VirError('XML_DETAIL', 'qemu', `${field}: '${def.genid}' is not a UUID`, { field });
  b.props('-device', { driver: 'vmgenid', guid: def.genid, id: 'vmgenid0' }, field);
}

/** `-global <host bridge>.pci-hole64-size=…K` for a root controller with `<pcihole64>`. */
export function buildGlobalControllers(b: ArgvBuilder, def: DomainDef): void {
  for (const [i, c] of (def.devices?.controllers ?? []).entries()) {
    if (c.type !== 'pci') continue;
    const field = `/domain/devices/controller[${i + 1}]/pcihole64`;
    if (!c.pcihole64) continue;
    // Normally already KiB (the parse normalises it); converted again so a built model is right too.
    const kib = toKiB(c.pcihole64.value, c.pcihole64.unit ?? 'KiB');
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

/** The `<pstore>` elements of `<devices>`, which the model keeps as written. */
function pstoreElements(def: DomainDef): XmlElement[] {
  const out: XmlElement[] = [];
  for (const n of (def.devices ? unknownContent(def.devices)?.nodes : undefined) ?? []) {
    if (n.node.type === 'element' && n.node.name === 'pstore') out.push(n.node);
  }
  return out;
}

function childText(el: XmlElement, name: string): { text: string; el: XmlElement } | undefined {
  const c = el.children.find((x): x is XmlElement => x.type === 'element' && x.name === name);
  if (!c) return undefined;
  return { text: c.children.map((x) => (x.type === 'text' ? x.value : '')).join(''), el: c };
}

/**
 * `<pstore backend='acpi-erst'>`: a file-backed memory object and the ACPI
 * ERST device that exposes it, at the PCI address the definition gives.
 */
export function buildPstore(b: ArgvBuilder, def: DomainDef, facts: MachineFacts): void {
  const stores = pstoreElements(def);
  if (stores.length > 1)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'only one <pstore> is supported', {
      field: '/domain/devices/pstore[2]',
    });
  const el = stores[0];
  if (!el) return;
  const field = '/domain/devices/pstore';
  const backend = el.attrs.find((a) => a.name === 'backend')?.value;
  if (backend !== 'acpi-erst')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `pstore backend '${backend ?? ''}' is not supported`, {
      field: `${field}/@backend`,
    });
  const path = childText(el, 'path')?.text.trim();
  const size = childText(el, 'size');
  if (!path || !size)
    throw new VirError('XML_DETAIL', 'qemu', 'a pstore needs a <path> and a <size>', { field });
  const unit = (size.el.attrs.find((a) => a.name === 'unit')?.value ?? 'KiB').toLowerCase();
  const factor: Record<string, number> = { b: 1, bytes: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2 };
  const value = size.text.trim();
  const mult = factor[unit];
  if (!/^\d+$/.test(value) || mult === undefined)
    throw new VirError('XML_DETAIL', 'qemu', `pstore size '${value} ${unit}' is not a size`, {
      field: `${field}/size`,
    });
  const addrEl = el.children.find((x): x is XmlElement => x.type === 'element' && x.name === 'address');
  const address = addrEl ? addressMapper.read(addrEl, `${field}/address`) : undefined;
  if (address?.type !== 'pci')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'a pstore needs a PCI address', {
      field: `${field}/address`,
    });
  const alias = el.children.find((x): x is XmlElement => x.type === 'element' && x.name === 'alias');
  const id = alias?.attrs.find((a) => a.name === 'name')?.value ?? 'pstore0';
  b.props(
    '-object',
    {
      'qom-type': 'memory-backend-file',
      id: `mem${id}`,
      'mem-path': path,
      size: Number(value) * mult,
      share: true,
    },
    `${field}/path`,
  );
  b.props('-device', { driver: 'acpi-erst', id, memdev: `mem${id}`, ...pciProps(address, facts) }, field);
}

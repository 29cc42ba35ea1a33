/**
 * The small platform devices: the IOMMU (written before the controllers, as
 * the buses it translates for), watchdogs with their one action, and panic
 * notifiers (written after `-sandbox`, where libvirt puts them).
 *
 * @module
 */
import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import { hasType, type QemuCaps } from '../probe/qemu-caps.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps, virtioOptions } from './device-props.js';

/** One `<driver>` attribute of the IOMMU, checked against the values libvirt accepts. */
function driverAttr(def: DomainDef, name: string, allowed: RegExp): string | undefined {
  const v = def.devices?.iommu?.driver?.attrs.find((a) => a.name === name)?.value;
  if (v !== undefined && !allowed.test(v))
    throw new VirError('XML_DETAIL', 'qemu', `invalid value '${v}' for the IOMMU's ${name}`, {
      field: `/domain/devices/iommu/driver/@${name}`,
    });
  return v;
}

/** libvirt's IOMMU `<driver>` attributes and the intel-iommu property each sets. */
const INTEL_OPTIONS: Array<[string, string, 'onoff' | 'bool' | 'int']> = [
  ['intremap', 'intremap', 'onoff'],
  ['caching_mode', 'caching-mode', 'bool'],
  ['eim', 'eim', 'onoff'],
  ['iotlb', 'device-iotlb', 'bool'],
  ['aw_bits', 'aw-bits', 'int'],
  ['dma_translation', 'dma-translation', 'bool'],
];

export function buildIommu(b: ArgvBuilder, def: DomainDef, facts: MachineFacts): void {
  const iommu = def.devices?.iommu;
  if (!iommu) return;
  const field = '/domain/devices/iommu';
  const known = new Set(INTEL_OPTIONS.map(([a]) => a));
  for (const a of iommu.driver?.attrs ?? [])
    if (iommu.model !== 'intel' || !known.has(a.name))
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `IOMMU driver option '${a.name}' is not supported for model '${iommu.model}'`,
        { field: `${field}/driver/@${a.name}` },
      );
  if (iommu.model === 'intel') {
    const p: Props = { driver: 'intel-iommu', id: 'iommu0' };
    for (const [attr, prop, kind] of INTEL_OPTIONS) {
      const v = driverAttr(def, attr, kind === 'int' ? /^[0-9]{1,3}$/ : /^(on|off)$/);
      if (v === undefined) continue;
      if (kind === 'onoff') p[prop] = v;
      else if (kind === 'bool') p[prop] = v === 'on';
      else if (Number(v) !== 0) p[prop] = Number(v);
    }
    b.props('-device', p, field);
  } else if (iommu.model === 'virtio') {
    b.props('-device', { driver: 'virtio-iommu', id: 'iommu0', ...pciProps(iommu.address, facts) }, field);
  } else {
    // SMMUv3 is a machine option of Arm's virt machine, not a device.
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `IOMMU model '${iommu.model}' is not supported`, {
      field: `${field}/@model`,
    });
  }
}

/** Watchdog models and their QEMU device (`itco` is built into q35's LPC bridge). */
export const WATCHDOG_DRIVERS: Record<string, string | null> = {
  ib700: 'ib700',
  i6300esb: 'i6300esb',
  itco: null,
};

export function buildWatchdogs(b: ArgvBuilder, def: DomainDef, facts: MachineFacts): void {
  const dogs = def.devices?.watchdogs ?? [];
  if (dogs.length === 0) return;
  let itco = false;
  for (const [i, w] of dogs.entries()) {
    const field = `/domain/devices/watchdog[${i + 1}]`;
    const driver = WATCHDOG_DRIVERS[w.model];
    if (driver === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `watchdog model '${w.model}' is not supported`, {
        field: `${field}/@model`,
      });
    if ((w.action ?? 'reset') !== (dogs[0]!.action ?? 'reset'))
      // QEMU has one action for every watchdog.
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'all watchdogs must have the same action', {
        field: `${field}/@action`,
      });
    if (driver === null) {
      if (facts.family !== 'q35')
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'the itco watchdog needs a q35 machine', {
          field: `${field}/@model`,
        });
      itco = true;
      continue;
    }
    if (w.model === 'ib700' && w.address !== undefined)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        'the ib700 watchdog is an ISA device without an address',
        {
          field: `${field}/address`,
        },
      );
    b.props('-device', watchdogProps(driver, i, w.address, facts), field);
  }
  // The iTCO watchdog is part of the ICH9 LPC, which by default must not reboot the guest.
  if (itco) b.add('-global', 'ICH9-LPC.noreboot=off');
  // QEMU cannot dump: it pauses and the management layer would take the dump.
  const action = dogs[0]!.action ?? 'reset';
  b.add('-watchdog-action', action === 'dump' ? 'pause' : action);
}

/** The `-device` of watchdog `watchdogN` (`n`: its place at start, a free number when plugged live). */
export function watchdogProps(
  driver: string,
  n: number,
  address: DeviceAddress | undefined,
  facts: MachineFacts,
): Props {
  return { driver, id: `watchdog${n}`, ...pciProps(address, facts) };
}

export function buildPanics(b: ArgvBuilder, def: DomainDef, facts: MachineFacts): void {
  for (const [i, p] of (def.devices?.panics ?? []).entries()) {
    const field = `/domain/devices/panic[${i + 1}]`;
    if (p.model === 'isa') {
      const props: Props = { driver: 'pvpanic' };
      // pvpanic names its I/O port `ioport`, not the `iobase` of other ISA devices.
      if (p.address?.type === 'isa' && p.address.iobase !== undefined) props.ioport = p.address.iobase;
      else if (p.address !== undefined)
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'an isa panic device takes an isa address', {
          field: `${field}/address`,
        });
      b.props('-device', props, field);
    } else if (p.model === 'pvpanic') {
      b.props('-device', { driver: 'pvpanic-pci', ...pciProps(p.address, facts) }, field);
    } else if (p.model === 'hyperv') {
      // carried by -cpu (hv-crash); it has no address of its own
      if (p.address !== undefined)
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'a Hyper-V panic device takes no address', {
          field: `${field}/address`,
        });
    } else {
      // pseries and s390 are other architectures.
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `panic model '${p.model ?? ''}' is not supported`, {
        field: `${field}/@model`,
      });
    }
  }
}

/** QEMU's backend object for each libvirt crypto backend. */
const CRYPTO_BACKENDS: Record<string, string> = {
  builtin: 'cryptodev-backend-builtin',
  lkcf: 'cryptodev-backend-lkcf',
};

/** `<crypto>`: a backend object and the virtio-crypto device on it (after the panic notifiers, as libvirt). */
export function buildCryptos(b: ArgvBuilder, def: DomainDef, caps: QemuCaps, facts: MachineFacts): void {
  for (const [i, c] of (def.devices?.cryptos ?? []).entries()) {
    const field = `/domain/devices/crypto[${i + 1}]`;
    const backend = CRYPTO_BACKENDS[c.backend.model];
    if (backend === undefined || !hasType(caps, backend))
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `crypto backend '${c.backend.model}' is not available`,
        {
          field: `${field}/backend/@model`,
        },
      );
    if (!hasType(caps, 'virtio-crypto-pci') || (c.address !== undefined && c.address.type !== 'pci'))
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'a virtio crypto device needs virtio-crypto-pci', {
        field: `${field}/@model`,
      });
    const id = `crypto${i}`;
    const obj: Props = { 'qom-type': backend, id: `obj${id}` };
    if (c.backend.queues !== undefined && c.backend.queues > 0) obj.queues = c.backend.queues;
    b.props('-object', obj, field);
    b.props(
      '-device',
      {
        driver: 'virtio-crypto-pci',
        ...virtioOptions(c.driver, field),
        cryptodev: `obj${id}`,
        id,
        ...pciProps(c.address, facts),
      },
      field,
    );
  }
}

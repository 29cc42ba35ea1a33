import type { ControllerDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps, userAliasOf, virtioOptions } from './device-props.js';
import { controllerIothreadMapping, hasIothread, iothreadMappingProps } from './iothreads.js';
import { type UsbAddrFn, usbControllerAlias } from './usb-addresses.js';

export function buildControllers(
  b: ArgvBuilder,
  ctrls: ControllerDef[],
  facts: MachineFacts,
  def: DomainDef,
): void {
  // PCI controllers come first (buses must exist before what plugs into them), then the others.
  for (const c of ctrls) {
    if (c.type !== 'pci') continue;
    const idx = c.index ?? 0;
    const attr = (n: string) => c.target?.attrs.find((a) => a.name === n)?.value;
    checkTargetOptions(c, idx);
    if (c.model === 'pci-root' || c.model === 'pcie-root') {
      // the root bus is the machine's, with QEMU's own name (pci.0, pcie.0): an alias names nothing
      userAliasOf(c);
      rootHotplug(b, c, attr('hotplug'));
      continue;
    }
    if (NO_HOTPLUG_SWITCH.has(c.model ?? '') && attr('hotplug') !== undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `a ${c.model} controller has no hotplug setting`, {
        field: `/domain/devices/controller[@index=${idx}]/target/@hotplug`,
      });
    const p: Props = { driver: c.modelName?.name ?? c.model };
    if (c.model === 'pci-expander-bus' || c.model === 'pcie-expander-bus') {
      const busNr = attr('busNr');
      if (busNr === undefined)
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `a ${c.model} needs its first bus number`, {
          field: `/domain/devices/controller[@index=${idx}]/target/@busNr`,
        });
      p.bus_nr = Number(busNr);
    }
    // memReserve is in KiB; QEMU's mem-reserve is in bytes.
    const memReserve = attr('memReserve');
    const reserve = memReserve === undefined ? undefined : Number(memReserve) * 1024;
    if (c.model === 'pci-bridge') {
      p.chassis_nr = Number(attr('chassisNr') ?? idx);
      if (reserve !== undefined) p['mem-reserve'] = reserve;
    }
    if (c.model === 'pcie-root-port' || c.model === 'pcie-switch-downstream-port') {
      p.port = Number(attr('port') ?? 0);
      p.chassis = Number(attr('chassis') ?? idx);
    }
    p.id = `pci.${idx}`;
    const node = targetNode(c);
    if (node !== undefined) p.numa_node = node;
    const hotplug = attr('hotplug');
    if (hotplug !== undefined) p.hotplug = hotplug === 'on';
    if (reserve !== undefined && (c.model === 'pcie-root-port' || c.model === 'pcie-switch-downstream-port'))
      p['mem-reserve'] = reserve;
    Object.assign(p, pciProps(c.address, facts));
    b.props('-device', p, `/domain/devices/controller[@index=${idx}]`);
  }
  // the floppy controller is the machine's own, and a machine has one
  for (const c of ctrls)
    if (c.type === 'fdc' && (c.index ?? 0) !== 0)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'only one floppy controller (index 0) is supported', {
        field: `/domain/devices/controller[@type='fdc'][@index=${c.index}]`,
      });
  const order = ['usb', 'scsi', 'sata', 'virtio-serial', 'ide'];
  for (const type of order)
    for (const c of ctrls) {
      if (c.type !== type) continue;
      const p = controllerProps(c, ctrls, facts, def);
      if (p) b.props('-device', p, `/domain/devices/controller[@type='${c.type}']`);
    }
}

/** The `<target>` options of each PCI controller model (libvirt refuses any other). */
const TARGET_OPTIONS: Readonly<Record<string, readonly string[]>> = {
  'pci-bridge': ['chassisNr', 'memReserve'],
  'pcie-root-port': ['chassis', 'port', 'hotplug', 'memReserve'],
  'pcie-switch-downstream-port': ['chassis', 'port', 'hotplug', 'memReserve'],
  'pci-expander-bus': ['busNr', 'node'],
  'pcie-expander-bus': ['busNr', 'node'],
  'pci-root': ['hotplug'],
  'pcie-root': ['hotplug'],
};

/** Refuses a `<target>` option the controller's model has no use for (each is read here). */
function checkTargetOptions(c: ControllerDef, idx: number): void {
  const allowed = TARGET_OPTIONS[c.model ?? ''] ?? [];
  const given = [
    ...(c.target?.attrs ?? []).map((a) => ({ name: a.name, value: a.value })),
    ...(c.target?.children ?? [])
      .filter((n): n is XmlElement => n.type === 'element')
      .map((n) => ({
        name: n.name,
        value: n.children.map((t) => (t.type === 'text' ? t.value : '')).join(''),
      })),
  ];
  for (const g of given)
    if (!allowed.includes(g.name) && g.value !== '')
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `the <target> option '${g.name}' is not valid for a ${c.model ?? 'PCI'} controller`,
        {
          field: `/domain/devices/controller[@index=${idx}]/target/${g.name === 'node' ? 'node' : `@${g.name}`}`,
        },
      );
}

/** The host NUMA node an expander bus belongs to (`<target><node>`). */
function targetNode(c: ControllerDef): number | undefined {
  const el = c.target?.children.find((n): n is XmlElement => n.type === 'element' && n.name === 'node');
  if (!el) return undefined;
  const text = el.children
    .map((t) => (t.type === 'text' ? t.value : ''))
    .join('')
    .trim();
  if (!/^\d+$/.test(text))
    throw new VirError('XML_DETAIL', 'qemu', `'${text}' is not a NUMA node number`, {
      field: `/domain/devices/controller[@index=${c.index ?? 0}]/target/node`,
    });
  return Number(text);
}

/**
 * CCID controllers are USB devices: libvirt writes them after the memory
 * devices and hubs (the hub chain must exist before a device behind it).
 */
export function buildCcidControllers(b: ArgvBuilder, ctrls: ControllerDef[], usbAddr: UsbAddrFn): void {
  for (const c of ctrls)
    if (c.type === 'ccid')
      b.props(
        '-device',
        { driver: 'usb-ccid', id: `ccid${c.index ?? 0}`, ...usbAddr(c) },
        `/domain/devices/controller[@type='ccid']`,
      );
}

/** PCI controller models whose hotplug QEMU cannot switch (libvirt refuses the attribute on them). */
const NO_HOTPLUG_SWITCH = new Set([
  'pci-bridge',
  'dmi-to-pci-bridge',
  'pcie-switch-upstream-port',
  'pci-expander-bus',
  'pcie-expander-bus',
  'pcie-to-pci-bridge',
]);

/**
 * The root bus itself is never a `-device`; only i440fx's ACPI hotplug of
 * its slots can be switched, through PIIX4's PM function, written where
 * the root controller stands in the controller order.
 */
function rootHotplug(b: ArgvBuilder, c: ControllerDef, hotplug: string | undefined): void {
  if (hotplug === undefined) return;
  const field = `/domain/devices/controller[@index=${c.index ?? 0}]/target/@hotplug`;
  if (c.model !== 'pci-root')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `a ${c.model} controller has no hotplug setting`, {
      field,
    });
  if (hotplug !== 'on' && hotplug !== 'off')
    throw new VirError('XML_DETAIL', 'qemu', `hotplug must be 'on' or 'off'`, { field });
  if ((c.index ?? 0) === 0) b.add('-global', `PIIX4_PM.acpi-root-pci-hotplug=${hotplug}`);
}

const USB_DRIVERS: Record<string, string> = {
  'piix3-uhci': 'piix3-usb-uhci',
  'piix4-uhci': 'piix4-usb-uhci',
  ehci: 'usb-ehci',
  'ich9-ehci1': 'ich9-usb-ehci1',
  'ich9-uhci1': 'ich9-usb-uhci1',
  'ich9-uhci2': 'ich9-usb-uhci2',
  'ich9-uhci3': 'ich9-usb-uhci3',
  'nec-xhci': 'nec-usb-xhci',
  'qemu-xhci': 'qemu-xhci',
};

const VIRTIO_SCSI: Record<string, string> = {
  'virtio-scsi': 'virtio-scsi-pci',
  'virtio-transitional': 'virtio-scsi-pci-transitional',
  'virtio-non-transitional': 'virtio-scsi-pci-non-transitional',
};

const VIRTIO_SERIAL: Record<string, string> = {
  virtio: 'virtio-serial-pci',
  'virtio-transitional': 'virtio-serial-pci-transitional',
  'virtio-non-transitional': 'virtio-serial-pci-non-transitional',
};

/** A positive whole number from a `<driver>` attribute, or a refusal naming it. */
function driverCount(d: XmlElement | undefined, name: string, field: string): number | undefined {
  const v = d?.attrs.find((a) => a.name === name)?.value;
  if (v === undefined) return undefined;
  if (!/^[0-9]{1,9}$/.test(v) || Number(v) === 0)
    throw new VirError('XML_DETAIL', 'qemu', `invalid ${name} '${v}' (a positive number)`, {
      field: `${field}/driver/@${name}`,
    });
  return Number(v);
}

/** virtio-scsi's queue and I/O properties from `<driver>`, in libvirt's order. */
function virtioScsiProps(c: ControllerDef, field: string, def: DomainDef): Props {
  const d = c.driver;
  const p: Props = {};
  const iothread = driverCount(d, 'iothread', field);
  if (iothread !== undefined && !hasIothread(def, iothread))
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `I/O thread ${iothread} is not one of the domain's I/O threads`,
      {
        field: `${field}/driver/@iothread`,
      },
    );
  if (iothread !== undefined) p.iothread = `iothread${iothread}`;
  p.id = `scsi${c.index ?? 0}`;
  const queues = driverCount(d, 'queues', field);
  if (queues !== undefined) p.num_queues = queues;
  const mapping = iothreadMappingProps(def, controllerIothreadMapping(d, field), queues, field);
  if (mapping) p['iothread-vq-mapping'] = mapping;
  const cmdPerLun = driverCount(d, 'cmd_per_lun', field);
  if (cmdPerLun !== undefined) p.cmd_per_lun = cmdPerLun;
  const maxSectors = driverCount(d, 'max_sectors', field);
  if (maxSectors !== undefined) p.max_sectors = maxSectors;
  const ioeventfd = d?.attrs.find((a) => a.name === 'ioeventfd')?.value;
  if (ioeventfd !== undefined) {
    if (ioeventfd !== 'on' && ioeventfd !== 'off')
      throw new VirError('XML_DETAIL', 'qemu', `invalid ioeventfd '${ioeventfd}' (on or off)`, {
        field: `${field}/driver/@ioeventfd`,
      });
    p.ioeventfd = ioeventfd === 'on';
  }
  return p;
}

/**
 * A USB companion's `masterbus`: the bus of the controller of the same index
 * that is not itself a companion (its alias, so index 0 is `usb.0`).
 */
function masterBus(c: ControllerDef, ctrls: ControllerDef[]): string {
  const idx = c.index ?? 0;
  const master = ctrls.find((m) => m.type === 'usb' && (m.index ?? 0) === idx && m.master === undefined);
  if (!master) {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `USB companion controller ${idx} has no master controller of the same index`,
      { field: `/domain/devices/controller[@type='usb'][@index=${idx}]/master` },
    );
  }
  return `${usbControllerAlias(master)}.0`;
}

/** The `-device` of a controller other than PCI (undefined: it has none, e.g. q35's own SATA). */
export function controllerProps(
  c: ControllerDef,
  ctrls: ControllerDef[],
  facts: MachineFacts,
  def: DomainDef,
): Props | undefined {
  const idx = c.index ?? 0;
  const addr = pciProps(c.address, facts);
  const field = `/domain/devices/controller[@type='${c.type}'][@index=${idx}]`;
  switch (c.type) {
    case 'usb': {
      if (c.model === 'none' || !c.model) return undefined;
      const driver = USB_DRIVERS[c.model] ?? c.model;
      const p: Props = { driver };
      // libvirt sets both port counts (USB 2 and 3) from one attribute; QEMU reads the one the model has.
      if (c.ports !== undefined) {
        p.p2 = c.ports;
        p.p3 = c.ports;
      }
      // libvirt gives a companion no id (QEMU reaches it through its master): its alias names nothing
      if (c.master) {
        userAliasOf(c);
        return { ...p, masterbus: masterBus(c, ctrls), firstport: c.master.startport, ...addr };
      }
      p.id = usbControllerAlias(c);
      return { ...p, ...addr };
    }
    case 'scsi': {
      const model = c.model ?? 'lsilogic';
      const virtio = VIRTIO_SCSI[model];
      if (virtio)
        return {
          driver: virtio,
          ...virtioOptions(c.driver, field),
          ...virtioScsiProps(c, field, def),
          ...addr,
        };
      if (model === 'ibmvscsi') {
        if (c.address?.type !== 'spapr-vio' || c.address.reg === undefined)
          throw new VirError(
            'CONFIG_UNSUPPORTED',
            'qemu',
            'an ibmvscsi controller needs a spapr-vio address',
            {
              field: `${field}/address`,
            },
          );
        return { driver: 'spapr-vscsi', id: `scsi${idx}`, reg: c.address.reg };
      }
      // libvirt's device for each model; any other model (buslogic, ncr53c90, ...) is refused.
      const driver = (
        {
          lsilogic: 'lsi',
          lsisas1068: 'mptsas1068',
          lsisas1078: 'megasas',
          vmpvscsi: 'pvscsi',
          am53c974: 'am53c974',
          dc390: 'dc-390',
        } as Record<string, string>
      )[model];
      if (driver === undefined)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `SCSI controller model '${model}' is not supported`,
          {
            field: `${field}/@model`,
          },
        );
      return { driver, id: `scsi${idx}`, ...addr };
    }
    case 'sata':
      // q35's own AHCI keeps the machine's id ('ide'), whatever alias it is given, as in libvirt
      if (facts.family === 'q35' && idx === 0) {
        userAliasOf(c);
        return undefined;
      }
      return { driver: 'ahci', id: `sata${idx}`, ...addr };
    case 'virtio-serial': {
      const driver = VIRTIO_SERIAL[c.model ?? 'virtio'] ?? 'virtio-serial-pci';
      const p: Props = { driver, ...virtioOptions(c.driver, field), id: `virtio-serial${idx}` };
      if (c.ports !== undefined) p.max_ports = c.ports;
      if (c.vectors !== undefined) p.vectors = c.vectors;
      return { ...p, ...addr };
    }
    default:
      return undefined;
  }
}

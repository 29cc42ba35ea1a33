import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { ControllerDef } from '../../../conf/domain/devices/index.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps } from './device-props.js';

export function buildControllers(
  b: ArgvBuilder,
  ctrls: ControllerDef[],
  facts: MachineFacts,
  usbAddr: (a: DeviceAddress | undefined) => Props,
): void {
  // PCI controllers come first (buses must exist before what plugs into them), then the others.
  const pci = ctrls.filter((c) => c.type === 'pci' && c.model !== 'pci-root' && c.model !== 'pcie-root');
  for (const c of pci) {
    const idx = c.index ?? 0;
    const attr = (n: string) => c.target?.attrs.find((a) => a.name === n)?.value;
    const p: Props = { driver: c.modelName?.name ?? c.model };
    if (c.model === 'pci-bridge') p.chassis_nr = Number(attr('chassisNr') ?? idx);
    if (c.model === 'pcie-root-port' || c.model === 'pcie-switch-downstream-port') {
      p.port = Number(attr('port') ?? 0);
      p.chassis = Number(attr('chassis') ?? idx);
    }
    p.id = `pci.${idx}`;
    const hotplug = attr('hotplug');
    if (hotplug !== undefined) p.hotplug = hotplug === 'on';
    Object.assign(p, pciProps(c.address, facts));
    b.props('-device', p, `/domain/devices/controller[@index=${idx}]`);
  }
  const order = ['usb', 'scsi', 'sata', 'virtio-serial', 'ide', 'ccid'];
  for (const type of order)
    for (const c of ctrls) {
      if (c.type !== type) continue;
      // A CCID controller is a USB device: it sits on a USB port.
      const p =
        c.type === 'ccid'
          ? { driver: 'usb-ccid', id: `ccid${c.index ?? 0}`, ...usbAddr(c.address) }
          : controllerProps(c, facts);
      if (p) b.props('-device', p, `/domain/devices/controller[@type='${c.type}']`);
    }
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

function controllerProps(c: ControllerDef, facts: MachineFacts): Props | undefined {
  const idx = c.index ?? 0;
  const addr = pciProps(c.address, facts);
  switch (c.type) {
    case 'usb': {
      if (c.model === 'none' || !c.model) return undefined;
      const driver = USB_DRIVERS[c.model] ?? c.model;
      const companion = /^ich9-uhci(\d)$/.exec(c.model);
      const id = idx === 0 ? 'usb' : `usb${idx}`;
      if (companion)
        return { driver, masterbus: `${id}.0`, firstport: (Number(companion[1]) - 1) * 2, ...addr };
      const p: Props = { driver, id };
      if (c.ports !== undefined) p.p2 = c.ports;
      return { ...p, ...addr };
    }
    case 'scsi': {
      const driver =
        {
          'virtio-scsi': 'virtio-scsi-pci',
          lsilogic: 'lsi',
          lsisas1068: 'mptsas1068',
          lsisas1078: 'megasas',
        }[c.model ?? 'lsilogic'] ?? c.model;
      return { driver, id: `scsi${idx}`, ...addr };
    }
    case 'sata':
      if (facts.family === 'q35' && idx === 0) return undefined;
      return { driver: 'ahci', id: `sata${idx}`, ...addr };
    case 'virtio-serial': {
      const p: Props = { driver: 'virtio-serial-pci', id: `virtio-serial${idx}` };
      if (c.ports !== undefined) p.max_ports = c.ports;
      if (c.vectors !== undefined) p.vectors = c.vectors;
      return { ...p, ...addr };
    }
    default:
      return undefined;
  }
}

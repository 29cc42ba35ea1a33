import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps } from './device-props.js';
import { checkValue } from './escape.js';

export function buildInputs(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  usbAddr: (a: DeviceAddress | undefined) => Props,
): void {
  for (const [i, inp] of (def.devices?.inputs ?? []).entries()) {
    if (inp.bus === 'ps2') continue;
    const field = `/domain/devices/input[${i + 1}]`;
    let driver: string;
    if (inp.bus === 'usb')
      driver =
        ({ mouse: 'usb-mouse', tablet: 'usb-tablet', keyboard: 'usb-kbd' } as Record<string, string>)[
          inp.type
        ] ?? inp.type;
    else if (inp.bus === 'virtio') driver = `virtio-${inp.type === 'tablet' ? 'tablet' : inp.type}-pci`;
    else continue;
    const p: Props = { driver, id: `input${i}` };
    const a = inp.address;
    if (inp.bus === 'usb') Object.assign(p, usbAddr(a));
    else Object.assign(p, pciProps(a, facts));
    b.props('-device', p, field);
  }
}

export function buildVideos(b: ArgvBuilder, def: DomainDef, facts: MachineFacts): void {
  for (const [i, v] of (def.devices?.videos ?? []).entries()) {
    const m = v.model;
    if (!m || m.type === 'none') continue;
    const field = `/domain/devices/video[${i + 1}]`;
    const primary = i === 0;
    const p: Props = {};
    switch (m.type) {
      case 'cirrus':
        p.driver = 'cirrus-vga';
        p.id = `video${i}`;
        break;
      case 'vga':
        p.driver = 'VGA';
        p.id = `video${i}`;
        if (m.vram !== undefined) p.vgamem_mb = Math.floor(m.vram / 1024);
        break;
      case 'qxl':
        p.driver = primary ? 'qxl-vga' : 'qxl';
        p.id = `video${i}`;
        p.max_outputs = m.heads ?? 1;
        p.ram_size = (m.ram ?? 65536) * 1024;
        p.vram_size = (m.vram ?? 65536) * 1024;
        p.vram64_size_mb = Math.floor((m.vram64 ?? 0) / 1024);
        p.vgamem_mb = Math.floor((m.vgamem ?? 16384) / 1024);
        break;
      case 'bochs':
        p.driver = 'bochs-display';
        p.id = `video${i}`;
        if (m.vram !== undefined) p.vgamem = m.vram * 1024;
        break;
      case 'virtio':
        p.driver = primary ? 'virtio-vga' : 'virtio-gpu-pci';
        p.id = `video${i}`;
        p.max_outputs = m.heads ?? 1;
        break;
      default:
        p.driver = checkValue(m.type, `${field}/model/@type`);
        p.id = `video${i}`;
    }
    Object.assign(p, pciProps(v.address, facts));
    b.props('-device', p, field);
  }
}

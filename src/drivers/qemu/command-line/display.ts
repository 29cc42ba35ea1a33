import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps } from './device-props.js';

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

/** QEMU's device for a video model: the VGA-compatible one for the primary video. */
const PRIMARY_MODELS: Record<string, string> = {
  vga: 'VGA',
  cirrus: 'cirrus-vga',
  vmvga: 'vmware-svga',
  qxl: 'qxl-vga',
  virtio: 'virtio-vga',
  bochs: 'bochs-display',
  ramfb: 'ramfb',
};

export function buildVideos(b: ArgvBuilder, def: DomainDef, facts: MachineFacts): void {
  for (const [i, v] of (def.devices?.videos ?? []).entries()) {
    const m = v.model;
    if (!m || m.type === 'none') continue;
    const field = `/domain/devices/video[${i + 1}]`;
    const backend = v.driver?.attrs.find((a) => a.name === 'name')?.value;
    if (backend === 'vhostuser')
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: a vhost-user video backend`, {
        field: `${field}/driver/@name`,
      });
    if (m.acceleration?.rendernode !== undefined || m.acceleration?.accel2d !== undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: acceleration options other than accel3d`, {
        field: `${field}/model/acceleration`,
      });
    const accel3d = m.acceleration?.accel3d === true;
    let driver: string | undefined;
    if (m.primary === true) driver = PRIMARY_MODELS[m.type];
    else if (m.type === 'qxl') driver = 'qxl';
    else if (m.type === 'virtio') driver = 'virtio-gpu';
    if (m.type === 'virtio') {
      if (accel3d) driver += '-gl';
      // virtio devices on PCI carry the bus in their name; virtio-vga is PCI-only and has none.
      if (driver !== 'virtio-vga' && driver !== 'virtio-vga-gl' && v.address?.type !== 'ccw')
        driver += '-pci';
    } else if (m.acceleration?.accel3d !== undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: 3D acceleration needs a virtio video`, {
        field: `${field}/model/acceleration/@accel3d`,
      });
    if (driver === undefined)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `video model '${m.type}' as a ${m.primary ? 'primary' : 'secondary'} video`,
        {
          field: `${field}/model/@type`,
        },
      );
    const p: Props = { driver, id: `video${i}` };
    if (m.type === 'qxl' || m.type === 'virtio') {
      if (m.heads !== undefined && m.heads > 0) p.max_outputs = m.heads;
    }
    if (m.type === 'qxl') {
      if (m.ram) p.ram_size = m.ram * 1024;
      if (m.vram) p.vram_size = m.vram * 1024;
      p.vram64_size_mb = Math.floor((m.vram64 ?? 0) / 1024);
      p.vgamem_mb = Math.floor((m.vgamem ?? 0) / 1024);
    } else if (m.type === 'vga' || m.type === 'vmvga') {
      if (m.vram) p.vgamem_mb = Math.floor(m.vram / 1024);
    } else if (m.type === 'bochs') {
      if (m.vram) p.vgamem = m.vram * 1024;
    } else if (m.type === 'virtio' && m.blob !== undefined) p.blob = m.blob;
    if (m.resolution) {
      if (m.resolution.x > 0) p.xres = m.resolution.x;
      if (m.resolution.y > 0) p.yres = m.resolution.y;
    }
    Object.assign(p, pciProps(v.address, facts));
    b.props('-device', p, field);
  }
}

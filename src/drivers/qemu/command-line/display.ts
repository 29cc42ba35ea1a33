import type { VideoDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import {
  acpiIndexProps,
  type Props,
  pciProps,
  rawElement,
  refuseRawVirtioOptions,
  userAliasOf,
  virtioOptions,
} from './device-props.js';
import type { CommandLinePaths } from './types.js';
import type { UsbAddrFn } from './usb-addresses.js';
import { vhostUserChardevId } from './vhost-user.js';

const USB_INPUTS: Record<string, string> = { mouse: 'usb-mouse', tablet: 'usb-tablet', keyboard: 'usb-kbd' };
const VIRTIO_INPUTS: Record<string, string> = {
  mouse: 'virtio-mouse-pci',
  tablet: 'virtio-tablet-pci',
  keyboard: 'virtio-keyboard-pci',
  passthrough: 'virtio-input-host-pci',
};

/**
 * `<input>`: PS/2 devices are the machine's own; USB and virtio ones are
 * devices; an evdev input is QEMU's `input-linux` object reading the host
 * device directly.
 */
export function buildInputs(b: ArgvBuilder, def: DomainDef, facts: MachineFacts, usbAddr: UsbAddrFn): void {
  for (const [i, inp] of (def.devices?.inputs ?? []).entries()) {
    const field = `/domain/devices/input[${i + 1}]`;
    // PS/2 mouse and keyboard are the machine's own i8042 devices: nothing to write
    if (inp.bus === 'ps2') {
      if (inp.type !== 'mouse' && inp.type !== 'keyboard')
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: a PS/2 ${inp.type} does not exist`, {
          field: `${field}/@type`,
        });
      continue;
    }
    const src = inp.source;
    if (inp.type === 'evdev') {
      const p: Props = { 'qom-type': 'input-linux', id: `input${i}`, evdev: src?.dev ?? '' };
      if (!src?.dev)
        throw new VirError('XML_DETAIL', 'qemu', `${field}: evdev input needs source/@dev`, {
          field: `${field}/source/@dev`,
        });
      if (src.repeat !== undefined) p.repeat = src.repeat;
      if (src.grab === 'all') p.grab_all = true;
      if (src.grabToggle !== undefined) {
        if (!/^[a-z-]+$/.test(src.grabToggle))
          throw new VirError('XML_DETAIL', 'qemu', `${field}: invalid grabToggle '${src.grabToggle}'`, {
            field: `${field}/source/@grabToggle`,
          });
        p['grab-toggle'] = src.grabToggle;
      }
      b.props('-object', p, field);
      continue;
    }
    const driver =
      inp.bus === 'usb' ? USB_INPUTS[inp.type] : inp.bus === 'virtio' ? VIRTIO_INPUTS[inp.type] : undefined;
    if (driver === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `input type '${inp.type}' on bus '${inp.bus ?? ''}'`, {
        field: `${field}/@bus`,
      });
    const p: Props = { driver };
    if (inp.bus === 'virtio') Object.assign(p, virtioOptions(rawElement(inp, 'driver'), field));
    else refuseRawVirtioOptions(rawElement(inp, 'driver'), field, `a ${inp.bus} input`);
    p.id = `input${i}`;
    if (inp.type === 'passthrough') {
      if (!src?.evdev)
        throw new VirError('XML_DETAIL', 'qemu', `${field}: passthrough input needs source/@evdev`, {
          field: `${field}/source/@evdev`,
        });
      p.evdev = src.evdev;
    }
    if (inp.bus === 'usb') Object.assign(p, usbAddr(inp));
    else Object.assign(p, pciProps(inp.address, facts));
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

export function buildVideos(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  paths: CommandLinePaths,
): void {
  for (const [i, v] of (def.devices?.videos ?? []).entries()) {
    const m = v.model;
    const field = `/domain/devices/video[${i + 1}]`;
    // A 'none' video is no device at all: nothing takes its user alias.
    if (!m || m.type === 'none') {
      userAliasOf(v);
      continue;
    }
    // libvirt's rule: only QXL and virtio cards have several outputs
    if (m.type !== 'qxl' && m.type !== 'virtio' && m.heads !== undefined && m.heads !== 1)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `video model '${m.type}' has a single head`, {
        field: `${field}/model/@heads`,
      });
    const backend = v.driver?.attrs.find((a) => a.name === 'name')?.value;
    if (backend === 'vhostuser') {
      buildVhostUserVideo(b, v, i, facts, paths, field);
      continue;
    }
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
    if (m.type !== 'virtio') refuseRawVirtioOptions(v.driver, field, `a ${m.type} video`);
    const p: Props = {
      driver,
      ...(m.type === 'virtio' ? virtioOptions(v.driver, field) : {}),
      id: `video${i}`,
    };
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
    Object.assign(p, pciProps(v.address, facts), acpiIndexProps(v.acpi, v.address, field));
    b.props('-device', p, field);
  }
}

/**
 * A virtio video whose rendering runs in a vhost-user-gpu process: QEMU
 * gets the socket to it as a descriptor the caller opened (the process's
 * own settings, 3D acceleration and render node, are the caller's to give
 * it). The primary one keeps VGA compatibility as vhost-user-vga, which
 * libvirt writes without virtio transport options.
 */
function buildVhostUserVideo(
  b: ArgvBuilder,
  v: VideoDef,
  i: number,
  facts: MachineFacts,
  paths: CommandLinePaths,
  field: string,
): void {
  const m = v.model;
  if (m?.type !== 'virtio')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: a vhost-user backend needs a virtio video`, {
      field: `${field}/model/@type`,
    });
  if (v.address !== undefined && v.address.type !== 'pci')
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${field}: a vhost-user video is supported on PCI only`,
      {
        field: `${field}/address/@type`,
      },
    );
  if (m.blob !== undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: blob resources need QEMU's own virtio-gpu`, {
      field: `${field}/model/@blob`,
    });
  if (!paths.vhostUserGpuFd)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${field}: a vhost-user video needs its backend's socket`,
      {
        field: `${field}/driver/@name`,
      },
    );
  const alias = `video${i}`;
  const chardev = vhostUserChardevId(alias);
  const accel = m.acceleration;
  // libvirt's rule: only asking for 2D acceleration is refused
  if (accel?.accel2d === true)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: QEMU has no 2D acceleration setting`, {
      field: `${field}/model/acceleration/@accel2d`,
    });
  const render = {
    ...(accel?.accel3d !== undefined ? { accel3d: accel.accel3d } : {}),
    ...(accel?.rendernode !== undefined ? { renderNode: accel.rendernode } : {}),
  };
  b.add('-chardev', `socket,id=${chardev},fd=${paths.vhostUserGpuFd(alias, render)}`);
  const vga = m.primary === true;
  const p: Props = {
    driver: vga ? 'vhost-user-vga' : 'vhost-user-gpu-pci',
    ...(vga ? {} : virtioOptions(v.driver, field)),
    id: alias,
  };
  if (m.heads !== undefined && m.heads > 0) p.max_outputs = m.heads;
  p.chardev = chardev;
  if (m.resolution) {
    if (m.resolution.x > 0) p.xres = m.resolution.x;
    if (m.resolution.y > 0) p.yres = m.resolution.y;
  }
  b.props('-device', { ...p, ...pciProps(v.address, facts) }, field);
}

/**
 * `<disk>` devices on the command line: for each disk, in the definition's
 * order, its `-blockdev` chain (disk-blockdev.ts), or the socket chardev of a
 * vhost-user disk (disk-vhostuser.ts), and its frontend
 * `-device` (disk-device.ts); the q35 floppy controller before them.
 *
 * @module
 */
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import type { Props } from './device-props.js';
import { defaultHostCdrom, diskImageNodes, isImageFormat } from './disk-blockdev.js';
import { diskAlias, diskDeviceProps } from './disk-device.js';
import { diskLayers, layerCount } from './disk-layers.js';
import { buildSdDrive } from './disk-sd.js';
import { buildVhostUserDisk } from './disk-vhostuser.js';
import { optValue } from './escape.js';
import { buildThrottleFilters, iotuneCommand, throttleFilterCount } from './throttle.js';
import type { CommandLinePaths } from './types.js';
import type { UsbAddrFn } from './usb-addresses.js';

export function buildDisks(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  boot: Map<object, number>,
  usbAddr: UsbAddrFn,
  paths: CommandLinePaths,
): void {
  const host = {
    isHostCdrom: paths.isHostCdrom ?? defaultHostCdrom,
    secrets: paths.secrets,
    nbdTls: paths.nbdTls,
  };
  const disks = def.devices?.disks ?? [];
  const first = diskNodeNumbers(def);
  buildFloppyController(b, disks, facts, boot);
  for (const [i, d] of disks.entries()) {
    const field = `/domain/devices/disk[${i + 1}]`;
    refuseUnbuilt(d, field);
    if (d.type === 'vhostuser') {
      const chardev = buildVhostUserDisk(b, def, d, diskAlias(def, d), paths, field);
      const x = { def, disk: d, facts, field, drive: undefined, chardev, bootindex: boot.get(d), usb: {} };
      b.props('-device', diskDeviceProps(x), field);
      continue;
    }
    if (d.target.bus === 'sd') {
      buildSdDrive(b, d, field);
      continue;
    }
    let drive: string | undefined;
    const layers = diskLayers(d, field);
    if (layers) {
      drive = diskImageNodes(b, d, layers, first.get(d) ?? 1, host);
      if (d.driver?.copyOnRead === true) {
        // Copy-on-read is a filter node stacked on the format node; the device reads through it.
        const cor = `libvirt-CoR-${optValue(d.target.dev, `${field}/target/@dev`)}`;
        b.props(
          '-blockdev',
          { driver: 'copy-on-read', 'node-name': cor, file: drive, discard: 'unmap' },
          field,
        );
        drive = cor;
      }
      drive = buildThrottleFilters(b, def, d, drive, (first.get(d) ?? 1) + layerCount(d), field);
    } else if (d.driver?.type !== undefined && !isImageFormat(d.driver.type))
      // an empty drive opens nothing now; a format QEMU cannot open is refused all the same
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `disk format '${d.driver.type}' is not supported`, {
        field: `${field}/driver/@type`,
      });
    else if (throttleFilterCount(d) > 0)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'an empty drive cannot have throttle filters', {
        field: `${field}/throttlefilters`,
      });
    const device = diskDeviceProps({
      def,
      disk: d,
      facts,
      field,
      drive,
      bootindex: boot.get(d),
      usb: d.target.bus === 'usb' ? usbAddr(d) : {},
    });
    b.props('-device', device, field);
    // Throttling an empty drive fails in QEMU; libvirt skips it (the limits apply once media is in).
    const iotune = layers
      ? iotuneCommand(d.iotune, d.target.bus ?? 'ide', String(device.id), field)
      : undefined;
    if (iotune) b.monitorCommands.push(iotune);
  }
}

/**
 * The `libvirt-N-*` numbers of each disk's nodes at start: its first and how
 * many it uses. The last disk's image is 1, counting up towards the first
 * disk, each disk's chain numbered from its top image down, its throttle
 * filters after its layers; an empty drive uses a number too.
 */
export function diskNodeNumbers(def: DomainDef): Map<DiskDef, number> {
  const first = new Map<DiskDef, number>();
  let next = 1;
  for (const d of [...(def.devices?.disks ?? [])].reverse()) {
    // An SD card is a legacy -drive that names no nodes.
    if (d.target.bus === 'sd') continue;
    first.set(d, next);
    next += diskNodeCountOf(d);
  }
  return first;
}

/** How many `libvirt-N-*` numbers one disk's nodes use (layers, then throttle filters). */
export function diskNodeCountOf(d: DiskDef): number {
  return layerCount(d) + throttleFilterCount(d);
}

/** How many `libvirt-N-*` node numbers the disks use; the SCSI host devices' backends follow them. */
export function diskNodeCount(def: DomainDef): number {
  let n = 0;
  for (const d of def.devices?.disks ?? [])
    if (d.target.bus !== 'sd') n += layerCount(d) + throttleFilterCount(d);
  return n;
}

/**
 * The floppy controller's boot order: q35 has no built-in one, so it is an
 * isa-fdc device carrying both drives' boot indexes; elsewhere the built-in
 * controller takes them as -global properties.
 */
function buildFloppyController(
  b: ArgvBuilder,
  disks: DiskDef[],
  facts: MachineFacts,
  boot: Map<object, number>,
): void {
  const floppies = disks.filter((d) => d.target.bus === 'fdc');
  if (floppies.length === 0) return;
  const idx: { A?: number; B?: number } = {};
  for (const d of floppies) {
    const unit = d.address?.type === 'drive' ? (d.address.unit ?? 0) : 0;
    const n = boot.get(d);
    if (n !== undefined) idx[unit === 0 ? 'A' : 'B'] = n;
  }
  if (facts.family === 'q35') {
    const p: Props = { driver: 'isa-fdc' };
    if (idx.A !== undefined) p.bootindexA = idx.A;
    if (idx.B !== undefined) p.bootindexB = idx.B;
    b.props('-device', p, '/domain/devices/controller[@type=fdc]');
    return;
  }
  if (idx.A !== undefined) b.add('-global', `isa-fdc.bootindexA=${idx.A}`);
  if (idx.B !== undefined) b.add('-global', `isa-fdc.bootindexB=${idx.B}`);
}

/**
 * Parts of a disk the builder does not write yet: refused, never dropped.
 * (`<iotune>` is not among them: libvirt sets it over QMP once QEMU runs.)
 */
export function refuseUnbuilt(d: DiskDef, field: string): void {
  const parts: Array<[unknown, string, string]> = [
    [d.transient, 'transient', 'a transient disk'],
    [d.backendDomain, 'backenddomain', 'a backend domain'],
  ];
  // libvirt's QEMU driver has one disk driver, its own
  const name = d.driver?.name;
  if (name !== undefined && name !== 'qemu')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `disk driver '${name}' is not supported (only qemu)`, {
      field: `${field}/driver/@name`,
    });
  for (const [value, child, what] of parts)
    if (value !== undefined)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `${what} is not supported by virtkit's QEMU driver yet`,
        {
          field: `${field}/${child}`,
        },
      );
}

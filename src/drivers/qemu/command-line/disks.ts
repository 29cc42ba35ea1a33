/**
 * `<disk>` devices on the command line: for each disk, in the definition's
 * order, its `-blockdev` chain (disk-blockdev.ts) and its frontend
 * `-device` (disk-device.ts); the q35 floppy controller before them.
 *
 * @module
 */
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import type { Props } from './device-props.js';
import { defaultHostCdrom, diskImageNodes, type HostCdromCheck } from './disk-blockdev.js';
import { diskDeviceProps } from './disk-device.js';
import { diskLayers, layerCount } from './disk-layers.js';
import { optValue } from './escape.js';

export function buildDisks(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  boot: Map<object, number>,
  isHostCdrom: HostCdromCheck = defaultHostCdrom,
): void {
  const disks = def.devices?.disks ?? [];
  // Block node numbers: the last disk's image is 1, counting up towards the first disk, each
  // disk's chain numbered from its top image down.
  // An empty drive uses a number too.
  const first = new Map<DiskDef, number>();
  let next = 1;
  for (const d of [...disks].reverse()) {
    first.set(d, next);
    next += layerCount(d);
  }
  const fdcBoot: Props = {};
  if (facts.family === 'q35' && disks.some((d) => d.target.bus === 'fdc')) {
    // q35 has no built-in floppy controller: it is an isa-fdc device, and the boot order sits on it.
    for (const d of disks) {
      const idx = boot.get(d);
      const unit = d.address?.type === 'drive' ? (d.address.unit ?? 0) : 0;
      if (d.target.bus === 'fdc' && idx !== undefined) fdcBoot[`bootindex${unit === 0 ? 'A' : 'B'}`] = idx;
    }
    b.props('-device', { driver: 'isa-fdc', ...fdcBoot }, '/domain/devices/controller[@type=fdc]');
  }
  for (const [i, d] of disks.entries()) {
    const field = `/domain/devices/disk[${i + 1}]`;
    let drive: string | undefined;
    const layers = diskLayers(d, field);
    if (layers) {
      drive = diskImageNodes(b, d, layers, first.get(d) ?? 1, isHostCdrom);
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
    }
    b.props('-device', diskDeviceProps({ def, disk: d, facts, field, drive, bootindex: boot.get(d) }), field);
  }
}


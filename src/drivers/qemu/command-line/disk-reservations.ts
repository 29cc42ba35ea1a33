/**
 * SCSI persistent reservations of a disk (`<source><reservations>`): QEMU
 * cannot issue PR commands unprivileged, so a `qemu-pr-helper` does it and
 * the block node names a `pr-manager-helper` object connected to the
 * helper's socket. A managed helper is the one per guest the host starts
 * (`paths.prHelperSocket`, object `pr-helper0`, written once near the
 * start of the command line); an unmanaged one is a socket the definition
 * names, one object per disk, written just before that disk's nodes.
 *
 * @module
 */
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import { attrOf, childEl, diskLayers, type ImageLayer } from './disk-layers.js';
import { checkValue } from './escape.js';
import type { CommandLinePaths } from './types.js';

/** The id of the managed helper's object, shared by every disk that uses it. */
export const MANAGED_PR_HELPER = 'pr-helper0';

function reservations(layer: ImageLayer): XmlReservations | undefined {
  const el = childEl(layer.source, 'reservations');
  if (!el) return undefined;
  const enabled = attrOf(el, 'enabled');
  if (enabled === 'no') return undefined;
  return { managed: attrOf(el, 'managed') === 'yes', source: childEl(el, 'source') };
}

interface XmlReservations {
  managed: boolean;
  source: ReturnType<typeof childEl>;
}

/** The first disk that uses the managed helper, by its place (-1: none). */
function firstManagedHelperUser(disks: DiskDef[]): number {
  return disks.findIndex((d, i) => {
    if (d.target.bus === 'sd') return false;
    const top = diskLayers(d, `/domain/devices/disk[${i + 1}]`);
    return top !== undefined && reservations(top)?.managed === true;
  });
}

/** The managed helper's object, once, if any disk needs it. */
export function buildManagedPrHelper(b: ArgvBuilder, disks: DiskDef[], paths: CommandLinePaths): void {
  const user = firstManagedHelperUser(disks);
  if (user < 0) return;
  if (paths.prHelperSocket === undefined)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      "managed persistent reservations need the guest's qemu-pr-helper, which virtkit does not start yet (paths.prHelperSocket)",
      { field: `/domain/devices/disk[${user + 1}]/source/reservations/@managed` },
    );
  b.props(
    '-object',
    {
      'qom-type': 'pr-manager-helper',
      id: MANAGED_PR_HELPER,
      path: checkValue(paths.prHelperSocket, 'paths.prHelperSocket'),
    },
    'paths.prHelperSocket',
  );
}

/**
 * The `pr-manager` a layer's storage node names, writing an unmanaged
 * helper's object first; undefined without reservations. Only a block
 * device (a host LUN) can take them.
 */
export function prManager(
  b: ArgvBuilder,
  disk: DiskDef,
  layer: ImageLayer,
  storage: string,
): string | undefined {
  const r = reservations(layer);
  if (!r) return undefined;
  const field = `${layer.field}/source/reservations`;
  // libvirt's rule: reservations are SCSI commands of a passed-through LUN.
  if (disk.device !== 'lun')
    throw new VirError('XML_DETAIL', 'qemu', "<reservations/> is allowed only on a device='lun' disk", {
      field,
    });
  if (layer.type !== 'block')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'persistent reservations need a block device', {
      field,
    });
  if (r.managed) return MANAGED_PR_HELPER;
  if (attrOf(r.source, 'type') !== 'unix' || attrOf(r.source, 'path') === undefined)
    throw new VirError('XML_DETAIL', 'qemu', "unmanaged reservations need a <source type='unix' path>", {
      field: `${field}/source`,
    });
  if (attrOf(r.source, 'mode') === 'server')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'QEMU connects to the helper: mode must be client', {
      field: `${field}/source/@mode`,
    });
  const id = `pr-helper-${storage}`;
  b.props(
    '-object',
    {
      'qom-type': 'pr-manager-helper',
      id,
      path: checkValue(attrOf(r.source, 'path') ?? '', `${field}/source/@path`),
    },
    field,
  );
  return id;
}

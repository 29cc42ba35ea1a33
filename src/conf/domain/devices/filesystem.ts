/**
 * `<filesystem>`: a host directory (or image, RAM, volume) shared with the
 * guest: 9p through QEMU's fsdev, virtiofs through a vhost-user daemon, or
 * MTP over USB. The daemon's own settings (`<binary>`, `<idmap>`) are kept
 * as XML for whoever starts the daemon.
 *
 * @module
 */
import {
  attr,
  type Codec,
  child,
  elementMapper,
  enumOf,
  type Infer,
  rawChild,
  refine,
  req,
  str,
  trimmed,
  uint,
} from '../../binding.js';
import { addressField } from '../address.js';
import { presence } from '../presence.js';
import { bootOrderMapper } from './disk.js';
import { virtioDriverOptions } from './virtio-options.js';

/** The filesystem source types (`<filesystem type>`), as libvirt names them. */
export const FILESYSTEM_TYPES = ['mount', 'block', 'file', 'template', 'ram', 'bind', 'volume'] as const;
/** The filesystem drivers (`<driver type>` of `<filesystem>`), as libvirt names them. */
export const FILESYSTEM_DRIVERS = [
  'default',
  'path',
  'handle',
  'loop',
  'nbd',
  'ploop',
  'virtiofs',
  'mtp',
] as const;

/** A permission mode in octal (`644` or `0644`), at most 0777; written with four digits as libvirt does. */
const octalMode: Codec<number> = {
  parse(raw) {
    const s = refine(trimmed, (v) =>
      /^[0-7]{1,4}$/.test(v) ? undefined : `'${v}' is not an octal mode`,
    ).parse(raw);
    return refine({ parse: (v) => Number.parseInt(v, 8), format: String }, (n) =>
      n > 0o777 ? `mode '0${n.toString(8)}' is above 0777` : undefined,
    ).parse(s);
  },
  format: (n) => n.toString(8).padStart(4, '0'),
};

export const filesystemDriverMapper = elementMapper('driver', {
  type: attr('type', enumOf(FILESYSTEM_DRIVERS)),
  format: attr('format', str),
  wrpolicy: attr('wrpolicy', enumOf(['default', 'immediate'])),
  /** virtiofs: the virtqueue size. */
  queue: attr('queue', uint),
  ...virtioDriverOptions,
});
export type FilesystemDriverDef = Infer<typeof filesystemDriverMapper.spec>;

export const filesystemSourceMapper = elementMapper('source', {
  dir: attr('dir', str),
  file: attr('file', str),
  dev: attr('dev', str),
  name: attr('name', str),
  pool: attr('pool', str),
  volume: attr('volume', str),
  /** A virtiofs daemon started by someone else listens here. */
  socket: attr('socket', str),
  usage: attr('usage', uint),
  units: attr('units', str),
});

export const filesystemMapper = elementMapper('filesystem', {
  type: attr('type', enumOf(FILESYSTEM_TYPES)),
  accessmode: attr('accessmode', enumOf(['default', 'passthrough', 'mapped', 'squash'])),
  model: attr('model', enumOf(['virtio', 'virtio-transitional', 'virtio-non-transitional'])),
  multidevs: attr('multidevs', enumOf(['default', 'remap', 'forbid', 'warn'])),
  fmode: attr('fmode', octalMode),
  dmode: attr('dmode', octalMode),
  driver: child(filesystemDriverMapper),
  // virtiofsd's settings: read by whoever starts the daemon, not by QEMU.
  binary: rawChild('binary'),
  idmap: rawChild('idmap'),
  source: child(filesystemSourceMapper),
  target: child(elementMapper('target', { dir: req(attr('dir', str)) })),
  readonly: presence('readonly'),
  spaceHardLimit: rawChild('space_hard_limit'),
  spaceSoftLimit: rawChild('space_soft_limit'),
  boot: child(bootOrderMapper),
  address: addressField(),
});
export type FilesystemDef = Infer<typeof filesystemMapper.spec>;

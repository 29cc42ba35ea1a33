/**
 * `<devices>`: one typed list per device kind, in libvirt's output order
 * (emulator, disks, controllers, ..., memory devices, IOMMU, vsock).
 * Device elements the model does not know stay where they were, after the
 * known device they followed.
 *
 * @module
 */
import { child, children, childText, elementMapper, type Infer, trimmed } from '../../binding.js';
import {
  channelMapper,
  consoleMapper,
  parallelMapper,
  redirdevMapper,
  redirfilterMapper,
  serialMapper,
  smartcardMapper,
} from './chardev.js';
import { diskMapper } from './disk.js';
import { audioMapper, graphicsMapper, inputMapper, soundMapper, videoMapper } from './display.js';
import { filesystemMapper } from './filesystem.js';
import {
  controllerMapper,
  cryptoMapper,
  hostdevMapper,
  hubMapper,
  iommuMapper,
  memballoonMapper,
  memoryDeviceMapper,
  panicMapper,
  rngMapper,
  shmemMapper,
  tpmMapper,
  vsockMapper,
  watchdogMapper,
} from './misc.js';
import { interfaceMapper } from './network.js';

export const devicesMapper = elementMapper('devices', {
  emulator: childText('emulator', trimmed),
  /** The `<disk>` children, in document order. */
  disks: children(diskMapper),
  controllers: children(controllerMapper),
  filesystems: children(filesystemMapper),
  interfaces: children(interfaceMapper),
  smartcards: children(smartcardMapper),
  serials: children(serialMapper),
  parallels: children(parallelMapper),
  consoles: children(consoleMapper),
  channels: children(channelMapper),
  inputs: children(inputMapper),
  tpms: children(tpmMapper),
  graphics: children(graphicsMapper),
  sounds: children(soundMapper),
  audios: children(audioMapper),
  videos: children(videoMapper),
  hostdevs: children(hostdevMapper),
  redirdevs: children(redirdevMapper),
  redirfilter: child(redirfilterMapper),
  hubs: children(hubMapper),
  watchdogs: children(watchdogMapper),
  memballoon: child(memballoonMapper),
  rngs: children(rngMapper),
  panics: children(panicMapper),
  shmems: children(shmemMapper),
  memories: children(memoryDeviceMapper),
  cryptos: children(cryptoMapper),
  iommu: child(iommuMapper),
  vsock: child(vsockMapper),
});
export type Devices = Infer<typeof devicesMapper.spec>;

export * from './chardev.js';
export * from './disk.js';
export * from './display.js';
export * from './filesystem.js';
export * from './misc.js';
export * from './network.js';
export * from './virtio-options.js';

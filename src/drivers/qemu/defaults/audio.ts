/**
 * The audio backend libvirt's QEMU driver adds to a definition that names
 * none: what the guest's graphics carry sound over (SPICE), the host's own
 * audio where qemu.conf allows it (`QEMU_AUDIO_DRV` in the daemon's
 * environment picks the backend), or a silent `none` backend.
 *
 * @module
 */
import { AUDIO_TYPES, type AudioDef, type Devices } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import type { QemuDriverConfig } from '../driver-config.js';

/** QEMU's own spelling of two backends, accepted in `QEMU_AUDIO_DRV` as QEMU does. */
const QEMU_AUDIO_NAMES: Record<string, AudioDef['type']> = { pa: 'pulseaudio', wav: 'file' };

/** The SDL audio drivers libvirt knows (`SDL_AUDIODRIVER`). */
const SDL_DRIVERS = ['esd', 'alsa', 'arts', 'pulseaudio'];

type AudioConfig = Pick<QemuDriverConfig, 'vncAllowHostAudio' | 'nogfxAllowHostAudio'>;

/**
 * The default `<audio>` for these devices, or undefined when libvirt adds
 * none. `hostEnv` is the environment the driver runs in (only
 * `QEMU_AUDIO_DRV` and `SDL_AUDIODRIVER` are read).
 */
export function defaultAudio(
  dev: Devices,
  config: AudioConfig,
  hostEnv: Readonly<Record<string, string>>,
): AudioDef | undefined {
  const graphics = dev.graphics ?? [];
  let add = false;
  let passthrough = false;
  let type: AudioDef['type'] = 'none';
  // Each graphics device overrides what the one before it decided, as libvirt's loop does.
  for (const g of graphics) {
    if (g.type === 'vnc') {
      passthrough = config.vncAllowHostAudio;
      if (!passthrough) type = 'none';
      add = true;
    } else if (g.type === 'spice') {
      passthrough = false;
      type = 'spice';
      add = true;
    } else if (g.type === 'sdl') {
      passthrough = true;
      add = true;
    }
    // rdp, desktop, egl-headless and dbus bring no default audio
  }
  if (graphics.length === 0) {
    passthrough = config.nogfxAllowHostAudio;
    if (!passthrough) type = 'none';
    add = true;
  }
  if (add && passthrough) {
    const drv = hostEnv.QEMU_AUDIO_DRV;
    if (drv === undefined) return undefined;
    const named = QEMU_AUDIO_NAMES[drv] ?? AUDIO_TYPES.find((t) => t === drv);
    if (named === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `unknown QEMU_AUDIO_DRV setting '${drv}'`, {
        field: 'hostEnv.QEMU_AUDIO_DRV',
      });
    type = named;
  }
  if (!add) return undefined;
  const audio: AudioDef = { id: 1, type };
  if (type === 'sdl') {
    const sdl = hostEnv.SDL_AUDIODRIVER;
    if (sdl !== undefined) {
      if (!SDL_DRIVERS.includes(sdl))
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `unknown SDL_AUDIODRIVER setting '${sdl}'`, {
          field: 'hostEnv.SDL_AUDIODRIVER',
        });
      audio.driver = sdl;
    }
  }
  return audio;
}

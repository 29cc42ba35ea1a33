/**
 * `-audiodev` for each `<audio>` backend, with its common and per-backend
 * input/output settings, and the environment some backends read (SDL's
 * driver, PipeWire's runtime directory).
 *
 * @module
 */
import type { AudioDef, AudioIo } from '../../../conf/domain/devices/index.js';
import type { ArgvBuilder } from './argv-builder.js';
import type { Props } from './device-props.js';
import { checkValue } from './escape.js';
import type { CommandLinePaths } from './types.js';

/** QEMU's driver name for each libvirt audio type, where they differ. */
const QEMU_DRIVER: Record<string, string> = { pulseaudio: 'pa', file: 'wav' };

/** Variables PipeWire looks for its daemon's socket in, in the order it does. */
const PIPEWIRE_DIRS = ['PIPEWIRE_RUNTIME_DIR', 'XDG_RUNTIME_DIR', 'USERPROFILE'];

export function buildAudios(
  b: ArgvBuilder,
  audios: readonly AudioDef[],
  paths: CommandLinePaths,
  env: Record<string, string>,
): void {
  for (const [i, a] of audios.entries()) {
    const field = `/domain/devices/audio[${i + 1}]`;
    const p: Props = { id: `audio${a.id ?? i + 1}`, driver: QEMU_DRIVER[a.type] ?? a.type };
    if (a.timerPeriod !== undefined) p['timer-period'] = a.timerPeriod;
    const input = ioProps(a, a.input);
    const output = ioProps(a, a.output);
    switch (a.type) {
      case 'oss':
        if (a.tryMMap !== undefined) p['try-mmap'] = a.tryMMap;
        if (a.exclusive !== undefined) p.exclusive = a.exclusive;
        if (a.dspPolicy !== undefined) p['dsp-policy'] = a.dspPolicy;
        break;
      case 'pulseaudio':
        if (a.serverName !== undefined) p.server = a.serverName;
        break;
      case 'file':
        if (a.path !== undefined) p.path = a.path;
        break;
      case 'sdl':
        if (a.driver !== undefined) env.SDL_AUDIODRIVER = checkValue(a.driver, `${field}/@driver`);
        break;
      case 'pipewire': {
        for (const name of ['PIPEWIRE_CORE', 'PIPEWIRE_REMOTE']) {
          const v = paths.hostEnv?.[name];
          if (v !== undefined) env[name] = checkValue(v, `paths.hostEnv.${name}`);
        }
        if (a.runtimeDir !== undefined)
          env.PIPEWIRE_RUNTIME_DIR = checkValue(a.runtimeDir, `${field}/@runtimeDir`);
        else {
          const name = PIPEWIRE_DIRS.find((n) => paths.hostEnv?.[n] !== undefined);
          if (name) env[name] = checkValue(paths.hostEnv![name]!, `paths.hostEnv.${name}`);
        }
        break;
      }
    }
    if (input) p.in = input;
    if (output) p.out = output;
    b.props('-audiodev', p, field);
  }
}

function ioProps(a: AudioDef, io: AudioIo | undefined): Props | undefined {
  if (!io) return undefined;
  const p: Props = {};
  const put = (k: string, v: unknown) => {
    if (v !== undefined && v !== 0) p[k] = v;
  };
  if (io.mixingEngine !== undefined) p['mixing-engine'] = io.mixingEngine;
  if (io.fixedSettings !== undefined) p['fixed-settings'] = io.fixedSettings;
  put('voices', io.voices);
  put('buffer-length', io.bufferLength);
  // The stream format is only fixed (and only then given) with fixedSettings.
  if (io.fixedSettings === true) {
    put('frequency', io.settings?.frequency);
    put('channels', io.settings?.channels);
    put('format', io.settings?.format);
  }
  switch (a.type) {
    case 'alsa':
      put('dev', io.dev);
      break;
    case 'coreaudio':
    case 'sdl':
      put('buffer-count', io.bufferCount);
      break;
    case 'jack':
      put('server-name', io.serverName);
      put('client-name', io.clientName);
      put('connect-ports', io.connectPorts);
      put('exact-name', io.exactName);
      break;
    case 'oss':
      put('dev', io.dev);
      put('buffer-count', io.bufferCount);
      put('try-poll', io.tryPoll);
      break;
    case 'pulseaudio':
    case 'pipewire':
      put('name', io.name);
      put('stream-name', io.streamName);
      put('latency', io.latency);
      break;
  }
  return Object.keys(p).length > 0 ? p : undefined;
}

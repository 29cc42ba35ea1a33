/**
 * `<sound>`: one `-device` per sound card, the HDA codecs behind an
 * intel-hda controller, and the PC speaker, which QEMU takes as a machine
 * property (`pcspk-audiodev`) rather than a device.
 *
 * @module
 */
import type { SoundDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps, virtioOptions } from './device-props.js';
import type { UsbAddrFn } from './usb-addresses.js';

const DRIVERS: Record<string, string> = {
  es1370: 'ES1370',
  ac97: 'AC97',
  ich6: 'intel-hda',
  ich9: 'ich9-intel-hda',
  usb: 'usb-audio',
  sb16: 'sb16',
  virtio: 'virtio-sound-pci',
};

const CODECS: Record<string, string> = { duplex: 'hda-duplex', micro: 'hda-micro', output: 'hda-output' };

const hasCodecs = (s: SoundDef) => s.model === 'ich6' || s.model === 'ich9';

/** The audiodev a sound device plays through: its own `<audio id>`, else the first backend. */
function audioOf(def: DomainDef, s: SoundDef, field: string): string {
  const audios = def.devices?.audios ?? [];
  const id = s.audio?.id ?? audios[0]?.id;
  if (id === undefined || !audios.some((a) => a.id === id))
    throw new VirError(
      'XML_DETAIL',
      'qemu',
      `${field}: no <audio> backend${id === undefined ? '' : ` with id ${id}`}`,
      {
        field: s.audio ? `${field}/audio/@id` : field,
      },
    );
  return `audio${id}`;
}

/** `pcspk-audiodev=...` for the machine when the guest has a PC speaker. */
export function pcspkMachineOption(def: DomainDef): string | undefined {
  const sounds = def.devices?.sounds ?? [];
  const i = sounds.findIndex((s) => s.model === 'pcspk');
  if (i < 0) return undefined;
  return `pcspk-audiodev=${audioOf(def, sounds[i]!, `/domain/devices/sound[${i + 1}]`)}`;
}

export function buildSounds(b: ArgvBuilder, def: DomainDef, facts: MachineFacts, usbAddr: UsbAddrFn): void {
  for (const [i, s] of (def.devices?.sounds ?? []).entries()) {
    if (s.model === 'pcspk') continue;
    const field = `/domain/devices/sound[${i + 1}]`;
    const driver = DRIVERS[s.model];
    if (driver === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `sound model '${s.model}' is not supported`, {
        field: `${field}/@model`,
      });
    const id = `sound${i}`;
    const p: Props = { driver };
    const options = s.driver;
    if (options !== undefined && s.model !== 'virtio')
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `sound model '${s.model}' takes no virtio options`, {
        field: `${field}/driver`,
      });
    Object.assign(p, virtioOptions(options, field));
    p.id = id;
    if (!hasCodecs(s)) p.audiodev = audioOf(def, s, field);
    if (s.model === 'usb' && s.multichannel !== undefined) p.multi = s.multichannel;
    if (s.model === 'virtio' && s.streams !== undefined && s.streams > 0) p.streams = s.streams;
    if (s.address?.type === 'usb' || s.model === 'usb') Object.assign(p, usbAddr(s));
    else Object.assign(p, pciProps(s.address, facts));
    b.props('-device', p, field);
    if (!hasCodecs(s)) {
      if (s.codecs?.length)
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${field}: sound model '${s.model}' has no codecs`, {
          field: `${field}/codec`,
        });
      continue;
    }
    const audiodev = audioOf(def, s, field);
    // Without codecs listed, an HDA controller gets one duplex codec.
    const codecs = s.codecs?.length ? s.codecs : [{ type: 'duplex' }];
    for (const [cad, c] of codecs.entries()) {
      const codec = CODECS[c.type];
      if (codec === undefined)
        throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `sound codec '${c.type}' is not supported`, {
          field: `${field}/codec[${cad + 1}]/@type`,
        });
      b.props('-device', { driver: codec, id: `${id}-codec${cad}`, bus: `${id}.0`, cad, audiodev }, field);
    }
  }
}

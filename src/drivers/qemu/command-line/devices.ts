import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { ArgvBuilder } from './argv-builder.js';
import { buildAudios } from './audio.js';
import { buildChardevs } from './chardevs.js';
import { buildControllers } from './controllers.js';
import { bootIndexes, type Props, pciProps } from './device-props.js';
import { buildDisks } from './disks.js';
import { buildInputs, buildVideos } from './display.js';
import { checkValue } from './escape.js';
import { buildGraphics } from './graphics.js';
import { buildHostdevs } from './hostdevs.js';
import { buildMemoryDevices } from './memory-devices.js';
import { buildNets } from './net.js';
import { buildSounds } from './sound.js';
import type { CommandLinePaths } from './types.js';
import { UsbPorts } from './usb-ports.js';

export function buildDevices(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  paths: CommandLinePaths,
): void {
  const dev = def.devices ?? {};
  refuseUnsupported(def);
  const boot = bootIndexes(def);
  const usb = new UsbPorts(dev.controllers ?? []);
  for (const d of [...(dev.hubs ?? []), ...(dev.inputs ?? [])])
    if (d.address?.type === 'usb') usb.reserve(d.address.bus ?? 0, d.address.port ?? '');
  const usbAddr = (a: DeviceAddress | undefined): Props => {
    if (a?.type === 'usb') return { bus: `usb.${a.bus ?? 0}`, port: a.port };
    const next = usb.take();
    return next ? { bus: `usb.${next.bus}`, port: next.port } : {};
  };
  // Hubs take their USB ports first (their own ports serve the rest), then CCID controllers.
  const hubs = (dev.hubs ?? []).map((h) => {
    const where = usbAddr(h.address);
    if (typeof where.port === 'string') usb.addHub(Number(String(where.bus).slice(4)), where.port);
    return where;
  });
  buildControllers(b, dev.controllers ?? [], facts, usbAddr);
  for (const [i, where] of hubs.entries())
    b.props('-device', { driver: 'usb-hub', id: `hub${i}`, ...where }, `/domain/devices/hub[${i + 1}]`);
  buildMemoryDevices(b, def, paths, (a) => pciProps(a as DeviceAddress | undefined, facts));
  buildDisks(b, def, facts, boot);
  buildNets(b, def, facts, boot);
  buildChardevs(b, def, facts, paths);
  buildInputs(b, def, facts, usbAddr);
  buildAudios(b, dev.audios ?? [], paths, b.env);
  buildGraphics(b, def, paths);
  buildVideos(b, def, facts);
  buildSounds(b, def, facts, usbAddr);
  for (const w of dev.watchdogs ?? []) {
    // The iTCO watchdog is part of the ICH9 LPC, which by default must not reboot the guest.
    if (w.model === 'itco') b.add('-global', 'ICH9-LPC.noreboot=off');
    else if (w.model === 'i6300esb')
      b.props(
        '-device',
        { driver: 'i6300esb', id: 'watchdog0', ...pciProps(w.address, facts) },
        '/domain/devices/watchdog',
      );
    b.add('-watchdog-action', w.action === 'dump' ? 'pause' : (w.action ?? 'reset'));
  }
  buildHostdevs(b, def, facts, boot);
  const mb = dev.memballoon;
  if (mb && mb.model !== 'none') {
    const p: Props = { driver: 'virtio-balloon-pci', id: 'balloon0', ...pciProps(mb.address, facts) };
    if (mb.autodeflate !== undefined) p['deflate-on-oom'] = mb.autodeflate;
    if (mb.freePageReporting !== undefined) p['free-page-reporting'] = mb.freePageReporting;
    b.props('-device', p, '/domain/devices/memballoon');
  }
  for (const [i, r] of (dev.rngs ?? []).entries()) {
    const field = `/domain/devices/rng[${i + 1}]`;
    const be = r.backend;
    if (be.model !== 'random' && be.model !== 'builtin') {
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `rng backend '${be.model}' is not supported`, {
        field: `${field}/backend/@model`,
      });
    }
    const obj: Props =
      be.model === 'random'
        ? {
            'qom-type': 'rng-random',
            id: `objrng${i}`,
            filename: checkValue(be.path ?? '/dev/urandom', `${field}/backend`),
          }
        : { 'qom-type': 'rng-builtin', id: `objrng${i}` };
    b.props('-object', obj, field);
    const p: Props = { driver: 'virtio-rng-pci', rng: `objrng${i}`, id: `rng${i}` };
    if (r.rate) {
      p['max-bytes'] = r.rate.bytes;
      p.period = r.rate.period ?? 1000;
    }
    b.props('-device', { ...p, ...pciProps(r.address, facts) }, field);
  }
}

/**
 * Device kinds the builder does not turn into QEMU options yet. A guest
 * asking for one is refused, naming it, rather than started without it.
 */
function refuseUnsupported(def: DomainDef): void {
  const dev = def.devices ?? {};
  const refuse = (field: string, what: string) => {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${what} is not supported by virtkit's QEMU driver yet`,
      {
        field,
      },
    );
  };
  const lists: Array<[string, unknown[] | undefined]> = [
    ['filesystem', dev.filesystems],
    ['redirdev', dev.redirdevs],
    ['tpm', dev.tpms],
    ['shmem', dev.shmems],
    ['panic', dev.panics],
  ];
  for (const [name, list] of lists) if (list?.length) refuse(`/domain/devices/${name}[1]`, `<${name}>`);
  if (dev.vsock) refuse('/domain/devices/vsock', '<vsock>');
  if (dev.iommu) refuse('/domain/devices/iommu', '<iommu>');
  for (const [i, w] of (dev.watchdogs ?? []).entries())
    if (w.model !== 'itco' && w.model !== 'i6300esb')
      refuse(`/domain/devices/watchdog[${i + 1}]/@model`, `watchdog model '${w.model}'`);
}

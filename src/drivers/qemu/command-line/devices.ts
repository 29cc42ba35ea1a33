import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { ChardevDef, RngDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { QemuCaps } from '../probe/qemu-caps.js';
import type { ArgvBuilder } from './argv-builder.js';
import { buildAudios } from './audio.js';
import { buildChardev } from './chardev-backend.js';
import { buildChardevs } from './chardevs.js';
import { buildCcidControllers, buildControllers } from './controllers.js';
import { bootIndexes, type Props, pciProps, rawElement, virtioModel, virtioOptions } from './device-props.js';
import { buildDisks, diskNodeCount } from './disks.js';
import { buildInputs, buildVideos } from './display.js';
import { checkValue } from './escape.js';
import { buildFilesystems } from './filesystems.js';
import { buildGraphics } from './graphics.js';
import { buildHostdevs } from './hostdevs.js';
import { buildMemoryDevices } from './memory-devices.js';
import { buildIommu, buildWatchdogs } from './misc-devices.js';
import { buildNets } from './net.js';
import { buildRedirdevs } from './redirdevs.js';
import { buildSounds } from './sound.js';
import { buildTpms } from './tpm.js';
import type { CommandLinePaths } from './types.js';
import { UsbAddresses, type UsbAddrFn } from './usb-addresses.js';

export function buildDevices(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  paths: CommandLinePaths,
  caps?: QemuCaps,
): void {
  const dev = def.devices ?? {};
  refuseUnsupported(def);
  const boot = bootIndexes(def);
  buildIommu(b, def, facts);
  const usb = new UsbAddresses(def);
  const usbAddr: UsbAddrFn = (d) => usb.props(d);
  buildControllers(b, dev.controllers ?? [], facts, def);
  buildMemoryDevices(b, def, paths, (a) => pciProps(a as DeviceAddress | undefined, facts));
  for (const [i, h] of usb.hubs.entries())
    b.props('-device', { driver: 'usb-hub', id: `hub${i}`, ...usbAddr(h) }, `/domain/devices/hub[${i + 1}]`);
  buildCcidControllers(b, dev.controllers ?? [], usbAddr);
  buildDisks(b, def, facts, boot, usbAddr, paths);
  buildFilesystems(b, def, facts, paths, usbAddr);
  buildNets(b, def, facts, boot, paths.netHost, usbAddr, paths);
  buildChardevs(b, def, facts, paths, usbAddr);
  buildTpms(b, def, paths);
  buildInputs(b, def, facts, usbAddr);
  buildAudios(b, dev.audios ?? [], paths, b.env);
  buildGraphics(b, def, paths);
  buildVideos(b, def, facts, paths);
  buildSounds(b, def, facts, usbAddr);
  buildWatchdogs(b, def, facts);
  buildRedirdevs(b, def, boot, paths, usbAddr, caps);
  buildHostdevs(b, def, facts, boot, usbAddr, { ...paths, firstNode: diskNodeCount(def) + 1 }, paths.netHost);
  // An incoming migration's address comes between the host devices and the balloon, where libvirt puts it.
  if (paths.incoming !== undefined) b.add('-incoming', checkValue(paths.incoming, 'paths.incoming'));
  const mb = dev.memballoon;
  if (mb && mb.model !== 'none') {
    const field = '/domain/devices/memballoon';
    const p: Props = {
      driver: virtioModel('virtio-balloon-pci', mb.model),
      ...virtioOptions(rawElement(mb, 'driver'), field),
    };
    p.id = 'balloon0';
    if (mb.autodeflate !== undefined) p['deflate-on-oom'] = mb.autodeflate;
    if (mb.freePageReporting !== undefined) p['free-page-reporting'] = mb.freePageReporting;
    Object.assign(p, pciProps(mb.address, facts));
    b.props('-device', p, '/domain/devices/memballoon');
    // the guest-side statistics period is a property of the running device, set before the guest
    // runs as libvirt does (it is not a -device option)
    if (mb.stats !== undefined && mb.stats.period > 0)
      b.monitorCommands.push({
        execute: 'qom-set',
        arguments: {
          path: '/machine/peripheral/balloon0',
          property: 'guest-stats-polling-interval',
          value: mb.stats.period,
        },
      });
  }
  for (const [i, r] of (dev.rngs ?? []).entries())
    buildRng(b, r, i, facts, paths, `/domain/devices/rng[${i + 1}]`);
}

/**
 * One `<rng>`: its backend object (`objrngN`, with the `charrngN` chardev of
 * an EGD backend) and the virtio-rng device `rngN`. `n` numbers the ids: the
 * device's place at start, a free number when it is plugged in live.
 */
export function buildRng(
  b: ArgvBuilder,
  r: RngDef,
  n: number,
  facts: MachineFacts,
  paths: CommandLinePaths,
  field: string,
): void {
  const be = r.backend;
  let obj: Props;
  if (be.model === 'random')
    obj = {
      'qom-type': 'rng-random',
      id: `objrng${n}`,
      filename: checkValue(be.path ?? '/dev/random', `${field}/backend`),
    };
  else if (be.model === 'egd') {
    // The EGD daemon is reached through a character backend of its own.
    if (!be.type)
      throw new VirError('XML_DETAIL', 'qemu', 'an egd rng backend needs a type', {
        field: `${field}/backend/@type`,
      });
    const backend = { type: be.type, sources: be.sources, protocol: be.protocol } as ChardevDef;
    buildChardev(
      { b, paths, qemuVersion: b.qemuVersion },
      backend,
      `charrng${n}`,
      `rng${n}`,
      `${field}/backend`,
    );
    obj = { 'qom-type': 'rng-egd', id: `objrng${n}`, chardev: `charrng${n}` };
  } else obj = { 'qom-type': 'rng-builtin', id: `objrng${n}` };
  b.props('-object', obj, field);
  const p: Props = {
    driver: virtioModel('virtio-rng-pci', r.model),
    ...virtioOptions(rawElement(r, 'driver'), field),
    rng: `objrng${n}`,
    id: `rng${n}`,
  };
  if (r.rate) {
    p['max-bytes'] = r.rate.bytes;
    p.period = r.rate.period ?? 1000;
  }
  b.props('-device', { ...p, ...pciProps(r.address, facts) }, field);
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
  const lists: Array<[string, unknown[] | undefined]> = [['shmem', dev.shmems]];
  for (const [name, list] of lists) if (list?.length) refuse(`/domain/devices/${name}[1]`, `<${name}>`);
}

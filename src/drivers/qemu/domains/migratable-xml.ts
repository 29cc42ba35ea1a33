/**
 * `getXML({ migratable: true })`: libvirt's migratable XML of a QEMU guest
 * (`VIR_DOMAIN_XML_MIGRATABLE`, `virsh dumpxml --migratable`), the document
 * another libvirt, even an old one, can define or boot.
 *
 * A running guest's is its live definition without what this run chose for
 * itself (`migratableLive`: the automatic websocket port, the sockets
 * made up for virtio channels, their ports' states), formatted without the
 * runtime values (id, aliases, pty paths, automatic ports, backing chain
 * indexes), with the CPU the definition asked for rather than the one QEMU
 * reported (libvirt's `origCPU`; {@link carriedLive}). On top of that, what libvirt versions
 * older than these elements add by themselves is left out:
 * - the default USB controller of an i440fx machine (index 0, no model or
 *   `piix3-uhci`, no user alias), when it is the only USB controller;
 * - the pci-root, when it is the only PCI controller (and has no
 *   `pcihole64` or user alias);
 * - an s390 or pSeries panic device (the first);
 * - the default audio backend, when it is the only `<audio>`;
 * - the PS/2 and Xen keyboards (every driver's formatter, see
 *   `FormatDomainOptions.migratable`).
 * A serial port whose target type is `spapr-vio-serial` or `system` loses
 * its target type and model, which older versions did not write.
 * An `Icelake-Server` CPU disables `pconfig` explicitly: the model once had
 * it, and older libvirt would otherwise think it enabled.
 *
 * @module
 */
import { CpuDef } from '../../../conf/cpu.js';
import { DomainDef } from '../../../conf/domain/index.js';
import type { GetXmlOptions } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { isI440fx } from '../../../machine/machine-types.js';
import { userAliasOf } from '../command-line/device-props.js';
import { defaultAudio } from '../defaults/audio.js';
import { driverConfig } from '../driver-config.js';
import { forgetChannelSockets } from './channel-sockets.js';
import { cloneDef, type Entry, isActive } from './domain-entry.js';
import { carriedLive } from './migratable-live.js';

/** The migratable XML of `e`: its running guest's unless `inactive` asks for the persistent definition. */
export function migratableXml(e: Entry, opts: GetXmlOptions): string {
  const def = migratableBase(e, opts);
  leaveOutDefaults(def);
  return def.toXML({ inactive: true, migratable: true, hideSecrets: !opts.secure });
}

function migratableBase(e: Entry, opts: GetXmlOptions): DomainDef {
  const wantsLive = !(opts.inactive && e.config);
  if (e.foreign && wantsLive) {
    const { status } = e.foreign;
    const def = DomainDef.fromXML(status.guest.domainXml);
    // the run directory holds the monitor socket (see runner-command.ts)
    forgetChannelSockets(def, status.monitorPath.slice(0, status.monitorPath.lastIndexOf('/')));
    const facts = status.guest.driverData as { origCpu?: unknown } | undefined;
    if (typeof facts?.origCpu === 'string') def.cpu = CpuDef.fromXML(facts.origCpu);
    return def;
  }
  if (e.runner && e.live && isActive(e) && wantsLive) {
    // the form another run starts from, with the asked-for CPU (what a save image's XML has)
    const carried = carriedLive(e);
    if (carried) return carried.def;
  }
  const def = e.config ?? e.live;
  if (!def) throw new VirError('INTERNAL_ERROR', 'qemu', `domain '${e.name}' has no definition`);
  return cloneDef(def);
}

/** What older libvirt versions add to a definition themselves, taken out of `def` (a copy). */
function leaveOutDefaults(def: DomainDef): void {
  const dev = def.devices;
  if (!dev) return;
  const controllers = dev.controllers ?? [];
  const only = (type: string) => {
    const of = controllers.filter((c) => c.type === type);
    return of.length === 1 ? of[0] : undefined;
  };
  const usb = only('usb');
  const i440fx = isI440fx(def.os?.type.machine ?? '');
  const dropUsb =
    usb !== undefined &&
    i440fx &&
    usb.index === 0 &&
    (usb.model === undefined || usb.model === 'piix3-uhci') &&
    userAliasOf(usb) === undefined;
  const pci = only('pci');
  const dropPci =
    pci !== undefined &&
    pci.index === 0 &&
    pci.model === 'pci-root' &&
    userAliasOf(pci) === undefined &&
    pci.pcihole64 === undefined;
  if (dropUsb || dropPci)
    dev.controllers = controllers.filter((c) => !((dropUsb && c === usb) || (dropPci && c === pci)));
  const panic = (dev.panics ?? []).findIndex((p) => p.model === 's390' || p.model === 'pseries');
  if (panic >= 0) dev.panics?.splice(panic, 1);
  for (const s of dev.serials ?? [])
    if (s.target && (s.target.type === 'spapr-vio-serial' || s.target.type === 'system')) {
      delete s.target.type;
      delete s.target.model;
    }
  const audios = dev.audios ?? [];
  const added = audios.length === 1 ? defaultAudio(dev, driverConfig(undefined), {}) : undefined;
  if (added && sameAudio(audios[0], added)) delete dev.audios;
  const cpu = def.cpu;
  if (cpu && (cpu.mode ?? 'custom') === 'custom' && cpu.model?.name === 'Icelake-Server') {
    const features = (cpu.features ?? []).filter((f) => f.name !== 'pconfig');
    cpu.features = [...features, { policy: 'disable', name: 'pconfig' }];
  }
}

/** libvirt compares the whole `<audio>`: one with any setting of its own is the user's. */
function sameAudio(a: object | undefined, b: object): boolean {
  return a !== undefined && JSON.stringify(sorted(a)) === JSON.stringify(sorted(b));
}

function sorted(v: object): object {
  return Object.fromEntries(Object.entries(v).sort(([x], [y]) => x.localeCompare(y)));
}

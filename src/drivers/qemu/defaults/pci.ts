/**
 * PCI address assignment at define time. Devices without an address get
 * one in libvirt's order (PCI controllers, filesystems, NICs, sound, other
 * controllers, virtio disks, host devices, balloon, RNG, watchdog, video,
 * shared memory, virtio input, PCI serial ports, memory devices), and on a
 * PCIe machine each endpoint gets its own hot-pluggable root port, with one
 * spare port left free for a later hotplug.
 *
 * @module
 */
import type { DeviceAddress, PciAddress } from '../../../conf/domain/address.js';
import type { ControllerDef, Devices } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import {
  integratedPciFunction,
  machineReservedPci,
  PciAddressBook,
  type PciSlot,
} from '../../../machine/pci-layout.js';
import { completePciController, insertController } from './devices.js';
import { addPciBridges, firstDeviceSlot } from './pci-bridges.js';
import {
  isConventionalPci,
  isUsb2Set,
  joinUsb2Set,
  type PciKind,
  placeQ35Chipset,
  startUsb2Set,
} from './pci-chipset.js';
import { completePartialAddresses, markMultifunction, takeRootPortFunction } from './pci-functions.js';

interface Addressable {
  address?: DeviceAddress;
}

type Placement = 'root-bus' | 'endpoint' | 'conventional' | 'upstream' | 'downstream' | 'root-port';

interface Want {
  dev: Addressable;
  placement: Placement;
}

const NOT_PCI_SOUND = new Set(['sb16', 'pcspk', 'usb']);
const NOT_PCI_NIC = new Set(['virtio-mmio', 'usb-net', 'spapr-vlan', 'smc91c111', 'lan9118']);

function wantsPci(d: Addressable): boolean {
  return d.address === undefined;
}

function toPci(a: PciSlot, multifunction?: boolean): PciAddress {
  const out: PciAddress = { type: 'pci', domain: 0, bus: a.bus, slot: a.slot, function: a.function };
  if (multifunction) out.multifunction = true;
  return out;
}

function pciOf(d: Addressable): PciAddress | undefined {
  return d.address?.type === 'pci' ? d.address : undefined;
}

/** Every device of the definition that can sit on PCI, in libvirt's assignment order. */
function orderedDevices(dev: Devices, pcie: boolean): Want[] {
  const out: Want[] = [];
  // On a PCIe machine a conventional PCI device needs a PCI bridge; a PCIe one a root port.
  const endpoint = (d: Addressable, k?: PciKind) =>
    out.push({
      dev: d,
      placement: !pcie ? 'root-bus' : k && isConventionalPci(k) ? 'conventional' : 'endpoint',
    });
  for (const c of dev.controllers ?? []) {
    if (c.type !== 'pci' || c.model === 'pci-root' || c.model === 'pcie-root') continue;
    const p: Placement =
      c.model === 'pcie-root-port'
        ? 'root-port'
        : c.model === 'pcie-switch-upstream-port'
          ? 'upstream'
          : c.model === 'pcie-switch-downstream-port'
            ? 'downstream'
            : pcie && c.model === 'dmi-to-pci-bridge'
              ? 'root-bus'
              : pcie
                ? 'endpoint'
                : 'root-bus';
    out.push({ dev: c, placement: p });
  }
  // 9p and virtiofs are virtio PCI devices; MTP sits on USB (and the image drivers have no device).
  for (const f of dev.filesystems ?? [])
    if (!['mtp', 'loop', 'nbd', 'ploop'].includes(f.driver?.type ?? ''))
      endpoint(f, { kind: 'other', model: f.model });
  for (const n of dev.interfaces ?? []) {
    if (n.type === 'hostdev' || NOT_PCI_NIC.has(n.model?.type ?? '')) continue;
    endpoint(n, { kind: 'nic', model: n.model?.type });
  }
  for (const s of dev.sounds ?? [])
    if (!NOT_PCI_SOUND.has(s.model)) endpoint(s, { kind: 'sound', model: s.model });
  for (const c of dev.controllers ?? []) {
    if (c.type === 'pci' || c.type === 'fdc' || c.type === 'ccid' || c.type === 'isa') continue;
    if (c.type === 'usb' && c.model === 'none') continue;
    endpoint(c, { kind: 'controller', c });
  }
  for (const d of dev.disks ?? [])
    if (d.target.bus === 'virtio') endpoint(d, { kind: 'other', model: d.model });
  // A type='hostdev' NIC is a PCI host device, addressed with the other host devices.
  for (const n of dev.interfaces ?? []) if (n.type === 'hostdev') endpoint(n);
  // PCI host devices, vGPUs shown as vfio-pci, and vhost-scsi (scsi_host) sit on the PCI bus
  for (const h of dev.hostdevs ?? [])
    if (
      h.mode === 'subsystem' &&
      (h.type === 'pci' || h.type === 'scsi_host' || (h.type === 'mdev' && h.model === 'vfio-pci'))
    )
      endpoint(h, h.type === 'scsi_host' ? { kind: 'other', model: h.model } : undefined);
  if (dev.memballoon && dev.memballoon.model !== 'none' && dev.memballoon.model !== 'xen')
    endpoint(dev.memballoon, { kind: 'other', model: dev.memballoon.model });
  for (const r of dev.rngs ?? [])
    if (r.model.startsWith('virtio')) endpoint(r, { kind: 'other', model: r.model });
  for (const w of dev.watchdogs ?? [])
    if (w.model === 'i6300esb') endpoint(w, { kind: 'watchdog', model: w.model });
  // ramfb is a platform device (fw_cfg), not PCI.
  for (const v of dev.videos ?? [])
    if (v.model?.type !== 'none' && v.model?.type !== 'ramfb')
      endpoint(v, { kind: 'video', model: v.model?.type });
  for (const s of dev.shmems ?? []) endpoint(s, { kind: 'other', conventional: true });
  for (const i of dev.inputs ?? []) if (i.bus === 'virtio') endpoint(i);
  for (const s of dev.serials ?? [])
    if (s.target?.type === 'pci-serial') endpoint(s, { kind: 'other', conventional: true });
  // Integrated devices: always on bus 0, even on a PCIe root.
  const integrated = (d: Addressable) => out.push({ dev: d, placement: 'root-bus' });
  if (dev.iommu?.model === 'virtio') integrated(dev.iommu);
  if (dev.vsock) endpoint(dev.vsock, { kind: 'other', model: dev.vsock.model });
  for (const m of dev.memories ?? []) if (m.model === 'virtio-mem' || m.model === 'virtio-pmem') endpoint(m);
  for (const c of dev.cryptos ?? []) endpoint(c);
  for (const p of dev.panics ?? []) if (p.model === 'pvpanic') integrated(p);
  return out;
}

export function assignPciAddresses(def: DomainDef, facts: MachineFacts): void {
  if (facts.pciRoot === 'none') return;
  const dev = def.devices!;
  dev.controllers ??= [];
  const ctrls = dev.controllers;
  const pcie = facts.pciRoot === 'pcie-root';
  const book = new PciAddressBook();
  for (const r of machineReservedPci(facts.family)) book.reserve(r);

  const all = orderedDevices(dev, pcie);
  completePartialAddresses(all.map((w) => w.dev));
  for (const w of all) {
    const a = pciOf(w.dev);
    if (a) book.reserve({ bus: a.bus ?? 0, slot: a.slot ?? 0, function: a.function ?? 0 });
  }

  // Integrated functions first: IDE/USB of the PIIX3, SATA of the ICH9, the primary video.
  const place = (d: Addressable | undefined, where: PciSlot | undefined) => {
    if (!d || !where || !wantsPci(d)) return;
    d.address = toPci(where);
    book.reserve(where);
  };
  place(
    ctrls.find((c) => c.type === 'ide' && c.index === 0),
    integratedPciFunction(facts.family, 'ide0'),
  );
  place(
    ctrls.find((c) => c.type === 'usb' && c.index === 0 && c.model === 'piix3-uhci'),
    integratedPciFunction(facts.family, 'piix3-usb'),
  );
  place(
    ctrls.find((c) => c.type === 'sata' && c.index === 0),
    integratedPciFunction(facts.family, 'sata0'),
  );
  if (facts.family === 'q35') placeQ35Chipset(ctrls, book);
  // USB2 companions whose set already has a slot take their function there.
  for (const c of ctrls) if (isUsb2Set(c) && wantsPci(c)) joinUsb2Set(c, ctrls, book);
  const primary = dev.videos?.[0];
  if (primary && primary.model?.type !== 'none' && primary.model?.type !== 'ramfb') {
    const where = integratedPciFunction(facts.family, 'primary-video');
    if (where && book.isFree(where)) place(primary, where);
  }
  // Real Q35 boards have their ICH9 HD audio at 00:1b: the first ICH9 sound device
  // without an address goes there when the slot is free, as libvirt places it.
  if (facts.family === 'q35' && book.slotFree(0, 0x1b))
    for (const s of dev.sounds ?? [])
      if (s.model === 'ich9' && wantsPci(s)) {
        place(s, { bus: 0, slot: 0x1b, function: 0 });
        break;
      }

  if (pcie) addRootPorts(def, all, book);
  else
    addPciBridges(
      ctrls,
      all.filter((w) => wantsPci(w.dev) && w.placement === 'root-bus').map((w) => w.dev),
      book,
      all.map((w) => w.dev.address),
    );

  // Root ports share slots of the root bus, eight functions to a slot.
  const rootPorts: ControllerDef[] = [];
  const pending = orderedDevices(dev, pcie);
  const occupied = new Set<number>();
  for (const w of pending) {
    const a = pciOf(w.dev);
    if (a && (a.bus ?? 0) !== 0) occupied.add(a.bus ?? 0);
  }
  const freePortBus = (kinds: string[]): number | undefined => {
    for (const c of [...ctrls].sort((x, y) => (x.index ?? 0) - (y.index ?? 0))) {
      if (c.type !== 'pci' || !kinds.includes(c.model ?? '')) continue;
      const idx = c.index ?? 0;
      if (!occupied.has(idx)) return idx;
    }
    return undefined;
  };

  for (const w of pending) {
    if (!wantsPci(w.dev)) continue;
    const ctrl = ctrls.find((c) => c === w.dev);
    if (ctrl && isUsb2Set(ctrl)) {
      if (joinUsb2Set(ctrl, ctrls, book)) continue;
      if (!pcie && startUsb2Set(ctrl, 0, book)) continue;
      // On PCIe the sets are conventional PCI: a hot-pluggable PCI bridge takes them.
      const bridge = pcie ? conventionalBus(ctrls, ['pci-bridge', 'pcie-to-pci-bridge']) : undefined;
      if (bridge !== undefined && startUsb2Set(ctrl, bridge, book)) continue;
    }
    if (pcie && ctrl?.model === 'pci-bridge') {
      // A pci-bridge on a PCIe machine hangs off the DMI-to-PCI bridge, from its slot 0.
      const dmi = conventionalBus(ctrls, ['dmi-to-pci-bridge']);
      const s = dmi === undefined ? undefined : book.takeSlot(dmi, 0);
      if (s) {
        w.dev.address = toPci(s);
        continue;
      }
    }
    switch (w.placement) {
      case 'root-port': {
        const a = takeRootPortFunction(book, ctrls);
        if (!a) continue;
        w.dev.address = toPci(a);
        rootPorts.push(w.dev as ControllerDef);
        break;
      }
      case 'root-bus': {
        const s = book.takeSlot(0, 1) ?? takeOnBridge(book, ctrls);
        if (s) w.dev.address = toPci(s);
        break;
      }
      case 'conventional': {
        const bus = ctrls
          .filter((c) => c.type === 'pci' && (c.model === 'pci-bridge' || c.model === 'pcie-to-pci-bridge'))
          .map((c) => c.index ?? 0)
          .find((i) => [...Array(31).keys()].some((k) => book.slotFree(i, k + 1)));
        const s = bus === undefined ? undefined : book.takeSlot(bus, 1);
        if (s) {
          w.dev.address = toPci(s);
          break;
        }
        // No PCI bridge at all (none could be added): a root port, as for a PCIe device.
        const port = freePortBus(['pcie-root-port', 'pcie-switch-downstream-port']);
        if (port === undefined) break;
        occupied.add(port);
        const a = { bus: port, slot: 0, function: 0 };
        book.reserve(a);
        w.dev.address = toPci(a);
        break;
      }
      case 'upstream':
      case 'endpoint': {
        const bus = freePortBus(['pcie-root-port', 'pcie-switch-downstream-port']);
        if (bus === undefined) break;
        occupied.add(bus);
        const a = { bus, slot: 0, function: 0 };
        book.reserve(a);
        w.dev.address = toPci(a);
        break;
      }
      case 'downstream': {
        const up = ctrls.find((c) => c.type === 'pci' && c.model === 'pcie-switch-upstream-port');
        if (!up) break;
        const s = book.takeSlot(up.index ?? 0, 0);
        if (s) w.dev.address = toPci(s);
        break;
      }
    }
  }
  markMultifunction(orderedDevices(dev, pcie).map((w) => w.dev));
  for (const c of ctrls) {
    const a = pciOf(c);
    if (!a || !c.target) continue;
    if (c.model === 'pcie-root-port' || c.model === 'pcie-switch-downstream-port') {
      const port = c.model === 'pcie-root-port' ? ((a.slot ?? 0) << 3) | (a.function ?? 0) : (a.slot ?? 0);
      const attrs = c.target.attrs;
      if (!attrs.some((x) => x.name === 'port')) {
        const at = attrs.findIndex((x) => x.name === 'chassis');
        attrs.splice(at + 1, 0, { name: 'port', value: `0x${port.toString(16)}` });
      }
    }
  }
}

/** The bus index of the first PCI controller of one of `models`. */
function conventionalBus(ctrls: ControllerDef[], models: string[]): number | undefined {
  return ctrls.find((c) => c.type === 'pci' && models.includes(c.model ?? ''))?.index;
}

/**
 * A slot on another bus once the root bus is full: the buses of PCI
 * bridges and expander buses, in bus number order, as libvirt searches them.
 */
function takeOnBridge(book: PciAddressBook, ctrls: ControllerDef[]): PciSlot | undefined {
  for (const c of [...ctrls].sort((x, y) => (x.index ?? 0) - (y.index ?? 0))) {
    const first = firstDeviceSlot(c);
    if (first === undefined) continue;
    const s = book.takeSlot(c.index ?? 0, first);
    if (s) return s;
  }
  return undefined;
}

/**
 * Adds, in device order as libvirt grows its buses, the pcie-root-ports the
 * PCIe endpoints need and, for conventional PCI devices once no PCI bridge
 * has room, a pcie-root-port with a pcie-to-pci-bridge on it; then one
 * spare hot-pluggable port when anything was added.
 */
function addRootPorts(def: DomainDef, all: Want[], book: PciAddressBook): void {
  const ctrls = def.devices!.controllers!;
  const needsPort = (w: Want): boolean => {
    const c = ctrls.find((x) => x === w.dev);
    if (c?.model === 'pci-bridge') return conventionalBus(ctrls, ['dmi-to-pci-bridge']) === undefined;
    return true;
  };
  const portIdx = ctrls
    .filter(
      (c) => c.type === 'pci' && (c.model === 'pcie-root-port' || c.model === 'pcie-switch-downstream-port'),
    )
    .map((c) => c.index ?? 0);
  const occupied = new Set<number>();
  for (const w of all) {
    const a = pciOf(w.dev);
    if (a && (a.bus ?? 0) !== 0) occupied.add(a.bus ?? 0);
  }
  const free = portIdx.filter((i) => !occupied.has(i));
  const hotpluggable = (i: number) => {
    const c = ctrls.find((x) => x.type === 'pci' && x.index === i);
    return !c?.target?.attrs.some((a) => a.name === 'hotplug' && a.value === 'off');
  };
  let bridgeSlots = 0;
  for (const c of ctrls) {
    if (c.type !== 'pci' || (c.model !== 'pci-bridge' && c.model !== 'pcie-to-pci-bridge')) continue;
    for (let slot = 1; slot < 32; slot++) if (book.slotFree(c.index ?? 0, slot)) bridgeSlots++;
  }
  let next = Math.max(0, ...ctrls.filter((c) => c.type === 'pci').map((c) => c.index ?? 0)) + 1;
  const add = (model: string) => {
    const c: ControllerDef = { type: 'pci', index: next++, model };
    completePciController(c);
    insertController(ctrls, c);
  };
  let used = 0;
  let added = false;
  const usb2Sets = new Set<number>();
  for (const w of all) {
    if (!wantsPci(w.dev)) continue;
    if ((w.placement === 'endpoint' || w.placement === 'upstream') && needsPort(w)) {
      if (used < free.length) used++;
      else {
        add('pcie-root-port');
        added = true;
      }
    } else if (w.placement === 'conventional') {
      const c = ctrls.find((x) => x === w.dev);
      if (c && isUsb2Set(c)) {
        // A USB2 set takes one slot, and none when a member already has one.
        if (usb2Sets.has(c.index ?? 0)) continue;
        usb2Sets.add(c.index ?? 0);
        if (ctrls.some((o) => isUsb2Set(o) && o.index === c.index && o.address?.type === 'pci')) continue;
      }
      if (bridgeSlots > 0) bridgeSlots--;
      else {
        add('pcie-root-port');
        add('pcie-to-pci-bridge');
        bridgeSlots += 30;
        added = true;
      }
    }
  }
  // Once buses are being added anyway, one more port is left empty so a device can be hotplugged later.
  if (added && !free.slice(used).some(hotpluggable)) add('pcie-root-port');
}

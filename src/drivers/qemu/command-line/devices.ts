/**
 * The device part of the command line: controllers, disks (as `-blockdev`
 * node pairs plus a frontend `-device`), NICs, character devices, input,
 * audio, graphics, video, sound, watchdog and balloon, in libvirt's order.
 *
 * @module
 */
import { unknownContent } from '../../../conf/binding.js';
import type { DeviceAddress } from '../../../conf/domain/address.js';
import type { ChardevDef, ControllerDef, DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { diskNameIndex } from '../../../conf/domain/normalize.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { ArgvBuilder } from './argv-builder.js';
import { checkValue, optValue } from './escape.js';
import { buildMemoryDevices } from './memory-devices.js';
import type { CommandLinePaths } from './types.js';
import { UsbPorts } from './usb-ports.js';

type Props = Record<string, unknown>;

/** An attribute of a child element the model keeps only as unknown XML. */
function rawAttr(owner: object, child: string, name: string): string | undefined {
  for (const n of unknownContent(owner)?.nodes ?? []) {
    const el = n.node;
    if (el.type === 'element' && el.name === child) return el.attrs.find((a) => a.name === name)?.value;
  }
  return undefined;
}

/** Bus name QEMU gives a PCI controller index. */
function pciBusName(index: number, facts: MachineFacts): string {
  if (index === 0) return facts.pciRoot === 'pcie-root' ? 'pcie.0' : 'pci.0';
  return `pci.${index}`;
}

/** `bus`/`addr` (and multifunction) of a device with a PCI address. */
function pciProps(a: DeviceAddress | undefined, facts: MachineFacts): Props {
  if (a?.type !== 'pci') return {};
  const out: Props = { bus: pciBusName(a.bus ?? 0, facts) };
  if (a.multifunction !== undefined) out.multifunction = a.multifunction;
  const fn = a.function ?? 0;
  out.addr =
    fn === 0 ? `0x${(a.slot ?? 0).toString(16)}` : `0x${(a.slot ?? 0).toString(16)}.0x${fn.toString(16)}`;
  return out;
}

/** Which device each `<boot dev>` points at, as bootindex numbers. */
function bootIndexes(def: DomainDef): Map<object, number> {
  const out = new Map<object, number>();
  const dev = def.devices ?? {};
  let n = 0;
  for (const b of def.os?.boot ?? []) {
    let target: object | undefined;
    if (b.dev === 'hd')
      target = (dev.disks ?? []).find((d) => ['disk', 'lun'].includes(d.device ?? 'disk') && !out.has(d));
    else if (b.dev === 'cdrom') target = (dev.disks ?? []).find((d) => d.device === 'cdrom');
    else if (b.dev === 'fd') target = (dev.disks ?? []).find((d) => d.device === 'floppy');
    else if (b.dev === 'network') target = (dev.interfaces ?? [])[0];
    n++;
    if (target && !out.has(target)) out.set(target, n);
  }
  for (const list of [dev.disks, dev.interfaces, dev.hostdevs] as Array<
    Array<{ boot?: { order: number } }> | undefined
  >)
    for (const d of list ?? []) if (d.boot) out.set(d, d.boot.order);
  return out;
}

export function buildDevices(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  paths: CommandLinePaths,
): void {
  const dev = def.devices ?? {};
  refuseUnsupported(def);
  const boot = bootIndexes(def);
  buildControllers(b, dev.controllers ?? [], facts);
  const usb = new UsbPorts(dev.controllers ?? []);
  for (const d of [...(dev.hubs ?? []), ...(dev.inputs ?? [])])
    if (d.address?.type === 'usb') usb.reserve(d.address.bus ?? 0, d.address.port ?? '');
  const usbAddr = (a: DeviceAddress | undefined): Props => {
    if (a?.type === 'usb') return { bus: `usb.${a.bus ?? 0}`, port: a.port };
    const next = usb.take();
    return next ? { bus: `usb.${next.bus}`, port: next.port } : {};
  };
  for (const [i, h] of (dev.hubs ?? []).entries()) {
    const where = usbAddr(h.address);
    if (typeof where.port === 'string') usb.addHub(Number(String(where.bus).slice(4)), where.port);
    b.props('-device', { driver: 'usb-hub', id: `hub${i}`, ...where }, `/domain/devices/hub[${i + 1}]`);
  }
  buildMemoryDevices(b, def, paths, (a) => pciProps(a as DeviceAddress | undefined, facts));
  buildDisks(b, def, facts, boot);
  buildNets(b, def, facts, boot);
  buildChardevs(b, def);
  buildInputs(b, def, facts, usbAddr);
  const audioId = dev.audios?.[0]?.id;
  for (const a of dev.audios ?? [])
    b.props('-audiodev', { id: `audio${a.id ?? 1}`, driver: a.type }, '/domain/devices/audio');
  buildGraphics(b, def, paths, audioId);
  for (const g of dev.graphics ?? []) {
    if (g.type === 'egl-headless') {
      const gl = g as unknown as { gl?: { rendernode?: string } };
      const node = gl.gl?.rendernode ?? rawAttr(g, 'gl', 'rendernode') ?? paths.renderNode;
      b.add(
        '-display',
        node
          ? `egl-headless,rendernode=${optValue(node, '/domain/devices/graphics/gl/@rendernode')}`
          : 'egl-headless',
      );
    } else if (g.type === 'dbus' && paths.dbusSocket !== undefined)
      b.add('-display', `dbus,addr=unix:path=${optValue(paths.dbusSocket, 'paths.dbusSocket')}`);
  }
  buildVideos(b, def, facts);
  for (const [i, s] of (dev.sounds ?? []).entries()) {
    const driver =
      { ac97: 'AC97', es1370: 'ES1370', ich6: 'intel-hda', ich9: 'ich9-intel-hda' }[s.model] ?? s.model;
    b.props(
      '-device',
      {
        driver,
        id: `sound${i}`,
        ...(audioId !== undefined ? { audiodev: `audio${audioId}` } : {}),
        ...pciProps(s.address, facts),
      },
      `/domain/devices/sound[${i + 1}]`,
    );
  }
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

/** `0000:03:07.1` from a PCI `<address>` element kept as XML. */
/** A host PCI address as numbers (the typed `<hostdev>` source) or as raw XML (`<interface type='hostdev'>`). */
interface HostPci {
  domain?: number;
  bus?: number;
  slot?: number;
  function?: number;
}

function hostPciFromXml(el: XmlElement | undefined): HostPci | undefined {
  if (!el) return undefined;
  const n = (name: string) => Number.parseInt(el.attrs.find((a) => a.name === name)?.value ?? '0', 16);
  return { domain: n('domain'), bus: n('bus'), slot: n('slot'), function: n('function') };
}

function hostPciAddress(a: HostPci | undefined): string | undefined {
  if (!a) return undefined;
  const hex = (v: number | undefined, width: number) => (v ?? 0).toString(16).padStart(width, '0');
  return `${hex(a.domain, 4)}:${hex(a.bus, 2)}:${hex(a.slot, 2)}.${hex(a.function, 1)}`;
}

function buildHostdevs(b: ArgvBuilder, def: DomainDef, facts: MachineFacts, boot: Map<object, number>): void {
  const dev = def.devices ?? {};
  let n = 0;
  const emit = (
    owner: object,
    source: HostPci | undefined,
    address: DeviceAddress | undefined,
    field: string,
  ) => {
    const host = hostPciAddress(source);
    if (!host)
      throw new VirError('XML_DETAIL', 'qemu', 'PCI host device without a source address', { field });
    const p: Props = { driver: 'vfio-pci', host, id: `hostdev${n++}` };
    const idx = boot.get(owner);
    if (idx !== undefined) p.bootindex = idx;
    b.props('-device', { ...p, ...pciProps(address, facts) }, field);
  };
  for (const [i, iface] of (dev.interfaces ?? []).entries()) {
    if (iface.type !== 'hostdev') continue;
    const src = iface.source
      ? unknownContent(iface.source)?.nodes.find(
          (x) => x.node.type === 'element' && x.node.name === 'address',
        )?.node
      : undefined;
    emit(
      iface,
      hostPciFromXml(src?.type === 'element' ? src : undefined),
      iface.address,
      `/domain/devices/interface[${i + 1}]/source/address`,
    );
  }
  for (const [i, h] of (dev.hostdevs ?? []).entries()) {
    if (h.mode !== 'subsystem' || h.type !== 'pci') {
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `host device type '${h.type}' is not supported`, {
        field: `/domain/devices/hostdev[${i + 1}]/@type`,
      });
    }
    const addr = h.source?.address;
    emit(
      h,
      addr && !('type' in addr) && !('device' in addr) ? addr : undefined,
      h.address,
      `/domain/devices/hostdev[${i + 1}]/source/address`,
    );
  }
}

function buildControllers(b: ArgvBuilder, ctrls: ControllerDef[], facts: MachineFacts): void {
  // PCI controllers come first (buses must exist before what plugs into them), then the others.
  const pci = ctrls.filter((c) => c.type === 'pci' && c.model !== 'pci-root' && c.model !== 'pcie-root');
  for (const c of pci) {
    const idx = c.index ?? 0;
    const attr = (n: string) => c.target?.attrs.find((a) => a.name === n)?.value;
    const p: Props = { driver: c.modelName?.name ?? c.model };
    if (c.model === 'pci-bridge') p.chassis_nr = Number(attr('chassisNr') ?? idx);
    if (c.model === 'pcie-root-port' || c.model === 'pcie-switch-downstream-port') {
      p.port = Number(attr('port') ?? 0);
      p.chassis = Number(attr('chassis') ?? idx);
    }
    p.id = `pci.${idx}`;
    const hotplug = attr('hotplug');
    if (hotplug !== undefined) p.hotplug = hotplug === 'on';
    Object.assign(p, pciProps(c.address, facts));
    b.props('-device', p, `/domain/devices/controller[@index=${idx}]`);
  }
  const order = ['usb', 'scsi', 'sata', 'virtio-serial', 'ide', 'ccid'];
  for (const type of order)
    for (const c of ctrls) {
      if (c.type !== type) continue;
      const p = controllerProps(c, facts);
      if (p) b.props('-device', p, `/domain/devices/controller[@type='${c.type}']`);
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
    ['smartcard', dev.smartcards],
    ['redirdev', dev.redirdevs],
    ['tpm', dev.tpms],
    ['shmem', dev.shmems],
    ['panic', dev.panics],
  ];
  for (const [name, list] of lists) if (list?.length) refuse(`/domain/devices/${name}[1]`, `<${name}>`);
  if (dev.vsock) refuse('/domain/devices/vsock', '<vsock>');
  if (dev.iommu) refuse('/domain/devices/iommu', '<iommu>');
  for (const [i, g] of (dev.graphics ?? []).entries())
    if (!['vnc', 'spice', 'egl-headless', 'dbus'].includes(g.type))
      refuse(`/domain/devices/graphics[${i + 1}]/@type`, `graphics type '${g.type}'`);
  for (const [i, inp] of (dev.inputs ?? []).entries())
    if (inp.type === 'passthrough' || inp.type === 'evdev')
      refuse(`/domain/devices/input[${i + 1}]/@type`, `input type '${inp.type}'`);
  for (const [i, w] of (dev.watchdogs ?? []).entries())
    if (w.model !== 'itco' && w.model !== 'i6300esb')
      refuse(`/domain/devices/watchdog[${i + 1}]/@model`, `watchdog model '${w.model}'`);
}

const USB_DRIVERS: Record<string, string> = {
  'piix3-uhci': 'piix3-usb-uhci',
  'piix4-uhci': 'piix4-usb-uhci',
  ehci: 'usb-ehci',
  'ich9-ehci1': 'ich9-usb-ehci1',
  'ich9-uhci1': 'ich9-usb-uhci1',
  'ich9-uhci2': 'ich9-usb-uhci2',
  'ich9-uhci3': 'ich9-usb-uhci3',
  'nec-xhci': 'nec-usb-xhci',
  'qemu-xhci': 'qemu-xhci',
};

function controllerProps(c: ControllerDef, facts: MachineFacts): Props | undefined {
  const idx = c.index ?? 0;
  const addr = pciProps(c.address, facts);
  switch (c.type) {
    case 'usb': {
      if (c.model === 'none' || !c.model) return undefined;
      const driver = USB_DRIVERS[c.model] ?? c.model;
      const companion = /^ich9-uhci(\d)$/.exec(c.model);
      const id = idx === 0 ? 'usb' : `usb${idx}`;
      if (companion)
        return { driver, masterbus: `${id}.0`, firstport: (Number(companion[1]) - 1) * 2, ...addr };
      const p: Props = { driver, id };
      if (c.ports !== undefined) p.p2 = c.ports;
      return { ...p, ...addr };
    }
    case 'scsi': {
      const driver =
        {
          'virtio-scsi': 'virtio-scsi-pci',
          lsilogic: 'lsi',
          lsisas1068: 'mptsas1068',
          lsisas1078: 'megasas',
        }[c.model ?? 'lsilogic'] ?? c.model;
      return { driver, id: `scsi${idx}`, ...addr };
    }
    case 'sata':
      if (facts.family === 'q35' && idx === 0) return undefined;
      return { driver: 'ahci', id: `sata${idx}`, ...addr };
    case 'virtio-serial': {
      const p: Props = { driver: 'virtio-serial-pci', id: `virtio-serial${idx}` };
      if (c.ports !== undefined) p.max_ports = c.ports;
      if (c.vectors !== undefined) p.vectors = c.vectors;
      return { ...p, ...addr };
    }
    default:
      return undefined;
  }
}

function diskId(d: DiskDef): string {
  const bus = d.target.bus ?? 'ide';
  const a = d.address;
  if (a?.type === 'drive') {
    if (bus === 'scsi') return `scsi${a.controller ?? 0}-${a.bus ?? 0}-${a.target ?? 0}-${a.unit ?? 0}`;
    return `${bus}${a.controller ?? 0}-${a.bus ?? 0}-${a.unit ?? 0}`;
  }
  return `${bus === 'virtio' ? 'virtio' : bus}-disk${diskNameIndex(d.target.dev) ?? 0}`;
}

function buildDisks(b: ArgvBuilder, def: DomainDef, facts: MachineFacts, boot: Map<object, number>): void {
  const disks = def.devices?.disks ?? [];
  // Block node numbers: the last disk's image is 1, counting up towards the first disk, each
  // disk's chain numbered from its top image down.
  const first = new Map<DiskDef, number>();
  let next = 1;
  for (const d of [...disks].reverse()) {
    if (!hasMedia(d)) continue;
    first.set(d, next);
    next += chainLength(d);
  }
  const fdcBoot: Props = {};
  if (facts.family === 'q35' && disks.some((d) => d.target.bus === 'fdc')) {
    // q35 has no built-in floppy controller: it is an isa-fdc device, and the boot order sits on it.
    for (const d of disks) {
      const idx = boot.get(d);
      const unit = d.address?.type === 'drive' ? (d.address.unit ?? 0) : 0;
      if (d.target.bus === 'fdc' && idx !== undefined) fdcBoot[`bootindex${unit === 0 ? 'A' : 'B'}`] = idx;
    }
    b.props('-device', { driver: 'isa-fdc', ...fdcBoot }, '/domain/devices/controller[@type=fdc]');
  }
  for (const [i, d] of disks.entries()) {
    const field = `/domain/devices/disk[${i + 1}]`;
    let drive: string | undefined;
    if (hasMedia(d)) {
      drive = imageNodes(b, d, diskLayers(d, field), first.get(d) ?? 1, true);
      if (d.driver?.copyOnRead === true) {
        // Copy-on-read is a filter node stacked on the format node; the device reads through it.
        const cor = `libvirt-CoR-${optValue(d.target.dev, `${field}/target/@dev`)}`;
        b.props(
          '-blockdev',
          { driver: 'copy-on-read', 'node-name': cor, file: drive, discard: 'unmap' },
          field,
        );
        drive = cor;
      }
    }
    const bus = d.target.bus ?? 'ide';
    const a = d.address;
    const p: Props = {};
    const idx = boot.get(d);
    if (bus === 'ide' || bus === 'sata') {
      p.driver = d.device === 'cdrom' ? 'ide-cd' : 'ide-hd';
      if (a?.type === 'drive') {
        if (bus === 'ide') {
          p.bus = `ide.${a.bus ?? 0}`;
          p.unit = a.unit ?? 0;
        } else p.bus = `sata${a.controller ?? 0}.${a.unit ?? 0}`;
      }
    } else if (bus === 'virtio') {
      p.driver = 'virtio-blk-pci';
      Object.assign(p, pciProps(a, facts));
    } else if (bus === 'scsi') {
      p.driver = d.device === 'lun' ? 'scsi-block' : d.device === 'cdrom' ? 'scsi-cd' : 'scsi-hd';
      if (a?.type === 'drive') {
        p.bus = `scsi${a.controller ?? 0}.0`;
        p.channel = a.bus ?? 0;
        p['scsi-id'] = a.target ?? 0;
        p.lun = a.unit ?? 0;
      }
    } else if (bus === 'fdc') {
      p.driver = 'floppy';
      p.unit = a?.type === 'drive' ? (a.unit ?? 0) : 0;
    } else if (bus === 'usb') {
      p.driver = 'usb-storage';
    } else {
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `disk bus '${bus}' is not supported`, {
        field: `${field}/target/@bus`,
      });
    }
    if (drive) p.drive = drive;
    p.id = diskId(d);
    if (d.serial !== undefined) p.serial = checkValue(d.serial, `${field}/serial`);
    if (idx !== undefined && bus !== 'fdc') p.bootindex = idx;
    const wc = writeCache(d);
    if (wc !== undefined && bus !== 'fdc') p['write-cache'] = wc;
    b.props('-device', p, field);
  }
}

function hasMedia(d: DiskDef): boolean {
  const s = d.source;
  return s !== undefined && (s.file !== undefined || s.dev !== undefined);
}

/** Host page-cache use of a disk's nodes, from `<driver cache>`. */
function cacheProps(d: DiskDef): Props {
  const mode = d.driver?.cache;
  if (mode === undefined || mode === 'default') return {};
  const direct = mode === 'none' || mode === 'directsync';
  const noFlush = mode === 'unsafe';
  return { cache: { direct, 'no-flush': noFlush } };
}

/** Whether the guest sees a write cache (everything but writethrough/directsync). */
function writeCache(d: DiskDef): string | undefined {
  const mode = d.driver?.cache;
  if (mode === undefined || mode === 'default') return undefined;
  return mode === 'writethrough' || mode === 'directsync' ? 'off' : 'on';
}

/** One image of a disk's chain: the top from the disk itself, the rest from `<backingStore>`. */
interface ImageLayer {
  file?: string;
  dev?: string;
  format: string;
  /** Where the path came from, for errors. */
  field: string;
  backing?: ImageLayer;
  /** An explicit empty `<backingStore/>` below: the chain is known to end here. */
  chainEnds?: boolean;
}

/** `<backingStore>` elements (kept as XML by the model) as image layers, top first. */
function backingLayers(el: XmlElement | undefined, field: string): ImageLayer | undefined {
  if (!el) return undefined;
  const child = (e: XmlElement, name: string) =>
    e.children.find((c): c is XmlElement => c.type === 'element' && c.name === name);
  const source = child(el, 'source');
  if (!source) return undefined; // an empty <backingStore/> ends the chain
  const attr = (e: XmlElement | undefined, n: string) => e?.attrs.find((x) => x.name === n)?.value;
  const layer: ImageLayer = {
    format: attr(child(el, 'format'), 'type') ?? 'raw',
    field: `${field}/backingStore`,
  };
  const file = attr(source, 'file');
  const dev = attr(source, 'dev');
  if (file !== undefined) layer.file = file;
  else if (dev !== undefined) layer.dev = dev;
  else
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'only file and block backing images are supported', {
      field: `${field}/backingStore/source`,
    });
  const below = child(el, 'backingStore');
  const deeper = backingLayers(below, `${field}/backingStore`);
  if (deeper) layer.backing = deeper;
  else if (below) layer.chainEnds = true;
  return layer;
}

function diskLayers(d: DiskDef, field: string): ImageLayer {
  const top: ImageLayer = { format: d.driver?.type ?? 'raw', field };
  if (d.source?.file !== undefined) top.file = d.source.file;
  else top.dev = d.source?.dev ?? '';
  const backing = backingLayers(d.backingStore, field);
  if (backing) top.backing = backing;
  else if (d.backingStore) top.chainEnds = true;
  return top;
}

/** How many block nodes numbers a disk's chain uses. */
function chainLength(d: DiskDef): number {
  let n = 0;
  for (let l: ImageLayer | undefined = diskLayers(d, ''); l; l = l.backing) n++;
  return n;
}

/** Whether a host path is an optical drive QEMU should open as such. */
function isHostCdrom(path: string): boolean {
  return /^\/dev\/(cdrom\d*|sr\d+)$/.test(path);
}

/**
 * `-blockdev` nodes for one image and (first) everything below it: a
 * protocol node, and a format node unless the image is raw. Backing images
 * are always read-only. Returns the node name the layer above uses.
 */
function imageNodes(b: ArgvBuilder, d: DiskDef, layer: ImageLayer, n: number, top: boolean): string {
  const backing = layer.backing ? imageNodes(b, d, layer.backing, n + 1, false) : undefined;
  const storage = `libvirt-${n}-storage`;
  const readonly = !top || d.readonly === true || d.device === 'cdrom';
  const cache = top ? cacheProps(d) : {};
  const s: Props = {};
  if (layer.file !== undefined) {
    s.driver = 'file';
    s.filename = checkValue(layer.file, `${layer.field}/source/@file`);
  } else {
    const dev = checkValue(layer.dev ?? '', `${layer.field}/source/@dev`);
    s.driver = d.device === 'cdrom' && top && isHostCdrom(dev) ? 'host_cdrom' : 'host_device';
    s.filename = dev;
  }
  s['node-name'] = storage;
  if (layer.format === 'raw' && backing === undefined) {
    s['read-only'] = readonly;
    b.props('-blockdev', { ...s, ...cache }, layer.field);
    return storage;
  }
  b.props('-blockdev', { ...s, 'auto-read-only': true, discard: 'unmap', ...cache }, layer.field);
  const fmt = `libvirt-${n}-format`;
  const f: Props = { 'node-name': fmt, 'read-only': readonly, ...cache, driver: layer.format, file: storage };
  if (backing !== undefined) f.backing = backing;
  else if (layer.chainEnds) f.backing = null;
  b.props('-blockdev', f, layer.field);
  return fmt;
}

const NIC_DRIVERS: Record<string, string> = { virtio: 'virtio-net-pci', e1000: 'e1000', e1000e: 'e1000e' };

function buildNets(b: ArgvBuilder, def: DomainDef, facts: MachineFacts, boot: Map<object, number>): void {
  for (const [i, n] of (def.devices?.interfaces ?? []).entries()) {
    const field = `/domain/devices/interface[${i + 1}]`;
    if (n.type === 'hostdev') continue;
    const netdev: Props = { type: n.type };
    if (n.type === 'user') netdev.type = 'user';
    else if (n.type === 'server' || n.type === 'client' || n.type === 'mcast' || n.type === 'udp') {
      netdev.type = 'socket';
      const src = n.source;
      const where = `${src?.address ?? ''}:${src?.port ?? ''}`;
      netdev[n.type === 'server' ? 'listen' : n.type === 'client' ? 'connect' : n.type] = checkValue(
        where,
        `${field}/source`,
      );
    } else {
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `interface type '${n.type}' needs a host network setup virtkit does not do yet`,
        {
          field: `${field}/@type`,
        },
      );
    }
    netdev.id = `hostnet${i}`;
    b.props('-netdev', netdev, field);
    const model = n.model?.type ?? 'rtl8139';
    const p: Props = { driver: NIC_DRIVERS[model] ?? checkValue(model, `${field}/model/@type`) };
    const rss = rawAttr(n, 'driver', 'rss');
    if (rss !== undefined && model.startsWith('virtio')) p.rss = rss === 'on';
    const rssHash = rawAttr(n, 'driver', 'rss_hash_report');
    if (rssHash !== undefined && model.startsWith('virtio')) p.hash = rssHash === 'on';
    Object.assign(p, {
      netdev: `hostnet${i}`,
      id: `net${i}`,
      mac: n.mac?.address,
    });
    Object.assign(p, pciProps(n.address, facts));
    const idx = boot.get(n);
    if (idx !== undefined) p.bootindex = idx;
    b.props('-device', p, field);
  }
}

/** `-chardev` for a character backend; returns its id. */
function chardev(b: ArgvBuilder, c: ChardevDef, id: string, field: string): void {
  const src = c.sources?.[0];
  const items = [c.type === 'dev' ? 'serial' : c.type, `id=${id}`];
  switch (c.type) {
    case 'pty':
    case 'null':
    case 'vc':
    case 'stdio':
      break;
    case 'file':
    case 'pipe':
    case 'dev':
      items.push(`path=${optValue(src?.path ?? '', `${field}/source/@path`)}`);
      if (c.type === 'file' && src?.append !== undefined) items.push(`append=${src.append ? 'on' : 'off'}`);
      break;
    case 'unix':
      items.push(`path=${optValue(src?.path ?? '', `${field}/source/@path`)}`);
      if (src?.mode === 'bind') items.push('server=on', 'wait=off');
      break;
    case 'tcp':
      items.push(
        `host=${optValue(src?.host ?? '', `${field}/source/@host`)}`,
        `port=${optValue(src?.service ?? '', `${field}/source/@service`)}`,
      );
      if (src?.mode === 'bind') items.push('server=on', 'wait=off');
      if (c.protocol?.type === 'telnet') items.push('telnet=on');
      break;
    default:
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `character device type '${c.type}' is not supported`, {
        field: `${field}/@type`,
      });
  }
  if (c.log) {
    items.push(`logfile=${optValue(c.log.file, `${field}/log/@file`)}`);
    if (c.log.append !== undefined) items.push(`logappend=${c.log.append ? 'on' : 'off'}`);
  }
  b.add('-chardev', items.join(','));
}

function buildChardevs(b: ArgvBuilder, def: DomainDef): void {
  const dev = def.devices ?? {};
  for (const [i, s] of (dev.serials ?? []).entries()) {
    const field = `/domain/devices/serial[${i + 1}]`;
    chardev(b, s, `charserial${i}`, field);
    const model = s.target?.model?.name ?? 'isa-serial';
    b.props(
      '-device',
      { driver: model, chardev: `charserial${i}`, id: `serial${i}`, index: Number(s.target?.port ?? i) },
      field,
    );
  }
  for (const [i, p] of (dev.parallels ?? []).entries()) {
    const field = `/domain/devices/parallel[${i + 1}]`;
    if (p.type === 'dev') {
      const path = p.sources?.[0]?.path ?? '';
      b.add('-chardev', `parallel,id=charparallel${i},path=${optValue(path, `${field}/source/@path`)}`);
    } else chardev(b, p, `charparallel${i}`, field);
    b.props('-device', { driver: 'isa-parallel', chardev: `charparallel${i}`, id: `parallel${i}` }, field);
  }
  for (const [i, c] of (dev.channels ?? []).entries()) {
    const field = `/domain/devices/channel[${i + 1}]`;
    const id = `charchannel${i}`;
    if (c.target?.type === 'guestfwd') {
      chardev(b, c, id, field);
      const addr = `${c.target.address ?? ''}:${c.target.port ?? ''}`;
      b.props(
        '-netdev',
        {
          type: 'user',
          guestfwd: [{ str: `tcp:${checkValue(addr, `${field}/target`)}-chardev:${id}` }],
          id: `channel${i}`,
        },
        field,
      );
      continue;
    }
    chardev(b, c, id, field);
    const a = c.address?.type === 'virtio-serial' ? c.address : undefined;
    const p: Props = {
      driver: 'virtserialport',
      bus: `virtio-serial${a?.controller ?? 0}.${a?.bus ?? 0}`,
      nr: a?.port ?? 1,
      chardev: id,
      id: `channel${i}`,
    };
    if (c.target?.name !== undefined) p.name = checkValue(c.target.name, `${field}/target/@name`);
    b.props('-device', p, field);
  }
  for (const [i, c] of (dev.consoles ?? []).entries()) {
    if (c.target?.type === 'serial' || c.target?.type === undefined) continue;
    const field = `/domain/devices/console[${i + 1}]`;
    chardev(b, c, `charconsole${i}`, field);
    if (c.target.type === 'virtio') {
      const a = c.address?.type === 'virtio-serial' ? c.address : undefined;
      b.props(
        '-device',
        {
          driver: 'virtconsole',
          bus: `virtio-serial${a?.controller ?? 0}.${a?.bus ?? 0}`,
          nr: a?.port ?? 0,
          chardev: `charconsole${i}`,
          id: `console${i}`,
        },
        field,
      );
    }
  }
}

function buildInputs(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  usbAddr: (a: DeviceAddress | undefined) => Props,
): void {
  for (const [i, inp] of (def.devices?.inputs ?? []).entries()) {
    if (inp.bus === 'ps2') continue;
    const field = `/domain/devices/input[${i + 1}]`;
    let driver: string;
    if (inp.bus === 'usb')
      driver =
        ({ mouse: 'usb-mouse', tablet: 'usb-tablet', keyboard: 'usb-kbd' } as Record<string, string>)[
          inp.type
        ] ?? inp.type;
    else if (inp.bus === 'virtio') driver = `virtio-${inp.type === 'tablet' ? 'tablet' : inp.type}-pci`;
    else continue;
    const p: Props = { driver, id: `input${i}` };
    const a = inp.address;
    if (inp.bus === 'usb') Object.assign(p, usbAddr(a));
    else Object.assign(p, pciProps(a, facts));
    b.props('-device', p, field);
  }
}

function buildGraphics(
  b: ArgvBuilder,
  def: DomainDef,
  paths: CommandLinePaths,
  audioId: number | undefined,
): void {
  for (const [i, g] of (def.devices?.graphics ?? []).entries()) {
    const field = `/domain/devices/graphics[${i + 1}]`;
    const audio = audioId !== undefined ? `audiodev=audio${audioId}` : undefined;
    if (g.type === 'vnc') {
      const listen = g.listens?.[0];
      let where: string;
      if (listen?.type === 'socket') {
        const sock = listen.socket ?? `${paths.domainDir}/vnc.sock`;
        where = `vnc=unix:${optValue(sock, `${field}/listen/@socket`)}`;
      } else {
        const host = listen?.address ?? g.listen ?? '127.0.0.1';
        const port = g.port !== undefined && g.port >= 5900 ? g.port - 5900 : 0;
        where = `${optValue(host.includes(':') ? `[${host}]` : host, `${field}/listen/@address`)}:${port}`;
      }
      b.add('-vnc', [where, ...(audio ? [audio] : [])].join(','));
    } else if (g.type === 'spice') {
      const items = [`port=${g.port !== undefined && g.port > 0 ? g.port : 0}`];
      items.push('seamless-migration=on');
      b.add('-spice', items.join(','));
    }
  }
}

function buildVideos(b: ArgvBuilder, def: DomainDef, facts: MachineFacts): void {
  for (const [i, v] of (def.devices?.videos ?? []).entries()) {
    const m = v.model;
    if (!m || m.type === 'none') continue;
    const field = `/domain/devices/video[${i + 1}]`;
    const primary = i === 0;
    const p: Props = {};
    switch (m.type) {
      case 'cirrus':
        p.driver = 'cirrus-vga';
        p.id = `video${i}`;
        break;
      case 'vga':
        p.driver = 'VGA';
        p.id = `video${i}`;
        if (m.vram !== undefined) p.vgamem_mb = Math.floor(m.vram / 1024);
        break;
      case 'qxl':
        p.driver = primary ? 'qxl-vga' : 'qxl';
        p.id = `video${i}`;
        p.max_outputs = m.heads ?? 1;
        p.ram_size = (m.ram ?? 65536) * 1024;
        p.vram_size = (m.vram ?? 65536) * 1024;
        p.vram64_size_mb = Math.floor((m.vram64 ?? 0) / 1024);
        p.vgamem_mb = Math.floor((m.vgamem ?? 16384) / 1024);
        break;
      case 'bochs':
        p.driver = 'bochs-display';
        p.id = `video${i}`;
        if (m.vram !== undefined) p.vgamem = m.vram * 1024;
        break;
      case 'virtio':
        p.driver = primary ? 'virtio-vga' : 'virtio-gpu-pci';
        p.id = `video${i}`;
        p.max_outputs = m.heads ?? 1;
        break;
      default:
        p.driver = checkValue(m.type, `${field}/model/@type`);
        p.id = `video${i}`;
    }
    Object.assign(p, pciProps(v.address, facts));
    b.props('-device', p, field);
  }
}

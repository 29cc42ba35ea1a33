/**
 * Devices the QEMU driver adds or completes at define time: the USB
 * controller a machine comes with, the PCI root, SATA on q35, PS/2 input
 * on PC machines, an audio backend, the balloon, q35's built-in iTCO
 * watchdog, disk driver names and formats, controller models, chardev
 * targets, virtio-serial ports.
 *
 * @module
 */

import { setUnknownContent, unknownContent } from '../../../conf/binding.js';
import type {
  ChardevDef,
  ControllerDef,
  ControllerType,
  Devices,
  DiskDef,
  GraphicsDef,
} from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { addImplicitControllers, insertControllers } from '../../../conf/domain/implicit-controllers.js';
import { normalizeVideoModel } from '../../../conf/domain/normalize-devices.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { XmlElement, XmlNode } from '../../../xml/tree.js';
import { driverConfig, type QemuDriverConfig } from '../driver-config.js';
import { defaultAudio } from './audio.js';
import { assignExpanderBusNr } from './pci-expander.js';
import { assignVirtioSerialPorts } from './virtio-serial.js';

/** Adds one controller where libvirt's insertion puts it (see {@link insertControllers}). */
export function insertController(list: ControllerDef[], c: ControllerDef): void {
  insertControllers(list, [c]);
}

function hasController(dev: Devices, type: ControllerType, index: number): boolean {
  return (dev.controllers ?? []).some((c) => c.type === type && (c.index ?? 0) === index);
}

/** libvirt's default USB controller model for the machine family. */
export function defaultUsbModel(facts: MachineFacts): string | undefined {
  if (facts.family === 'q35') return 'qemu-xhci';
  if (facts.family === 'i440fx') return 'piix3-uhci';
  return undefined;
}

/** NIC models libvirt knows, by their canonical spelling (it matches them case-insensitively). */
const NIC_MODELS = [
  'virtio',
  'virtio-transitional',
  'virtio-non-transitional',
  'e1000',
  'e1000e',
  'igb',
  'rtl8139',
  'ne2k_pci',
  'pcnet',
  'vmxnet3',
  'netfront',
  'usb-net',
  'spapr-vlan',
  'lan9118',
  'smc91c111',
];

export interface DeviceDefaultsOptions {
  /** libvirt's per-driver state dir (`/var/lib/libvirt/qemu`): VNC sockets under `domain-*` there were generated. */
  libDir?: string;
  /** qemu.conf's settings (libvirt's defaults for what is not given). */
  config?: Partial<QemuDriverConfig>;
  /** The environment of the driver's process, where libvirt reads `QEMU_AUDIO_DRV` and `SDL_AUDIODRIVER`. */
  hostEnv?: Readonly<Record<string, string>>;
}

export function applyDeviceDefaults(
  def: DomainDef,
  facts: MachineFacts,
  options: DeviceDefaultsOptions = {},
): void {
  def.devices ??= {};
  const dev = def.devices;
  const x86pc = facts.family === 'q35' || facts.family === 'i440fx';
  dev.controllers ??= [];
  const ctrls = dev.controllers;

  // Implicit controllers, in the order libvirt adds them.
  // The machine's own USB controller gets the machine's model; one the user listed without a
  // model gets libvirt's generic pick below (piix3-uhci on x86, even on Q35).
  const machineUsb = defaultUsbModel(facts);
  if (x86pc && machineUsb && !ctrls.some((c) => c.type === 'usb'))
    insertController(ctrls, { type: 'usb', index: 0, model: machineUsb });
  if (facts.family === 'q35' && !hasController(dev, 'sata', 0))
    insertController(ctrls, { type: 'sata', index: 0 });
  if (facts.pciRoot !== 'none' && !hasController(dev, 'pci', 0))
    insertController(ctrls, { type: 'pci', index: 0, model: facts.pciRoot });
  // Then the controllers the devices imply, as libvirt's generic post-parse adds them after the driver's.
  addImplicitControllers(def);
  for (const c of ctrls) {
    if (c.type === 'usb' && c.model === undefined) {
      const m = x86pc ? 'piix3-uhci' : defaultUsbModel(facts);
      if (m) c.model = m;
    }
    if (c.type === 'pci' && c.index === 0 && c.model === undefined) c.model = facts.pciRoot;
    if (c.type === 'scsi' && c.model === undefined) c.model = 'lsilogic';
  }
  refuseNonRootPciZero(ctrls, facts);
  fillPciIndexGaps(ctrls, facts);

  // libvirt's default panic notifier on PC machines is the ISA pvpanic device.
  if (x86pc) for (const p of dev.panics ?? []) p.model ??= 'isa';
  applyTpmDefaults(def);
  for (const d of dev.disks ?? []) applyDiskDefaults(d);
  for (const n of dev.interfaces ?? []) {
    if (n.type === 'hostdev') continue;
    // vDPA and vhost-user are virtio data paths: no other model can sit on them.
    if (!n.model && (n.type === 'vdpa' || n.type === 'vhostuser')) n.model = { type: 'virtio' };
    if (!n.model && x86pc) n.model = { type: 'rtl8139' };
    const known = n.model && NIC_MODELS.find((m) => m === n.model?.type.toLowerCase());
    if (n.model && known) n.model.type = known;
  }
  // a vGPU's display stays off unless asked for, whatever QEMU's own default becomes
  for (const h of dev.hostdevs ?? []) if (h.type === 'mdev' && h.model === 'vfio-pci') h.display ??= false;
  for (const g of dev.graphics ?? []) applyGraphicsDefaults(g, options);
  applyChardevDefaults(def, facts);
  assignVirtioSerialPorts(dev);

  // The PC machines (isapc too) have an i8042 controller, and with it a PS/2 mouse and keyboard,
  // unless <ps2 state='off'/> takes it away.
  if ((x86pc || facts.family === 'isapc') && def.features?.ps2?.state !== false) {
    dev.inputs ??= [];
    const inputs = dev.inputs;
    const has = (type: string) => inputs.some((i) => i.type === type && i.bus === 'ps2');
    if (!has('mouse')) inputs.push({ type: 'mouse', bus: 'ps2' });
    if (!has('keyboard')) inputs.push({ type: 'keyboard', bus: 'ps2' });
  }
  for (const i of dev.inputs ?? []) {
    // evdev inputs have no guest bus; passthrough ones are virtio.
    if (i.type === 'evdev') continue;
    if (i.bus === undefined)
      i.bus = i.type === 'passthrough' ? 'virtio' : x86pc && i.type !== 'tablet' ? 'ps2' : 'usb';
  }

  if (!dev.audios?.length) {
    const audio = defaultAudio(dev, driverConfig(options.config), options.hostEnv ?? {});
    if (audio) dev.audios = [audio];
  }
  for (const [i, a] of (dev.audios ?? []).entries()) a.id ??= i + 1;
  // A virtio sound card has two streams (playback and capture) unless told otherwise.
  for (const s of dev.sounds ?? []) if (s.model === 'virtio') s.streams ??= 2;

  if (facts.family === 'q35' && !(dev.watchdogs ?? []).some((w) => w.model === 'itco')) {
    dev.watchdogs ??= [];
    // It takes the action of the watchdogs already there: QEMU has one for all.
    dev.watchdogs.push({ model: 'itco', action: dev.watchdogs[0]?.action ?? 'reset' });
  }
  for (const w of dev.watchdogs ?? []) w.action ??= 'reset';

  dev.memballoon ??= { model: 'virtio' };

  const displays = (dev.graphics ?? []).filter((g) => g.type !== 'dbus');
  if (displays.length > 0 && !dev.videos?.length && x86pc)
    dev.videos = [{ model: { type: 'cirrus', vram: 16384, heads: 1, primary: true } }];
  for (const [i, v] of (dev.videos ?? []).entries()) {
    if (v.model?.type !== undefined && v.model.type !== 'default') continue;
    // <video/> or model 'default': the QEMU driver's default model, with the sizes it implies.
    v.model = { ...v.model, type: defaultVideoModel(def, facts) };
    normalizeVideoModel(v.model);
    if (i === 0) v.model.primary = true;
  }
  movePrimaryVideoFirst(dev);
}

/**
 * libvirt's default video model: VGA on ppc64, virtio on the virt-style
 * machines and s390, else Cirrus (every x86 QEMU build has cirrus-vga).
 */
function defaultVideoModel(def: DomainDef, facts: MachineFacts): string {
  const arch = def.os?.type.arch ?? 'x86_64';
  if (arch.startsWith('ppc64')) return 'vga';
  if (
    facts.family === 'virt' ||
    arch.startsWith('riscv') ||
    arch.startsWith('s390') ||
    arch.startsWith('loongarch')
  )
    return 'virtio';
  return 'cirrus';
}

/**
 * The video marked primary goes first. The generic parse marks the first
 * video primary, so a second one marked too is the one the user chose.
 */
function movePrimaryVideoFirst(dev: Devices): void {
  const videos = dev.videos ?? [];
  const chosen = videos.findIndex((v, i) => i > 0 && v.model?.primary === true);
  if (chosen < 0) return;
  const [primary] = videos.splice(chosen, 1);
  for (const v of videos) if (v.model) delete v.model.primary;
  if (primary) videos.unshift(primary);
}

function applyGraphicsDefaults(g: GraphicsDef, options: DeviceDefaultsOptions): void {
  const first = g.listens?.[0];
  if (g.type === 'vnc') {
    if (g.socket === '') delete g.socket;
    // A socket under another run's private dir was generated for that run: listen anew.
    const generated =
      options.libDir !== undefined &&
      first?.type === 'socket' &&
      first.socket?.startsWith(`${options.libDir}/domain-`);
    if (generated) {
      delete g.socket;
      g.listens = [{ type: 'address' }];
      g.autoport = true;
      g.port = -1;
    }
  }
  if (g.type === 'spice' && g.autoport !== true && (g.port ?? 0) === 0 && (g.tlsPort ?? 0) === 0) {
    // No port to listen on at all: spice then has no network listener.
    if (first?.type === 'address' || first === undefined) g.listens = [{ type: 'none' }];
    delete g.autoport;
  }
}

function applyDiskDefaults(d: DiskDef): void {
  defaultEncryptionEngines(d);
  if (d.driver?.cache === 'default') delete d.driver.cache;
  // Every disk, an empty CD-ROM too, gets QEMU's driver and (but a volume) raw, as in libvirt.
  d.driver ??= {};
  d.driver.name ??= 'qemu';
  // A storage volume's format comes from its pool, so it has no default here.
  if (d.driver.type === undefined && d.type !== 'volume') d.driver.type = 'raw';
  // libvirt writes name before type; rebuild so the key order is canonical for the mapper.
  const { name, type, ...rest } = d.driver;
  const driver = {
    ...(name !== undefined ? { name } : {}),
    ...(type !== undefined ? { type } : {}),
    ...rest,
  };
  // the spread copies own fields only: the driver's unknown XML must come along, or it is lost
  setUnknownContent(driver, unknownContent(d.driver));
  d.driver = driver;
}

/**
 * Encryption of each image in a disk's chain is done by QEMU unless it names
 * another engine. The `<encryption>` elements are kept as XML (in the source,
 * or on the disk in the older style, and in each backing store's source).
 */
function defaultEncryptionEngines(d: DiskDef): void {
  const setEngine = (enc: XmlNode | undefined) => {
    if (enc?.type !== 'element' || enc.name !== 'encryption') return;
    if (!enc.attrs.some((a) => a.name === 'engine')) {
      const at = enc.attrs.findIndex((a) => a.name === 'format') + 1;
      enc.attrs.splice(at, 0, { name: 'engine', value: 'qemu' });
    }
  };
  for (const owner of [d, d.source])
    if (owner) for (const n of unknownContent(owner)?.nodes ?? []) setEngine(n.node);
  for (let bs = d.backingStore; bs; ) {
    const src = bs.children.find((c): c is XmlElement => c.type === 'element' && c.name === 'source');
    for (const c of src?.children ?? []) setEngine(c);
    bs = bs.children.find((c): c is XmlElement => c.type === 'element' && c.name === 'backingStore');
  }
}

function element(name: string, attrs: Array<[string, string]>): XmlElement {
  return { type: 'element', name, attrs: attrs.map(([n, value]) => ({ name: n, value })), children: [] };
}

/** Adds the pci-bridge controllers a guest's indexes skip (index 8 needs 1..7). */
function fillPciIndexGaps(ctrls: ControllerDef[], facts: MachineFacts): void {
  const pci = ctrls.filter((c) => c.type === 'pci');
  const max = Math.max(-1, ...pci.map((c) => c.index ?? 0));
  const bridge = facts.pciRoot === 'pcie-root' ? 'pcie-root-port' : 'pci-bridge';
  for (let i = 1; i < max; i++)
    if (!pci.some((c) => c.index === i)) insertController(ctrls, { type: 'pci', index: i, model: bridge });
  for (const c of ctrls) if (c.type === 'pci') completePciController(c);
  for (const c of ctrls) if (c.type === 'pci') assignExpanderBusNr(c, ctrls);
}

/** Model name and target of a PCI controller, as libvirt fills them. */
export function completePciController(c: ControllerDef): void {
  const model = c.model;
  if (model === undefined || model === 'pci-root' || model === 'pcie-root') return;
  const names: Record<string, string> = {
    'pci-bridge': 'pci-bridge',
    'dmi-to-pci-bridge': 'i82801b11-bridge',
    'pcie-root-port': 'pcie-root-port',
    'pcie-switch-upstream-port': 'x3130-upstream',
    'pcie-switch-downstream-port': 'xio3130-downstream',
    'pci-expander-bus': 'pxb',
    'pcie-expander-bus': 'pxb-pcie',
    'pcie-to-pci-bridge': 'pcie-pci-bridge',
  };
  const name = names[model];
  if (name && !c.modelName) c.modelName = { name };
  const index = c.index ?? 0;
  const target = c.target ?? element('target', []);
  const has = (a: string) => target.attrs.some((x) => x.name === a);
  if (model === 'pci-bridge' && !has('chassisNr'))
    target.attrs.push({ name: 'chassisNr', value: String(index) });
  if (model === 'pcie-root-port' || model === 'pcie-switch-downstream-port') {
    if (!has('chassis')) target.attrs.unshift({ name: 'chassis', value: String(index) });
    // The port number is set once the controller has its address (see pci.ts).
  }
  if (target.attrs.length > 0 || target.children.length > 0) c.target = target;
}

/** The device model libvirt gives a serial port of each target type that names one model. */
const SERIAL_MODEL_OF_TYPE: Record<string, string> = {
  'isa-serial': 'isa-serial',
  'usb-serial': 'usb-serial',
  'pci-serial': 'pci-serial',
  'spapr-vio-serial': 'spapr-vty',
  'sclp-serial': 'sclpconsole',
  'isa-debug': 'isa-debugcon',
};

function applyChardevDefaults(def: DomainDef, facts: MachineFacts): void {
  const dev = def.devices!;
  const isaSerial = facts.hasIsaBus;
  const serials = dev.serials ?? [];
  for (const s of serials) {
    s.target ??= {};
    if (s.target.type === undefined && isaSerial) s.target.type = 'isa-serial';
    const model = SERIAL_MODEL_OF_TYPE[s.target.type ?? ''];
    if (model) s.target.model ??= { name: model };
  }
  // ISA serial ports without a port number take the lowest one no other ISA port has.
  const isaUsed = new Set(
    serials
      .filter((s) => s.target?.type === 'isa-serial' && s.target.port !== undefined)
      .map((s) => s.target?.port),
  );
  for (const [i, s] of serials.entries()) {
    if (!s.target || s.target.port !== undefined) continue;
    if (s.target.type === 'isa-serial') {
      const free = [0, 1, 2, 3].find((n) => !isaUsed.has(String(n)));
      s.target.port = String(free ?? i);
      isaUsed.add(s.target.port);
    } else s.target.port = String(i);
  }
  // A parallel port without a number follows the highest of those before it.
  let maxParallel = -1;
  for (const p of dev.parallels ?? []) {
    p.target ??= {};
    p.target.port ??= String(maxParallel + 1);
    maxParallel = Math.max(maxParallel, Number(p.target.port));
  }
  // A console of type serial stands for the first serial port: libvirt
  // creates that port when the guest has none, and mirrors it otherwise.
  for (const [i, c] of (dev.consoles ?? []).entries()) {
    c.target ??= {};
    if (c.target.type === undefined) c.target.type = 'serial';
    if (i === 0 && c.target.type === 'serial') {
      if (serials.length === 0) {
        const s: ChardevDef = structuredClone({ ...c });
        s.target = { ...(isaSerial ? { type: 'isa-serial' } : {}), port: '0' };
        if (isaSerial) s.target.model = { name: 'isa-serial' };
        dev.serials = [s];
      }
      c.target.port ??= '0';
    } else c.target.port ??= String(i);
  }
}

/**
 * libvirt's TPM defaults: the TIS interface (SPAPR on ppc64), and for an
 * emulated TPM a fixed version, since 1.2 and 2.0 state are not
 * compatible: 1.2 for TIS on x86 (its historical default), else 2.0.
 */
function applyTpmDefaults(def: DomainDef): void {
  const arch = def.os?.type.arch ?? 'x86_64';
  const x86 = arch === 'x86_64' || arch === 'i686';
  for (const t of def.devices?.tpms ?? []) {
    t.model ??= arch.startsWith('ppc64') ? 'tpm-spapr' : 'tpm-tis';
    if (t.backend?.type === 'emulator') t.backend.version ??= t.model === 'tpm-tis' && x86 ? '1.2' : '2.0';
  }
}

/**
 * libvirt's check: PCI controller 0 is the machine's root bus. A controller
 * without an index gets the lowest free one at parse time (0 when the
 * definition names no root), so a lone `<controller type='pci'
 * model='pcie-root-port'/>` lands there and is refused, as libvirt refuses
 * it, rather than leaving the machine without its root.
 */
function refuseNonRootPciZero(ctrls: readonly ControllerDef[], facts: MachineFacts): void {
  if (facts.pciRoot === 'none') return;
  const zero = ctrls.find((c) => c.type === 'pci' && (c.index ?? 0) === 0);
  if (zero && zero.model !== facts.pciRoot)
    throw new VirError(
      'XML_ERROR',
      'qemu',
      `The PCI controller with index='0' must be model='${facts.pciRoot}' for this machine type, but model='${zero.model}' was found instead`,
      { field: "/domain/devices/controller[@type='pci'][@index=0]/@model" },
    );
}

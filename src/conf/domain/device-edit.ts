/**
 * Device edits on a definition, as libvirt's `virDomainAttachDeviceFlags`,
 * `virDomainDetachDeviceFlags` and `virDomainUpdateDeviceFlags` make them:
 * a device given as one XML element (or as a typed {@link DeviceDef}), the
 * device of a definition it names (libvirt's matching rules per kind), and
 * the definition with the device added, removed or replaced. Drivers run the
 * result through their define-time defaults and checks, so an added device
 * gets its address and implied controllers as it would at define.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import { parseXml, serializeXml, type XmlElement, type XmlNode } from '../../xml/index.js';
import { type ElementMapper, unknownContent } from '../binding.js';
import { findHostdevIndex, vsockMatches } from './device-match.js';
import {
  type ChardevDef,
  type ControllerDef,
  channelMapper,
  consoleMapper,
  controllerMapper,
  type Devices,
  type DiskDef,
  diskMapper,
  type FilesystemDef,
  filesystemMapper,
  type HostdevDef,
  hostdevMapper,
  type InputDef,
  type InterfaceDef,
  inputMapper,
  interfaceMapper,
  type MemoryDeviceDef,
  memoryDeviceMapper,
  parallelMapper,
  type RngDef,
  rngMapper,
  serialMapper,
  type VsockDef,
  vsockMapper,
  type WatchdogDef,
  watchdogMapper,
} from './devices/index.js';
import { DomainDef } from './domain-def.js';

/** The device kinds a {@link DeviceDef} may carry: element name → model. */
export interface DeviceModels {
  /** `<disk>` */
  disk: DiskDef;
  /** `<interface>` */
  interface: InterfaceDef;
  /** `<controller>` */
  controller: ControllerDef;
  /** `<hostdev>` */
  hostdev: HostdevDef;
  /** `<filesystem>` */
  filesystem: FilesystemDef;
  /** `<serial>` */
  serial: ChardevDef;
  /** `<parallel>` */
  parallel: ChardevDef;
  /** `<console>` */
  console: ChardevDef;
  /** `<channel>` */
  channel: ChardevDef;
  /** `<input>` */
  input: InputDef;
  /** `<rng>` */
  rng: RngDef;
  /** `<watchdog>` */
  watchdog: WatchdogDef;
  /** `<memory>` (a memory device) */
  memory: MemoryDeviceDef;
  /** `<vsock>` */
  vsock: VsockDef;
}

/**
 * A device as a typed model: `kind` is its element name (`disk`,
 * `interface`, ...), `def` the model the domain's `<devices>` holds.
 */
export type DeviceDef = {
  [K in keyof DeviceModels]: {
    /** The device's element name. */
    readonly kind: K;
    /** Its model, as the domain's `<devices>` holds it. */
    readonly def: DeviceModels[K];
  };
}[keyof DeviceModels];

type Mapper = ElementMapper<unknown>;
const MAPPERS: Record<keyof DeviceModels, Mapper> = {
  disk: diskMapper as Mapper,
  interface: interfaceMapper as Mapper,
  controller: controllerMapper as Mapper,
  hostdev: hostdevMapper as Mapper,
  filesystem: filesystemMapper as Mapper,
  serial: serialMapper as Mapper,
  parallel: parallelMapper as Mapper,
  console: consoleMapper as Mapper,
  channel: channelMapper as Mapper,
  input: inputMapper as Mapper,
  rng: rngMapper as Mapper,
  watchdog: watchdogMapper as Mapper,
  memory: memoryDeviceMapper as Mapper,
  vsock: vsockMapper as Mapper,
};

/** A device element name libvirt's device calls take. */
export type DeviceKind =
  | keyof DeviceModels
  | 'tpm'
  | 'graphics'
  | 'sound'
  | 'video'
  | 'redirdev'
  | 'hub'
  | 'smartcard'
  | 'shmem'
  | 'panic'
  | 'crypto'
  | 'memballoon'
  | 'iommu'
  | 'audio';

/** The `<devices>` list of each device element libvirt attaches and detaches. */
const LISTS: Record<DeviceKind, keyof Devices> = {
  disk: 'disks',
  interface: 'interfaces',
  controller: 'controllers',
  hostdev: 'hostdevs',
  filesystem: 'filesystems',
  serial: 'serials',
  parallel: 'parallels',
  console: 'consoles',
  channel: 'channels',
  input: 'inputs',
  rng: 'rngs',
  watchdog: 'watchdogs',
  memory: 'memories',
  vsock: 'vsock',
  tpm: 'tpms',
  graphics: 'graphics',
  sound: 'sounds',
  video: 'videos',
  redirdev: 'redirdevs',
  hub: 'hubs',
  smartcard: 'smartcards',
  shmem: 'shmems',
  panic: 'panics',
  crypto: 'cryptos',
  memballoon: 'memballoon',
  iommu: 'iommu',
  audio: 'audios',
};

/** One device of a definition: its kind, its model, and its place (`/domain/devices/disk[2]`). */
export interface FoundDevice {
  /** The device's element name. */
  readonly kind: DeviceKind;
  /** Its place among the devices of its kind (0-based). */
  readonly index: number;
  /** The definition's model of it. */
  readonly device: Record<string, unknown>;
  /** Its path in the domain XML, for errors (`/domain/devices/disk[2]`). */
  readonly field: string;
}

/** The XML of a device given as XML (checked to be one device element) or as a model. */
export function deviceXml(device: string | DeviceDef): string {
  if (typeof device === 'string') return serializeXml(parseDeviceElement(device).el);
  const mapper = MAPPERS[device.kind];
  if (!mapper) {
    throw new VirError('INVALID_ARG', 'conf', `unknown device kind '${String(device.kind)}'`, {
      field: 'kind',
    });
  }
  return serializeXml(mapper.write(device.def));
}

/** A parsed device fragment. */
export interface DeviceElement {
  /** The device kind its element names. */
  kind: DeviceKind;
  /** The element itself. */
  el: XmlElement;
}

/** Parses a device fragment: one element that names a device kind (else `XML_ERROR` naming it). */
export function parseDeviceElement(xml: string): DeviceElement {
  if (typeof xml !== 'string' || xml.trim() === '') {
    throw new VirError('INVALID_ARG', 'conf', 'the device XML is empty', { field: 'xml' });
  }
  const el = parseXml(xml);
  if (!Object.hasOwn(LISTS, el.name)) {
    throw new VirError('XML_ERROR', 'conf', `unknown device type '${el.name}'`, { field: `/${el.name}` });
  }
  return { kind: el.name as DeviceKind, el };
}

/** The models of one kind in a definition, in document order. */
export function devicesOf(def: DomainDef, kind: DeviceKind): Record<string, unknown>[] {
  const v = (def.devices as Record<string, unknown> | undefined)?.[LISTS[kind]];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]) as Record<string, unknown>[];
}

/** `def` with `el` appended to its devices, as XML for the driver's define-time pass. */
export function xmlWithDevice(def: DomainDef, el: XmlElement, options: { inactive?: boolean } = {}): string {
  const root = def.toElement({ check: false, ...options });
  devicesElement(root).children.push(el);
  return serializeXml(root);
}

/** `def` without the `index`-th device of `kind`, as XML. */
export function xmlWithoutDevice(
  def: DomainDef,
  kind: DeviceKind,
  index: number,
  options: { inactive?: boolean } = {},
): string {
  return serializeXml(withoutDeviceElement(def, kind, index, undefined, options));
}

/** `def` with the `index`-th device of `kind` replaced by `el`, as XML. */
export function xmlReplacingDevice(
  def: DomainDef,
  kind: DeviceKind,
  index: number,
  el: XmlElement,
  options: { inactive?: boolean } = {},
): string {
  return serializeXml(withoutDeviceElement(def, kind, index, el, options));
}

function withoutDeviceElement(
  def: DomainDef,
  kind: DeviceKind,
  index: number,
  replacement: XmlElement | undefined,
  options: { inactive?: boolean },
): XmlElement {
  const root = def.toElement({ check: false, ...options });
  const devices = devicesElement(root);
  let seen = -1;
  const at = devices.children.findIndex((c) => c.type === 'element' && c.name === kind && ++seen === index);
  if (at < 0) throw new VirError('INTERNAL_ERROR', 'conf', `no ${kind} number ${index + 1} to replace`);
  devices.children.splice(at, 1, ...(replacement ? [replacement] : []));
  return root;
}

function devicesElement(root: XmlElement): XmlElement {
  let devices = root.children.find((c): c is XmlElement => c.type === 'element' && c.name === 'devices');
  if (!devices) {
    devices = { type: 'element', name: 'devices', attrs: [], children: [] };
    root.children.push(devices);
  }
  return devices;
}

/** The device a definition gained: in `after`'s list of `kind`, the one `before` has not. */
export function addedDevice(before: DomainDef, after: DomainDef, kind: DeviceKind): FoundDevice {
  const old = devicesOf(before, kind).map((d) => formatDevice(kind, d));
  const now = devicesOf(after, kind);
  for (const [index, d] of now.entries()) {
    const s = formatDevice(kind, d);
    const at = old.indexOf(s);
    if (at >= 0) old.splice(at, 1);
    else return { kind, index, device: d, field: `/domain/devices/${kind}[${index + 1}]` };
  }
  throw new VirError('INTERNAL_ERROR', 'conf', `the new ${kind} is not in the definition`);
}

/** A device's XML as the definition writes it (for comparing two definitions' devices). */
export function formatDevice(kind: DeviceKind, d: unknown): string {
  const mapper = (MAPPERS as Partial<Record<DeviceKind, Mapper>>)[kind];
  if (mapper) return serializeXml(mapper.write(d));
  return JSON.stringify(d);
}

/** Whether two definitions list the same devices, apart from kind `except`. */
export function sameDevicesExcept(a: DomainDef, b: DomainDef, except: DeviceKind): boolean {
  return devicesDifferingExcept(a, b, except).length === 0;
}

/**
 * The devices of `b` (other than of kind `except`) that `a` does not have as
 * they are, each by its opening tag (`<controller type='pci' index='1'
 * model='pcie-root-port'>`), for an error that says which.
 */
export function devicesDifferingExcept(a: DomainDef, b: DomainDef, except: DeviceKind): string[] {
  const out: string[] = [];
  for (const kind of Object.keys(LISTS) as DeviceKind[]) {
    if (kind === except) continue;
    const x = devicesOf(a, kind).map((d) => formatDevice(kind, d));
    const y = devicesOf(b, kind).map((d) => formatDevice(kind, d));
    for (const [i, s] of y.entries()) {
      if (x[i] === s) continue;
      out.push((/^<[^>]*?\/?>/.exec(s)?.[0] ?? `<${kind}>`).replace(/\/>$/, '>'));
    }
    // a device the running guest has that the new definition lost
    for (const s of x.slice(y.length))
      out.push(`${(/^<[^>]*?\/?>/.exec(s)?.[0] ?? `<${kind}>`).replace(/\/>$/, '>')} (removed)`);
  }
  return out;
}

/**
 * The device of `def` that a fragment names, after libvirt's rules: a disk
 * by its target, an interface by its MAC (and PCI address when several
 * share it), a controller by type and index, any device by its alias;
 * other kinds by their whole XML apart from address and alias. `DEVICE_MISSING`
 * when none matches, `OPERATION_FAILED` when a MAC matches several.
 */
export function findDevice(def: DomainDef, xml: string): FoundDevice & DeviceElement {
  const { kind, el } = parseDeviceElement(xml);
  const probe = readDevice(kind, el);
  const list = devicesOf(def, kind);
  const found = (index: number) => ({
    kind,
    el,
    index,
    device: list[index] as Record<string, unknown>,
    field: `/domain/devices/${kind}[${index + 1}]`,
  });
  const alias = aliasName(probe);
  if (alias !== undefined) {
    const i = list.findIndex((d) => aliasName(d) === alias);
    if (i >= 0) return found(i);
    throw missing(`no device with alias ${alias}`, kind);
  }
  if (kind === 'disk') {
    const dev = (probe as DiskDef).target?.dev;
    const i = list.findIndex((d) => (d as DiskDef).target.dev === dev);
    if (i >= 0) return found(i);
    throw missing(`disk ${dev} not found`, kind, 'target/@dev');
  }
  if (kind === 'interface') {
    const mac = (probe as InterfaceDef).mac?.address?.toLowerCase();
    let hits = list.map((_, i) => i);
    if (mac !== undefined)
      hits = hits.filter((i) => (list[i] as InterfaceDef).mac?.address?.toLowerCase() === mac);
    const addr = addressKey(probe.address);
    if (hits.length > 1 && addr !== undefined)
      hits = hits.filter((i) => addressKey(list[i]?.address) === addr);
    if (hits.length === 1) return found(hits[0] as number);
    if (hits.length === 0)
      throw missing(`no device matching MAC address ${mac ?? '(any)'} found`, kind, 'mac');
    throw new VirError(
      'OPERATION_FAILED',
      'conf',
      `multiple devices matching MAC address ${mac ?? '(any)'} found`,
      {
        field: `/${kind}/mac/@address`,
      },
    );
  }
  if (kind === 'controller') {
    const c = probe as ControllerDef;
    const i = list.findIndex(
      (d) => (d as ControllerDef).type === c.type && ((d as ControllerDef).index ?? 0) === (c.index ?? 0),
    );
    if (i >= 0) return found(i);
    throw missing(`device not present in domain configuration`, kind, '@index');
  }
  if (kind === 'hostdev') return found(findHostdevIndex(list as HostdevDef[], probe as HostdevDef));
  if (kind === 'vsock') {
    const i = list.findIndex((d) => vsockMatches(d as VsockDef, probe as VsockDef));
    if (i >= 0) return found(i);
    throw missing('matching vsock device not found', kind);
  }
  const key = formatDevice(kind, stripIdentity(probe));
  const i = list.findIndex((d) => formatDevice(kind, stripIdentity(d)) === key);
  if (i >= 0) return found(i);
  throw missing('device not present in domain configuration', kind);
}

/** Reads one device element with its kind's mapper (`XML_DETAIL` naming the field on bad values). */
export function readDevice(kind: DeviceKind, el: XmlElement): Record<string, unknown> {
  const mapper = (MAPPERS as Partial<Record<DeviceKind, Mapper>>)[kind];
  if (!mapper) {
    // no typed mapper here: read it through a whole definition
    const def = DomainDef.fromXML(
      `<domain type='qemu'><name>x</name><memory>1</memory><os><type>hvm</type></os><devices>${serializeXml(el)}</devices></domain>`,
    );
    return devicesOf(def, kind)[0] ?? {};
  }
  return mapper.read(el, `/${kind}`) as Record<string, unknown>;
}

/** A device's alias: the model's, or the `<alias>` a kind without one keeps as unknown XML. */
function aliasName(d: Record<string, unknown>): string | undefined {
  const typed = (d.alias as { name?: string } | undefined)?.name;
  if (typed !== undefined) return typed;
  for (const n of unknownContent(d)?.nodes ?? [])
    if (n.node.type === 'element' && n.node.name === 'alias')
      return n.node.attrs.find((a) => a.name === 'name')?.value;
  return undefined;
}

function stripIdentity(d: Record<string, unknown>): Record<string, unknown> {
  const { address: _a, alias: _b, ...rest } = d;
  return rest;
}

function addressKey(a: unknown): string | undefined {
  return a === undefined ? undefined : JSON.stringify(a);
}

function missing(message: string, kind: DeviceKind, at?: string): VirError {
  return new VirError('DEVICE_MISSING', 'conf', message, { field: `/${kind}${at ? `/${at}` : ''}` });
}

/** Whether an XML node list holds an element named `name` (for refusals naming a child). */
export function hasChild(el: XmlElement, name: string): boolean {
  return el.children.some((c: XmlNode) => c.type === 'element' && c.name === name);
}

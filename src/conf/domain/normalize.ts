/**
 * libvirt's parse-time normalisation of a domain, driver-independent part
 * (what `virDomainDefParse` + the generic post-parse callbacks do): sizes
 * to KiB, the defaults it writes out (current memory, arch, boot device,
 * clock, lifecycle actions, vCPU placement), implicit controllers and
 * drive addresses, character device and graphics listen rules, generated
 * UUIDs and MACs.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import { setUnknownContent, unknownContent } from '../binding.js';
import { toBytes, toKiB } from '../units.js';
import type { DeviceAddress } from './address.js';
import { formatIdSet, parseIdSet } from './cpuset.js';
import type {
  ChardevDef,
  ChardevSource,
  ControllerDef,
  ControllerType,
  DiskDef,
  GraphicsDef,
  GraphicsListen,
} from './devices/index.js';
import type { DomainDef } from './domain-def.js';
import type { CacheAlloc, Cachetune, Memorytune } from './resources.js';

export interface NormalizeOptions {
  /** Guest architecture when `<os><type>` has none. Default `x86_64` (libvirt uses the host's). */
  defaultArch?: string;
  /** Source of new MAC addresses. Default: `52:54:00` plus three random bytes. */
  generateMac?: () => string;
  /** Source of new UUIDs. Default: `crypto.randomUUID()`. */
  generateUuid?: () => string;
}

function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  globalThis.crypto.getRandomValues(b);
  return b;
}

export function randomMac(): string {
  const b = randomBytes(3);
  return `52:54:00:${[...b].map((x) => x.toString(16).padStart(2, '0')).join(':')}`;
}

export function randomUuid(): string {
  return globalThis.crypto.randomUUID();
}

export function normalizeDomain(def: DomainDef, options: NormalizeOptions = {}): void {
  if (def.uuid === undefined) def.uuid = (options.generateUuid ?? randomUuid)();
  // An empty <genid/> asks for a generated VM generation ID.
  if (def.genid === '') def.genid = (options.generateUuid ?? randomUuid)();
  normalizeMemory(def);
  normalizeVcpus(def);
  normalizeOs(def, options);
  def.clock ??= { offset: 'utc' };
  def.onPoweroff ??= 'destroy';
  def.onReboot ??= 'restart';
  def.onCrash ??= 'destroy';
  normalizeDevices(def, options);
}

// ---------------------------------------------------------------------------

function sizeError(field: string, err: unknown): VirError {
  return new VirError('XML_DETAIL', 'conf', `invalid size in ${field}: ${(err as Error).message}`, {
    field,
    cause: err,
  });
}

function kib(value: number, unit: string | undefined, field: string): number {
  try {
    const k = toKiB(BigInt(value), unit ?? 'KiB');
    if (k > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('too large');
    return Number(k);
  } catch (err) {
    throw sizeError(field, err);
  }
}

function normalizeMemory(def: DomainDef): void {
  if (def.maxMemory) {
    def.maxMemory.value = kib(def.maxMemory.value, def.maxMemory.unit, '/domain/maxMemory');
    def.maxMemory.unit = 'KiB';
  }
  const cells = def.cpu?.numa?.cells;
  if (!def.memory && cells && cells.length > 0) {
    // Without <memory>, guest NUMA cells (plus memory modules) give the size.
    const total = cells.reduce((s, c) => s + Number(c.memory), 0) + memoryDevicesKiB(def);
    def.memory = { unit: 'KiB', value: total };
  }
  if (!def.memory) {
    throw new VirError('XML_DETAIL', 'conf', 'missing <memory> element', { field: '/domain/memory' });
  }
  def.memory.value = kib(def.memory.value, def.memory.unit, '/domain/memory');
  def.memory.unit = 'KiB';
  if (def.currentMemory) {
    def.currentMemory.value = kib(def.currentMemory.value, def.currentMemory.unit, '/domain/currentMemory');
    def.currentMemory.unit = 'KiB';
  }
  const mt = def.memtune;
  if (mt) {
    for (const key of ['hardLimit', 'softLimit', 'swapHardLimit', 'minGuarantee'] as const) {
      const l = mt[key];
      // -1 (and libvirt's own "unlimited") stays as written.
      if (!l || l.value < 0) continue;
      l.value = kib(l.value, l.unit, `/domain/memtune/${key}`);
      l.unit = 'KiB';
    }
  }
  // libvirt clamps a balloon target above the maximum (or zero) to the maximum.
  if (!def.currentMemory) def.currentMemory = { unit: 'KiB', value: def.memory.value };
  else if (def.currentMemory.value === 0 || def.currentMemory.value > def.memory.value)
    def.currentMemory.value = def.memory.value;
}

/** Total size of the memory modules (`<memory model=...>` devices), in KiB. */
/** Total `<target><size>` of the memory devices (DIMMs, virtio-mem, ...), in KiB. */
export function memoryDevicesKiB(def: DomainDef): number {
  let total = 0;
  for (const [i, m] of (def.devices?.memories ?? []).entries()) {
    const size = m.target?.children.find((c) => c.type === 'element' && c.name === 'size');
    if (size?.type !== 'element') continue;
    const text = size.children
      .map((c) => (c.type === 'text' ? c.value : ''))
      .join('')
      .trim();
    if (!/^\d+$/.test(text))
      throw sizeError(`/domain/devices/memory[${i + 1}]/target/size`, new Error(`'${text}' is not a size`));
    const unit = size.attrs.find((a) => a.name === 'unit')?.value;
    total += kib(Number(text), unit, `/domain/devices/memory[${i + 1}]/target/size`);
  }
  return total;
}

function normalizeVcpus(def: DomainDef): void {
  def.vcpu ??= { count: 1 };
  def.vcpu.placement ??= def.numatune?.memory?.placement === 'auto' ? 'auto' : 'static';
  if (def.vcpu.current !== undefined && def.vcpu.current === def.vcpu.count) delete def.vcpu.current;
  const count = def.vcpu.count;
  const ct = def.cputune;
  if (!ct) return;
  if (ct.vcpuScheds) ct.vcpuScheds = splitScheds(ct.vcpuScheds, 'vcpus');
  if (ct.iothreadScheds) ct.iothreadScheds = splitScheds(ct.iothreadScheds, 'iothreads');
  if (ct.cachetunes) {
    const kept: Cachetune[] = [];
    for (const t of ct.cachetunes) {
      const ids = parseIdSet(t.vcpus, '/domain/cputune/cachetune/@vcpus').filter((i) => i < count);
      // libvirt ignores a tune whose vCPUs all lie beyond the vCPU count.
      if (ids.length === 0) continue;
      t.vcpus = formatIdSet(ids);
      for (const c of t.caches ?? []) prettySize(c);
      kept.push(t);
    }
    if (kept.length > 0) ct.cachetunes = kept;
    else delete ct.cachetunes;
  }
  if (ct.memorytunes) {
    const kept: Memorytune[] = [];
    for (const t of ct.memorytunes) {
      const ids = parseIdSet(t.vcpus, '/domain/cputune/memorytune/@vcpus').filter((i) => i < count);
      if (ids.length === 0) continue;
      t.vcpus = formatIdSet(ids);
      kept.push(t);
    }
    if (kept.length > 0) ct.memorytunes = kept;
    else delete ct.memorytunes;
  }
}

/** One scheduler entry per ID, in ID order: how libvirt stores and writes them. */
function splitScheds<K extends 'vcpus' | 'iothreads', T extends { [P in K]: string } & object>(
  list: T[],
  key: K,
): T[] {
  const byId = new Map<number, T>();
  for (const s of list) {
    for (const id of parseIdSet(s[key], `/domain/cputune/${key}`)) {
      const copy = { ...s, [key]: String(id) } as T;
      byId.set(id, copy);
    }
  }
  return [...byId.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

const PRETTY_UNITS: Array<[string, bigint]> = [
  ['EiB', 1024n ** 6n],
  ['PiB', 1024n ** 5n],
  ['TiB', 1024n ** 4n],
  ['GiB', 1024n ** 3n],
  ['MiB', 1024n ** 2n],
  ['KiB', 1024n],
];

/** Largest binary unit that divides the size exactly, as libvirt writes cache sizes. */
function prettySize(c: CacheAlloc): void {
  let bytes: bigint;
  try {
    bytes = toBytes(BigInt(c.size), c.unit ?? 'B');
  } catch (err) {
    throw sizeError('/domain/cputune/cachetune/cache/@size', err);
  }
  for (const [unit, scale] of PRETTY_UNITS) {
    if (bytes >= scale && bytes % scale === 0n) {
      c.size = Number(bytes / scale);
      c.unit = unit;
      return;
    }
  }
  c.size = Number(bytes);
  c.unit = 'B';
}

function normalizeOs(def: DomainDef, options: NormalizeOptions): void {
  if (!def.os) {
    throw new VirError('XML_DETAIL', 'conf', 'missing <os> element', { field: '/domain/os' });
  }
  def.os.type.arch ??= options.defaultArch ?? 'x86_64';
  if (def.os.loader?.path === '') delete def.os.loader.path;
  if (def.os.nvram?.path === '') delete def.os.nvram.path;
  const deviceBoot =
    (def.devices?.disks ?? []).some((d) => d.boot) ||
    (def.devices?.interfaces ?? []).some((n) => n.boot) ||
    (def.devices?.hostdevs ?? []).some((h) => h.boot) ||
    (def.devices?.redirdevs ?? []).some((r) => r.boot);
  if (def.os.type.value === 'hvm' && !def.os.boot && !deviceBoot && !def.os.kernel) {
    def.os.boot = [{ dev: 'hd' }];
  }
}

// ---------------------------------------------------------------------------
// Devices

function normalizeDevices(def: DomainDef, options: NormalizeOptions): void {
  def.devices ??= {};
  const dev = def.devices;
  for (const c of dev.controllers ?? [])
    if (c.index === undefined) c.index = unusedIndex(dev.controllers ?? [], c.type);
  for (const d of dev.disks ?? []) assignDriveAddress(d);
  for (const n of dev.interfaces ?? []) {
    if (!n.mac || n.mac.address === '00:00:00:00:00:00') {
      const mac = (options.generateMac ?? randomMac)();
      if (n.mac) n.mac.address = mac;
      else n.mac = { address: mac };
    }
  }
  const chardevs: Array<[string, ChardevDef[] | undefined]> = [
    ['serial', dev.serials],
    ['parallel', dev.parallels],
    ['console', dev.consoles],
    ['channel', dev.channels],
  ];
  for (const [kind, list] of chardevs)
    for (const [i, c] of (list ?? []).entries()) {
      const path = `/domain/devices/${kind}[${i + 1}]`;
      const pathOk = kind === 'channel' && (c.target?.type === 'virtio' || c.target?.type === 'xen');
      applySources(c, normalizeSources(c.type, c.sources, path, pathOk));
      if (c.type === 'tcp') c.protocol ??= { type: 'raw' };
    }
  for (const [i, s] of (dev.smartcards ?? []).entries()) {
    if (s.mode !== 'passthrough' || !s.type) continue;
    applySources(s, normalizeSources(s.type, s.sources, `/domain/devices/smartcard[${i + 1}]`, false));
    if (s.type === 'tcp') s.protocol ??= { type: 'raw' };
  }
  for (const [i, r] of (dev.redirdevs ?? []).entries()) {
    applySources(r, normalizeSources(r.type, r.sources, `/domain/devices/redirdev[${i + 1}]`, false));
    if (r.type === 'tcp') r.protocol ??= { type: 'raw' };
  }
  for (const [i, r] of (dev.rngs ?? []).entries()) {
    const b = r.backend;
    // An empty path is no path (and would not survive a round trip as text).
    if (b.path === '') delete b.path;
    if (b.model !== 'egd' || !b.type) continue;
    const t = b.type as ChardevDef['type'];
    applySources(b, normalizeSources(t, b.sources, `/domain/devices/rng[${i + 1}]/backend`, false));
    if (t === 'tcp') b.protocol ??= { type: 'raw' };
  }
  for (const h of dev.hostdevs ?? [])
    if (h.mode === 'subsystem' && (h.type === 'pci' || h.type === 'usb')) h.managed ??= false;
  if (def.os?.type.value === 'hvm') addConsoleCompat(dev);
  for (const [i, g] of (dev.graphics ?? []).entries())
    normalizeGraphics(g, `/domain/devices/graphics[${i + 1}]`);
  const firstVideo = dev.videos?.[0];
  if (firstVideo) {
    for (const v of dev.videos ?? []) if (v.model) normalizeVideoModel(v.model);
    if (firstVideo.model) firstVideo.model.primary = true;
  }
  addImplicitControllers(def);
}

/**
 * libvirt's console compatibility on x86-style guests: the first console
 * of target type `serial` is the first serial port seen from the other
 * side, so each implies the other and they share one backend.
 */
function addConsoleCompat(dev: NonNullable<DomainDef['devices']>): void {
  for (const [i, s] of (dev.serials ?? []).entries()) {
    s.target ??= {};
    s.target.port ??= String(i);
  }
  const consoles = dev.consoles ?? [];
  const serials = dev.serials ?? [];
  const first = consoles[0];
  if (!first) {
    const serial = serials[0];
    if (serial) {
      dev.consoles = [{ ...backendOf(serial), target: { type: 'serial', port: serial.target?.port ?? '0' } }];
    }
    return;
  }
  const ttype = first.target?.type;
  if (ttype !== undefined && ttype !== 'serial') return;
  first.target ??= {};
  first.target.type = 'serial';
  first.target.port ??= '0';
  const serial = serials[0];
  if (serial) {
    const own = backendOf(first);
    const shared = backendOf(serial);
    // Already the same backend: keep the console's own objects (and any unknown XML on them).
    if (JSON.stringify(own) === JSON.stringify(shared)) return;
    const ownSources = first.sources;
    Object.assign(first, shared);
    for (const [i, src] of (first.sources ?? []).entries()) {
      const kept = ownSources?.[i] && unknownContent(ownSources[i]);
      if (kept && !unknownContent(src)) setUnknownContent(src, kept);
    }
    if (!serial.sources) delete first.sources;
    if (!serial.protocol) delete first.protocol;
    if (!serial.log) delete first.log;
  } else {
    const { type, sources, protocol, log } = first;
    const copy: ChardevDef = { type, target: { port: first.target.port } };
    if (sources) copy.sources = structuredClone(sources);
    if (protocol) copy.protocol = { ...protocol };
    if (log) copy.log = { ...log };
    dev.serials = [copy];
  }
}

/** The backend half of a character device (type and sources), copied. */
function backendOf(c: ChardevDef): Omit<ChardevDef, 'target' | 'address'> {
  const out: Omit<ChardevDef, 'target' | 'address'> = { type: c.type };
  if (c.tty !== undefined) out.tty = c.tty;
  if (c.sources) out.sources = structuredClone(c.sources);
  if (c.protocol) out.protocol = { ...c.protocol };
  if (c.log) out.log = { ...c.log };
  return out;
}

function applySources(o: { sources?: ChardevSource[] }, list: ChardevSource[] | undefined): void {
  if (list) o.sources = list;
  else delete o.sources;
}

function unusedIndex(controllers: ControllerDef[], type: ControllerType): number {
  const used = new Set(
    controllers.filter((c) => c.type === type && c.index !== undefined).map((c) => c.index),
  );
  let i = 0;
  while (used.has(i)) i++;
  return i;
}

/** `hda` -> 0, `sdb` -> 1, `vdaa` -> 26: libvirt's disk name index. */
export function diskNameIndex(dev: string): number | undefined {
  const m = /^(?:fd|hd|vd|sd|xvd|ubd)([a-z]+)\d*$/.exec(dev);
  if (!m?.[1]) return undefined;
  let idx = 0;
  for (const ch of m[1]) idx = idx * 26 + (ch.charCodeAt(0) - 96);
  return idx - 1;
}

function assignDriveAddress(d: DiskDef): void {
  if (d.address) return;
  const bus = d.target.bus;
  const idx = diskNameIndex(d.target.dev);
  if (idx === undefined) return;
  let a: DeviceAddress | undefined;
  if (bus === 'ide')
    a = { type: 'drive', controller: idx >> 2, bus: (idx % 4) >> 1, target: 0, unit: idx % 2 };
  else if (bus === 'fdc') a = { type: 'drive', controller: 0, bus: 0, target: 0, unit: idx };
  else if (bus === 'scsi')
    a = { type: 'drive', controller: Math.floor(idx / 7), bus: 0, target: 0, unit: idx % 7 };
  else if (bus === 'sata')
    a = { type: 'drive', controller: Math.floor(idx / 6), bus: 0, target: 0, unit: idx % 6 };
  if (a) d.address = a;
}

function addImplicitControllers(def: DomainDef): void {
  const dev = def.devices!;
  const need: Array<[ControllerType, number]> = [];
  for (const bus of ['fdc', 'scsi', 'ide', 'sata'] as const) {
    let max = -1;
    for (const d of dev.disks ?? [])
      if (d.target.bus === bus && d.address?.type === 'drive') max = Math.max(max, d.address.controller ?? 0);
    // every index up to the highest is implied, so the highest must be bounded: it comes from the document
    if (max > MAX_IMPLIED_CONTROLLER)
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'conf',
        `a ${bus} disk on drive controller ${max} would imply ${max + 1} ${bus} controllers (at most ${MAX_IMPLIED_CONTROLLER + 1})`,
        { field: '/domain/devices/disk/address/@controller' },
      );
    for (let i = 0; i <= max; i++) need.push([bus, i]);
  }
  for (const list of [dev.channels, dev.consoles])
    for (const c of list ?? [])
      if (c.target?.type === 'virtio')
        need.push(['virtio-serial', c.address?.type === 'virtio-serial' ? (c.address.controller ?? 0) : 0]);
  const slots = new Map<number, Set<number>>();
  for (const s of dev.smartcards ?? []) {
    if (s.address?.type !== 'ccid') continue;
    const controller = s.address.controller ?? 0;
    const used = slots.get(controller) ?? new Set<number>();
    used.add(s.address.slot ?? 0);
    slots.set(controller, used);
  }
  for (const s of dev.smartcards ?? []) {
    if (!s.address) {
      const used = slots.get(0) ?? new Set<number>();
      let slot = 0;
      while (used.has(slot)) slot++;
      used.add(slot);
      slots.set(0, used);
      s.address = { type: 'ccid', controller: 0, slot };
    }
    if (s.address.type === 'ccid') need.push(['ccid', s.address.controller ?? 0]);
  }
  if (need.length === 0) return;
  dev.controllers = insertControllers(dev.controllers ?? [], need);
}

/** Far beyond any real guest; see addImplicitControllers. */
const MAX_IMPLIED_CONTROLLER = 1023;

/**
 * Adds the controllers in `need` that `list` lacks, each next to controllers
 * of the same type ordered by index, else at the end. One merge instead of
 * a scan and a splice per controller, so the cost stays linear.
 */
function insertControllers(list: ControllerDef[], need: Array<[ControllerType, number]>): ControllerDef[] {
  const key = (type: string, index: number) => `${type}\u0000${index}`;
  const have = new Set(list.map((c) => key(c.type, c.index ?? 0)));
  const missing = new Map<ControllerType, number[]>();
  for (const [type, index] of need) {
    const k = key(type, index);
    if (have.has(k)) continue;
    have.add(k);
    const group = missing.get(type);
    if (group) group.push(index);
    else missing.set(type, [index]);
  }
  if (missing.size === 0) return list;
  for (const group of missing.values()) group.sort((a, b) => a - b);
  const last = new Map<string, number>();
  for (const [i, c] of list.entries()) last.set(c.type, i);
  const out: ControllerDef[] = [];
  const taken = new Map<ControllerType, number>(); // how many of each group are placed
  const place = (type: ControllerType, below: number) => {
    const group = missing.get(type);
    if (!group) return;
    let k = taken.get(type) ?? 0;
    for (; k < group.length && group[k]! < below; k++) out.push({ type, index: group[k]! });
    taken.set(type, k);
  };
  list.forEach((cur, i) => {
    place(cur.type, cur.index ?? 0);
    out.push(cur);
    if (last.get(cur.type) === i) place(cur.type, Number.POSITIVE_INFINITY);
  });
  for (const type of missing.keys()) if (!last.has(type)) place(type, Number.POSITIVE_INFINITY);
  return out;
}

function chardevError(path: string, message: string): VirError {
  return new VirError('XML_DETAIL', 'conf', `${message} (${path})`, { field: path });
}

/**
 * Applies libvirt's rules to a character backend's sources: default
 * `mode='connect'`, one connect and at most one bind end for UDP, one
 * source for the others, and the attributes each type requires.
 */
function normalizeSources(
  type: ChardevDef['type'],
  sources: ChardevSource[] | undefined,
  path: string,
  unixPathOptional: boolean,
): ChardevSource[] | undefined {
  const list = sources ?? [];
  for (const s of list) {
    if (s.reconnect) {
      if (s.mode === 'bind') throw chardevError(path, "'reconnect' is only valid for connect mode sources");
      if (s.reconnect.enabled && s.reconnect.timeout === undefined)
        throw chardevError(path, "missing 'timeout' of an enabled 'reconnect'");
    }
  }
  switch (type) {
    case 'tcp': {
      if (list.length > 1)
        throw chardevError(path, 'only one source element is allowed for a tcp character device');
      const s = list[0] ?? {};
      if (!s.host) throw chardevError(path, "missing source 'host' of a tcp character device");
      if (!s.service) throw chardevError(path, "missing source 'service' of a tcp character device");
      s.mode ??= 'connect';
      return [s];
    }
    case 'udp': {
      let connect: ChardevSource | undefined;
      let bind: ChardevSource | undefined;
      for (const s of list) {
        if (s.mode === 'bind') {
          if (bind) throw chardevError(path, 'more than one bind source for a udp character device');
          bind = s;
        } else {
          if (connect) throw chardevError(path, 'more than one connect source for a udp character device');
          connect = s;
          s.mode = 'connect';
        }
      }
      if (!connect?.service)
        throw chardevError(path, "missing connect source 'service' of a udp character device");
      const out: ChardevSource[] = [];
      if (bind && (bind.host !== undefined || bind.service !== undefined)) out.push(bind);
      out.push(connect);
      return out;
    }
    case 'unix': {
      if (list.length > 1)
        throw chardevError(path, 'only one source element is allowed for a unix character device');
      const s = list[0];
      if (!s?.path) {
        if (!unixPathOptional) throw chardevError(path, "missing source 'path' of a unix character device");
        // libvirt generates the path later and writes no <source> until then;
        // we keep one that carries XML we do not know, as everywhere.
        return s && unknownContent(s) ? [s] : undefined;
      }
      s.mode ??= 'connect';
      return [s];
    }
    case 'file':
    case 'dev':
    case 'pipe': {
      const s = list[0];
      if (!s?.path) throw chardevError(path, `missing source 'path' of a ${type} character device`);
      delete s.mode;
      return [s];
    }
    default:
      return list.length > 0 ? list : undefined;
  }
}

function normalizeGraphics(g: GraphicsDef, path: string): void {
  if (g.type !== 'vnc' && g.type !== 'spice' && g.type !== 'rdp') return;
  const listens: GraphicsListen[] = g.listens ?? [];
  const first = listens[0];
  if (g.type === 'vnc' && g.socket !== undefined) {
    if (first?.type === 'socket') {
      if (first.socket !== undefined && first.socket !== g.socket)
        throw chardevError(path, `graphics 'socket' attribute '${g.socket}' does not match its first listen`);
      first.socket = g.socket;
    } else if (first?.type === 'address' || first === undefined) {
      // The legacy socket attribute wins over an address listen.
      const replacement: GraphicsListen = { type: 'socket', socket: g.socket };
      // Whatever unknown XML the replaced listen carried stays with its successor.
      if (first) setUnknownContent(replacement, unknownContent(first));
      if (first) listens[0] = replacement;
      else listens.push(replacement);
    }
  }
  if (g.listen !== undefined) {
    if (first?.type === 'address') {
      if (first.address !== undefined && first.address !== g.listen)
        throw chardevError(
          path,
          `graphics 'listen' attribute '${g.listen}' does not match its first listen address`,
        );
      first.address = g.listen;
    } else if (first === undefined) {
      listens.push({ type: 'address', address: g.listen });
    } else if (first.type === 'network' && first.address !== undefined && first.address !== g.listen) {
      throw chardevError(
        path,
        `graphics 'listen' attribute '${g.listen}' does not match its first listen address`,
      );
    }
  }
  for (const [i, l] of listens.entries())
    if (l.type === 'network' && l.network === undefined)
      throw chardevError(
        `${path}/listen[${i + 1}]`,
        "a listen of type 'network' needs a 'network' attribute",
      );
  if (listens.length === 0) listens.push({ type: 'address' });
  g.listens = listens;
  const lead = listens[0]!;
  if (lead.type === 'address' && lead.address !== undefined) g.listen = lead.address;
  else if (lead.type === 'network' && lead.address !== undefined) g.listen = lead.address;
  else delete g.listen;
  if (g.type === 'vnc' && lead.type === 'socket') {
    // A socket listen without a path gets one from the driver at start-up.
    if (lead.socket !== undefined) g.socket = lead.socket;
    else delete g.socket;
    delete g.port;
    delete g.autoport;
    return;
  }
  delete g.socket;
  if (lead.type === 'none') {
    delete g.port;
    delete g.tlsPort;
    delete g.autoport;
    return;
  }
  if (g.type !== 'vnc') return;
  if (g.autoport === true || (g.autoport === undefined && (g.port === undefined || g.port === -1))) {
    g.autoport = true;
    g.port = -1;
  } else if (g.autoport === undefined) {
    g.autoport = false;
  }
  if (g.port === 0) delete g.port;
}

const DEFAULT_VRAM: Record<string, number> = {
  vga: 16384,
  cirrus: 16384,
  vmvga: 4096,
  xen: 4096,
  qxl: 65536,
};

function normalizeVideoModel(
  m: NonNullable<NonNullable<DomainDef['devices']>['videos']>[number]['model'] & object,
): void {
  const vram = DEFAULT_VRAM[m.type];
  if (vram !== undefined && m.vram === undefined) m.vram = vram;
  if (m.type === 'qxl') {
    m.ram ??= 65536;
    m.vgamem ??= 16384;
  }
  if (m.type !== 'none') m.heads ??= 1;
}

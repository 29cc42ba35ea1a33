/**
 * The device part of libvirt's parse-time normalisation: the console a
 * serial port implies, implicit controllers and drive addresses, character
 * device sources, graphics listen rules, video defaults and generated MACs.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import { setUnknownContent, unknownContent } from '../binding.js';
import { toKiB } from '../units.js';
import type { DeviceAddress } from './address.js';
import {
  assignControllerIndexes,
  defaultCompanionMasters,
  orderParsedControllers,
} from './controller-order.js';
import { orderDisks, postParseDisk } from './devices/disk-postparse.js';
import type { ChardevDef, ChardevSource, DiskDef, GraphicsDef, GraphicsListen } from './devices/index.js';
import type { DomainDefData } from './domain-spec.js';
import { addImplicitControllers } from './implicit-controllers.js';
import { assignScsiHostdevAddresses, normalizeHostdev } from './normalize-hostdevs.js';
import { normalizeInterface } from './normalize-interfaces.js';
import type { NormalizeOptions } from './normalize-options.js';

export function normalizeDevices(def: DomainDefData, options: NormalizeOptions): void {
  def.devices ??= {};
  const dev = def.devices;
  if (dev.controllers) {
    defaultCompanionMasters(dev.controllers);
    dev.controllers = assignControllerIndexes(orderParsedControllers(dev.controllers));
    for (const [i, c] of dev.controllers.entries()) {
      if (!c.pcihole64) continue;
      // Any unit is accepted; the size is kept in KiB, rounded up.
      const field = `/domain/devices/controller[${i + 1}]/pcihole64`;
      let kib: bigint;
      try {
        kib = toKiB(c.pcihole64.value, c.pcihole64.unit ?? 'KiB');
      } catch (err) {
        throw new VirError('XML_DETAIL', 'conf', `${field}: ${(err as Error).message}`, { field });
      }
      c.pcihole64 = { unit: 'KiB', value: Number(kib) };
    }
  }
  if (dev.disks) dev.disks = orderDisks(dev.disks, diskNameIndex);
  for (const d of dev.disks ?? []) {
    postParseDisk(d);
    assignDriveAddress(d);
  }
  for (const f of dev.filesystems ?? []) {
    // libvirt's defaults: a mounted directory, passed through with the host's permissions
    // (unless a daemon of someone else's serves it through a socket).
    f.type ??= 'mount';
    // 'default' is libvirt's name for leaving a setting out, and it writes none of them back.
    if (f.accessmode === 'default') delete f.accessmode;
    if (f.multidevs === 'default') delete f.multidevs;
    if (f.driver?.type === 'default') delete f.driver.type;
    if (f.driver?.wrpolicy === 'default') delete f.driver.wrpolicy;
    if (f.accessmode === undefined && f.source?.socket === undefined) f.accessmode = 'passthrough';
    if (isEmpty(f.driver)) delete f.driver;
  }
  // libvirt writes a <driver> only when it says something.
  if (isEmpty(dev.vsock?.driver)) delete dev.vsock?.driver;
  for (const [i, n] of (dev.interfaces ?? []).entries())
    normalizeInterface(n, options, `/domain/devices/interface[${i + 1}]`);

  for (const h of dev.hostdevs ?? []) normalizeHostdev(h);
  if (dev.hostdevs) assignScsiHostdevAddresses(dev.hostdevs, dev.disks ?? []);
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
      tcpProtocol(c, c.type);
    }
  for (const [i, s] of (dev.smartcards ?? []).entries()) {
    if (s.mode !== 'passthrough' || !s.type) continue;
    applySources(s, normalizeSources(s.type, s.sources, `/domain/devices/smartcard[${i + 1}]`, false));
    tcpProtocol(s, s.type);
  }
  for (const [i, r] of (dev.redirdevs ?? []).entries()) {
    applySources(r, normalizeSources(r.type, r.sources, `/domain/devices/redirdev[${i + 1}]`, false));
    tcpProtocol(r, r.type);
    // libvirt's default D-Bus channel for USB redirection.
    if (r.type === 'dbus' && !r.sources?.[0]?.channel)
      r.sources = [{ ...r.sources?.[0], channel: 'org.qemu.usbredir' }];
  }
  // An empty filter says nothing: libvirt does not keep it.
  if (dev.redirfilter && !dev.redirfilter.usbdevs?.length) delete dev.redirfilter;
  for (const [i, r] of (dev.rngs ?? []).entries()) {
    const b = r.backend;
    // An empty path is no path (and would not survive a round trip as text).
    if (b.path === '') delete b.path;
    // libvirt's generic default source of the random backend.
    if (b.model === 'random' && b.path === undefined) b.path = '/dev/random';
    if (b.model !== 'egd' || !b.type) continue;
    const t = b.type as ChardevDef['type'];
    applySources(b, normalizeSources(t, b.sources, `/domain/devices/rng[${i + 1}]/backend`, false));
    tcpProtocol(b, t);
  }
  for (const h of dev.hostdevs ?? [])
    if (h.mode === 'subsystem' && (h.type === 'pci' || h.type === 'usb')) h.managed ??= false;
  if (def.os?.type.value === 'hvm') addConsoleCompat(dev);
  for (const [i, g] of (dev.graphics ?? []).entries())
    normalizeGraphics(g, `/domain/devices/graphics[${i + 1}]`);
  const firstVideo = dev.videos?.[0];
  if (firstVideo) {
    for (const v of dev.videos ?? []) {
      if (v.model) normalizeVideoModel(v.model);
      // primary is yes or absent: libvirt never writes primary='no'.
      if (v.model?.primary === false) delete v.model.primary;
    }
    // The first video is the primary one, unless it is 'none' (no video at all).
    if (firstVideo.model && firstVideo.model.type !== 'none') firstVideo.model.primary = true;
  }
  // A driver whose own defaults add controllers first (QEMU) adds these after them, as libvirt does.
  if (!options.deferImplicitControllers) addImplicitControllers(def);
}

/**
 * libvirt's console compatibility on x86-style guests: the first console
 * of target type `serial` is the first serial port seen from the other
 * side, so each implies the other and they share one backend.
 */
function addConsoleCompat(dev: NonNullable<DomainDefData['devices']>): void {
  // Serial ports that are (or will be, by default) ISA ports and have no number take the
  // lowest one no other such port has, as libvirt numbers them; the others their index.
  const maybeIsa = (s: ChardevDef) => s.target?.type === undefined || s.target.type === 'isa-serial';
  const used = new Set((dev.serials ?? []).filter(maybeIsa).map((s) => s.target?.port));
  for (const [i, s] of (dev.serials ?? []).entries()) {
    s.target ??= {};
    if (s.target.port !== undefined) continue;
    const free = maybeIsa(s) ? [0, 1, 2, 3].map(String).find((n) => !used.has(n)) : undefined;
    s.target.port = free ?? String(i);
    used.add(s.target.port);
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

/** `hda` -> 0, `sdb` -> 1, `vdaa` -> 26: libvirt's disk name index. */
export function diskNameIndex(dev: string): number | undefined {
  const m = /^(?:fd|hd|vd|sd|xvd|ubd)([a-z]+)\d*$/.exec(dev);
  if (!m?.[1]) return undefined;
  let idx = 0;
  for (const ch of m[1]) idx = idx * 26 + (ch.charCodeAt(0) - 96);
  return idx - 1;
}

function assignDriveAddress(d: DiskDef): void {
  if (d.address?.type === 'drive') {
    // a part left out is 0, and libvirt writes all four back
    const a = d.address;
    a.controller ??= 0;
    a.bus ??= 0;
    a.target ??= 0;
    a.unit ??= 0;
  }
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
  if (g.type === 'spice') {
    // -1 for both ports is the old spelling of automatic ports, and -1 is no port a guest gets
    if (g.port === -1 && g.tlsPort === -1) g.autoport = true;
    if (g.autoport === true) for (const k of ['port', 'tlsPort'] as const) if (g[k] === -1) delete g[k];
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

/** The sizes and head count libvirt fills in for a video model it knows. */
export function normalizeVideoModel(
  m: NonNullable<NonNullable<DomainDefData['devices']>['videos']>[number]['model'] & object,
): void {
  const vram = DEFAULT_VRAM[m.type];
  if (vram !== undefined && m.vram === undefined) m.vram = vram;
  if (m.type === 'qxl') {
    m.ram ??= 65536;
    m.vgamem ??= 16384;
  }
  if (m.type !== 'none') m.heads ??= 1;
}

/** An element read into nothing: no known field and no unknown XML. */
function isEmpty(o: object | undefined): boolean {
  return o !== undefined && Object.keys(o).length === 0 && unknownContent(o) === undefined;
}

/**
 * `<protocol>` belongs to TCP backends only: libvirt gives them `raw` when
 * it is absent and reads (so writes) none for the other types.
 */
function tcpProtocol(c: { protocol?: { type: string } }, type: string): void {
  if (type === 'tcp') c.protocol ??= { type: 'raw' };
  else delete c.protocol;
}

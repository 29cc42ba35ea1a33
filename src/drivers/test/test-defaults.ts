/**
 * What libvirt's test driver fills into a definition beyond the
 * driver-independent defaults `DomainDef` already applies: its guest
 * architecture (i686), its choice of video model, the interface names it
 * makes up on define, and the generic post-parse rules the shared model
 * leaves to each driver (a boot device even beside a kernel, an implicit
 * video card for graphics, the watchdog's default action, autoport
 * graphics without a fixed port, parallel port numbers).
 *
 * Each rule was checked against libvirt 9.0's test driver through
 * python3-libvirt (`test/drivers/test/devices-differential.test.ts`).
 *
 * @module
 */

import type { ChardevDef, GraphicsDef, VideoModel } from '../../conf/domain/devices/index.js';
import type { DomainDef } from '../../conf/domain/domain-def.js';

/** The only guest architecture the fake host has (libvirt's test driver says i686). */
export const TEST_GUEST_ARCH = 'i686';

/** libvirt's interface names on the test driver: `testnet0`, `testnet1`, ... */
const IFNAME_PREFIX = 'testnet';

/** What the source document said that normalisation no longer shows. */
export interface SourceFacts {
  /** Per `<video>`, in document order: whether its `<model>` gave `vgamem`. */
  videoVgamemGiven: readonly boolean[];
}

/** Applies the test driver's defaults in place; `def` has been through `DomainDef`'s normalisation. */
export function applyTestDefaults(def: DomainDef, source: SourceFacts): void {
  bootDevice(def);
  def.devices ??= {};
  const dev = def.devices;
  for (const g of dev.graphics ?? []) autoportGraphics(g);
  if ((dev.graphics?.length ?? 0) > 0 && (dev.videos?.length ?? 0) === 0) dev.videos = [{}];
  for (const [i, v] of (dev.videos ?? []).entries()) {
    // The shared model gives qxl QEMU's video memory default; libvirt's test driver has none.
    if (v.model?.type === 'qxl' && source.videoVgamemGiven[i] === false) delete v.model.vgamem;
    v.model ??= { type: defaultVideoType(def) };
    videoModelDefaults(def, v.model, i === 0);
  }
  for (const w of dev.watchdogs ?? []) w.action ??= 'reset';
  parallelPorts(dev.parallels ?? []);
  interfaceNames(def);
}

/**
 * Definitions are parsed as inactive: with `autoport` a port is not chosen
 * yet. libvirt then writes VNC's as -1, RDP's as 0, and SPICE's not at all.
 */
function autoportGraphics(g: GraphicsDef): void {
  if (g.autoport !== true) return;
  if (g.type === 'vnc' && g.port !== undefined) g.port = -1;
  else if (g.type === 'rdp') g.port = 0;
  else if (g.type === 'spice') {
    delete g.port;
    delete g.tlsPort;
  }
}

/** Parallel ports without a target port get the next one after the highest in use, from 0. */
function parallelPorts(parallels: ChardevDef[]): void {
  let max = -1;
  for (const p of parallels) {
    const n = Number(p.target?.port);
    if (p.target?.port !== undefined && Number.isInteger(n)) max = Math.max(max, n);
  }
  for (const p of parallels) {
    if (p.target?.port !== undefined) continue;
    max++;
    p.target = { ...p.target, port: String(max) };
  }
}

/**
 * libvirt gives an HVM guest without any boot order `<boot dev='hd'/>`;
 * the shared model skips that when a kernel is given, libvirt does not.
 */
function bootDevice(def: DomainDef): void {
  const os = def.os;
  if (os?.type.value !== 'hvm' || (os.boot?.length ?? 0) > 0) return;
  const dev = def.devices;
  const perDevice =
    (dev?.disks ?? []).some((d) => d.boot) ||
    (dev?.interfaces ?? []).some((n) => n.boot) ||
    (dev?.hostdevs ?? []).some((h) => h.boot) ||
    (dev?.redirdevs ?? []).some((r) => r.boot);
  if (!perDevice) os.boot = [{ dev: 'hd' }];
}

/** The test driver's device post-parse: Xen-style guests get `xen`, ppc64 `vga`, the rest `cirrus`. */
function defaultVideoType(def: DomainDef): string {
  const osType = def.os?.type.value;
  if (osType === 'xen' || osType === 'linux') return 'xen';
  if ((def.os?.type.arch ?? '').startsWith('ppc64')) return 'vga';
  return 'cirrus';
}

/** Video RAM libvirt gives a model when none is asked for, in KiB (its per-model table). */
function defaultVram(def: DomainDef, type: string): number | undefined {
  switch (type) {
    case 'vga':
    case 'cirrus':
    case 'vmvga':
      if (def.type === 'vbox') return 8192;
      return def.type === 'vmware' ? 4096 : 16384;
    case 'bochs':
      return 16384;
    case 'xen':
      return 4096;
    case 'qxl':
      return 65536;
    default:
      return undefined;
  }
}

function videoModelDefaults(def: DomainDef, m: VideoModel, first: boolean): void {
  if (m.type === 'none') return;
  if (m.vram === undefined) {
    const vram = defaultVram(def, m.type);
    if (vram !== undefined) m.vram = vram;
  }
  m.heads ??= 1;
  if (first) m.primary = true;
}

/** Names interfaces without `<target dev>` as libvirt's test driver does: the first free `testnetN`. */
function interfaceNames(def: DomainDef): void {
  const nets = def.devices?.interfaces ?? [];
  if (nets.length === 0) return;
  const taken = new Set<string>();
  for (const n of nets) if (n.target?.dev !== undefined) taken.add(n.target.dev);
  let next = 0;
  for (const n of nets) {
    if (n.target?.dev !== undefined) continue;
    while (taken.has(`${IFNAME_PREFIX}${next}`)) next++;
    const dev = `${IFNAME_PREFIX}${next}`;
    taken.add(dev);
    n.target = { ...n.target, dev };
  }
}

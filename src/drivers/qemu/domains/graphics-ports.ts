/**
 * Display ports of a guest about to start, chosen as libvirt chooses them:
 * a VNC or SPICE display with `autoport='yes'` listening on an address gets
 * the lowest free port from 5900 (shared by every guest of the process), a
 * VNC `websocket='-1'` one from 5700. The ports go into the live
 * definition before the command line is built, so QEMU listens where the
 * live XML says; they are given back when the guest stops. Fixed ports
 * are held too, so that no autoport guest is handed one of them.
 *
 * @module
 */
import type { GraphicsDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import { VirError } from '../../../errors.js';
import { parseXml, type XmlElement } from '../../../xml/index.js';
import { driverConfig, type QemuDriverConfig } from '../driver-config.js';
import { displayPorts, type PortAllocator, websocketPorts } from './port-allocator.js';

/** Ports a running guest holds, to give back when it stops. */
export interface PortLease {
  /** `auto`: chosen here, not asked for by the definition. */
  readonly ports: ReadonlyArray<{ allocator: PortAllocator; port: number; auto?: boolean }>;
}

/**
 * The live definition as a migration's destination boots it, like libvirt's
 * migratable XML: a websocket port chosen here is chosen again there (the
 * source still holds it). Automatic display ports need nothing: the parser
 * turns them back into automatic ones already.
 */
export function automaticPortsAgain(def: DomainDef, lease: PortLease | undefined): void {
  const auto = new Set(
    lease?.ports.filter((p) => p.auto && p.allocator === websocketPorts).map((p) => p.port),
  );
  for (const g of def.devices?.graphics ?? [])
    if (g.type === 'vnc' && g.websocket !== undefined && auto.has(g.websocket)) g.websocket = -1;
}

export function releasePorts(lease: PortLease | undefined): void {
  for (const { allocator, port } of lease?.ports ?? []) allocator.release(port);
}

/**
 * Only displays listening on an address (or network) use TCP ports; sockets
 * and `none` do not. Without a `<listen>`, VNC listens on its default
 * address while SPICE listens nowhere (the command line gives it port 0).
 */
function listensOnTcp(g: GraphicsDef): boolean {
  const type = g.listens?.[0]?.type ?? (g.type === 'vnc' ? 'address' : 'none');
  return type === 'address' || type === 'network';
}

/** Picks the automatic ports of `def`'s displays (in place) and holds its fixed ones. */
export async function allocateGraphicsPorts(def: DomainDef): Promise<PortLease> {
  const ports: Array<{ allocator: PortAllocator; port: number; auto?: boolean }> = [];
  const take = async (allocator: PortAllocator) => {
    const port = await allocator.acquire();
    ports.push({ allocator, port, auto: true });
    return port;
  };
  const hold = (allocator: PortAllocator, port: number | undefined) => {
    if (port === undefined || port <= 0 || allocator.isHeld(port)) return;
    allocator.reserve(port);
    if (allocator.isHeld(port)) ports.push({ allocator, port });
  };
  try {
    for (const [i, g] of (def.devices?.graphics ?? []).entries()) {
      if (!listensOnTcp(g)) continue;
      const field = `/domain/devices/graphics[${i + 1}]`;
      if (g.type === 'vnc') {
        if (g.autoport === true) g.port = await take(displayPorts);
        else hold(displayPorts, g.port);
        if (g.websocket === -1) g.websocket = await take(websocketPorts);
        else hold(websocketPorts, g.websocket);
      } else if (g.type === 'spice') {
        await spicePorts(g, field, take, hold);
      }
    }
  } catch (err) {
    releasePorts({ ports });
    throw err;
  }
  return { ports };
}

async function spicePorts(
  g: GraphicsDef,
  field: string,
  take: (a: PortAllocator) => Promise<number>,
  hold: (a: PortAllocator, port: number | undefined) => void,
): Promise<void> {
  let needPort = false;
  let needTls = false;
  // -1 under autoport is a placeholder, not a request (libvirt resets both ports on reading a
  // persistent definition): virt-install writes port='-1' tlsPort='-1' for every SPICE display
  if (g.autoport === true) {
    if (g.port === -1) delete g.port;
    if (g.tlsPort === -1) delete g.tlsPort;
  }
  if (g.autoport === true) {
    // Each channel's mode, then the default mode, say which of the two ports SPICE needs.
    for (const c of g.channels ?? []) {
      if (c.mode === 'secure') needTls = true;
      else if (c.mode === 'insecure') needPort = true;
    }
    if (g.defaultMode === 'secure') needTls = true;
    else needPort = true;
  }
  if (needPort || g.port === -1) g.port = await take(displayPorts);
  else hold(displayPorts, g.port);
  if (needTls || g.tlsPort === -1) {
    // This driver has no SPICE TLS setup (libvirt's spice_tls), so no TLS port can be served.
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${field}: an automatic SPICE TLS port needs SPICE TLS, which is not configured`,
      { field: `${field}/@tlsPort` },
    );
  }
  hold(displayPorts, g.tlsPort);
}

/** Holds the ports of a guest found running after a restart of this process. */
export function reserveLivePorts(def: DomainDef): PortLease {
  const ports: Array<{ allocator: PortAllocator; port: number }> = [];
  for (const g of def.devices?.graphics ?? []) {
    if (!listensOnTcp(g)) continue;
    for (const [allocator, port] of [
      [displayPorts, g.port],
      [displayPorts, g.type === 'spice' ? g.tlsPort : undefined],
      [websocketPorts, g.type === 'vnc' ? g.websocket : undefined],
    ] as const) {
      if (port === undefined || port <= 0 || allocator.isHeld(port)) continue;
      allocator.reserve(port);
      ports.push({ allocator, port });
    }
  }
  return { ports };
}

const PORT_ATTRS = ['port', 'tlsPort', 'websocket'] as const;

/**
 * Puts back the ports of a running guest's displays after its live
 * definition went through the parser, which (for the inactive definition
 * libvirt's tests describe) turns an automatic port back into -1.
 * `from` is the live definition, or its XML as the status file keeps it.
 */
export function restoreLivePorts(to: DomainDef, from: DomainDef | string): void {
  const source =
    typeof from === 'string'
      ? elementsNamed(parseXml(from), 'graphics').map((el) =>
          Object.fromEntries(
            PORT_ATTRS.map((k) => [k, el.attrs.find((a) => a.name === k)?.value]).map(([k, v]) => [
              k,
              v === undefined ? undefined : Number(v),
            ]),
          ),
        )
      : (from.devices?.graphics ?? []);
  for (const [i, g] of (to.devices?.graphics ?? []).entries()) {
    const s = source[i] as Partial<Record<(typeof PORT_ATTRS)[number], number>> | undefined;
    if (!s) continue;
    for (const k of PORT_ATTRS) {
      const v = s[k];
      if (v !== undefined && Number.isSafeInteger(v) && v > 0) g[k] = v;
    }
  }
}

function elementsNamed(root: XmlElement, name: string): XmlElement[] {
  const devices = root.children.find((c): c is XmlElement => c.type === 'element' && c.name === 'devices');
  return (devices?.children ?? []).filter((c): c is XmlElement => c.type === 'element' && c.name === name);
}

/**
 * A display's `<listen type='address'>` without an address, as a running guest's XML shows it:
 * the address the command line made it listen on (qemu.conf's `vnc_listen` / `spice_listen`,
 * this host only by default), on the listen and as the display's `listen`, as libvirt writes
 * it. Formatting only: the definitions the driver keeps leave it to the next start.
 */
export function showListenAddresses(live: DomainDef, cfg: QemuDriverConfig = driverConfig(undefined)): void {
  for (const g of live.devices?.graphics ?? []) {
    const l = g.listens?.[0];
    if (l?.type !== 'address' || l.address !== undefined || g.listen !== undefined) continue;
    const [address, socket] =
      g.type === 'vnc'
        ? [cfg.vncListen, cfg.vncAutoUnixSocket]
        : g.type === 'spice'
          ? [cfg.spiceListen, cfg.spiceAutoUnixSocket]
          : [undefined, true];
    if (address === undefined || socket) continue;
    l.address = address;
    g.listen = address;
  }
}

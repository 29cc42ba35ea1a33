/**
 * TCP ports for guests' remote displays, as libvirt's port allocator hands
 * them out: the lowest port of a range that no guest of this process holds
 * and that can be bound right now (someone else may be listening on it),
 * given back when the guest stops. One allocator per range is shared by
 * every connection of the process, as libvirt's daemon has one.
 *
 * @module
 */
import { createServer } from 'node:net';
import { VirError } from '../../../errors.js';

export class PortAllocator {
  readonly #held = new Set<number>();

  constructor(
    readonly name: string,
    readonly min: number,
    readonly max: number,
  ) {}

  /** The lowest free, bindable port; `SYSTEM_ERROR` when the range is used up. */
  async acquire(): Promise<number> {
    for (let port = this.min; port <= this.max; port++) {
      if (this.#held.has(port)) continue;
      // Held before the (asynchronous) bind check, so two starts never pick the same port.
      this.#held.add(port);
      if (await bindable(port)) return port;
      this.#held.delete(port);
    }
    throw new VirError('SYSTEM_ERROR', 'qemu', `no free ${this.name} port in ${this.min}..${this.max}`);
  }

  /** Marks a port a guest uses as held (a fixed port, or one found again after a restart). */
  reserve(port: number): void {
    if (port >= this.min && port <= this.max) this.#held.add(port);
  }

  release(port: number): void {
    this.#held.delete(port);
  }

  isHeld(port: number): boolean {
    return this.#held.has(port);
  }
}

/** Whether nothing listens on `port` on any IPv4 or IPv6 address (QEMU binds one of them). */
async function bindable(port: number): Promise<boolean> {
  if (!(await tryListen(port, '0.0.0.0'))) return false;
  // A host without IPv6 cannot have anyone listening there.
  return (await tryListen(port, '::', true)) !== false;
}

function tryListen(port: number, host: string, ipv6Only = false): Promise<boolean | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => {
      resolve(err.code === 'EADDRINUSE' || err.code === 'EACCES' ? false : undefined);
    });
    server.listen({ port, host, ipv6Only, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/** VNC and SPICE share libvirt's remote display range (`remote_display_port_min..max`). */
export const displayPorts = new PortAllocator('remote display', 5900, 65535);
/** VNC websockets (`remote_websocket_port_min..max`). */
export const websocketPorts = new PortAllocator('websocket', 5700, 65535);

/**
 * Ports on virtio-serial controllers, as libvirt assigns them at define
 * time. Every port already named in the definition is reserved first. Then
 * each virtio console takes the first free port (0, the console port,
 * included) of the first controller with room, but keeps no address: QEMU
 * places a console itself. Then each virtio channel without a complete
 * address gets one, from port 1: on its controller when one is named, else
 * on the first controller with room, else on a new controller at the lowest
 * free index. An assigned address is always on bus 0, whatever bus was asked.
 *
 * @module
 */
import type { ChardevDef, ControllerDef, Devices } from '../../../conf/domain/devices/index.js';
import { insertControllers } from '../../../conf/domain/implicit-controllers.js';
import { VirError } from '../../../errors.js';

/** Ports of a controller that does not say (QEMU's default is also 31). */
const DEFAULT_PORTS = 31;

interface Bus {
  index: number;
  size: number;
  used: Set<number>;
}

export function assignVirtioSerialPorts(dev: Devices): void {
  dev.controllers ??= [];
  const ctrls = dev.controllers;
  const buses: Bus[] = ctrls
    .filter((c) => c.type === 'virtio-serial')
    .map((c) => ({ index: c.index ?? 0, size: c.ports ?? DEFAULT_PORTS, used: new Set<number>() }));
  const bus = (i: number) => buses.find((b) => b.index === i);
  const virtio = (list: ChardevDef[] | undefined) => (list ?? []).filter((c) => c.target?.type === 'virtio');
  const consoles = virtio(dev.consoles);
  const channels = virtio(dev.channels);
  for (const c of [...consoles, ...channels]) {
    const a = c.address;
    if (a?.type !== 'virtio-serial') continue;
    // libvirt reads a missing controller or bus as 0 and writes it out.
    a.controller ??= 0;
    a.bus ??= 0;
    if (a.port) bus(a.controller)?.used.add(a.port);
  }
  const firstFree = (b: Bus, from: number) => {
    for (let p = from; p < b.size; p++) if (!b.used.has(p)) return p;
    return undefined;
  };
  const next = (from: number): { index: number; port: number } => {
    for (const b of buses) {
      const port = firstFree(b, from);
      if (port !== undefined) return { index: b.index, port };
    }
    let index = 0;
    while (bus(index)) index++;
    const c: ControllerDef = { type: 'virtio-serial', index };
    insertControllers(ctrls, [c]);
    buses.push({ index, size: DEFAULT_PORTS, used: new Set() });
    return { index, port: from };
  };
  for (const c of consoles) {
    if (c.address?.type === 'virtio-serial' && c.address.port) continue;
    const at = next(0);
    bus(at.index)!.used.add(at.port);
  }
  for (const [i, c] of channels.entries()) {
    const a = c.address;
    if (a && a.type !== 'virtio-serial') continue;
    if (a?.port) continue;
    if (a) {
      // A controller was named: a port on it, or an error.
      const k = a.controller ?? 0;
      const b = bus(k);
      const port = b && firstFree(b, 1);
      if (port === undefined)
        throw new VirError(
          'XML_ERROR',
          'qemu',
          b ? `no free port on virtio-serial controller ${k}` : `virtio-serial controller ${k} is missing`,
          { field: `/domain/devices/channel[${i + 1}]/address` },
        );
      b!.used.add(port);
      c.address = { type: 'virtio-serial', controller: k, bus: 0, port };
      continue;
    }
    const at = next(1);
    bus(at.index)!.used.add(at.port);
    c.address = { type: 'virtio-serial', controller: at.index, bus: 0, port: at.port };
  }
}

/**
 * What the domain table adds to a guest's raw QMP events: the monitor
 * tap's shape (libvirt-qemu's event: name, QEMU's timestamp, details), and
 * the facts of the live definition the domain events name (the guest
 * agent's ports).
 *
 * @module
 */
import type { QemuMonitorEvent } from '../../../driver.js';
import type { DomainMonitorEvent } from '../lifecycle/index.js';
import { chardevAliases } from './chardev-aliases.js';
import type { Entry } from './domain-entry.js';

const AGENT_CHANNEL = 'org.qemu.guest_agent.0';

/** A runner's raw event as the monitor tap delivers it. */
export function monitorEventOf(ev: DomainMonitorEvent): QemuMonitorEvent {
  const data = ev.event.data;
  return {
    type: 'qemu-monitor',
    domain: ev.domain,
    event: ev.event.event,
    seconds: ev.event.timestamp?.seconds ?? Math.floor(ev.timestamp / 1000),
    micros: ev.event.timestamp?.microseconds ?? 0,
    details: data && Object.keys(data).length > 0 ? data : undefined,
  };
}

/** The device aliases of the running guest's agent channels (`channel0`, ...). */
export function agentPorts(e: Entry): ReadonlySet<string> {
  if (!e.live) return new Set();
  return new Set(
    chardevAliases(e.live)
      .filter((c) => c.element === 'channel' && c.chardev.target?.name === AGENT_CHANNEL)
      .map((c) => c.alias),
  );
}

/**
 * Where a guest's interface addresses come from besides DHCP leases: the
 * guest agent's answer (merged as libvirt merges aliases) and the host's
 * ARP table; and the host-side name each interface is reported under.
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import type { DomainInterface, DomainIpAddress } from '../../../driver-agent.js';
import { tapName } from '../lifecycle/index.js';
import type { Entry } from './domain-entry.js';

type Obj = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const list = (v: unknown): Obj[] =>
  Array.isArray(v) ? v.filter((x): x is Obj => typeof x === 'object' && x !== null) : [];

/**
 * The host-side name of interface `i`: its `<target dev>`, else the tap a
 * start as root makes for it (bridge-taps.ts's name), else `net<i>` (QEMU
 * or its bridge helper named it).
 */
export function hostIfname(e: Entry, i: number): string {
  const n = e.live?.devices?.interfaces?.[i];
  if (n?.target?.dev !== undefined) return n.target.dev;
  if (process.getuid?.() === 0 && n !== undefined && (n.type === 'bridge' || n.source?.portid !== undefined))
    return tapName(n, e.uuid, i, '');
  return `net${i}`;
}

/** libvirt's merge: `eth0:1` is an alias of `eth0`, its addresses go to it. */
export function agentInterfaces(reply: unknown): DomainInterface[] {
  const byName = new Map<string, { name: string; hwaddr?: string; addrs: DomainIpAddress[] }>();
  for (const i of list(reply)) {
    const name = (str(i.name) ?? '').split(':')[0] ?? '';
    let iface = byName.get(name);
    if (!iface) {
      const hw = str(i['hardware-address']);
      iface = { name, ...(hw !== undefined ? { hwaddr: hw } : {}), addrs: [] };
      byName.set(name, iface);
    }
    for (const a of list(i['ip-addresses'])) {
      const type = a['ip-address-type'];
      const addr = str(a['ip-address']);
      if ((type !== 'ipv4' && type !== 'ipv6') || addr === undefined) continue;
      iface.addrs.push({ type, addr, prefix: num(a.prefix) });
    }
  }
  return [...byName.values()];
}

/** The host's ARP entries for the MACs of the guest's interfaces (IPv4, prefix unknown: 0). */
export async function arpInterfaces(e: Entry): Promise<DomainInterface[]> {
  let text = '';
  try {
    text = await readFile('/proc/net/arp', 'utf8');
  } catch {
    return [];
  }
  const entries = text
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/))
    .filter((f) => f.length >= 6 && f[2] !== '0x0');
  const out: DomainInterface[] = [];
  for (const [i, net] of (e.live?.devices?.interfaces ?? []).entries()) {
    const mac = net.mac?.address?.toLowerCase();
    if (!mac) continue;
    const addrs = entries
      .filter((f) => f[3]?.toLowerCase() === mac)
      .map((f): DomainIpAddress => ({ type: 'ipv4', addr: f[0] ?? '', prefix: 0 }));
    if (addrs.length > 0) out.push({ name: hostIfname(e, i), hwaddr: mac, addrs });
  }
  return out;
}

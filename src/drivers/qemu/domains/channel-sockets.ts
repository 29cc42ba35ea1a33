/**
 * The live side of virtio channels, as libvirt's QEMU driver keeps it.
 *
 * A `unix` virtio channel defined without a path gets one in the run's
 * directory when the guest starts (or the channel is plugged), and the live
 * definition shows it, so a user or tool can find the socket from the XML.
 * Each virtio channel's `<target state>` says whether the guest has its end
 * open: read from QEMU (`query-chardev`'s `frontend-open`) while the guest
 * waits at `-S`, then followed through `VSERPORT_CHANGE`.
 *
 * Neither belongs to the definition: a migration's destination or a
 * restore starts in a directory of its own, so the XML it is given has the
 * made-up path taken out again (libvirt's migratable XML drops it too), and
 * the state is QEMU's to report there.
 *
 * @module
 */
import type { ChardevDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import { channelSocketFile, generatedChannelPath } from '../command-line/chardevs.js';
import { chardevAliases, type QmpChardevInfo } from './chardev-aliases.js';

/** Gives `c` (a `unix` virtio channel without a path) the socket `runDir` has for it. */
export function placeChannelSocket(c: ChardevDef, runDir: string): void {
  const path = generatedChannelPath(c, runDir);
  if (path === undefined) return;
  const [first, ...rest] = c.sources ?? [];
  c.sources = [{ ...(first ?? {}), mode: 'bind', path }, ...rest];
}

/** Every channel of a guest about to start, placed in its run directory. */
export function placeChannelSockets(live: DomainDef, runDir: string): void {
  for (const c of live.devices?.channels ?? []) placeChannelSocket(c, runDir);
}

/** Each virtio channel's state as QEMU reports it (a guest at `-S` has every port closed). */
export function applyChannelStates(live: DomainDef, chardevs: readonly QmpChardevInfo[]): void {
  const open = new Map(chardevs.map((c) => [c.label, c['frontend-open']]));
  for (const { element, chardev, alias } of chardevAliases(live)) {
    if (element !== 'channel' || chardev.target?.type !== 'virtio') continue;
    const o = open.get(`char${alias}`);
    if (o !== undefined) setState(chardev, o);
  }
}

/**
 * A `VSERPORT_CHANGE` for device `alias`: the channel's new state in the
 * live definition; whether it changed (the status file is then written).
 */
export function channelPortChanged(live: DomainDef | undefined, alias: string, open: boolean): boolean {
  if (!live) return false;
  const found = chardevAliases(live).find((a) => a.element === 'channel' && a.alias === alias);
  if (found?.chardev.target?.type !== 'virtio') return false;
  const before = found.chardev.target.state;
  setState(found.chardev, open);
  return before !== found.chardev.target.state;
}

/**
 * A live definition made migratable (in place, on a copy): sockets this run
 * made up for its channels are made up again by the next, and the ports'
 * states are that QEMU's to tell.
 */
export function forgetChannelSockets(def: DomainDef, runDir: string): void {
  for (const c of def.devices?.channels ?? []) {
    if (c.target?.type !== 'virtio') continue;
    delete c.target.state;
    const file = channelSocketFile(c);
    // without its path a unix source has nothing libvirt writes (its XML has no <source> then)
    if (file !== undefined && c.sources?.[0]?.path === `${runDir}/${file}`) delete c.sources;
  }
}

function setState(c: ChardevDef, open: boolean): void {
  if (c.target) c.target.state = open ? 'connected' : 'disconnected';
}

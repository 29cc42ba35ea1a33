/**
 * The host end of an interface plugged into, or unplugged from, a running
 * guest, as libvirt's QEMU driver makes it before `netdev_add` and removes
 * it after `DEVICE_DELETED`: for `<interface type='network'>` a port of the
 * virtual network (its bridge written into the live `<source portid
 * bridge>`, as at start); for a bridge (its own or the port's) and for
 * `type='ethernet'` the tap a start makes (as root, `lifecycle/bridge-taps.ts`),
 * or, for an unprivileged caller on a bridge, the qemu-bridge-helper QEMU runs.
 *
 * libvirt opens the tap itself and hands QEMU the descriptor (`getfd`,
 * `add-fd`); Node.js cannot pass descriptors over a unix socket, so QEMU
 * opens the tap by name here, exactly as it does for the taps of a start.
 *
 * @module
 */
import type { InterfaceDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { NetworkPortRef, NetworkRef } from '../../../driver-objects.js';
import { VirError } from '../../../errors.js';
import type { StartedForNic } from '../command-line/net-backends.js';
import type { NetHost } from '../command-line/types.js';
import { deleteTap, madeTap, plugTap } from '../lifecycle/index.js';
import { cloneDef, type Entry } from './domain-entry.js';

/** What the device calls need of the virtual networks and helpers of the same roots. */
export interface HotplugNetHost {
  /** The networks of the same roots: `plugGuest` as at start, the port API to give one port back. */
  readonly networks?:
    | {
        plugGuest(def: DomainDef): Promise<{ release(): void }>;
        lookupNetwork(key: { name: string }): Promise<NetworkRef>;
        portDelete(ref: NetworkPortRef): Promise<void>;
      }
    | undefined;
  /** qemu.conf's `bridge_helper`, for an unprivileged caller (default: found as libvirt does). */
  readonly bridgeHelper?: string | undefined;
}

/** What was made on the host for one plugged interface: what its options read, and how to undo it. */
export interface NicHostEnd {
  readonly started: StartedForNic;
  /** The bridge a virtual network's port named (the command line's `resolveNetwork`). */
  readonly networks: Pick<NetHost, 'resolveNetwork'>;
  /** Removes the tap and gives the port back. */
  undo(): Promise<void>;
}

/**
 * Makes the host end of the `index`-th interface of `next` (the live
 * definition with it added), writing its port and tap into it. On failure
 * nothing made stays.
 */
export async function plugNicHost(
  host: HotplugNetHost,
  e: Entry,
  next: DomainDef,
  index: number,
  field: string,
): Promise<NicHostEnd> {
  const interfaces = next.devices?.interfaces ?? [];
  const nic = interfaces[index] as InterfaceDef;
  let release: (() => void) | undefined;
  if (nic.type === 'network') {
    if (!host.networks)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'this connection has no virtual networks', {
        field: `${field}/source/@network`,
      });
    // the start's own step, on a copy holding only this interface: one port, its bridge into nic.source
    const one = cloneDef(next);
    if (one.devices) one.devices.interfaces = [nic];
    try {
      release = (await host.networks.plugGuest(one)).release;
    } catch (err) {
      throw asThisNic(err, nic, field);
    }
  }
  let made: Awaited<ReturnType<typeof plugTap>>;
  try {
    made = await plugTap(
      interfaces,
      index,
      e.uuid,
      host.bridgeHelper !== undefined ? { helper: host.bridgeHelper } : {},
    );
  } catch (err) {
    release?.();
    throw err;
  }
  const bridge = nic.source?.bridge;
  return {
    started: { tap: () => made.tap?.ifname, bridgeHelper: () => made.bridgeHelper },
    networks: {
      resolveNetwork: () => {
        if (bridge === undefined)
          throw new VirError('INTERNAL_ERROR', 'qemu', 'the network port named no bridge', {
            field: `${field}/source/@network`,
          });
        return { type: 'bridge', bridge };
      },
    },
    undo: async () => {
      if (made.tap) await deleteTap(made.tap);
      release?.();
    },
  };
}

/** The copy's `interface[1]` in an error of `plugGuest` is the guest's `field`; the message names the NIC. */
function asThisNic(err: unknown, nic: InterfaceDef, field: string): unknown {
  if (!(err instanceof VirError)) return err;
  const copy = '/domain/devices/interface[1]';
  const at = err.field?.startsWith(copy) ? field + err.field.slice(copy.length) : (err.field ?? field);
  const who = [
    nic.alias?.name,
    nic.mac?.address && `MAC ${nic.mac.address}`,
    nic.target?.dev && `target ${nic.target.dev}`,
  ]
    .filter(Boolean)
    .join(', ');
  return new VirError(err.code, err.domain, who ? `${err.message} (interface ${who})` : err.message, {
    field: at,
    cause: err,
  });
}

/**
 * Removes what a start or a hot-plug made on the host for `nic` once QEMU
 * let go of it: its tap (made as root; a bridge helper's tap goes with
 * QEMU's descriptor) and its network port.
 */
export async function unplugNicHost(host: HotplugNetHost, nic: InterfaceDef, index: number): Promise<void> {
  const dev = nic.target?.dev;
  if (madeTap(nic) && dev !== undefined && process.getuid?.() === 0 && nic.target?.managed !== false)
    await deleteTap({ index, ifname: dev, bridge: nic.source?.bridge });
  const name = nic.source?.network;
  const portid = nic.source?.portid;
  if (nic.type !== 'network' || name === undefined || portid === undefined || !host.networks) return;
  try {
    const network = await host.networks.lookupNetwork({ name });
    await host.networks.portDelete({ network, uuid: portid });
  } catch {
    // the network stopped meanwhile, and its ports with it
  }
}

/**
 * Has the guest's stop also undo a hot-plugged interface's host end, as it
 * removes the taps and ports of a start. A guest re-attached after a restart
 * has no helper handles: its taps are removed by name from the live
 * definition then (`forgetGuestHelpers`).
 */
export function undoAtStop(e: Entry, undo: () => Promise<void>): void {
  const h = e.helpers;
  if (!h) return;
  e.helpers = {
    sockets: h.sockets,
    running: h.running,
    onUnexpectedExit: (l) => h.onUnexpectedExit(l),
    stop: async () => {
      await undo();
      await h.stop();
    },
  };
}

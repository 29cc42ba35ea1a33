/**
 * The QEMU driver's command line for a guest about to start: the probed
 * caps of its emulator, the runner's paths and the sockets of the helpers
 * started for it, and what its volume disks are (the storage of the same
 * roots), given to `buildCommandLine`.
 *
 * @module
 */
import type { DomainDef } from '../../conf/domain/index.js';
import { VirError } from '../../errors.js';
import { buildCommandLine } from './command-line/index.js';
import type { NetworkConnection } from './command-line/types.js';
import type { CommandLineFor } from './domains/index.js';
import type { QemuCapsCache } from './probe/caps-cache.js';
import type { QemuStorage } from './storage/index.js';

/**
 * What a guest's `<interface type='network'>` resolved to at start: the
 * bridge its network port named, written into the live definition
 * (network/net-ports.ts). An interface without one was not plugged.
 */
function pluggedNetwork(def: DomainDef, name: string, port: { mac?: string }): NetworkConnection {
  const nic = (def.devices?.interfaces ?? []).find(
    (n) =>
      n.type === 'network' &&
      n.source?.network === name &&
      n.source.portid !== undefined &&
      n.mac?.address === port.mac,
  );
  const bridge = nic?.source?.bridge;
  if (bridge === undefined)
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `virtual network '${name}' gave the interface no port`, {
      field: '/domain/devices/interface/source/@network',
    });
  return { type: 'bridge', bridge };
}

export function commandLineFor(cache: QemuCapsCache, storage?: QemuStorage): CommandLineFor {
  return async (def, run, signal, helpers, extra) => {
    const emulator = def.devices?.emulator ?? '';
    const caps = (await cache.get(emulator, signal ? { signal } : {})).caps;
    // <disk type='volume'>: the pools of the same roots say what each is
    const resolveVolume = await storage?.resolverFor(def);
    // display ports are in the live definition already (domains/graphics-ports.ts)
    return buildCommandLine(def, caps, {
      domainDir: run.runDir,
      monitor: { path: run.monitorSocket },
      ...(resolveVolume ? { resolveVolume } : {}),
      ...(extra?.incoming !== undefined ? { incoming: extra.incoming } : {}),
      ...extra?.hostDevices,
      ...(helpers?.tpmEmulatorSocket !== undefined ? { tpmEmulatorSocket: helpers.tpmEmulatorSocket } : {}),
      ...(helpers?.virtiofsSockets !== undefined ? { virtiofsSockets: helpers.virtiofsSockets } : {}),
      ...(helpers?.passtSockets !== undefined
        ? { passtSocket: (_alias: string, i: number) => helpers.passtSockets?.[i] }
        : {}),
      ...(helpers?.bridgeTaps !== undefined ? { bridgeTap: (i: number) => helpers.bridgeTaps?.[i] } : {}),
      ...(helpers?.bridgeHelpers !== undefined
        ? { bridgeHelper: (i: number) => helpers.bridgeHelpers?.[i] }
        : {}),
      networks: { resolveNetwork: (name, port) => pluggedNetwork(def, name, port) },
    });
  };
}

/**
 * The QEMU driver's command line for a guest about to start: the probed
 * caps of its emulator, the runner's paths and the sockets of the helpers
 * started for it, given to `buildCommandLine`.
 *
 * @module
 */
import { buildCommandLine } from './command-line/index.js';
import type { CommandLineFor } from './domains/index.js';
import type { QemuCapsCache } from './probe/caps-cache.js';

export function commandLineFor(cache: QemuCapsCache): CommandLineFor {
  return async (def, run, signal, helpers, extra) => {
    const emulator = def.devices?.emulator ?? '';
    const caps = (await cache.get(emulator, signal ? { signal } : {})).caps;
    // display ports are in the live definition already (domains/graphics-ports.ts)
    return buildCommandLine(def, caps, {
      domainDir: run.runDir,
      monitor: { path: run.monitorSocket },
      ...(extra?.incoming !== undefined ? { incoming: extra.incoming } : {}),
      ...(helpers?.tpmEmulatorSocket !== undefined ? { tpmEmulatorSocket: helpers.tpmEmulatorSocket } : {}),
      ...(helpers?.virtiofsSockets !== undefined ? { virtiofsSockets: helpers.virtiofsSockets } : {}),
      ...(helpers?.passtSockets !== undefined
        ? { passtSocket: (_alias: string, i: number) => helpers.passtSockets?.[i] }
        : {}),
      ...(helpers?.bridgeTaps !== undefined ? { bridgeTap: (i: number) => helpers.bridgeTaps?.[i] } : {}),
    });
  };
}

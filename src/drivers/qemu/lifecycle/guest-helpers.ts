/**
 * The helper processes one guest needs, started together before QEMU and
 * stopped together after it: swtpm for an emulated TPM, a virtiofsd per
 * virtiofs share, a passt per passt-backed user interface. A new kind adds
 * its spec builder here and what QEMU must be told about it to
 * {@link HelperSockets}.
 *
 * @module
 */
import { accessSync, constants, rmSync, statSync } from 'node:fs';
import type { InterfaceDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/index.js';
import { VirError } from '../../../errors.js';
import type { XmlElement } from '../../../xml/tree.js';
import { findOnPath } from '../caps/host-facts.js';
import { type BridgeTap, createTap, deleteTap, madeTap, plannedTaps, tapName } from './bridge-taps.js';
import { type HelperExit, type HelperSpec, type RunningHelper, startHelper } from './guest-helper.js';
import { passtFiles, passtHasVhostUser, passtSpec } from './passt.js';
import type { RunnerRoots } from './runner-command.js';
import { ensureSwtpmState, helperRunDir, swtpmFiles, swtpmSpec } from './swtpm.js';
import { findVirtiofsd, virtiofsdFeatures, virtiofsdFiles, virtiofsdSpec } from './virtiofsd.js';
import { sessionVirtiofsdSpec } from './virtiofsd-session.js';

/** Helper binaries; each defaults to the one found on PATH. */
export interface HelperBinaries {
  readonly swtpm?: string;
  readonly swtpmSetup?: string;
  /** Default: the `fs` vhost-user descriptor's binary; a share's `<binary path>` wins over both. */
  readonly virtiofsd?: string;
  readonly passt?: string;
  /** qemu.conf's `bridge_helper`: a name looked up as libvirt does, or a path (default `qemu-bridge-helper`). */
  readonly bridgeHelper?: string;
}

/** What the command line needs from the helpers (`CommandLinePaths` takes the same names). */
export interface HelperSockets {
  tpmEmulatorSocket?: string;
  /** By filesystem index (0-based). */
  virtiofsSockets?: Record<number, string>;
  /** By interface index (0-based). */
  passtSockets?: Record<number, string>;
  /** The tap made for each bridge interface, by interface index (0-based). */
  bridgeTaps?: Record<number, string>;
  /** The qemu-bridge-helper QEMU runs for each bridge interface of an unprivileged guest, by interface index. */
  bridgeHelpers?: Record<number, string>;
}

export interface GuestHelpers {
  readonly sockets: HelperSockets;
  readonly running: readonly RunningHelper[];
  /** Called once, for the first helper that ends on its own while the guest runs. */
  onUnexpectedExit(listener: (exit: HelperExit) => void): void;
  /** Stops every helper and removes their runtime directory. */
  stop(): Promise<void>;
}

async function binary(given: string | undefined, name: string, field: string): Promise<string> {
  const found =
    given ?? (await findOnPath(name, { PATH: `${process.env.PATH ?? ''}:/usr/bin:/usr/local/bin` }));
  if (found === undefined)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `${name} is needed for this device but is not installed`,
      {
        field,
      },
    );
  // a named binary that is not there would only show as a helper dying at once
  if (!isExecutable(found))
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `${name} binary ${found} is not an executable file`, {
      field,
    });
  return found;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * What a stopped guest's helpers leave when nobody holds their handles (a
 * guest re-attached after a restart of this process): their runtime
 * directory, and the taps of its bridge interfaces, named as at start.
 */
export async function forgetGuestHelpers(
  roots: RunnerRoots,
  uuid: string,
  live: DomainDef | undefined,
): Promise<void> {
  rmSync(helperRunDir(roots, uuid), { recursive: true, force: true });
  for (const [i, n] of (live?.devices?.interfaces ?? []).entries()) {
    if (!madeTap(n) || (n.type !== 'ethernet' && n.source?.bridge === undefined)) continue;
    try {
      const ifname = tapName(n, uuid, i, `/domain/devices/interface[${i + 1}]`);
      await deleteTap({ index: i, ifname, bridge: n.source?.bridge });
    } catch {
      // a name the start would have refused: no tap was made
    }
  }
}

/** `<binary path>` of a virtiofs share, when it names one. */
function binarySettingsPath(el: XmlElement | undefined): string | undefined {
  return el?.attrs.find((a) => a.name === 'path')?.value;
}

/**
 * Starts the helpers `def` needs. On any failure the ones already started
 * are stopped and their runtime files removed before the error is thrown.
 */
export async function startGuestHelpers(
  def: DomainDef,
  roots: RunnerRoots,
  binaries: HelperBinaries = {},
  signal?: AbortSignal,
): Promise<GuestHelpers> {
  const guest = { name: def.name, uuid: def.uuid ?? '' };
  const running: RunningHelper[] = [];
  const sockets: HelperSockets = {};
  const taps: BridgeTap[] = [];
  const stop = async () => {
    await Promise.all(running.map((h) => h.stop()));
    await Promise.all(taps.map((t) => deleteTap(t)));
    rmSync(helperRunDir(roots, guest.uuid), { recursive: true, force: true });
  };
  try {
    // everything that can be refused is checked before the first tap or process is made
    const interfaces = def.devices?.interfaces ?? [];
    const bridgeHelpers: Record<number, string> = {};
    const plannedTapList = plannedTaps(
      interfaces,
      guest.uuid,
      binaries.bridgeHelper !== undefined ? { helper: binaries.bridgeHelper } : {},
      bridgeHelpers,
    );
    if (Object.keys(bridgeHelpers).length > 0) sockets.bridgeHelpers = bridgeHelpers;
    const daemons: Array<{ spec: HelperSpec; done: (socket: string) => void }> = [];
    for (const [i, fs] of (def.devices?.filesystems ?? []).entries()) {
      // a share with <source socket> is served by a daemon someone else runs
      if (fs.driver?.type !== 'virtiofs' || fs.source?.socket !== undefined) continue;
      const field = `/domain/devices/filesystem[${i + 1}]`;
      const named = binarySettingsPath(fs.binary);
      const found = named ?? binaries.virtiofsd ?? findVirtiofsd();
      if (found === undefined)
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `${field}: virtiofsd is needed for this share but no vhost-user descriptor of type 'fs' names one`,
          { field: `${field}/driver/@type` },
        );
      const bin = await binary(found, 'virtiofsd', named ? `${field}/binary/@path` : `${field}/driver/@type`);
      const features = await virtiofsdFeatures(bin, signal);
      const asRoot = virtiofsdSpec(fs, field, bin, features, virtiofsdFiles(roots, guest, i));
      daemons.push({
        // as a user, the daemon runs in a user namespace (virtiofsd-session.ts)
        spec:
          process.getuid?.() === 0
            ? asRoot
            : sessionVirtiofsdSpec(asRoot, features, field, helperRunDir(roots, guest.uuid), i),
        done: (socket) => {
          sockets.virtiofsSockets = { ...sockets.virtiofsSockets, [i]: socket };
        },
      });
    }
    for (const [i, n] of interfaces.entries()) {
      if ((n.type !== 'user' && n.type !== 'vhostuser') || n.backend?.type !== 'passt') continue;
      const field = `/domain/devices/interface[${i + 1}]`;
      const bin = await binary(binaries.passt, 'passt', `${field}/backend/@type`);
      if (n.type === 'vhostuser' && !(await passtHasVhostUser(bin, signal)))
        throw new VirError(
          'CONFIG_UNSUPPORTED',
          'qemu',
          `${bin} has no vhost-user mode (passt builds from late 2024 on have --vhost-user)`,
          { field: `${field}/backend/@type` },
        );
      daemons.push({
        spec: passtSpec(n, field, bin, passtFiles(roots, guest, i)),
        done: (socket) => {
          sockets.passtSockets = { ...sockets.passtSockets, [i]: socket };
        },
      });
    }
    const tpm = def.devices?.tpms?.[0];
    const tpmField = '/domain/devices/tpm[1]/backend/@type';
    const swtpm =
      tpm?.backend?.type === 'emulator'
        ? {
            tpm,
            files: swtpmFiles(roots, guest, tpm),
            bins: {
              swtpm: await binary(binaries.swtpm, 'swtpm', tpmField),
              swtpmSetup: await binary(binaries.swtpmSetup, 'swtpm_setup', tpmField),
            },
          }
        : undefined;

    for (const t of plannedTapList) {
      taps.push(t);
      const n = interfaces[t.index] as InterfaceDef;
      await createTap(t, n);
      // the live definition names the tap, as libvirt's does
      n.target ??= { dev: t.ifname };
      sockets.bridgeTaps = { ...sockets.bridgeTaps, [t.index]: t.ifname };
    }
    if (swtpm) {
      await ensureSwtpmState(swtpm.tpm, swtpm.files, guest, swtpm.bins, signal);
      const h = await startHelper(swtpmSpec(swtpm.tpm, swtpm.files, swtpm.bins), signal);
      running.push(h);
      sockets.tpmEmulatorSocket = h.socket;
    }
    for (const d of daemons) {
      const h = await startHelper(d.spec, signal);
      running.push(h);
      d.done(h.socket);
    }
  } catch (err) {
    await stop();
    throw err;
  }
  // the first exit is kept until someone listens: a helper may die before the guest is up
  let first: HelperExit | undefined;
  const listeners: Array<(e: HelperExit) => void> = [];
  for (const h of running)
    h.onUnexpectedExit((exit) => {
      if (first) return;
      first = exit;
      for (const l of listeners) l(exit);
    });
  return {
    sockets,
    running,
    onUnexpectedExit: (l) => {
      listeners.push(l);
      if (first) l(first);
    },
    stop,
  };
}

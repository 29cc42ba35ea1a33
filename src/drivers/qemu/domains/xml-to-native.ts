/**
 * `virConnectDomainXMLToNative(qemu-argv)` for the in-process driver: the
 * command line a start of this definition would run, as one shell-quoted
 * line (`ENV=… /usr/bin/qemu-system-x86_64 -name …`), without starting
 * anything. The definition goes through define's checks and defaults and
 * the start's refusals first, so what it prints is what a start would run,
 * except the paths of helper sockets, which are where a start would put
 * them.
 *
 * What a start opens on the host is not opened, as libvirt's conversion
 * opens nothing: a `<vsock>`'s `vhostfd` is `-1` and its `guest-cid` the
 * definition's address (0 with `auto` and none), a SCSI LUN of a host
 * adapter is named by the generic device (`/dev/sgN`) sysfs says it has,
 * a host without it refused as the start refuses it.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import { hostScsiLun } from '../command-line/hostdev-scsi.js';
import { runnerPaths, swtpmFiles } from '../lifecycle/index.js';
import { allocateGraphicsPorts, releasePorts } from './graphics-ports.js';
import { refuseHostSideSettings } from './host-side-settings.js';
import { scsiGeneric } from './hotplug-hostdev.js';
import { prepareDefinition } from './prepare-definition.js';
import type { QemuDomainsOptions } from './qemu-domains-options.js';
import { runnerGuestFromDef } from './runner-guest-from-def.js';

/** The native formats libvirt's QEMU driver converts to. */
export const NATIVE_FORMATS = ['qemu-argv'] as const;

/** The field of the host device a LUN lookup is for, to name it in a refusal. */
function hostdevField(
  def: Awaited<ReturnType<typeof prepareDefinition>>,
  lun: { adapter: string; bus: number; target: number; unit: number },
): string {
  const i = (def.devices?.hostdevs ?? []).findIndex((h) => {
    const l = hostScsiLun(h);
    return (
      l !== undefined &&
      l.adapter === lun.adapter &&
      l.bus === lun.bus &&
      l.target === lun.target &&
      l.unit === lun.unit
    );
  });
  return `/domain/devices/hostdev[${i + 1}]`;
}

/** One word for a POSIX shell: bare when it is plain, single-quoted otherwise. */
export function shellQuote(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export async function domainXmlToNative(
  format: string,
  xml: string,
  options: QemuDomainsOptions,
  signal?: AbortSignal,
): Promise<string> {
  if (!(NATIVE_FORMATS as readonly string[]).includes(format))
    throw new VirError('INVALID_ARG', 'qemu', `unsupported config type ${format}`, { field: 'nativeFormat' });
  const def = await prepareDefinition(xml, options, signal);
  refuseHostSideSettings(def);
  const guest = runnerGuestFromDef(def, '');
  const roots = { stateRoot: options.stateRoot, logRoot: options.logRoot };
  const tpm = def.devices?.tpms?.[0];
  const sockets =
    tpm?.backend?.type === 'emulator'
      ? { tpmEmulatorSocket: swtpmFiles(roots, { name: def.name, uuid: def.uuid ?? '' }, tpm).socket }
      : {};
  // the ports a start would take now: held while the line is built, then given back
  const lease = await allocateGraphicsPorts(def);
  let command: Awaited<ReturnType<QemuDomainsOptions['commandLine']>>;
  try {
    const sysRoot = options.hostdevRoots?.sysRoot ?? '/sys';
    command = await options.commandLine(def, runnerPaths(roots, guest), signal, sockets, {
      hostDevices: {
        // no descriptor is opened: libvirt's placeholder, and the CID the definition has
        vhostVsock: (req) => ({ fd: -1, cid: req.cid ?? 0 }),
        scsiHostDevice: (lun) => scsiGeneric(sysRoot, hostdevField(def, lun))(lun),
      },
    });
  } finally {
    releasePorts(lease);
  }
  const { env, argv } = command;
  const words = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv];
  return words.map(shellQuote).join(' ');
}

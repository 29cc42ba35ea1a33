/**
 * `virConnectDomainXMLToNative(qemu-argv)` for the in-process driver: the
 * command line a start of this definition would run, as one shell-quoted
 * line (`ENV=… /usr/bin/qemu-system-x86_64 -name …`), without starting
 * anything. The definition goes through define's checks and defaults and
 * the start's refusals first, so what it prints is what a start would run,
 * except the paths of helper sockets, which are where a start would put
 * them.
 *
 * @module
 */
import { VirError } from '../../../errors.js';
import { runnerPaths, swtpmFiles } from '../lifecycle/index.js';
import { allocateGraphicsPorts, releasePorts } from './graphics-ports.js';
import { refuseHostSideSettings } from './host-side-settings.js';
import { prepareDefinition } from './prepare-definition.js';
import type { QemuDomainsOptions } from './qemu-domains-options.js';
import { runnerGuestFromDef } from './runner-guest-from-def.js';

/** The native formats libvirt's QEMU driver converts to. */
export const NATIVE_FORMATS = ['qemu-argv'] as const;

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
    command = await options.commandLine(def, runnerPaths(roots, guest), signal, sockets);
  } finally {
    releasePorts(lease);
  }
  const { env, argv } = command;
  const words = [...Object.entries(env).map(([k, v]) => `${k}=${v}`), ...argv];
  return words.map(shellQuote).join(' ');
}

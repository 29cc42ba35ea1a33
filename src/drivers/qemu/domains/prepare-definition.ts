/**
 * A definition as the QEMU driver takes it: parsed, refused when it is not a
 * QEMU guest or its name cannot be a file name, then given the emulator,
 * machine and define-time defaults the driver decides.
 *
 * @module
 */
import { DomainDef } from '../../../conf/domain/index.js';
import { VirError } from '../../../errors.js';
import { MAX_NAME_BYTES } from '../lifecycle/index.js';
import type { QemuDomainsOptions } from './qemu-domains-options.js';

/**
 * A name is kept as file names (the definition, the status file, the log),
 * read back on the next open: one that would not fit is refused now rather
 * than failing later. Every other name (a leading dot, spaces, commas, any
 * script) is stored as it is: `/`, newlines and NUL are refused by the
 * parser's checks as in libvirt, and a lone UTF-16 surrogate (which has no
 * UTF-8 form) by the XML parser, since it is not a character.
 */
function refuseUnstorableName(name: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes > MAX_NAME_BYTES) {
    throw new VirError(
      'INVALID_ARG',
      'qemu',
      `domain name '${name.slice(0, 24)}…' is ${bytes} bytes long; the QEMU driver takes at most ${MAX_NAME_BYTES}`,
      { field: '/domain/name' },
    );
  }
}

/** Parses a definition and fills what the driver decides: emulator and default machine. */
export async function prepareDefinition(
  xml: string,
  options: Pick<QemuDomainsOptions, 'defaultEmulator' | 'defaultMachine' | 'applyDefaults'>,
  signal: AbortSignal | undefined,
  /** A running guest's definition (a hot-plug's check): its runtime state is kept. */
  live = false,
): Promise<DomainDef> {
  // The driver's default controllers come before the implied ones, as in libvirt (applyQemuDefaults adds both).
  const def = DomainDef.fromXML(xml, {
    deferImplicitControllers: true,
    // virtkit runs no security driver: its only model is 'none', as libvirt's without one.
    defaultSecurityModel: 'none',
    // define and create parse as libvirt's QEMU driver does: the ABI may be updated; a running
    // guest's definition keeps its totals (a hot-plug adds the device's size itself)
    abiUpdate: !live,
  });
  if (def.type !== 'kvm' && def.type !== 'qemu') {
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `domain type '${def.type}' is not supported by the QEMU driver`,
      {
        field: '/domain/@type',
      },
    );
  }
  if (def.name.includes('/')) {
    throw new VirError('XML_ERROR', 'qemu', `name ${def.name} cannot contain '/'`, {
      field: '/domain/name',
    });
  }
  if (/[\n\r\0]/.test(def.name) || def.name === '.' || def.name === '..') {
    throw new VirError('XML_ERROR', 'qemu', 'domain name must not contain a newline or be . or ..', {
      field: '/domain/name',
    });
  }
  refuseUnstorableName(def.name);
  const arch = def.os?.type?.arch ?? 'x86_64';
  def.devices ??= {};
  if (!def.devices.emulator) {
    const found = await options.defaultEmulator(arch, signal);
    if (!found) {
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `no QEMU binary found for architecture '${arch}'`, {
        field: '/domain/os/type/@arch',
      });
    }
    def.devices.emulator = found;
  }
  const emulator = def.devices.emulator;
  if (!emulator.startsWith('/')) {
    throw new VirError('XML_DETAIL', 'qemu', 'emulator must be an absolute path', {
      field: '/domain/devices/emulator',
    });
  }
  if (def.os?.type && !def.os.type.machine) {
    const machine = await options.defaultMachine?.(emulator, arch, signal);
    if (machine) def.os.type.machine = machine;
  }
  await options.applyDefaults?.(def, signal, live);
  return def;
}

/**
 * TPM devices: the host side (`-chardev` to an swtpm or an external TPM
 * emulator, `-tpmdev`) and the guest interface (`-device tpm-tis` or
 * `tpm-crb`), as libvirt writes them.
 *
 * An emulated TPM needs an swtpm process started for the guest (the qemu
 * driver starts it, `lifecycle/swtpm.ts`); the caller
 * passes its socket (`paths.tpmEmulatorSocket`). A passed-through host TPM
 * is opened by the caller, with its cancel file (`paths.tpmPassthrough`),
 * and QEMU gets both as descriptor sets, as libvirt does. Without what it
 * needs the TPM is refused, so a guest never starts without the TPM it
 * asked for.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import { optValue } from './escape.js';
import type { CommandLinePaths } from './types.js';

const TPM_DRIVERS: Record<string, string> = { 'tpm-tis': 'tpm-tis', 'tpm-crb': 'tpm-crb' };

function unsupported(message: string, field: string): VirError {
  return new VirError('CONFIG_UNSUPPORTED', 'qemu', message, { field });
}

export function buildTpms(b: ArgvBuilder, def: DomainDef, paths: CommandLinePaths): void {
  const tpms = def.devices?.tpms ?? [];
  if (tpms.length > 1)
    // libvirt allows a second one only as the SPAPR proxy of ppc64 guests.
    throw unsupported('only one TPM is supported', '/domain/devices/tpm[2]');
  const tpm = tpms[0];
  if (!tpm) return;
  const field = '/domain/devices/tpm[1]';
  const model = tpm.model ?? 'tpm-tis';
  const driver = TPM_DRIVERS[model];
  if (!driver) throw unsupported(`TPM model '${model}' is not supported on this machine`, `${field}/@model`);
  const backend = tpm.backend;
  if (!backend) throw unsupported('a TPM needs a backend', `${field}/backend`);
  const id = 'tpm0';
  switch (backend.type) {
    case 'emulator': {
      if (paths.tpmEmulatorSocket === undefined)
        throw unsupported(
          'an emulated TPM needs the socket of the swtpm started for the guest (paths.tpmEmulatorSocket)',
          `${field}/backend/@type`,
        );
      b.add(
        '-chardev',
        `socket,id=chrtpm,path=${optValue(paths.tpmEmulatorSocket, 'paths.tpmEmulatorSocket')}`,
      );
      break;
    }
    case 'external': {
      const src = backend.source;
      if (src?.type !== 'unix' || src.path === undefined)
        throw unsupported('an external TPM is reached through a unix socket path', `${field}/backend/source`);
      b.add('-chardev', `socket,id=chrtpm,path=${optValue(src.path, `${field}/backend/source/@path`)}`);
      break;
    }
    case 'passthrough': {
      b.add('-tpmdev', passthroughTpmdev(b, backend.device?.path ?? '/dev/tpm0', id, paths, field));
      b.props('-device', { driver, tpmdev: `tpm-${id}`, id }, field);
      return;
    }
    default:
      throw unsupported(`TPM backend '${backend.type}' is not supported yet`, `${field}/backend/@type`);
  }
  b.add('-tpmdev', `emulator,id=tpm-${id},chardev=chrtpm`);
  b.props('-device', { driver, tpmdev: `tpm-${id}`, id }, field);
}

/**
 * `-tpmdev passthrough` of a host TPM: QEMU is not allowed to open the
 * device or its cancel file itself, so the caller opens both and QEMU reads
 * them as `/dev/fdset/N` (one `-add-fd` set each, the device first). The
 * host path itself never reaches the command line.
 */
function passthroughTpmdev(
  b: ArgvBuilder,
  device: string,
  id: string,
  paths: CommandLinePaths,
  field: string,
): string {
  if (paths.tpmPassthrough === undefined)
    throw unsupported(
      'a passed-through TPM needs the host to open it (paths.tpmPassthrough)',
      `${field}/backend/@type`,
    );
  const fds = paths.tpmPassthrough(device);
  const sets: string[] = [];
  for (const [role, fd] of [
    ['tpm', fds.device],
    ['cancel', fds.cancel],
  ] as const) {
    const set = b.nextFdset();
    b.add('-add-fd', `set=${set},fd=${fd},opaque=${id}-${role}`);
    sets.push(`/dev/fdset/${set}`);
  }
  return `passthrough,id=tpm-${id},path=${sets[0]},cancel-path=${sets[1]}`;
}

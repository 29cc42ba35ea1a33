/**
 * TPM devices: the host side (`-chardev` to an swtpm or an external TPM
 * emulator, `-tpmdev`) and the guest interface (`-device tpm-tis` or
 * `tpm-crb`), as libvirt writes them.
 *
 * An emulated TPM needs an swtpm process started for the guest (the qemu
 * driver starts it, `lifecycle/swtpm.ts`); the caller
 * passes its socket (`paths.tpmEmulatorSocket`). Without one the TPM is
 * refused, so a guest never starts without the TPM it asked for.
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
    default:
      // libvirt hands QEMU the host TPM and its cancel file as passed file descriptors.
      throw unsupported(`TPM backend '${backend.type}' is not supported yet`, `${field}/backend/@type`);
  }
  b.add('-tpmdev', `emulator,id=tpm-${id},chardev=chrtpm`);
  b.props('-device', { driver, tpmdev: `tpm-${id}`, id }, field);
}

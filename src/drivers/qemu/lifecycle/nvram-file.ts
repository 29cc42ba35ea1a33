/**
 * A UEFI guest's NVRAM (its variable store) on the host: created from the
 * firmware's template when the guest starts and has none yet, and kept from
 * then on, as libvirt does. Network and block stores are the user's to
 * provide; only a local file is ever created.
 *
 * @module
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DomainDef } from '../../../conf/domain/index.js';
import { VirError } from '../../../errors.js';

/** The local NVRAM file `def` boots with, if it keeps state in one. */
export function nvramFile(def: DomainDef): string | undefined {
  const os = def.os;
  const loader = os?.loader;
  const nvram = os?.nvram;
  if (loader?.type !== 'pflash' || loader.stateless === true || nvram === undefined) return undefined;
  if (nvram.type === undefined) return nvram.path;
  return nvram.type === 'file' ? nvram.source?.file : undefined;
}

/**
 * Copies the NVRAM template to the guest's NVRAM file when that file does
 * not exist. Returns the path it created, if any. Refuses a missing template
 * (`OPERATION_FAILED`) and a template of another format than the store
 * (`OPERATION_UNSUPPORTED`: QEMU would read it as the wrong format).
 */
export function prepareNvram(def: DomainDef): string | undefined {
  const path = nvramFile(def);
  if (path === undefined || existsSync(path)) return undefined;
  copyTemplate(def, path);
  return path;
}

/**
 * `RESET_NVRAM` (a start or a revert): the guest's NVRAM file made again
 * from its template, replacing the one there (atomically: a failed copy
 * leaves the old store). A guest without a local NVRAM store is left
 * alone, as libvirt does; a network store is `OPERATION_UNSUPPORTED`.
 */
export function resetNvram(def: DomainDef): string | undefined {
  const loader = def.os?.loader;
  const nvram = def.os?.nvram;
  if (loader?.type === 'pflash' && nvram?.type === 'network')
    throw new VirError(
      'OPERATION_UNSUPPORTED',
      'qemu',
      'resetting of nvram is not supported with network backed nvram',
      { field: '/domain/os/nvram/@type' },
    );
  const path = nvramFile(def);
  if (path === undefined) return undefined;
  copyTemplate(def, path);
  return path;
}

function copyTemplate(def: DomainDef, path: string): void {
  const nvram = def.os?.nvram;
  const template = nvram?.template;
  if (template === undefined)
    throw new VirError(
      'OPERATION_FAILED',
      'qemu',
      `unable to find any master var store for loader: ${def.os?.loader?.path ?? ''}`,
      { field: '/domain/os/nvram/@template' },
    );
  // without a templateFormat the template is the user's own, which we cannot check
  if (nvram?.templateFormat !== undefined && (nvram.format ?? 'raw') !== nvram.templateFormat)
    throw new VirError(
      'OPERATION_UNSUPPORTED',
      'qemu',
      'conversion of the nvram template to another target format is not supported',
      { field: '/domain/os/nvram/@format' },
    );
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // copied aside and renamed, so a crash mid-copy never leaves a truncated store that looks valid
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    copyFileSync(template, tmp);
    chmodSync(tmp, 0o600);
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new VirError(
      'OPERATION_FAILED',
      'qemu',
      `cannot create NVRAM ${path} from ${template}: ${(err as Error).message}`,
      { field: '/domain/os/nvram' },
    );
  }
}

/**
 * pflash firmware on the command line: the loader (pflash0) and its NVRAM
 * store (pflash1) as block nodes the machine maps by name.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { VirError } from '../../../errors.js';
import { checkValue } from './escape.js';

export interface FirmwareArgs {
  /** `pflash0=…`/`pflash1=…` for `-machine`. */
  machineOpts: string[];
  blockdevs: Array<[string, Record<string, unknown>]>;
  /** Whether pflash writes are restricted to SMM (`cfi.pflash01` secure). */
  secure: boolean;
}

const FORMATS = ['raw', 'qcow2'];

function checkFormat(format: string, field: string): string {
  if (!FORMATS.includes(format))
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `unsupported firmware image format '${format}'`, {
      field,
    });
  return format;
}

/** A file node with a format node on top; qcow2 is told it has no backing image. */
function layered(n: number, file: string, format: string, readonly: boolean, field: string) {
  const storage = `libvirt-pflash${n}-storage`;
  const node = `libvirt-pflash${n}-format`;
  const fmt: Record<string, unknown> = {
    'node-name': node,
    'read-only': readonly,
    driver: format,
    file: storage,
  };
  if (format === 'qcow2') fmt.backing = null;
  return {
    node,
    blockdevs: [
      [
        '-blockdev',
        {
          driver: 'file',
          filename: checkValue(file, field),
          'node-name': storage,
          'auto-read-only': true,
          discard: 'unmap',
        },
      ],
      ['-blockdev', fmt],
    ] as Array<[string, Record<string, unknown>]>,
  };
}

/**
 * The loader always gets a format node; the NVRAM store is prepared like a
 * disk image, so a raw local file needs no format layer and is mapped as
 * its storage node directly.
 */
export function firmwareBlockdevs(def: DomainDef): FirmwareArgs {
  const out: FirmwareArgs = { machineOpts: [], blockdevs: [], secure: false };
  const loader = def.os?.loader;
  if (loader?.type !== 'pflash' || loader.path === undefined) return out;
  const code = layered(
    0,
    loader.path,
    checkFormat(loader.format ?? 'raw', '/domain/os/loader/@format'),
    loader.readonly === true,
    '/domain/os/loader',
  );
  out.blockdevs.push(...code.blockdevs);
  out.machineOpts.push(`pflash0=${code.node}`);
  const nvram = def.os?.nvram;
  if (nvram !== undefined && loader.stateless !== true) {
    if (nvram.type !== undefined && nvram.type !== 'file')
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `an NVRAM store of type '${nvram.type}' is not supported`,
        {
          field: '/domain/os/nvram/@type',
        },
      );
    const path = nvram.type === 'file' ? nvram.source?.file : nvram.path;
    const field = nvram.type === 'file' ? '/domain/os/nvram/source/@file' : '/domain/os/nvram';
    if (path === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'the NVRAM store has no path', { field });
    const format = checkFormat(nvram.format ?? 'raw', '/domain/os/nvram/@format');
    if (format === 'raw') {
      const storage = 'libvirt-pflash1-storage';
      out.blockdevs.push([
        '-blockdev',
        {
          driver: 'file',
          filename: checkValue(path, field),
          'node-name': storage,
          'read-only': false,
        },
      ]);
      out.machineOpts.push(`pflash1=${storage}`);
    } else {
      const vars = layered(1, path, format, false, field);
      out.blockdevs.push(...vars.blockdevs);
      out.machineOpts.push(`pflash1=${vars.node}`);
    }
  }
  out.secure = loader.secure === true;
  return out;
}

/**
 * pflash firmware on the command line: the loader (pflash0) and its NVRAM
 * store (pflash1) as block nodes the machine maps by name.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { type Nvram, nvramMapper } from '../../../conf/domain/os.js';
import { VirError } from '../../../errors.js';
import { attrOf, childEl, sourceLayer } from './disk-layers.js';
import { networkStorageProps } from './disk-network.js';
import { checkValue } from './escape.js';
import { secretObjectProps } from './secret-objects.js';
import type { CommandLineSecrets } from './types.js';

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

const NVRAM = '/domain/os/nvram';

/**
 * The NVRAM store's nodes, prepared like a disk image: a raw store is mapped
 * as its storage node, any other format gets a format node on top. A local
 * store is a file (or a host block device); a network one is the same
 * storage node a network disk of that protocol gets, its password passed as
 * a `-object secret` under the master key.
 */
function nvramNodes(nvram: Nvram, format: string, secrets: CommandLineSecrets | undefined) {
  const storage = 'libvirt-pflash1-storage';
  const blockdevs: Array<[string, Record<string, unknown>]> = [];
  const type = nvram.type;
  let props: Record<string, unknown>;
  if (type === undefined || type === 'file' || type === 'block') {
    const source = childEl(nvramMapper.write(nvram), 'source');
    const path = type === undefined ? nvram.path : attrOf(source, type === 'file' ? 'file' : 'dev');
    const field = type === undefined ? NVRAM : `${NVRAM}/source/@${type === 'file' ? 'file' : 'dev'}`;
    if (path === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'the NVRAM store has no path', { field });
    props = { driver: type === 'block' ? 'host_device' : 'file', filename: checkValue(path, field) };
  } else if (type === 'network') {
    const layer = sourceLayer('network', childEl(nvramMapper.write(nvram), 'source'), format, NVRAM);
    const refuse = (what: string, field: string) =>
      new VirError('CONFIG_UNSUPPORTED', 'qemu', `${what} is not supported for an NVRAM store`, { field });
    if (layer.protocol === undefined) throw refuse('a network source without a protocol', `${NVRAM}/source`);
    if (layer.encryption) throw refuse('<encryption>', layer.encryption.field);
    if (layer.cookies !== undefined) throw refuse('<cookies>', `${NVRAM}/source/cookies`);
    if (attrOf(layer.source, 'tls') === 'yes') throw refuse('TLS', `${NVRAM}/source/@tls`);
    if (layer.auth) {
      if (layer.protocol === 'ssh') throw refuse('<auth> over ssh', layer.auth.field);
      blockdevs.push([
        '-object',
        secretObjectProps(`${storage}-auth-secret0`, layer.auth.secret, secrets, layer.auth.field),
      ]);
    }
    props = networkStorageProps(layer, storage);
  } else {
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `an NVRAM store of type '${type}' is not supported`, {
      field: `${NVRAM}/@type`,
    });
  }
  if (format === 'raw') {
    blockdevs.push(['-blockdev', { ...props, 'node-name': storage, 'read-only': false }]);
    return { node: storage, blockdevs };
  }
  const node = 'libvirt-pflash1-format';
  blockdevs.push(
    ['-blockdev', { ...props, 'node-name': storage, 'auto-read-only': true, discard: 'unmap' }],
    [
      '-blockdev',
      {
        'node-name': node,
        'read-only': false,
        driver: format,
        file: storage,
        ...(format === 'qcow2' ? { backing: null } : {}),
      },
    ],
  );
  return { node, blockdevs };
}

/**
 * The loader always gets a format node; the NVRAM store is prepared like a
 * disk image (see {@link nvramNodes}).
 */
export function firmwareBlockdevs(def: DomainDef, secrets?: CommandLineSecrets): FirmwareArgs {
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
    const format = checkFormat(nvram.format ?? 'raw', '/domain/os/nvram/@format');
    const vars = nvramNodes(nvram, format, secrets);
    out.blockdevs.push(...vars.blockdevs);
    out.machineOpts.push(`pflash1=${vars.node}`);
  }
  out.secure = loader.secure === true;
  return out;
}

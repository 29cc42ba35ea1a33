/**
 * The host half of a `<disk>`: `-blockdev` nodes for each layer of its
 * image chain, bottom first, as libvirt writes them. Each layer has a
 * storage node (file, host_device, vvfat, or a network protocol) and, unless
 * it is plain raw, a format node on top. Cache mode, discard and AIO apply
 * to the whole chain; detect-zeroes only to the top.
 *
 * @module
 */
import type { DiskDef } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import type { ArgvBuilder } from './argv-builder.js';
import type { Props } from './device-props.js';
import { effectiveCache } from './disk-device.js';
import { attrOf, childEl, type ImageLayer } from './disk-layers.js';
import { networkStorageProps } from './disk-network.js';
import { prManager } from './disk-reservations.js';
import { checkValue } from './escape.js';
import { encryptedSecretProps, secretObjectProps } from './secret-objects.js';
import type { CommandLinePaths, CommandLineSecrets } from './types.js';

/** Formats QEMU opens with a driver of the same name and no extra options. */
const PLAIN_FORMATS: Record<string, string> = {
  bochs: 'bochs',
  cloop: 'cloop',
  dmg: 'dmg',
  vdi: 'vdi',
  vpc: 'vpc',
  qed: 'qed',
  vmdk: 'vmdk',
  ploop: 'parallels',
  vhd: 'vhdx',
  qcow: 'qcow',
  qcow2: 'qcow2',
};

/** Whether QEMU can open an image of `format` (a disk's `<driver type>`). */
export function isImageFormat(format: string): boolean {
  return format === 'raw' || format === 'fat' || Object.hasOwn(PLAIN_FORMATS, format);
}

/** Formats that can have a backing image. */
const BACKING_FORMATS = new Set(['qcow', 'qcow2', 'qed', 'vmdk', 'cow']);

/** `{ direct, no-flush }` of `<driver cache>`, or nothing for QEMU's default. */
function cacheProps(d: DiskDef): Props {
  const mode = effectiveCache(d);
  if (mode === undefined || mode === 'default') return {};
  return { cache: { direct: mode === 'none' || mode === 'directsync', 'no-flush': mode === 'unsafe' } };
}

/** detect-zeroes as QEMU takes it: 'unmap' is only meaningful when discard is unmap too. */
function detectZeroes(d: DiskDef): string | undefined {
  const dz = d.driver?.detectZeroes;
  if (dz === 'unmap' && d.driver?.discard !== 'unmap') return 'on';
  return dz;
}

/** Whether the host reports the block device as an optical drive. */
export type HostCdromCheck = (path: string) => boolean;

/** The default check: the usual names of optical drives on Linux. */
export const defaultHostCdrom: HostCdromCheck = (path) => /^\/dev\/(cdrom\d*|sr\d+)$/.test(path);

/** What the host side provides: the optical drive check and the secrets. */
export interface DiskHost {
  isHostCdrom: HostCdromCheck;
  secrets: CommandLineSecrets | undefined;
  nbdTls: CommandLinePaths['nbdTls'];
}

interface NodeContext extends DiskHost {
  b: ArgvBuilder;
  disk: DiskDef;
}

function storageProps(ctx: NodeContext, layer: ImageLayer, n: number, top: boolean): Props {
  const d = ctx.disk;
  const path = layer.path ?? '';
  const aio = d.driver?.io;
  switch (layer.type) {
    case 'file':
    case 'block': {
      const f = `${layer.field}/source/@${layer.type === 'file' ? 'file' : 'dev'}`;
      let driver = 'file';
      if (layer.type === 'block')
        // A raw optical drive of the host is opened as one, so the guest sees media changes.
        driver =
          top && d.device === 'cdrom' && d.driver?.type === 'raw' && ctx.isHostCdrom(path)
            ? 'host_cdrom'
            : 'host_device';
      const pr = prManager(ctx.b, d, layer, `libvirt-${n}-storage`);
      return {
        driver,
        filename: checkValue(path, f),
        ...(aio !== undefined ? { aio } : {}),
        ...(pr !== undefined ? { 'pr-manager': pr } : {}),
      };
    }
    case 'dir':
      return {
        driver: 'vvfat',
        dir: checkValue(path, `${layer.field}/source/@dir`),
        floppy: d.device === 'floppy',
        rw: !(d.readonly !== undefined || !top),
      };
    case 'network':
      return networkStorageProps(layer, `libvirt-${n}-storage`);
    case 'nvme':
      return nvmeStorageProps(layer);
    default:
      throw new VirError(
        'CONFIG_UNSUPPORTED',
        'qemu',
        `disk source type '${layer.type}' is not supported yet`,
        {
          field: `${layer.field}/@type`,
        },
      );
  }
}

/**
 * A namespace of a host NVMe controller QEMU drives itself (userspace
 * driver through VFIO): the controller's PCI address and the namespace.
 */
function nvmeStorageProps(layer: ImageLayer): Props {
  const f = `${layer.field}/source`;
  if (attrOf(layer.source, 'type') !== 'pci')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'an NVMe disk source must be of type pci', {
      field: `${f}/@type`,
    });
  const a = childEl(layer.source, 'address');
  const hex = (k: string, width: number, max: number) => {
    const v = attrOf(a, k) ?? '0';
    const num = /^(0x)?[0-9a-fA-F]+$/.test(v) ? Number.parseInt(v.replace(/^0x/, ''), 16) : Number.NaN;
    if (!(num >= 0 && num <= max))
      throw new VirError('XML_DETAIL', 'qemu', `NVMe controller address ${k} '${v}' is out of range`, {
        field: `${f}/address/@${k}`,
      });
    return num.toString(16).padStart(width, '0');
  };
  const device = `${hex('domain', 4, 0xffff)}:${hex('bus', 2, 0xff)}:${hex('slot', 2, 0x1f)}.${hex('function', 1, 7)}`;
  const ns = attrOf(layer.source, 'namespace');
  if (ns === undefined || !/^\d+$/.test(ns) || Number(ns) === 0)
    throw new VirError('XML_DETAIL', 'qemu', 'an NVMe disk needs a namespace (1 or more)', {
      field: `${f}/@namespace`,
    });
  return { driver: 'nvme', device, namespace: Number(ns) };
}

/**
 * How the layer's `<encryption>` reaches QEMU: a raw LUKS image is opened by
 * the `luks` format driver, a qcow/qcow2 image decrypts itself (`encrypt`),
 * an rbd image is decrypted by librbd; none without `<encryption>`.
 */
function encryptionKind(layer: ImageLayer): 'luks' | 'qcow' | 'librbd' | undefined {
  const e = layer.encryption;
  if (e === undefined) return undefined;
  const format = layer.format ?? 'raw';
  if (e.engine === 'librbd') {
    if (layer.protocol !== 'rbd')
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', "the 'librbd' encryption engine needs an rbd disk", {
        field: `${e.field}/@engine`,
      });
    return 'librbd';
  }
  if (e.engine !== undefined && e.engine !== 'qemu')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `encryption engine '${e.engine}'`, {
      field: `${e.field}/@engine`,
    });
  if (e.secrets.length !== 1)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      "the 'qemu' encryption engine takes exactly one secret",
      {
        field: `${e.field}/secret`,
      },
    );
  if (format === 'raw' && e.format === 'luks') return 'luks';
  if ((format === 'qcow2' || format === 'qcow') && (e.format === 'luks' || e.format === 'qcow'))
    return 'qcow';
  throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `encryption format '${e.format}' on a '${format}' image`, {
    field: `${e.field}/@format`,
  });
}

/** The secret objects one layer's nodes refer to, in libvirt's order: auth, cookies, then keys. */
function secretObjects(ctx: NodeContext, layer: ImageLayer, n: number, kind: string | undefined): void {
  const storage = `libvirt-${n}-storage`;
  if (layer.auth && layer.type === 'network' && layer.protocol !== 'ssh')
    ctx.b.props(
      '-object',
      secretObjectProps(`${storage}-auth-secret0`, layer.auth.secret, ctx.secrets, layer.auth.field),
      layer.auth.field,
    );
  if (layer.cookies !== undefined) {
    if (ctx.secrets === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'HTTP cookies need the master key', {
        field: `${layer.field}/source/cookies`,
      });
    ctx.b.props(
      '-object',
      encryptedSecretProps(`${storage}-httpcookie-secret0`, layer.cookies, ctx.secrets),
      `${layer.field}/source/cookies`,
    );
  }
  if (layer.protocol === 'nbd' && attrOf(layer.source, 'tls') === 'yes') tlsObjects(ctx, layer, storage);
  const e = layer.encryption;
  if (e === undefined || kind === undefined) return;
  const owner = kind === 'librbd' ? storage : `libvirt-${n}-format`;
  for (const [i, ref] of e.secrets.entries())
    ctx.b.props(
      '-object',
      secretObjectProps(`${owner}-encryption-secret${i}`, ref, ctx.secrets, `${e.field}/secret[${i + 1}]`),
      e.field,
    );
}

/** The x509 client credentials of an NBD disk with TLS, and the secret of their key's password. */
function tlsObjects(ctx: NodeContext, layer: ImageLayer, storage: string): void {
  const tls = ctx.nbdTls;
  const field = `${layer.field}/source/@tls`;
  if (tls === undefined)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'TLS for an NBD disk needs client certificates (paths.nbdTls)',
      {
        field,
      },
    );
  const id = `obj${storage}_tls0`;
  const creds: Props = {
    'qom-type': 'tls-creds-x509',
    id,
    dir: checkValue(tls.dir, 'paths.nbdTls.dir'),
    endpoint: 'client',
    'verify-peer': tls.verifyPeer,
  };
  if (tls.secretUuid !== undefined) {
    ctx.b.props(
      '-object',
      secretObjectProps(`${id}-secret0`, { uuid: tls.secretUuid }, ctx.secrets, field),
      field,
    );
    creds.passwordid = `${id}-secret0`;
  }
  ctx.b.props('-object', creds, field);
}

/** Does this layer need a format node, or is the storage node itself what the layer above reads? */
function needsFormatNode(layer: ImageLayer, luks: string | undefined): boolean {
  return layer.format !== 'raw' || luks === 'luks';
}

/**
 * `-blockdev` nodes for one layer and (first) everything below it. Returns
 * the node name the layer above (or the device) reads.
 */
function layerNodes(ctx: NodeContext, layer: ImageLayer, n: number, top: boolean): string {
  const d = ctx.disk;
  const format = layer.format ?? 'raw';
  if (layer.backing && !BACKING_FORMATS.has(format))
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      `storage format '${format}' does not support backing store`,
      {
        field: `${layer.field}/backingStore`,
      },
    );
  // Numbers: the layer n, its data file n + 1, then the layers below (one found in an image
  // header has its own number, after the definition's, disk-layers.ts)
  const below = n + (layer.dataStore ? 2 : 1);
  const backing = layer.backing
    ? layerNodes(ctx, layer.backing, layer.backing.index ?? below, false)
    : undefined;
  const readonly = !top || d.readonly !== undefined || d.device === 'cdrom';
  const cache = cacheProps(d);
  const discard = d.driver?.discard;
  const dataFile = layer.dataStore ? dataFileNode(ctx, layer, n + 1, readonly) : undefined;
  const dz = top ? detectZeroes(d) : undefined;
  const storage = `libvirt-${n}-storage`;
  const s = storageProps(ctx, layer, n, top);
  const luks = encryptionKind(layer);
  secretObjects(ctx, layer, n, luks);
  const formatNode = needsFormatNode(layer, luks);
  if (!formatNode) {
    ctx.b.props(
      '-blockdev',
      {
        ...s,
        'node-name': storage,
        'read-only': readonly,
        ...(discard !== undefined ? { discard } : {}),
        ...(dz !== undefined ? { 'detect-zeroes': dz } : {}),
        ...cache,
      },
      layer.field,
    );
    return storage;
  }
  ctx.b.props(
    '-blockdev',
    { ...s, 'node-name': storage, 'auto-read-only': true, discard: 'unmap', ...cache },
    layer.field,
  );
  const fmt = `libvirt-${n}-format`;
  const f: Props = {
    'node-name': fmt,
    'read-only': readonly,
    ...(discard !== undefined ? { discard } : {}),
    ...(dz !== undefined ? { 'detect-zeroes': dz } : {}),
    ...cache,
  };
  if (format === 'fat') f.driver = 'raw';
  else if (luks === 'luks') {
    f.driver = 'luks';
    f['key-secret'] = `${fmt}-encryption-secret0`;
  } else {
    const driver = PLAIN_FORMATS[format];
    if (driver === undefined)
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `disk image format '${format}' is not supported`, {
        field: top ? `${layer.field}/driver/@type` : `${layer.field}/format/@type`,
      });
    f.driver = driver;
    if (luks === 'qcow')
      f.encrypt = {
        format: layer.encryption?.format === 'qcow' ? 'aes' : 'luks',
        'key-secret': `${fmt}-encryption-secret0`,
      };
  }
  if (format === 'qcow2' && d.driver?.discardNoUnref !== undefined)
    f['discard-no-unref'] = d.driver.discardNoUnref;
  if (dataFile !== undefined) f['data-file'] = dataFile;
  f.file = storage;
  if (backing !== undefined) f.backing = backing;
  else if (layer.chainEnds && BACKING_FORMATS.has(format)) f.backing = null;
  ctx.b.props('-blockdev', f, layer.field);
  return fmt;
}

/**
 * The raw storage node of a qcow2 layer's `<dataStore>` (QEMU's
 * `data-file`): written before the layer's own nodes, as read-only as it.
 */
function dataFileNode(ctx: NodeContext, layer: ImageLayer, n: number, readonly: boolean): string {
  const ds = layer.dataStore as ImageLayer;
  if ((layer.format ?? 'raw') !== 'qcow2')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'only a qcow2 image can keep its data in a data store', {
      field: ds.field,
    });
  if (ds.format !== 'raw')
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `a data store of format '${ds.format}'`, {
      field: `${ds.field}/format/@type`,
    });
  if (ds.encryption || ds.dataStore)
    throw new VirError(
      'CONFIG_UNSUPPORTED',
      'qemu',
      'a data store with encryption or a data store of its own',
      {
        field: ds.field,
      },
    );
  const storage = `libvirt-${n}-storage`;
  const s = storageProps(ctx, ds, n, false);
  secretObjects(ctx, ds, n, undefined);
  const discard = ctx.disk.driver?.discard;
  ctx.b.props(
    '-blockdev',
    {
      ...s,
      'node-name': storage,
      'read-only': readonly,
      ...(discard !== undefined ? { discard } : {}),
      ...cacheProps(ctx.disk),
    },
    ds.field,
  );
  return storage;
}

/** Writes a disk's chain; returns the node the guest device reads. */
export function diskImageNodes(
  b: ArgvBuilder,
  disk: DiskDef,
  top: ImageLayer,
  firstNumber: number,
  host: DiskHost,
): string {
  return layerNodes({ b, disk, ...host }, top, firstNumber, true);
}

/**
 * A disk's image chain as a list of layers, top first: the disk's own
 * source, then each `<backingStore>`. Both are read from XML elements (the
 * disk as its mapper writes it, the backing stores as the model keeps them),
 * so one reader serves every layer and no attribute is read two ways.
 *
 * @module
 */
import { type DiskDef, diskMapper } from '../../../conf/domain/devices/index.js';
import { VirError } from '../../../errors.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { SecretRef } from './types.js';

export interface NetHost {
  name?: string;
  port?: string;
  transport?: string;
  socket?: string;
}

/** One image of a chain, with what its `-blockdev` nodes need. */
export interface ImageLayer {
  /** `<disk type>` / `<backingStore type>`: file, block, dir, network, ... */
  type: string;
  /** file, dev or dir path; for network sources the `name`. */
  path?: string;
  protocol?: string;
  hosts: NetHost[];
  /** The `<source>` element itself, for the protocol-specific children. */
  source?: XmlElement;
  /** Image format: `<driver type>` on top, `<format type>` below. */
  format?: string;
  /** Where this layer is in the XML, for errors. */
  field: string;
  backing?: ImageLayer;
  /** `<source><dataStore>`: the raw image holding a qcow2 layer's guest data (its `data-file`). */
  dataStore?: ImageLayer;
  /** An explicit empty `<backingStore/>` below: the chain is known to end here. */
  chainEnds?: boolean;
  /**
   * `<backingStore index>`: the `libvirt-N-*` number a start gave a layer it
   * found in an image header (after every number the definition's layers
   * take); a layer without one is numbered by its place in the chain.
   */
  index?: number;
  /** `<auth>`: in the source, or (top layer, older style) on the disk. */
  auth?: { username?: string; secret: SecretRef; field: string };
  /** `<cookies>` of an http(s) source, as the one `Cookie:` value QEMU sends. */
  cookies?: string;
  /** `<encryption>`: in the source, or (top layer) on the disk. */
  encryption?: { format?: string; engine?: string; secrets: SecretRef[]; field: string };
}

function secretRef(el: XmlElement): SecretRef {
  const ref: SecretRef = {};
  for (const k of ['uuid', 'type', 'usage'] as const) {
    const v = attrOf(el, k);
    if (v !== undefined) ref[k] = v;
  }
  return ref;
}

/** `<auth>` and `<encryption>` of a layer: the source's own, else the ones on `owner` (the disk). */
function credentials(layer: ImageLayer, owner: XmlElement | undefined, ownerField: string): void {
  const where = (name: string): [XmlElement, string] | undefined => {
    const inSource = childEl(layer.source, name);
    if (inSource) return [inSource, `${layer.field}/source/${name}`];
    const onOwner = childEl(owner, name);
    return onOwner ? [onOwner, `${ownerField}/${name}`] : undefined;
  };
  const auth = where('auth');
  if (auth) {
    const secret = childEl(auth[0], 'secret');
    if (!secret)
      throw new VirError('XML_DETAIL', 'qemu', '<auth> needs a <secret>', { field: `${auth[1]}/secret` });
    const username = attrOf(auth[0], 'username');
    layer.auth = {
      secret: secretRef(secret),
      field: auth[1],
      ...(username !== undefined ? { username } : {}),
    };
  }
  const cookies = childEl(layer.source, 'cookies');
  if (cookies) {
    const text = (e: XmlElement) => e.children.map((c) => (c.type === 'text' ? c.value : '')).join('');
    // Each cookie is 'name=value'; QEMU sends them joined as one header value.
    layer.cookies = childEls(cookies, 'cookie')
      .map((c) => `${attrOf(c, 'name') ?? ''}=${text(c).trim()}`)
      .join('; ');
  }
  const enc = where('encryption');
  if (enc) {
    const format = attrOf(enc[0], 'format');
    const engine = attrOf(enc[0], 'engine');
    layer.encryption = {
      secrets: childEls(enc[0], 'secret').map(secretRef),
      field: enc[1],
      ...(format !== undefined ? { format } : {}),
      ...(engine !== undefined ? { engine } : {}),
    };
  }
}

export function childEl(e: XmlElement | undefined, name: string): XmlElement | undefined {
  return e?.children.find((c): c is XmlElement => c.type === 'element' && c.name === name);
}

export function childEls(e: XmlElement | undefined, name: string): XmlElement[] {
  return (e?.children ?? []).filter((c): c is XmlElement => c.type === 'element' && c.name === name);
}

export function attrOf(e: XmlElement | undefined, name: string): string | undefined {
  return e?.attrs.find((x) => x.name === name)?.value;
}

function layerFrom(
  type: string,
  source: XmlElement | undefined,
  format: string | undefined,
  field: string,
): ImageLayer {
  const layer: ImageLayer = { type, hosts: [], field };
  if (format !== undefined) layer.format = format;
  if (source) {
    layer.source = source;
    const path =
      type === 'network'
        ? attrOf(source, 'name')
        : (attrOf(source, 'file') ?? attrOf(source, 'dev') ?? attrOf(source, 'dir'));
    if (path !== undefined) layer.path = path;
    const protocol = attrOf(source, 'protocol');
    if (protocol !== undefined) layer.protocol = protocol;
    const ds = childEl(source, 'dataStore');
    if (ds) {
      const here = `${field}/source/dataStore`;
      layer.dataStore = layerFrom(
        attrOf(ds, 'type') ?? 'file',
        childEl(ds, 'source'),
        attrOf(childEl(ds, 'format'), 'type') ?? 'raw',
        here,
      );
      credentials(layer.dataStore, undefined, here);
    }
    for (const h of childEls(source, 'host')) {
      const host: NetHost = {};
      for (const k of ['name', 'port', 'transport', 'socket'] as const) {
        const v = attrOf(h, k);
        if (v !== undefined) host[k] = v;
      }
      layer.hosts.push(host);
    }
  }
  return layer;
}

/**
 * One image layer read from a `<source>` outside a disk (the NVRAM store of
 * `<os><nvram type=…>`), with its `<auth>` and `<encryption>` children.
 */
export function sourceLayer(
  type: string,
  source: XmlElement | undefined,
  format: string | undefined,
  field: string,
): ImageLayer {
  const layer = layerFrom(type, source, format, field);
  credentials(layer, undefined, field);
  return layer;
}

/** `<backingStore>` elements as image layers, top first. */
function backingLayers(el: XmlElement | undefined, field: string): ImageLayer | undefined {
  if (!el) return undefined;
  const source = childEl(el, 'source');
  if (!source) return undefined; // an empty <backingStore/> ends the chain
  const here = `${field}/backingStore`;
  const layer = layerFrom(attrOf(el, 'type') ?? 'file', source, attrOf(childEl(el, 'format'), 'type'), here);
  layer.format ??= 'raw';
  const index = attrOf(el, 'index');
  if (index !== undefined && /^\d+$/.test(index)) layer.index = Number(index);
  credentials(layer, undefined, here);
  const below = childEl(el, 'backingStore');
  const deeper = backingLayers(below, here);
  if (deeper) layer.backing = deeper;
  else if (below) layer.chainEnds = true;
  return layer;
}

/** A disk's chain; `undefined` when the disk has no media (an empty tray or drive). */
export function diskLayers(d: DiskDef, field: string): ImageLayer | undefined {
  // a vhost-user disk's backend is another process: QEMU has no block nodes for it
  if (d.type === 'vhostuser' || !hasMedia(d)) return undefined;
  const el = diskMapper.write(d);
  const top = layerFrom(d.type ?? 'file', childEl(el, 'source'), d.driver?.type ?? 'raw', field);
  credentials(top, el, field);
  const bs = childEl(el, 'backingStore');
  const backing = backingLayers(bs, field);
  if (backing) top.backing = backing;
  else if (bs) top.chainEnds = true;
  return top;
}

/** Whether the disk has media: a path, a network source, or another kind of backend. */
export function hasMedia(d: DiskDef): boolean {
  const s = d.source;
  if (s === undefined) return false;
  const type = d.type ?? 'file';
  if (type === 'file') return s.file !== undefined && s.file !== '';
  if (type === 'block') return s.dev !== undefined && s.dev !== '';
  if (type === 'dir') return s.dir !== undefined;
  if (type === 'network') return s.protocol !== undefined;
  if (type === 'nvme') return s.address !== undefined;
  // a volume disk is resolved before the build (disk-volumes.ts) into one layer, as a file's or a
  // LUN's; before that (numbering a start's nodes), one naming a volume has media, one naming none is empty
  if (type === 'volume') return s.pool !== undefined || s.volume !== undefined;
  throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `disk type '${type}' is not supported yet`, {
    field: '/domain/devices/disk/@type',
  });
}

/** How many `libvirt-N-*` numbers a disk uses: one per layer, one for an empty drive. */
export function layerCount(d: DiskDef): number {
  // A vhost-user disk has no block nodes: its backend lives in another process.
  if (d.type === 'vhostuser') return 0;
  let n = 0;
  // a layer numbered by its index (one found in a header) takes no number in the disk's range
  for (let l = diskLayers(d, ''); l; l = l.backing) if (l.index === undefined) n += l.dataStore ? 2 : 1;
  return Math.max(n, 1);
}

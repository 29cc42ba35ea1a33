import type { DiskDef } from '../../../conf/domain/devices/index.js';
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import { diskNameIndex } from '../../../conf/domain/normalize.js';
import { VirError } from '../../../errors.js';
import type { MachineFacts } from '../../../machine/machine-types.js';
import type { XmlElement } from '../../../xml/tree.js';
import type { ArgvBuilder } from './argv-builder.js';
import { type Props, pciProps } from './device-props.js';
import { checkValue, optValue } from './escape.js';

function diskId(d: DiskDef): string {
  const bus = d.target.bus ?? 'ide';
  const a = d.address;
  if (a?.type === 'drive') {
    if (bus === 'scsi') return `scsi${a.controller ?? 0}-${a.bus ?? 0}-${a.target ?? 0}-${a.unit ?? 0}`;
    return `${bus}${a.controller ?? 0}-${a.bus ?? 0}-${a.unit ?? 0}`;
  }
  return `${bus === 'virtio' ? 'virtio' : bus}-disk${diskNameIndex(d.target.dev) ?? 0}`;
}

export function buildDisks(
  b: ArgvBuilder,
  def: DomainDef,
  facts: MachineFacts,
  boot: Map<object, number>,
): void {
  const disks = def.devices?.disks ?? [];
  // Block node numbers: the last disk's image is 1, counting up towards the first disk, each
  // disk's chain numbered from its top image down.
  const first = new Map<DiskDef, number>();
  let next = 1;
  for (const d of [...disks].reverse()) {
    if (!hasMedia(d)) continue;
    first.set(d, next);
    next += chainLength(d);
  }
  const fdcBoot: Props = {};
  if (facts.family === 'q35' && disks.some((d) => d.target.bus === 'fdc')) {
    // q35 has no built-in floppy controller: it is an isa-fdc device, and the boot order sits on it.
    for (const d of disks) {
      const idx = boot.get(d);
      const unit = d.address?.type === 'drive' ? (d.address.unit ?? 0) : 0;
      if (d.target.bus === 'fdc' && idx !== undefined) fdcBoot[`bootindex${unit === 0 ? 'A' : 'B'}`] = idx;
    }
    b.props('-device', { driver: 'isa-fdc', ...fdcBoot }, '/domain/devices/controller[@type=fdc]');
  }
  for (const [i, d] of disks.entries()) {
    const field = `/domain/devices/disk[${i + 1}]`;
    let drive: string | undefined;
    if (hasMedia(d)) {
      drive = imageNodes(b, d, diskLayers(d, field), first.get(d) ?? 1, true);
      if (d.driver?.copyOnRead === true) {
        // Copy-on-read is a filter node stacked on the format node; the device reads through it.
        const cor = `libvirt-CoR-${optValue(d.target.dev, `${field}/target/@dev`)}`;
        b.props(
          '-blockdev',
          { driver: 'copy-on-read', 'node-name': cor, file: drive, discard: 'unmap' },
          field,
        );
        drive = cor;
      }
    }
    const bus = d.target.bus ?? 'ide';
    const a = d.address;
    const p: Props = {};
    const idx = boot.get(d);
    if (bus === 'ide' || bus === 'sata') {
      p.driver = d.device === 'cdrom' ? 'ide-cd' : 'ide-hd';
      if (a?.type === 'drive') {
        if (bus === 'ide') {
          p.bus = `ide.${a.bus ?? 0}`;
          p.unit = a.unit ?? 0;
        } else p.bus = `sata${a.controller ?? 0}.${a.unit ?? 0}`;
      }
    } else if (bus === 'virtio') {
      p.driver = 'virtio-blk-pci';
      Object.assign(p, pciProps(a, facts));
    } else if (bus === 'scsi') {
      p.driver = d.device === 'lun' ? 'scsi-block' : d.device === 'cdrom' ? 'scsi-cd' : 'scsi-hd';
      if (a?.type === 'drive') {
        p.bus = `scsi${a.controller ?? 0}.0`;
        p.channel = a.bus ?? 0;
        p['scsi-id'] = a.target ?? 0;
        p.lun = a.unit ?? 0;
      }
    } else if (bus === 'fdc') {
      p.driver = 'floppy';
      p.unit = a?.type === 'drive' ? (a.unit ?? 0) : 0;
    } else if (bus === 'usb') {
      p.driver = 'usb-storage';
    } else {
      throw new VirError('CONFIG_UNSUPPORTED', 'qemu', `disk bus '${bus}' is not supported`, {
        field: `${field}/target/@bus`,
      });
    }
    if (drive) p.drive = drive;
    p.id = diskId(d);
    if (d.serial !== undefined) p.serial = checkValue(d.serial, `${field}/serial`);
    if (idx !== undefined && bus !== 'fdc') p.bootindex = idx;
    const wc = writeCache(d);
    if (wc !== undefined && bus !== 'fdc') p['write-cache'] = wc;
    b.props('-device', p, field);
  }
}

function hasMedia(d: DiskDef): boolean {
  const s = d.source;
  return s !== undefined && (s.file !== undefined || s.dev !== undefined);
}

/** Host page-cache use of a disk's nodes, from `<driver cache>`. */
function cacheProps(d: DiskDef): Props {
  const mode = d.driver?.cache;
  if (mode === undefined || mode === 'default') return {};
  const direct = mode === 'none' || mode === 'directsync';
  const noFlush = mode === 'unsafe';
  return { cache: { direct, 'no-flush': noFlush } };
}

/** Whether the guest sees a write cache (everything but writethrough/directsync). */
function writeCache(d: DiskDef): string | undefined {
  const mode = d.driver?.cache;
  if (mode === undefined || mode === 'default') return undefined;
  return mode === 'writethrough' || mode === 'directsync' ? 'off' : 'on';
}

/** One image of a disk's chain: the top from the disk itself, the rest from `<backingStore>`. */
interface ImageLayer {
  file?: string;
  dev?: string;
  format: string;
  /** Where the path came from, for errors. */
  field: string;
  backing?: ImageLayer;
  /** An explicit empty `<backingStore/>` below: the chain is known to end here. */
  chainEnds?: boolean;
}

/** `<backingStore>` elements (kept as XML by the model) as image layers, top first. */
function backingLayers(el: XmlElement | undefined, field: string): ImageLayer | undefined {
  if (!el) return undefined;
  const child = (e: XmlElement, name: string) =>
    e.children.find((c): c is XmlElement => c.type === 'element' && c.name === name);
  const source = child(el, 'source');
  if (!source) return undefined; // an empty <backingStore/> ends the chain
  const attr = (e: XmlElement | undefined, n: string) => e?.attrs.find((x) => x.name === n)?.value;
  const layer: ImageLayer = {
    format: attr(child(el, 'format'), 'type') ?? 'raw',
    field: `${field}/backingStore`,
  };
  const file = attr(source, 'file');
  const dev = attr(source, 'dev');
  if (file !== undefined) layer.file = file;
  else if (dev !== undefined) layer.dev = dev;
  else
    throw new VirError('CONFIG_UNSUPPORTED', 'qemu', 'only file and block backing images are supported', {
      field: `${field}/backingStore/source`,
    });
  const below = child(el, 'backingStore');
  const deeper = backingLayers(below, `${field}/backingStore`);
  if (deeper) layer.backing = deeper;
  else if (below) layer.chainEnds = true;
  return layer;
}

function diskLayers(d: DiskDef, field: string): ImageLayer {
  const top: ImageLayer = { format: d.driver?.type ?? 'raw', field };
  if (d.source?.file !== undefined) top.file = d.source.file;
  else top.dev = d.source?.dev ?? '';
  const backing = backingLayers(d.backingStore, field);
  if (backing) top.backing = backing;
  else if (d.backingStore) top.chainEnds = true;
  return top;
}

/** How many block nodes numbers a disk's chain uses. */
function chainLength(d: DiskDef): number {
  let n = 0;
  for (let l: ImageLayer | undefined = diskLayers(d, ''); l; l = l.backing) n++;
  return n;
}

/** Whether a host path is an optical drive QEMU should open as such. */
function isHostCdrom(path: string): boolean {
  return /^\/dev\/(cdrom\d*|sr\d+)$/.test(path);
}

/**
 * `-blockdev` nodes for one image and (first) everything below it: a
 * protocol node, and a format node unless the image is raw. Backing images
 * are always read-only. Returns the node name the layer above uses.
 */
function imageNodes(b: ArgvBuilder, d: DiskDef, layer: ImageLayer, n: number, top: boolean): string {
  const backing = layer.backing ? imageNodes(b, d, layer.backing, n + 1, false) : undefined;
  const storage = `libvirt-${n}-storage`;
  const readonly = !top || d.readonly === true || d.device === 'cdrom';
  const cache = top ? cacheProps(d) : {};
  const s: Props = {};
  if (layer.file !== undefined) {
    s.driver = 'file';
    s.filename = checkValue(layer.file, `${layer.field}/source/@file`);
  } else {
    const dev = checkValue(layer.dev ?? '', `${layer.field}/source/@dev`);
    s.driver = d.device === 'cdrom' && top && isHostCdrom(dev) ? 'host_cdrom' : 'host_device';
    s.filename = dev;
  }
  s['node-name'] = storage;
  if (layer.format === 'raw' && backing === undefined) {
    s['read-only'] = readonly;
    b.props('-blockdev', { ...s, ...cache }, layer.field);
    return storage;
  }
  b.props('-blockdev', { ...s, 'auto-read-only': true, discard: 'unmap', ...cache }, layer.field);
  const fmt = `libvirt-${n}-format`;
  const f: Props = { 'node-name': fmt, 'read-only': readonly, ...cache, driver: layer.format, file: storage };
  if (backing !== undefined) f.backing = backing;
  else if (layer.chainEnds) f.backing = null;
  b.props('-blockdev', f, layer.field);
  return fmt;
}

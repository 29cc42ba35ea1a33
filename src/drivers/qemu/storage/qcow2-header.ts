/**
 * A qcow2 image's header, read directly (as libvirt reads image headers
 * itself rather than running qemu-img for each file): the version, the
 * guest-visible size, the cluster size, the backing file and its format
 * (a header extension), and the lazy-refcounts bit of version 3. Layout
 * from QEMU's published qcow2 format description (docs/interop/qcow2.txt):
 * big-endian fields at fixed offsets, then extensions of (type, length,
 * data padded to 8 bytes) up to the type-0 end marker.
 *
 * @module
 */
import type { ImageInfo } from './qemu-img.js';

const MAGIC = 0x514649fb;
const EXT_END = 0;
const EXT_BACKING_FORMAT = 0xe2792aca;
/** How much of the file a header and its extensions may take before we give up on it. */
export const QCOW2_HEADER_READ = 64 * 1024;

/**
 * The header facts of `head` (the file's first bytes), or undefined when
 * they are not a qcow2 header this reader knows (qemu-img is asked then).
 */
export function readQcow2Header(head: Buffer, fileBytes: bigint): ImageInfo | undefined {
  if (head.length < 72 || head.readUInt32BE(0) !== MAGIC) return undefined;
  const version = head.readUInt32BE(4);
  if (version !== 2 && version !== 3) return undefined;
  const backingOffset = Number(head.readBigUInt64BE(8));
  const backingSize = head.readUInt32BE(16);
  const clusterBits = head.readUInt32BE(20);
  const virtualSize = head.readBigUInt64BE(24);
  let headerLength = 72;
  let lazy = false;
  if (version === 3) {
    if (head.length < 104) return undefined;
    // an incompatible feature this reader does not know (data file, compression type, ...): ask qemu-img
    if (head.readBigUInt64BE(72) & ~0x3n) return undefined;
    lazy = (head.readBigUInt64BE(80) & 1n) === 1n;
    headerLength = head.readUInt32BE(100);
  }
  let backingFormat: string | undefined;
  for (let at = headerLength; at + 8 <= head.length; ) {
    const type = head.readUInt32BE(at);
    const len = head.readUInt32BE(at + 4);
    if (type === EXT_END) break;
    if (at + 8 + len > head.length) return undefined;
    if (type === EXT_BACKING_FORMAT) backingFormat = head.toString('latin1', at + 8, at + 8 + len);
    at += 8 + Math.ceil(len / 8) * 8;
  }
  const info: { -readonly [K in keyof ImageInfo]: ImageInfo[K] } = {
    format: 'qcow2',
    virtualSize,
    actualSize: fileBytes,
    compat: version === 3 ? '1.1' : '0.10',
    lazyRefcounts: lazy,
    clusterSize: 1n << BigInt(clusterBits),
  };
  if (backingOffset > 0 && backingSize > 0) {
    if (backingOffset + backingSize > head.length) return undefined;
    info.backing = {
      path: head.toString('utf8', backingOffset, backingOffset + backingSize),
      ...(backingFormat !== undefined ? { format: backingFormat } : {}),
    };
  }
  return info;
}

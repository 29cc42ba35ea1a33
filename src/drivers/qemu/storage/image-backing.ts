/**
 * The backing file an image's header names, read as libvirt reads image
 * headers (itself, not by running a tool per file): a qcow2 header
 * directly (`qcow2-header.ts`), the other formats that can have a backing
 * file through `qemu-img info`, and none for a format that cannot (raw).
 * A relative backing name is relative to the image's directory, as QEMU
 * and libvirt resolve it. Starting a guest and deleting an external
 * snapshot read a chain this way, image by image, so a chain of a few
 * qcow2 layers costs a few small reads rather than a process each.
 *
 * @module
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { QCOW2_HEADER_READ, readQcow2Header } from './qcow2-header.js';
import { findQemuImg, type ImageInfo, imageInfo, type QemuImgRun } from './qemu-img.js';

/** Formats whose images may name a backing file (the others end a chain). */
export const BACKING_FORMATS: ReadonlySet<string> = new Set(['qcow', 'qcow2', 'qed', 'vmdk', 'cow']);

function readHead(path: string, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const n = readSync(fd, buf, 0, length, 0);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

const QCOW2_MAGIC = 0x514649fb;

/** The backing file named in `info` with a relative name made absolute against `image`'s directory. */
function resolved(image: string, b: ImageInfo['backing']): ImageInfo['backing'] {
  // a protocol (nbd://…) or a json: description is not a file name
  if (!b || b.path.startsWith('/') || b.path.includes(':')) return b;
  return { ...b, path: `${dirname(image)}/${b.path}` };
}

/**
 * What the header of `path` (an image of `format`; undefined: probe it)
 * says of its backing file: the file and, when the header names it, its
 * format. Undefined when the image has none. Throws when the file cannot
 * be read (the caller words the error).
 */
export async function headerBacking(
  path: string,
  format: string | undefined,
  signal?: AbortSignal,
): Promise<ImageInfo['backing']> {
  if (format !== undefined && !BACKING_FORMATS.has(format)) return undefined;
  const head = readHead(path, QCOW2_HEADER_READ);
  const isQcow2 = head.length >= 4 && head.readUInt32BE(0) === QCOW2_MAGIC;
  if (isQcow2 && (format === undefined || format === 'qcow2')) {
    const st = statSync(path);
    const info = readQcow2Header(head, BigInt(st.blocks) * 512n);
    if (info) return resolved(path, info.backing);
  }
  // a raw file (the probe found no image header) has no backing file
  if (format === undefined && !isQcow2 && !probablyImage(head)) return undefined;
  const binary = findQemuImg();
  if (!binary) throw new Error('qemu-img is needed to read the header of a non-qcow2 image');
  const run: QemuImgRun = { binary, signal };
  return resolved(path, (await imageInfo(run, path)).backing);
}

/** The magic numbers of the other formats with backing files: QED, VMDK, qcow (v1). */
function probablyImage(head: Buffer): boolean {
  const at0 = head.subarray(0, 4).toString('latin1');
  return at0 === 'QED\0' || at0 === 'KDMV' || at0 === 'QFI\xfb';
}

/**
 * A small PNG encoder for screenshots: binary PPM (`P6`, what QEMU's
 * `screendump` writes when it cannot write PNG) to an 8-bit RGB PNG, the
 * image data deflated by node:zlib. Bounded: a picture larger than 16384
 * pixels a side is refused rather than buffered.
 *
 * @module
 */
import { deflateSync } from 'node:zlib';
import { VirError } from '../errors.js';

const MAX_SIDE = 16384;
const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

/** The picture of a binary PPM (`P6`, maxval ≤ 255). */
export interface RgbImage {
  readonly width: number;
  readonly height: number;
  /** Rows of RGB triplets, top row first. */
  readonly rgb: Uint8Array;
}

/** Reads a binary PPM; `INTERNAL_ERROR` for anything else (QEMU wrote something unexpected). */
export function parsePpm(data: Uint8Array): RgbImage {
  let pos = 0;
  const token = (): string => {
    for (;;) {
      while (pos < data.length && isSpace(data[pos] as number)) pos++;
      if (data[pos] !== 0x23) break; // '#': a comment to the end of the line
      while (pos < data.length && data[pos] !== 0x0a) pos++;
    }
    const start = pos;
    while (pos < data.length && !isSpace(data[pos] as number)) pos++;
    return String.fromCharCode(...data.subarray(start, pos));
  };
  const magic = token();
  const width = Number(token());
  const height = Number(token());
  const maxval = Number(token());
  pos++; // the single whitespace before the samples
  const ok = (n: number) => Number.isSafeInteger(n) && n > 0 && n <= MAX_SIDE;
  if (magic !== 'P6' || !ok(width) || !ok(height) || maxval !== 255)
    throw new VirError('INTERNAL_ERROR', 'qemu', 'screendump wrote an image that is not an 8-bit binary PPM');
  const size = width * height * 3;
  if (data.length - pos < size)
    throw new VirError('INTERNAL_ERROR', 'qemu', 'screendump wrote a truncated PPM image');
  return { width, height, rgb: data.subarray(pos, pos + size) };
}

/** Encodes an RGB picture as PNG (colour type 2, depth 8, no filter). */
export function encodePng(img: RgbImage): Uint8Array {
  const row = img.width * 3;
  const raw = new Uint8Array((row + 1) * img.height);
  for (let y = 0; y < img.height; y++) {
    raw[y * (row + 1)] = 0; // filter: none
    raw.set(img.rgb.subarray(y * row, (y + 1) * row), y * (row + 1) + 1);
  }
  const ihdr = new Uint8Array(13);
  const v = new DataView(ihdr.buffer);
  v.setUint32(0, img.width);
  v.setUint32(4, img.height);
  ihdr.set([8, 2, 0, 0, 0], 8); // depth 8, RGB, deflate, adaptive filtering, no interlace
  const parts = [
    SIGNATURE,
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', new Uint8Array()),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function chunk(type: string, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + body.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, body.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(body, 8);
  v.setUint32(8 + body.length, crc32(out.subarray(4, 8 + body.length)));
  return out;
}

let table: Uint32Array | undefined;

function crc32(bytes: Uint8Array): number {
  if (!table) {
    table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (const b of bytes) c = (table[(c ^ b) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d || b === 0x0b || b === 0x0c;
}

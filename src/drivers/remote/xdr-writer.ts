/**
 * XDR encoding (RFC 4506) into a growable buffer, as libvirt's RPC payloads
 * need it: big-endian 4-byte units, strings and opaques padded to 4 bytes.
 *
 * One writer is reused for a whole packet; `reset()` keeps its memory.
 */
import { Buffer } from 'node:buffer';
import { VirError } from '../../errors.js';

export type Encoder<T> = (w: XdrWriter, value: T) => void;

export class XdrWriter {
  #buf: Buffer;
  #pos = 0;

  constructor(initialSize = 1024) {
    this.#buf = Buffer.allocUnsafe(initialSize);
  }

  get length(): number {
    return this.#pos;
  }

  reset(): void {
    this.#pos = 0;
  }

  /** A copy of what was written, safe to keep after `reset()`. */
  toBuffer(): Buffer {
    return Buffer.from(this.#buf.subarray(0, this.#pos));
  }

  /** Overwrites a 4-byte unsigned value already written (packet length). */
  patchUint(offset: number, value: number): void {
    this.#buf.writeUInt32BE(value >>> 0, offset);
  }

  #reserve(n: number): void {
    const need = this.#pos + n;
    if (need <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.#buf.copy(next, 0, 0, this.#pos);
    this.#buf = next;
  }

  int(v: number): void {
    if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw badValue('int', v);
    this.#reserve(4);
    this.#buf.writeInt32BE(v, this.#pos);
    this.#pos += 4;
  }

  uint(v: number): void {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw badValue('unsigned int', v);
    this.#reserve(4);
    this.#buf.writeUInt32BE(v, this.#pos);
    this.#pos += 4;
  }

  hyper(v: bigint): void {
    if (typeof v !== 'bigint' || v < -(1n << 63n) || v >= 1n << 63n) throw badValue('hyper', v);
    this.#reserve(8);
    this.#buf.writeBigInt64BE(v, this.#pos);
    this.#pos += 8;
  }

  uhyper(v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) throw badValue('unsigned hyper', v);
    this.#reserve(8);
    this.#buf.writeBigUInt64BE(v, this.#pos);
    this.#pos += 8;
  }

  bool(v: boolean): void {
    this.uint(v ? 1 : 0);
  }

  float(v: number): void {
    this.#reserve(4);
    this.#buf.writeFloatBE(v, this.#pos);
    this.#pos += 4;
  }

  double(v: number): void {
    this.#reserve(8);
    this.#buf.writeDoubleBE(v, this.#pos);
    this.#pos += 8;
  }

  string(v: string, max: number): void {
    if (typeof v !== 'string') throw badValue('string', v);
    // worst case 3 bytes per UTF-16 unit; reserve before measuring to write once.
    const worst = v.length * 3;
    this.#reserve(4 + worst + 3);
    const start = this.#pos + 4;
    const n = this.#buf.write(v, start, 'utf8');
    if (n > max) {
      throw new VirError('INVALID_ARG', 'rpc', `string of ${n} bytes exceeds the protocol limit of ${max}`);
    }
    this.#buf.writeUInt32BE(n, this.#pos);
    this.#pos = start + n;
    this.#pad(n);
  }

  opaque(v: Uint8Array, max: number): void {
    if (v.length > max) {
      throw new VirError(
        'INVALID_ARG',
        'rpc',
        `opaque of ${v.length} bytes exceeds the protocol limit of ${max}`,
      );
    }
    this.uint(v.length);
    this.fixedOpaque(v, v.length);
  }

  fixedOpaque(v: Uint8Array, size: number): void {
    if (!(v instanceof Uint8Array) || v.length !== size) {
      throw new VirError('INVALID_ARG', 'rpc', `expected ${size} bytes of opaque data`);
    }
    this.#reserve(size + 3);
    this.#buf.set(v, this.#pos);
    this.#pos += size;
    this.#pad(size);
  }

  array<T>(v: readonly T[], max: number, enc: Encoder<T>): void {
    if (!Array.isArray(v)) throw badValue('array', v);
    if (v.length > max) {
      throw new VirError(
        'INVALID_ARG',
        'rpc',
        `array of ${v.length} items exceeds the protocol limit of ${max}`,
      );
    }
    this.uint(v.length);
    for (const item of v) enc(this, item);
  }

  fixedArray<T>(v: readonly T[], size: number, enc: Encoder<T>): void {
    if (!Array.isArray(v) || v.length !== size) {
      throw new VirError('INVALID_ARG', 'rpc', `expected an array of exactly ${size} items`);
    }
    for (const item of v) enc(this, item);
  }

  optional<T>(v: T | null | undefined, enc: Encoder<T>): void {
    if (v === null || v === undefined) {
      this.uint(0);
    } else {
      this.uint(1);
      enc(this, v);
    }
  }

  /** Appends raw, already-encoded bytes. */
  raw(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#pos);
    this.#pos += bytes.length;
  }

  /** Fails on a discriminant the generated union does not know. */
  badUnion(name: string, discriminant: number): never {
    throw new VirError('INVALID_ARG', 'rpc', `unknown discriminant ${discriminant} for XDR union ${name}`);
  }

  #pad(n: number): void {
    const pad = (4 - (n & 3)) & 3;
    for (let i = 0; i < pad; i++) this.#buf[this.#pos++] = 0;
  }
}

function badValue(type: string, v: unknown): VirError {
  const shown = typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? JSON.stringify(v) : String(v);
  return new VirError('INVALID_ARG', 'rpc', `cannot encode ${shown.slice(0, 80)} as XDR ${type}`);
}

// Element encoders for primitive types, for arrays and optionals of them.
export const encInt: Encoder<number> = (w, v) => w.int(v);
export const encUint: Encoder<number> = (w, v) => w.uint(v);
export const encHyper: Encoder<bigint> = (w, v) => w.hyper(v);
export const encUhyper: Encoder<bigint> = (w, v) => w.uhyper(v);
export const encBool: Encoder<boolean> = (w, v) => w.bool(v);
export const encFloat: Encoder<number> = (w, v) => w.float(v);
export const encDouble: Encoder<number> = (w, v) => w.double(v);
export const encVoid: Encoder<void> = () => {};

/**
 * XDR decoding (RFC 4506) from one received packet. Every read is bounds
 * checked against the packet and against the limit the protocol declares, so
 * a hostile or broken peer gets an `RPC` error, never an out-of-memory.
 */
import type { Buffer } from 'node:buffer';
import { VirError } from '../../errors.js';

export type Decoder<T> = (r: XdrReader) => T;

export class XdrReader {
  readonly #buf: Buffer;
  #pos: number;
  readonly #end: number;

  constructor(buf: Buffer, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  get offset(): number {
    return this.#pos;
  }

  get remaining(): number {
    return this.#end - this.#pos;
  }

  /** The rest of the body as raw bytes (a stream packet's data is not XDR-encoded); a view, not a copy. */
  rest(): Uint8Array {
    const out = this.#buf.subarray(this.#pos, this.#end);
    this.#pos = this.#end;
    return out;
  }

  #need(n: number, what: string): void {
    if (n > this.#end - this.#pos) {
      throw new VirError(
        'RPC',
        'rpc',
        `truncated packet: ${what} needs ${n} bytes at offset ${this.#pos}, ${this.#end - this.#pos} left`,
      );
    }
  }

  int(): number {
    this.#need(4, 'int');
    const v = this.#buf.readInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  uint(): number {
    this.#need(4, 'unsigned int');
    const v = this.#buf.readUInt32BE(this.#pos);
    this.#pos += 4;
    return v;
  }

  hyper(): bigint {
    this.#need(8, 'hyper');
    const v = this.#buf.readBigInt64BE(this.#pos);
    this.#pos += 8;
    return v;
  }

  uhyper(): bigint {
    this.#need(8, 'unsigned hyper');
    const v = this.#buf.readBigUInt64BE(this.#pos);
    this.#pos += 8;
    return v;
  }

  bool(): boolean {
    const v = this.uint();
    if (v > 1) throw new VirError('RPC', 'rpc', `invalid XDR bool ${v} at offset ${this.#pos - 4}`);
    return v === 1;
  }

  float(): number {
    this.#need(4, 'float');
    const v = this.#buf.readFloatBE(this.#pos);
    this.#pos += 4;
    return v;
  }

  double(): number {
    this.#need(8, 'double');
    const v = this.#buf.readDoubleBE(this.#pos);
    this.#pos += 8;
    return v;
  }

  #length(max: number, what: string): number {
    const n = this.uint();
    if (n > max) throw new VirError('RPC', 'rpc', `${what} length ${n} exceeds the protocol limit of ${max}`);
    return n;
  }

  string(max: number): string {
    const n = this.#length(max, 'string');
    const padded = n + ((4 - (n & 3)) & 3);
    this.#need(padded, 'string');
    const s = this.#buf.toString('utf8', this.#pos, this.#pos + n);
    this.#pos += padded;
    return s;
  }

  opaque(max: number): Uint8Array {
    return this.fixedOpaque(this.#length(max, 'opaque'));
  }

  fixedOpaque(size: number): Uint8Array {
    const padded = size + ((4 - (size & 3)) & 3);
    this.#need(padded, 'opaque');
    // a copy: the packet buffer is reused by the framer.
    const out = new Uint8Array(size);
    out.set(this.#buf.subarray(this.#pos, this.#pos + size));
    this.#pos += padded;
    return out;
  }

  array<T>(max: number, dec: Decoder<T>): T[] {
    const n = this.#length(max, 'array');
    // each element takes at least 4 bytes: refuse lengths the packet cannot hold.
    this.#need(n * 4 > this.remaining ? n * 4 : 0, 'array');
    const out: T[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = dec(this);
    return out;
  }

  fixedArray<T>(size: number, dec: Decoder<T>): T[] {
    const out: T[] = new Array(size);
    for (let i = 0; i < size; i++) out[i] = dec(this);
    return out;
  }

  optional<T>(dec: Decoder<T>): T | null {
    return this.bool() ? dec(this) : null;
  }

  /** Fails on a discriminant the generated union does not know. */
  badUnion(name: string, discriminant: number | boolean): never {
    throw new VirError('RPC', 'rpc', `unknown discriminant ${String(discriminant)} for XDR union ${name}`);
  }
}

export const decInt: Decoder<number> = (r) => r.int();
export const decUint: Decoder<number> = (r) => r.uint();
export const decHyper: Decoder<bigint> = (r) => r.hyper();
export const decUhyper: Decoder<bigint> = (r) => r.uhyper();
export const decBool: Decoder<boolean> = (r) => r.bool();
export const decFloat: Decoder<number> = (r) => r.float();
export const decDouble: Decoder<number> = (r) => r.double();
export const decVoid: Decoder<void> = () => undefined;

/**
 * Splits a byte stream into libvirt RPC packets, whatever the chunking: the
 * length word itself may arrive in pieces. A packet shorter than a header or
 * longer than libvirt's 32 MiB limit poisons the stream (the caller closes
 * the connection): a peer that lies about lengths cannot make us allocate.
 */
import { Buffer } from 'node:buffer';
import { VirError } from '../../errors.js';
import { HEADER_SIZE, LENGTH_SIZE, MAX_PACKET } from './packet.js';

export class PacketFramer {
  readonly #lenBuf = Buffer.alloc(LENGTH_SIZE);
  #lenFill = 0;
  /** The packet being assembled, once its length is known. */
  #packet: Buffer | null = null;
  #fill = 0;
  #error: VirError | null = null;
  readonly #maxPacket: number;

  constructor(maxPacket = MAX_PACKET) {
    this.#maxPacket = maxPacket;
  }

  /** Bytes of an incomplete packet held back (0 between packets). */
  get buffered(): number {
    return this.#packet ? this.#fill : this.#lenFill;
  }

  /**
   * Feeds a chunk; calls `onPacket` for every complete packet (length word
   * included). Throws `RPC` on a bad length, and for ever after.
   */
  push(chunk: Buffer, onPacket: (frame: Buffer) => void): void {
    if (this.#error) throw this.#error;
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      if (this.#packet === null) {
        // fast path: the whole packet is inside this chunk, deliver a view.
        if (this.#lenFill === 0 && n - off >= LENGTH_SIZE) {
          const len = this.#check(chunk.readUInt32BE(off));
          if (n - off >= len) {
            onPacket(chunk.subarray(off, off + len));
            off += len;
            continue;
          }
          this.#start(len);
          continue;
        }
        const take = Math.min(LENGTH_SIZE - this.#lenFill, n - off);
        chunk.copy(this.#lenBuf, this.#lenFill, off, off + take);
        this.#lenFill += take;
        off += take;
        if (this.#lenFill < LENGTH_SIZE) return;
        const len = this.#check(this.#lenBuf.readUInt32BE(0));
        this.#lenFill = 0;
        this.#packet = Buffer.allocUnsafe(len);
        this.#lenBuf.copy(this.#packet, 0);
        this.#fill = LENGTH_SIZE;
        if (this.#fill === len) this.#deliver(onPacket);
        continue;
      }
      const packet = this.#packet;
      const take = Math.min(packet.length - this.#fill, n - off);
      chunk.copy(packet, this.#fill, off, off + take);
      this.#fill += take;
      off += take;
      if (this.#fill === packet.length) this.#deliver(onPacket);
    }
  }

  #start(len: number): void {
    // the length word is still in the chunk: copy it with the rest below.
    this.#packet = Buffer.allocUnsafe(len);
    this.#fill = 0;
  }

  #deliver(onPacket: (frame: Buffer) => void): void {
    const packet = this.#packet!;
    this.#packet = null;
    this.#fill = 0;
    onPacket(packet);
  }

  #check(len: number): number {
    if (len < LENGTH_SIZE + HEADER_SIZE) {
      this.#error = new VirError('RPC', 'rpc', `packet length ${len} is shorter than a packet header`);
      throw this.#error;
    }
    if (len - LENGTH_SIZE > this.#maxPacket) {
      this.#error = new VirError(
        'RPC',
        'rpc',
        `packet of ${len - LENGTH_SIZE} bytes exceeds the limit of ${this.#maxPacket} bytes`,
      );
      throw this.#error;
    }
    return len;
  }
}

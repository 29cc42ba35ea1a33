/**
 * libvirt RPC packets: a 4-byte big-endian length (counting itself), the
 * 24-byte header (program, version, procedure, type, serial, status) and an
 * XDR body.
 */
import type { Buffer } from 'node:buffer';
import { VirError } from '../../errors.js';
import {
  decVirNetMessageHeader,
  encVirNetMessageHeader,
  VIR_NET_MESSAGE_HEADER_MAX,
  VIR_NET_MESSAGE_LEN_MAX,
  VIR_NET_MESSAGE_MAX,
  type VirNetMessageHeader,
} from './gen/virnet-protocol.js';
import { XdrReader } from './xdr-reader.js';
import type { Encoder, XdrWriter } from './xdr-writer.js';

export type PacketHeader = VirNetMessageHeader;

/** Message types (`virNetMessageType`). */
export const MessageType = {
  CALL: 0,
  REPLY: 1,
  MESSAGE: 2,
  STREAM: 3,
  CALL_WITH_FDS: 4,
  REPLY_WITH_FDS: 5,
  STREAM_HOLE: 6,
} as const;

/** Message status (`virNetMessageStatus`). */
export const MessageStatus = { OK: 0, ERROR: 1, CONTINUE: 2 } as const;

export const LENGTH_SIZE = VIR_NET_MESSAGE_LEN_MAX;
export const HEADER_SIZE = VIR_NET_MESSAGE_HEADER_MAX;
/** The largest packet libvirt accepts, length word excluded (32 MiB). */
export const MAX_PACKET = VIR_NET_MESSAGE_MAX;

/**
 * Encodes a whole packet into `w` (which is reset first) and returns a copy
 * of the bytes, ready to write to the socket.
 */
export function encodePacket<T>(w: XdrWriter, header: PacketHeader, encodeBody: Encoder<T>, body: T): Buffer {
  w.reset();
  w.uint(0); // length, patched below
  encVirNetMessageHeader(w, header);
  encodeBody(w, body);
  const total = w.length;
  if (total - LENGTH_SIZE > MAX_PACKET) {
    throw new VirError(
      'INVALID_ARG',
      'rpc',
      `packet of ${total} bytes exceeds libvirt's limit of ${MAX_PACKET} bytes`,
    );
  }
  w.patchUint(0, total);
  return w.toBuffer();
}

/** A received packet: its header and a reader positioned at the body. */
export interface Packet {
  readonly header: PacketHeader;
  readonly body: XdrReader;
}

/** Decodes the header of one framed packet (as the framer delivers it, length word included). */
export function decodePacket(frame: Buffer): Packet {
  const r = new XdrReader(frame, LENGTH_SIZE);
  const header = decVirNetMessageHeader(r);
  return { header, body: r };
}

/**
 * libvirt's RPC streams as Node streams, for a volume's upload and
 * download: after the call's reply the data flows as STREAM packets of the
 * call's serial (`CONTINUE` with raw bytes); the daemon marks the end of a
 * download with an empty packet, the client the end of an upload with an
 * empty `OK`, and the other side confirms with an empty `OK`; an `ERROR` packet
 * carries the daemon's error, or (from us) aborts the transfer.
 *
 * A download is not paused when its consumer is slow: the daemon sends at
 * the speed of the socket and the data is buffered here (libvirt's own
 * client does the same). An upload honours the socket's back-pressure.
 *
 * @module
 */
import { Readable, Writable } from 'node:stream';
import { VirError } from '../../errors.js';
import { decVirNetMessageError } from './gen/virnet-protocol.js';
import { virErrorFromRemote } from './libvirt-errors.js';
import { MessageStatus } from './packet.js';
import type { Procedure } from './procedure.js';
import type { RpcClient, StreamHandler } from './rpc-client.js';

/** The largest data payload of one stream packet libvirt sends and takes. */
const CHUNK = 262120;

function packetError(p: Parameters<StreamHandler>[0], name: string): VirError {
  if (p instanceof VirError) return p;
  try {
    return virErrorFromRemote(decVirNetMessageError(p.body), name);
  } catch {
    return new VirError('RPC', 'rpc', `${name}: the daemon ended the stream with an error`);
  }
}

/** Calls `proc` and reads the stream it opens; resolves once the daemon accepted the call. */
export async function readStream<A>(
  client: RpcClient,
  proc: Procedure<A, void, unknown>,
  args: A,
  signal?: AbortSignal,
): Promise<Readable> {
  return (await readStreamReply(client, proc, args, signal)).stream;
}

/** {@link readStream} of a call whose reply carries something (a screenshot's MIME type). */
export async function readStreamReply<A, R>(
  client: RpcClient,
  proc: Procedure<A, R, unknown>,
  args: A,
  signal?: AbortSignal,
): Promise<{ reply: R; stream: Readable }> {
  let serial = 0;
  let finishing = false;
  let done = false;
  const stream = new Readable({
    read() {},
    destroy(err, cb) {
      // a consumer that stops early aborts the transfer on the daemon's side
      if (!done && serial && !client.closed) {
        done = true;
        client.sendStream(proc, serial, MessageStatus.ERROR);
        client.endStream(serial);
      }
      cb(err);
    },
  });
  const onPacket: StreamHandler = (p) => {
    if (done) return;
    if (p instanceof VirError || p.status === MessageStatus.ERROR) {
      done = true;
      client.endStream(serial);
      stream.destroy(packetError(p, proc.name));
    } else if (p.status === MessageStatus.CONTINUE && p.body.remaining > 0) {
      stream.push(Buffer.from(p.body.rest()));
    } else if (!finishing) {
      // the daemon's end of data (an empty packet): say we are done, and wait for its confirmation
      finishing = true;
      client.sendStream(proc, serial, MessageStatus.OK);
    } else {
      done = true;
      client.endStream(serial);
      stream.push(null);
    }
  };
  const call = client.callStream(proc, args, onPacket, signal);
  serial = call.serial;
  try {
    return { reply: await call.reply, stream };
  } catch (err) {
    done = true;
    stream.destroy();
    throw err;
  }
}

/** Calls `proc` and writes the stream it opens; the writable finishes when the daemon confirmed the end. */
export async function writeStream<A>(
  client: RpcClient,
  proc: Procedure<A, void, unknown>,
  args: A,
  signal?: AbortSignal,
): Promise<Writable> {
  let serial = 0;
  let failed: VirError | undefined;
  let confirm: ((err?: VirError) => void) | undefined;
  let done = false;
  const onPacket: StreamHandler = (p) => {
    if (done) return;
    if (p instanceof VirError || p.status === MessageStatus.ERROR) {
      done = true;
      failed = packetError(p, proc.name);
      client.endStream(serial);
      if (confirm) confirm(failed);
      else stream.destroy(failed);
    } else if (p.status === MessageStatus.OK) {
      done = true;
      client.endStream(serial);
      confirm?.();
    }
  };
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (failed) return cb(failed);
      try {
        for (let i = 0; i < chunk.length; i += CHUNK)
          client.sendStream(proc, serial, MessageStatus.CONTINUE, chunk.subarray(i, i + CHUNK));
      } catch (err) {
        return cb(err as Error);
      }
      cb();
    },
    final(cb) {
      if (failed) return cb(failed);
      confirm = (err) => cb(err ?? null);
      try {
        client.sendStream(proc, serial, MessageStatus.OK);
      } catch (err) {
        cb(err as Error);
      }
    },
    destroy(err, cb) {
      if (!done && serial && !client.closed) {
        done = true;
        client.sendStream(proc, serial, MessageStatus.ERROR);
        client.endStream(serial);
      }
      cb(err);
    },
  });
  const call = client.callStream(proc, args, onPacket, signal);
  serial = call.serial;
  try {
    await call.reply;
  } catch (err) {
    done = true;
    stream.destroy();
    throw err;
  }
  return stream;
}

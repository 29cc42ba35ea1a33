/**
 * `virDomainScreenshot` over the wire: REMOTE_PROC_DOMAIN_SCREENSHOT
 * answers with the MIME type, then the picture comes as the call's stream
 * (`rpc-stream.ts`), read whole here, bounded: a daemon that sends more
 * than 64 MiB is cut off.
 *
 * @module
 */
import type { DomainRef, Screenshot, ScreenshotOptions } from '../../driver.js';
import { VirError } from '../../errors.js';
import { remoteProcedures as P } from './gen/remote-protocol.js';
import { toRemote } from './remote-values.js';
import type { RpcClient } from './rpc-client.js';
import { readStreamReply } from './rpc-stream.js';

const MAX_BYTES = 64 * 1024 * 1024;

/** One screenshot of `dom`'s display `screen` (default 0). */
export async function remoteScreenshot(
  client: RpcClient,
  dom: DomainRef,
  opts: ScreenshotOptions = {},
): Promise<Screenshot> {
  const args = { dom: toRemote(dom), screen: opts.screen ?? 0, flags: 0 };
  const { reply, stream } = await readStreamReply(client, P.DOMAIN_SCREENSHOT, args, opts.signal);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BYTES) {
      stream.destroy();
      throw new VirError('RPC', 'rpc', `screenshot of '${dom.name}' is larger than ${MAX_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return { mime: reply.mime ?? '', data: new Uint8Array(Buffer.concat(chunks)) };
}

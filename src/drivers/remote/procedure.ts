/**
 * A procedure of a libvirt RPC program, as the generated tables describe it:
 * where it lives (program, version, number) and how its argument, reply and
 * (for events) message bodies are encoded.
 */
import type { Decoder } from './xdr-reader.js';
import type { Encoder } from './xdr-writer.js';

export interface Procedure<A, R, M = void> {
  readonly program: number;
  readonly version: number;
  readonly procedure: number;
  /** Name without the program prefix, e.g. `DOMAIN_LOOKUP_BY_NAME`. */
  readonly name: string;
  readonly encodeArgs: Encoder<A>;
  readonly decodeRet: Decoder<R>;
  /** Body of the asynchronous message (event) the server sends with this number. */
  readonly decodeMsg: Decoder<M> | undefined;
}

export function procedure<A, R, M = void>(
  program: number,
  version: number,
  number: number,
  name: string,
  encodeArgs: Encoder<A>,
  decodeRet: Decoder<R>,
  decodeMsg?: Decoder<M>,
): Procedure<A, R, M> {
  return { program, version, procedure: number, name, encodeArgs, decodeRet, decodeMsg };
}

export type ArgsOf<P> = P extends Procedure<infer A, unknown, unknown> ? A : never;
export type RetOf<P> = P extends Procedure<unknown, infer R, unknown> ? R : never;

/**
 * Metadata and block I/O tuning over libvirt's remote program:
 * `REMOTE_PROC_DOMAIN_SET_METADATA` / `GET_METADATA` and
 * `DOMAIN_SET_BLOCK_IO_TUNE` / `GET_BLOCK_IO_TUNE` (asked first for the
 * count, then for the values, as libvirt's client does).
 *
 * @module
 */

import type { GetMetadataOptions, SetMetadataOptions } from '../../domain-tuning.js';
import { BLOCK_IOTUNE_NUMBERS, type BlockIoTune, type BlockIoTuneParams } from '../../domain-tuning.js';
import type { CallOptions, DomainRef, MetadataKind } from '../../driver.js';
import { remoteProcedures as P, type RemoteTypedParam } from './gen/remote-protocol.js';
import type { RemoteCall } from './remote-object-values.js';
import { affectFlags, toRemote } from './remote-values.js';

const KIND_NUMBER: Record<MetadataKind, number> = { description: 0, title: 1, element: 2 };

/** `VIR_TYPED_PARAM_ULLONG` and `_STRING`. */
const ULLONG = 4;
const STRING = 7;
/** `VIR_TYPED_PARAM_STRING_OKAY`. */
const STRING_OKAY = 1 << 2;

type Affect = CallOptions & { config?: boolean; live?: boolean };

export class RemoteTuning {
  readonly #call: RemoteCall;

  constructor(call: RemoteCall) {
    this.#call = call;
  }

  async setMetadata(dom: DomainRef, kind: MetadataKind, value: string | null, opts: SetMetadataOptions = {}) {
    await this.#call(
      P.DOMAIN_SET_METADATA,
      {
        dom: toRemote(dom),
        type: KIND_NUMBER[kind],
        metadata: value,
        key: opts.key ?? null,
        uri: opts.uri ?? null,
        flags: affectFlags(opts),
      },
      opts,
    );
  }

  async getMetadata(dom: DomainRef, kind: MetadataKind, opts: GetMetadataOptions = {}): Promise<string> {
    const ret = await this.#call(
      P.DOMAIN_GET_METADATA,
      { dom: toRemote(dom), type: KIND_NUMBER[kind], uri: opts.uri ?? null, flags: affectFlags(opts) },
      opts,
    );
    return ret.metadata;
  }

  async setBlockIoTune(dom: DomainRef, disk: string, params: BlockIoTuneParams, opts: Affect = {}) {
    const list: RemoteTypedParam[] = [];
    for (const [field, v] of Object.entries(params)) {
      if (v === undefined) continue;
      list.push({
        field,
        value: typeof v === 'string' ? { type: STRING, s: v } : { type: ULLONG, ul: BigInt(v) },
      });
    }
    await this.#call(
      P.DOMAIN_SET_BLOCK_IO_TUNE,
      { dom: toRemote(dom), disk, params: list, flags: affectFlags(opts) },
      opts,
    );
  }

  async getBlockIoTune(dom: DomainRef, disk: string, opts: Affect = {}): Promise<BlockIoTune> {
    // the client library adds VIR_TYPED_PARAM_STRING_OKAY, or the daemon leaves out group_name
    const args = { dom: toRemote(dom), disk, flags: affectFlags(opts) | STRING_OKAY };
    const count = await this.#call(P.DOMAIN_GET_BLOCK_IO_TUNE, { ...args, nparams: 0 }, opts);
    const ret = await this.#call(P.DOMAIN_GET_BLOCK_IO_TUNE, { ...args, nparams: count.nparams }, opts);
    const out: Record<string, number | string> = {};
    // every parameter present, as the facade types it, even from a daemon that lists fewer
    for (const name of BLOCK_IOTUNE_NUMBERS) out[name] = 0;
    out.group_name = '';
    for (const p of ret.params) {
      const v = p.value;
      if (v.type === STRING) out[p.field] = v.s;
      else if (v.type === ULLONG || v.type === 3) out[p.field] = Number(v.type === ULLONG ? v.ul : v.l);
      else if (v.type === 1) out[p.field] = v.i;
      else if (v.type === 2) out[p.field] = v.ui;
    }
    return out as BlockIoTune;
  }
}

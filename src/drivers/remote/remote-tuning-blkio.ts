/**
 * Block I/O parameters over libvirt's remote program:
 * `DOMAIN_GET_BLKIO_PARAMETERS` (asked first for the count, then for that
 * many, with `VIR_TYPED_PARAM_STRING_OKAY` as libvirt's client sends it)
 * and `DOMAIN_SET_BLKIO_PARAMETERS`, the weight as an unsigned int and the
 * per-device lists as strings, which the daemon's driver parses.
 *
 * @module
 */
import type { BlkioParameters } from '../../domain-tuning-blkio.js';
import type { TuningParamsOptions } from '../../domain-tuning-sched.js';
import type { DomainRef } from '../../driver.js';
import { remoteProcedures as P, type RemoteTypedParam } from './gen/remote-protocol.js';
import type { RemoteCall } from './remote-object-values.js';
import { affectFlags, toRemote } from './remote-values.js';

/** `VIR_TYPED_PARAM_STRING_OKAY`: this client takes string parameters. */
const STRING_OKAY = 1 << 2;

export class RemoteTuningBlkio {
  readonly #call: RemoteCall;

  constructor(call: RemoteCall) {
    this.#call = call;
  }

  async getBlkioParameters(dom: DomainRef, opts: TuningParamsOptions = {}): Promise<BlkioParameters> {
    const args = { dom: toRemote(dom), flags: affectFlags(opts) | STRING_OKAY };
    const count = await this.#call(P.DOMAIN_GET_BLKIO_PARAMETERS, { ...args, nparams: 0 }, opts);
    const ret = await this.#call(P.DOMAIN_GET_BLKIO_PARAMETERS, { ...args, nparams: count.nparams }, opts);
    const out: Record<string, number | string> = {};
    for (const p of ret.params) {
      const v = p.value;
      if (v.type === 2) out[p.field] = v.ui;
      else if (v.type === 7) out[p.field] = v.s;
      else if (v.type === 1) out[p.field] = v.i;
      else if (v.type === 3) out[p.field] = Number(v.l);
      else if (v.type === 4) out[p.field] = Number(v.ul);
    }
    return out as BlkioParameters;
  }

  async setBlkioParameters(dom: DomainRef, params: BlkioParameters, opts: TuningParamsOptions = {}) {
    const list: RemoteTypedParam[] = [];
    for (const [field, v] of Object.entries(params)) {
      if (typeof v === 'number') list.push({ field, value: { type: 2, ui: v } });
      else if (typeof v === 'string') list.push({ field, value: { type: 7, s: v } });
    }
    await this.#call(
      P.DOMAIN_SET_BLKIO_PARAMETERS,
      { dom: toRemote(dom), params: list, flags: affectFlags(opts) },
      opts,
    );
  }
}

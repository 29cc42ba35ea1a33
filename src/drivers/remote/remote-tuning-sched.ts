/**
 * Scheduler and memory parameters over libvirt's remote program:
 * `DOMAIN_GET_SCHEDULER_TYPE`, `DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS`
 * (sized by the scheduler type's count, as libvirt's client does; the
 * older `DOMAIN_GET_SCHEDULER_PARAMETERS` without flags),
 * `DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS`, `DOMAIN_GET_MEMORY_PARAMETERS`
 * (asked first for the count) and `DOMAIN_SET_MEMORY_PARAMETERS`, each
 * parameter with the typed-parameter type the daemon validates.
 *
 * @module
 */
import {
  type MemoryParameters,
  SCHEDULER_PARAMS,
  type SchedulerParameters,
  type SchedulerType,
  type TuningParamsOptions,
  type TypedParamKind,
} from '../../domain-tuning-sched.js';
import type { CallOptions, DomainRef } from '../../driver.js';
import { remoteProcedures as P, type RemoteTypedParam } from './gen/remote-protocol.js';
import type { RemoteCall } from './remote-object-values.js';
import { affectFlags, toRemote } from './remote-values.js';

/** `VIR_TYPED_PARAM_STRING_OKAY`, which libvirt's client adds to the reads. */
const STRING_OKAY = 1 << 2;

function encoded(params: object, kindOf: (name: string) => TypedParamKind): RemoteTypedParam[] {
  const out: RemoteTypedParam[] = [];
  for (const [field, v] of Object.entries(params)) {
    if (typeof v !== 'number') continue;
    const kind = kindOf(field);
    out.push({
      field,
      value:
        kind === 'uint'
          ? { type: 2, ui: v }
          : kind === 'llong'
            ? { type: 3, l: BigInt(v) }
            : { type: 4, ul: BigInt(v) },
    });
  }
  return out;
}

function decoded(list: readonly RemoteTypedParam[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of list) {
    const v = p.value;
    if (v.type === 1) out[p.field] = v.i;
    else if (v.type === 2) out[p.field] = v.ui;
    else if (v.type === 3) out[p.field] = Number(v.l);
    else if (v.type === 4) out[p.field] = Number(v.ul);
    else if (v.type === 5) out[p.field] = v.d;
  }
  return out;
}

export class RemoteTuningSched {
  readonly #call: RemoteCall;

  constructor(call: RemoteCall) {
    this.#call = call;
  }

  async getSchedulerType(dom: DomainRef, opts: CallOptions = {}): Promise<SchedulerType> {
    const ret = await this.#call(P.DOMAIN_GET_SCHEDULER_TYPE, { dom: toRemote(dom) }, opts);
    return { type: ret.type, nparams: ret.nparams };
  }

  async getSchedulerParameters(dom: DomainRef, opts: TuningParamsOptions = {}): Promise<SchedulerParameters> {
    const { nparams } = await this.getSchedulerType(dom, opts);
    const flags = affectFlags(opts);
    // without flags, the older procedure, as libvirt's tools use it (and without STRING_OKAY,
    // which some drivers refuse)
    const ret =
      flags === 0
        ? await this.#call(P.DOMAIN_GET_SCHEDULER_PARAMETERS, { dom: toRemote(dom), nparams }, opts)
        : await this.#call(
            P.DOMAIN_GET_SCHEDULER_PARAMETERS_FLAGS,
            { dom: toRemote(dom), nparams, flags: flags | STRING_OKAY },
            opts,
          );
    return decoded(ret.params);
  }

  async setSchedulerParameters(dom: DomainRef, params: SchedulerParameters, opts: TuningParamsOptions = {}) {
    const list = encoded(params, (name) => SCHEDULER_PARAMS[name as keyof SchedulerParameters] ?? 'ullong');
    await this.#call(
      P.DOMAIN_SET_SCHEDULER_PARAMETERS_FLAGS,
      { dom: toRemote(dom), params: list, flags: affectFlags(opts) },
      opts,
    );
  }

  async getMemoryParameters(dom: DomainRef, opts: TuningParamsOptions = {}): Promise<MemoryParameters> {
    const args = { dom: toRemote(dom), flags: affectFlags(opts) | STRING_OKAY };
    const count = await this.#call(P.DOMAIN_GET_MEMORY_PARAMETERS, { ...args, nparams: 0 }, opts);
    const ret = await this.#call(P.DOMAIN_GET_MEMORY_PARAMETERS, { ...args, nparams: count.nparams }, opts);
    return decoded(ret.params);
  }

  async setMemoryParameters(dom: DomainRef, params: MemoryParameters, opts: TuningParamsOptions = {}) {
    await this.#call(
      P.DOMAIN_SET_MEMORY_PARAMETERS,
      { dom: toRemote(dom), params: encoded(params, () => 'ullong'), flags: affectFlags(opts) },
      opts,
    );
  }
}

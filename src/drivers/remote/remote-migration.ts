/**
 * Live migration between two libvirt daemons, as `virDomainMigrate3` does
 * it from the client's side.
 *
 * - **Peer-to-peer** (`peer2peer`): one PERFORM3_PARAMS call to the source
 *   daemon with the destination's URI (`dconnuri`); the source daemon opens
 *   the destination itself and runs every step.
 * - **Managed** (the default): the client runs the version-3 protocol with
 *   parameters, in libvirt's order — Begin3 (source: the domain XML to send,
 *   a cookie), Prepare3 (destination: starts the incoming QEMU, says where
 *   to send the memory), Perform3 (source: the copy), Finish3 (destination:
 *   resumes the guest, or kills it when the copy was cancelled), Confirm3
 *   (source: ends the guest there, or resumes it when cancelled). Each step's
 *   cookie goes to the next one. The source keeps a job from Begin to
 *   Confirm (`CHANGE_PROTECTION`), so a failed Prepare is confirmed as
 *   cancelled and nothing stays locked.
 *
 * While the copy runs the source's job info is polled for `onProgress`; an
 * abort (`signal`, which the facade also fires at the migration's `timeout`)
 * asks the source daemon to abort the job (ABORT_JOB) and then waits for the
 * steps to undo it, so the guest runs on at the source when this rejects.
 *
 * @module
 */

import { whenAborted } from '../../abort-listeners.js';
import type { DomainJobInfo, DomainRef, MigrateOptions } from '../../driver.js';
import { VirError } from '../../errors.js';
import {
  remoteProcedures as P,
  type RemoteDomainGetJobInfoRet,
  type RemoteTypedParam,
} from './gen/remote-protocol.js';
import type { RemoteCall } from './remote-object-values.js';
import { toRef, toRemote, uuidToBytes } from './remote-values.js';

/** `VIR_MIGRATE_*` flag bits. */
const Flag = {
  LIVE: 1 << 0,
  PEER2PEER: 1 << 1,
  PERSIST_DEST: 1 << 3,
  UNDEFINE_SOURCE: 1 << 4,
  PAUSED: 1 << 5,
  CHANGE_PROTECTION: 1 << 8,
  COMPRESSED: 1 << 11,
  AUTO_CONVERGE: 1 << 13,
  POSTCOPY: 1 << 15,
} as const;

/** `virDomainJobType` numbers. */
const JOB_TYPES = ['none', 'bounded', 'unbounded', 'completed', 'failed', 'cancelled'] as const;
/** `VIR_DOMAIN_JOB_STATS_COMPLETED | KEEP_COMPLETED`: the finished job's stats, left for other readers. */
const COMPLETED_STATS_KEPT = 1 | 2;
const VIR_DOMAIN_PAUSED = 3;
/** How often the source's job info is asked while the copy runs. */
const POLL_MS = 250;
/** A step of the protocol other than the copy: bounded, the copy is not. */
const STEP_TIMEOUT = 120_000;
const NO_LIMIT = 0;

/** One daemon of the pair: how to call it and the URI it was opened with. */
export interface MigrationDaemon {
  readonly call: RemoteCall;
  /** The URI the client opened, the default `dconnuri` of a peer-to-peer migration to it. */
  readonly uri: string;
}

/** The `VIR_MIGRATE_*` flags of the options (without PAUSED and CHANGE_PROTECTION). */
export function migrateFlags(opts: MigrateOptions): number {
  let flags = 0;
  if (opts.live) flags |= Flag.LIVE;
  if (opts.peer2peer) flags |= Flag.PEER2PEER;
  if (opts.persistDest) flags |= Flag.PERSIST_DEST;
  if (opts.undefineSource) flags |= Flag.UNDEFINE_SOURCE;
  if (opts.xbzrle) flags |= Flag.COMPRESSED;
  if (opts.autoConverge) flags |= Flag.AUTO_CONVERGE;
  if (opts.postcopy) flags |= Flag.POSTCOPY;
  return flags;
}

/** The `VIR_MIGRATE_PARAM_*` typed parameters of the options. */
export function migrateParams(opts: MigrateOptions): RemoteTypedParam[] {
  const params: RemoteTypedParam[] = [];
  if (opts.bandwidth !== undefined) {
    params.push({ field: 'bandwidth', value: { type: 4, ul: BigInt(opts.bandwidth) } });
  }
  if (opts.migrateUri !== undefined) {
    params.push({
      field: 'migrate_uri',
      value: { type: 7, s: checkedString(opts.migrateUri, 'migrateUri') },
    });
  }
  return params;
}

function checkedString(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 4096 || value.includes('\0')) {
    throw new VirError('INVALID_ARG', 'remote', `migration option ${field} must be a non-empty URI`, {
      field,
    });
  }
  return value;
}

function withParam(params: RemoteTypedParam[], field: string, s: string): RemoteTypedParam[] {
  return [...params.filter((p) => p.field !== field), { field, value: { type: 7, s } }];
}

/** Migrates `dom` from `src` to `dest`; resolves with the domain as the destination knows it. */
export async function migrateBetweenDaemons(
  src: MigrationDaemon,
  dest: MigrationDaemon,
  dom: DomainRef,
  opts: MigrateOptions,
): Promise<DomainRef> {
  const params = migrateParams(opts);
  let flags = migrateFlags(opts);
  const signal = opts.signal;
  if (signal?.aborted) throw aborted(dom, signal, undefined);
  const remote = toRemote(dom);
  const job = new JobWatch(src, dom, opts);
  if (opts.peer2peer) {
    const dconnuri = opts.destUri === undefined ? dest.uri : checkedString(opts.destUri, 'destUri');
    try {
      await job.during(
        src.call(
          P.DOMAIN_MIGRATE_PERFORM3_PARAMS,
          { dom: remote, dconnuri, params, cookie_in: new Uint8Array(0), flags },
          { timeout: NO_LIMIT },
        ),
      );
    } catch (err) {
      throw job.failure(err);
    }
    await job.completed();
    const found = await dest.call(P.DOMAIN_LOOKUP_BY_UUID, { uuid: uuidToBytes(dom.uuid) }, step());
    return toRef(found.dom);
  }

  // managed: the client runs the five steps
  const state = await src.call(P.DOMAIN_GET_STATE, { dom: remote, flags: 0 }, step());
  if (state.state === VIR_DOMAIN_PAUSED) flags |= Flag.PAUSED;
  const srcFlags = flags | Flag.CHANGE_PROTECTION;
  const destFlags = flags & ~Flag.AUTO_CONVERGE;
  const begin = await src.call(
    P.DOMAIN_MIGRATE_BEGIN3_PARAMS,
    { dom: remote, params, flags: srcFlags },
    step(),
  );
  let stepParams = withParam(params, 'destination_xml', begin.xml);
  stepParams = withParam(stepParams, 'destination_name', dom.name);
  let prepared: { cookie_out: Uint8Array; uri_out: string | null };
  try {
    if (signal?.aborted) throw aborted(dom, signal, undefined);
    prepared = await dest.call(
      P.DOMAIN_MIGRATE_PREPARE3_PARAMS,
      { params: stepParams, cookie_in: begin.cookie_out, flags: destFlags },
      step(),
    );
  } catch (err) {
    // Begin took a job on the source: Confirm as cancelled gives it back, the guest runs on
    await confirm(src, remote, stepParams, new Uint8Array(0), srcFlags, true);
    throw err;
  }
  if (prepared.uri_out) stepParams = withParam(stepParams, 'migrate_uri', prepared.uri_out);
  let performed: Uint8Array = new Uint8Array(0);
  let failure: VirError | undefined;
  try {
    if (signal?.aborted) throw aborted(dom, signal, undefined);
    if (!prepared.uri_out && opts.migrateUri === undefined) {
      throw new VirError('RPC', 'remote', 'the destination prepared no migration URI (Prepare3 gave none)');
    }
    const r = await job.during(
      src.call(
        P.DOMAIN_MIGRATE_PERFORM3_PARAMS,
        { dom: remote, dconnuri: null, params: stepParams, cookie_in: prepared.cookie_out, flags: srcFlags },
        { timeout: NO_LIMIT },
      ),
    );
    performed = r.cookie_out;
  } catch (err) {
    failure = job.failure(err);
  }
  let finished: { dom: DomainRef; cookie: Uint8Array } | undefined;
  try {
    const f = await dest.call(
      P.DOMAIN_MIGRATE_FINISH3_PARAMS,
      { params: stepParams, cookie_in: performed, flags: destFlags, cancelled: failure ? 1 : 0 },
      step(),
    );
    finished = { dom: toRef(f.dom), cookie: f.cookie_out };
  } catch (err) {
    // no domain at the destination: the source must resume it (cancelled)
    failure ??= err instanceof VirError ? err : new VirError('RPC', 'remote', String(err), { cause: err });
  }
  // as libvirt: a domain from Finish is the outcome (it runs there), whatever Perform said
  await confirm(src, remote, stepParams, finished?.cookie ?? new Uint8Array(0), srcFlags, !finished);
  if (!finished)
    throw failure ?? new VirError('OPERATION_FAILED', 'remote', `migration of '${dom.name}' failed`);
  await job.completed(dest, finished.dom);
  return finished.dom;
}

/** Confirm3: ends (done) or resumes (cancelled) the guest at the source; its error never hides the migration's. */
async function confirm(
  src: MigrationDaemon,
  dom: ReturnType<typeof toRemote>,
  params: RemoteTypedParam[],
  cookie: Uint8Array,
  flags: number,
  cancelled: boolean,
): Promise<void> {
  try {
    await src.call(
      P.DOMAIN_MIGRATE_CONFIRM3_PARAMS,
      { dom, params, cookie_in: cookie, flags, cancelled: cancelled ? 1 : 0 },
      step(),
    );
  } catch {
    // libvirt only logs a failed Confirm: the outcome is already decided by Finish
  }
}

const step = () => ({ timeout: STEP_TIMEOUT });

/**
 * The copy's progress and its abort: polls the source's job info while a
 * step runs, and on `signal` asks the source to abort the job, once.
 */
class JobWatch {
  readonly #src: MigrationDaemon;
  readonly #dom: DomainRef;
  readonly #opts: MigrateOptions;
  #last: DomainJobInfo | undefined;
  #abortReason: VirError | undefined;

  constructor(src: MigrationDaemon, dom: DomainRef, opts: MigrateOptions) {
    this.#src = src;
    this.#dom = dom;
    this.#opts = opts;
  }

  /** Runs `copy` (a Perform3 call), polling progress and forwarding an abort (the facade's timeout too). */
  async during<T>(copy: Promise<T>): Promise<T> {
    const { signal } = this.#opts;
    const sendAbort = () =>
      this.#src.call(P.DOMAIN_ABORT_JOB, { dom: toRemote(this.#dom) }, step()).catch(() => {
        // no job (yet, or any more): the copy's own outcome says what happened
      });
    const abortJob = (reason: VirError) => {
      if (this.#abortReason) return;
      this.#abortReason = reason;
      void sendAbort();
    };
    const stopWaiting = signal
      ? whenAborted(signal, () => abortJob(aborted(this.#dom, signal, undefined)))
      : undefined;
    let running = true;
    // the copy's end cuts the pause short: a migration must not wait out a poll interval
    let cutShort: (() => void) | undefined;
    const poll = (async () => {
      while (running) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, POLL_MS);
          cutShort = () => {
            clearTimeout(t);
            r();
          };
        });
        if (!running) break;
        const info = await this.#src
          .call(P.DOMAIN_GET_JOB_INFO, { dom: toRemote(this.#dom) }, step())
          .catch(() => undefined);
        if (!running || !info || (info.type !== 1 && info.type !== 2)) continue;
        this.#report(fromJobInfo(info));
        // an abort that came before QEMU's copy began did nothing: asked again while the job runs
        if (this.#abortReason) void sendAbort();
      }
    })();
    try {
      return await copy;
    } finally {
      running = false;
      cutShort?.();
      stopWaiting?.();
      await poll;
    }
  }

  /** The error to reject with: the abort's or timeout's when one was asked, else the daemon's. */
  failure(err: unknown): VirError {
    const cause = err instanceof VirError ? err : new VirError('RPC', 'remote', String(err), { cause: err });
    const reason = this.#abortReason;
    if (!reason) return cause;
    if (this.#last) this.#report({ ...this.#last, type: 'cancelled' });
    return new VirError(reason.code, 'remote', `${reason.message} (${cause.message})`, { cause });
  }

  /** Reports the end: the destination's completed job stats when it keeps them, else the last progress. */
  async completed(dest?: MigrationDaemon, ref?: DomainRef): Promise<void> {
    if (!this.#opts.onProgress) return;
    const last = this.#last;
    if (dest && ref) {
      try {
        const flags = COMPLETED_STATS_KEPT;
        const r = await dest.call(P.DOMAIN_GET_JOB_STATS, { dom: toRemote(ref), flags }, step());
        if (JOB_TYPES[r.type] === 'completed') return this.#report(fromJobStats(r.params, last));
      } catch {
        // a daemon that keeps no completed stats: the last progress stands for them
      }
    }
    if (last) this.#report({ ...last, type: 'completed', status: 'completed' });
  }

  #report(info: DomainJobInfo): void {
    this.#last = info;
    try {
      this.#opts.onProgress?.(info);
    } catch {
      // a throwing progress callback must not break the migration
    }
  }
}

function fromJobInfo(r: RemoteDomainGetJobInfoRet): DomainJobInfo {
  return {
    type: 'unbounded',
    status: JOB_TYPES[r.type] ?? 'unbounded',
    timeElapsed: Number(r.timeElapsed),
    dataTotal: Number(r.dataTotal),
    dataProcessed: Number(r.dataProcessed),
    dataRemaining: Number(r.dataRemaining),
    memTotal: Number(r.memTotal),
    memProcessed: Number(r.memProcessed),
    memRemaining: Number(r.memRemaining),
  };
}

function fromJobStats(params: readonly RemoteTypedParam[], last: DomainJobInfo | undefined): DomainJobInfo {
  const num = (field: string): number | undefined => {
    const v = params.find((p) => p.field === field)?.value;
    if (!v) return undefined;
    if (v.type === 3) return Number(v.l);
    if (v.type === 4) return Number(v.ul);
    if (v.type === 1) return v.i;
    if (v.type === 2) return v.ui;
    return undefined;
  };
  const downtime = num('downtime');
  return {
    type: 'completed',
    status: 'completed',
    timeElapsed: num('time_elapsed') ?? last?.timeElapsed ?? 0,
    dataTotal: num('data_total') ?? last?.dataTotal ?? 0,
    dataProcessed: num('data_processed') ?? last?.dataProcessed ?? 0,
    dataRemaining: num('data_remaining') ?? 0,
    memTotal: num('memory_total') ?? last?.memTotal ?? 0,
    memProcessed: num('memory_processed') ?? last?.memProcessed ?? 0,
    memRemaining: num('memory_remaining') ?? 0,
    ...(downtime !== undefined ? { downtime } : {}),
  };
}

function aborted(dom: DomainRef, signal: AbortSignal, cause: unknown): VirError {
  const reason: unknown = signal.reason;
  if (reason instanceof VirError) return reason;
  return new VirError('OPERATION_ABORTED', 'remote', `migration of '${dom.name}' aborted`, {
    cause: cause ?? reason,
  });
}

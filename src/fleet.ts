/**
 * Fleet planning over live connections: each host's capabilities and
 * domain capabilities fetched concurrently, each host within its own time
 * limit, then {@link planFleet} over the hosts that answered. A host that
 * cannot be reached, or does not answer in time, is reported beside the
 * plan instead of failing it.
 *
 * @module
 */
import type { Capabilities } from './conf/capabilities.js';
import { Connection, connect } from './connection.js';
import {
  type FleetGuestInput,
  type FleetHostInput,
  type FleetOptions,
  type FleetPlan,
  planFleet,
} from './cpu/index.js';
import { VirError } from './errors.js';

/** One host: an open connection (kept open) or a URI (opened and closed here). */
export interface FleetConnectionHost {
  /** Defaults to the URI (or the connection's URI). */
  name?: string;
  /** An open connection to the host; it stays open. Give this or `uri`. */
  connection?: Connection;
  /** A libvirt URI, opened for the plan and closed after it. Give this or `connection`. */
  uri?: string;
  /** The architecture whose domain capabilities are asked for; default the host CPU's. */
  arch?: string;
  /** `kvm` or `qemu`; default the hypervisor's own choice. */
  virttype?: string;
}

/** What {@link planFleetFromConnections} takes: hosts to ask, guests to place, and time limits. */
export interface FleetFromConnectionsInput {
  /** The hosts: a {@link FleetConnectionHost}, an open connection or a URI each. */
  hosts: readonly (FleetConnectionHost | Connection | string)[];
  /** The guests, as {@link planFleet} takes them. */
  guests: readonly FleetGuestInput[];
  /** Host groups and "what if" answers, as {@link planFleet} takes them. */
  options?: FleetOptions;
  /** Time each host gets to answer, in milliseconds (default 10000). */
  timeoutMs?: number;
  /** Aborts the whole plan: it rejects with the signal's reason and the connections it opened are closed. */
  signal?: AbortSignal;
}

/** A host that could not be asked, or answered only in part, and why. */
export interface FleetHostFailure {
  /** The host's name in the plan. */
  name: string;
  /** The `VirError` code of the failure (`OPERATION_TIMEOUT` for a host too slow, `NO_CONNECT`, ...). */
  code: string;
  /** The failure's message. */
  message: string;
}

/** What {@link planFleetFromConnections} answers: the plan and the hosts it left out. */
export interface FleetFromConnectionsResult {
  /** The plan over the hosts that answered. */
  plan: FleetPlan;
  /** Hosts left out of the plan: unreachable, too slow, or refusing the calls. */
  unreachable: FleetHostFailure[];
  /** Hosts that answered, but without domain capabilities (their plan uses the host CPU alone). */
  partial: FleetHostFailure[];
}

function normalise(h: FleetConnectionHost | Connection | string): FleetConnectionHost {
  if (typeof h === 'string') return { uri: h };
  if (h instanceof Connection) return { connection: h };
  return h;
}

interface Fetched {
  input: FleetHostInput;
  partial?: FleetHostFailure;
}

async function fetchHost(
  host: FleetConnectionHost,
  name: string,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): Promise<Fetched> {
  const ctl = new AbortController();
  const timer = setTimeout(
    () =>
      ctl.abort(new VirError('OPERATION_TIMEOUT', 'rpc', `host ${name} did not answer in ${timeoutMs} ms`)),
    timeoutMs,
  );
  const onAbort = () => ctl.abort(outer?.reason);
  outer?.addEventListener('abort', onAbort, { once: true });
  let conn = host.connection;
  const own = conn === undefined;
  try {
    const work = (async () => {
      conn ??= await connect(host.uri ?? '', { signal: ctl.signal });
      const caps: Capabilities = await conn.getCapabilities({ signal: ctl.signal });
      const out: Fetched = { input: { name, capabilities: caps } };
      try {
        const query: { signal: AbortSignal; arch?: string; virttype?: string } = { signal: ctl.signal };
        const arch = host.arch ?? caps.host.cpu.arch;
        if (arch) query.arch = arch;
        if (host.virttype) query.virttype = host.virttype;
        out.input.domainCapabilities = await conn.getDomainCapabilities(query);
      } catch (err) {
        if (ctl.signal.aborted) throw err;
        out.partial = failure(name, err);
      }
      return out;
    })();
    // The timer wins even over a call that ignores its signal.
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        if (ctl.signal.aborted) reject(ctl.signal.reason);
        ctl.signal.addEventListener('abort', () => reject(ctl.signal.reason), { once: true });
      }),
    ]);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onAbort);
    if (own && conn) await conn.close().catch(() => undefined);
  }
}

function failure(name: string, err: unknown): FleetHostFailure {
  if (err instanceof VirError) return { name, code: err.code, message: err.message };
  return { name, code: 'INTERNAL_ERROR', message: err instanceof Error ? err.message : String(err) };
}

/**
 * Plans a fleet from connections (or URIs). Hosts are asked concurrently,
 * each within `timeoutMs`; the plan covers those that answered and the
 * others are listed in `unreachable`. Throws only for bad guests or when
 * the caller's signal aborts.
 */
export async function planFleetFromConnections(
  input: FleetFromConnectionsInput,
): Promise<FleetFromConnectionsResult> {
  const timeoutMs = input.timeoutMs ?? 10_000;
  const hosts = input.hosts.map(normalise);
  const seen = new Map<string, number>();
  const names = hosts.map((h, i) => {
    const base = h.name ?? h.uri ?? h.connection?.uri.uri ?? `host${i + 1}`;
    // The same URI twice is two connections to one host: each keeps its own column.
    const n = (seen.get(base) ?? 0) + 1;
    seen.set(base, n);
    return n === 1 ? base : `${base} (${n})`;
  });
  const settled = await Promise.allSettled(
    hosts.map((h, i) => fetchHost(h, names[i] as string, timeoutMs, input.signal)),
  );
  if (input.signal?.aborted) throw input.signal.reason ?? new VirError('OPERATION_ABORTED', 'rpc', 'aborted');
  const unreachable: FleetHostFailure[] = [];
  const partial: FleetHostFailure[] = [];
  const answered: FleetHostInput[] = [];
  for (const [i, r] of settled.entries()) {
    if (r.status === 'rejected') unreachable.push(failure(names[i] as string, r.reason));
    else {
      answered.push(r.value.input);
      if (r.value.partial) partial.push(r.value.partial);
    }
  }
  const plan = planFleet({
    hosts: answered,
    guests: input.guests,
    ...(input.options ? { options: input.options } : {}),
  });
  return { plan, unreachable, partial };
}

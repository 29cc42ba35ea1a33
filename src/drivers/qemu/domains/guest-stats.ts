/**
 * Statistics of QEMU guests under libvirt's group and key names (the
 * semantics of libvirt's `qemuDomainGetStats*`): per guest one monitor
 * round, all the queries its groups need sent together and answered in one
 * go (`query-blockstats` + `query-block`, `query-balloon` + the balloon's
 * `guest-stats`, `query-cpus-fast`, `query-iothreads`, `query-stats`), the
 * rest from `/proc` and `/sys` (stats-sources.ts). Guests are asked in
 * parallel; nothing polls between calls.
 *
 * A figure that cannot be read is left out: user-mode and passt networking
 * have no host device, so their interfaces have no counters; a guest
 * without a balloon driver reports no guest figures; QEMU without
 * `query-stats` (or under TCG, where it has nothing) gives no `vm` group.
 *
 * @module
 */
import type { DomainDef } from '../../../conf/domain/domain-def.js';
import type { DomainStatsGroup, DomainStatsQuery, DomainStatsValue } from '../../../domain-stats.js';
import type { CallOptions, DomainRef, DriverDomainStats } from '../../../driver.js';
import { VirError } from '../../../errors.js';
import { stateCodes } from '../../state-codes.js';
import type { QmpClient } from '../qmp/index.js';
import { blockGroup } from './block-stats.js';
import { dirtyrateGroup } from './dirtyrate-stats.js';
import { type Entry, isActive, refOf, stateOf } from './domain-entry.js';
import type { DomainListAccess } from './migration.js';
import { cpuTimes, netDevCounters, residentKiB, runQueueDelay, schedWait } from './stats-sources.js';

/** The groups this driver fills. */
const SUPPORTED: readonly DomainStatsGroup[] = [
  'state',
  'cpu-total',
  'balloon',
  'vcpu',
  'interface',
  'block',
  'iothread',
  'vm',
  // libvirt reports perf.* only for enabled perf events and memory.bandwidth.monitor.* only for
  // resctrl monitors (<cputune>); a guest with either is refused at start (host-side-settings.ts),
  // so for every guest this driver runs both groups are empty, which is libvirt's answer too
  'perf',
  'memory',
  'dirtyrate',
];

/** Bounds one stats query: a monitor that does not answer costs the caller this much at most. */
const QUERY_TIMEOUT_MS = 5_000;

type Params = Record<string, DomainStatsValue>;
type Side = Pick<DomainListAccess, 'table' | 'enter'>;

export type { DomainStatsQuery };

/** The domains of a stats call: a list of them, or undefined for all those the filters pass. */
export type StatsDoms = readonly DomainRef[] | undefined;

/** The live definition of an entry, else its persistent one. */
export function defOf(e: Entry): DomainDef | undefined {
  return (isActive(e) ? e.live : undefined) ?? e.config ?? e.live;
}

/** `virConnectGetAllDomainStats` / `virDomainListGetStats` for the QEMU driver. */
export async function qemuDomainsStats(
  side: Side,
  doms: readonly DomainRef[] | undefined,
  q: DomainStatsQuery,
  opts: CallOptions,
): Promise<DriverDomainStats[]> {
  const missing = q.groups.filter((g) => !SUPPORTED.includes(g));
  if (q.enforce && missing.length > 0) {
    throw new VirError(
      'ARGUMENT_UNSUPPORTED',
      'qemu',
      `stats groups ${missing.join(', ')} are not supported by the QEMU driver`,
      { field: 'groups' },
    );
  }
  await side.enter(opts);
  const groups = new Set<DomainStatsGroup>(q.groups.length === 0 ? SUPPORTED : q.groups);
  const entries = doms ? doms.map((d) => entryOf(side, d)) : filtered(side, q);
  return Promise.all(
    entries.map(async (e) => ({
      domain: refOf(e),
      params: await entryStats(e, groups, q.backing, opts.signal),
    })),
  );
}

function entryOf(side: Side, d: DomainRef): Entry {
  const e = side.table.byUuid.get(d.uuid);
  if (!e) throw new VirError('NO_DOMAIN', 'qemu', `no domain with matching uuid '${d.uuid}' (${d.name})`);
  return e;
}

function filtered(side: Side, q: DomainStatsQuery): Entry[] {
  return [...side.table.byUuid.values()].filter((e) => {
    const s = stateOf(e).state;
    if (q.active !== undefined && q.active !== (isActive(e) || e.foreign !== undefined)) return false;
    if (q.persistent !== undefined && q.persistent !== (e.config !== undefined)) return false;
    if (q.state === undefined) return true;
    const kind = s === 'running' || s === 'paused' || s === 'shutoff' ? s : 'other';
    return q.state.includes(kind);
  });
}

/**
 * One monitor round: every query of the groups at once; a query that fails
 * leaves its figures out. Each is bounded by a timeout, not by the caller's
 * signal (the facade stops waiting on an abort): a poll of many guests adds
 * no listeners to one signal.
 */
export async function ask(
  qmp: QmpClient | undefined,
  signal: AbortSignal | undefined,
  cmds: Record<string, [string, Record<string, unknown>?]>,
): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  if (!qmp || signal?.aborted) return out;
  const o = { timeoutMs: QUERY_TIMEOUT_MS };
  await Promise.all(
    Object.entries(cmds).map(async ([key, [cmd, args]]) => {
      out[key] = await qmp.execute(cmd, args, o).catch(() => undefined);
    }),
  );
  return out;
}

async function entryStats(
  e: Entry,
  groups: Set<DomainStatsGroup>,
  backing: boolean,
  signal?: AbortSignal,
): Promise<Params> {
  const p: Params = {};
  const state = stateOf(e);
  if (groups.has('state')) Object.assign(p, stateCodes(state));
  const def = defOf(e);
  const runner = isActive(e) ? e.runner : undefined;
  const pid = runner?.pid;
  let qmp: QmpClient | undefined;
  try {
    qmp = runner?.qmp;
  } catch {
    qmp = undefined; // stopped between the listing and now: static figures only
  }
  const cmds: Record<string, [string, Record<string, unknown>?]> = {};
  if (qmp && groups.has('block')) {
    cmds.block = ['query-block'];
    cmds.blockstats = ['query-blockstats'];
  }
  const balloonDev = runner?.guest.memballoon === true;
  if (qmp && groups.has('balloon') && balloonDev) {
    cmds.balloon = ['query-balloon'];
    cmds.guestStats = ['qom-get', { path: '/machine/peripheral/balloon0', property: 'guest-stats' }];
  }
  if (qmp && groups.has('vcpu')) cmds.cpus = ['query-cpus-fast'];
  if (qmp && groups.has('iothread')) cmds.iothreads = ['query-iothreads'];
  if (qmp && groups.has('vm')) cmds.vm = ['query-stats', { target: 'vm' }];
  if (qmp && groups.has('dirtyrate')) cmds.dirtyrate = ['query-dirty-rate'];
  const r = await ask(qmp, signal, cmds);

  if (groups.has('cpu-total') && pid !== undefined) {
    const t = cpuTimes(pid);
    if (t) Object.assign(p, { 'cpu.time': t.user + t.system, 'cpu.user': t.user, 'cpu.system': t.system });
  }
  if (groups.has('balloon')) balloonGroup(p, e, def, r, pid);
  if (groups.has('vcpu')) vcpuGroup(p, def, r.cpus, pid);
  if (groups.has('interface') && runner) netGroup(p, def);
  if (groups.has('block')) blockGroup(p, def, r.block, r.blockstats, backing);
  if (groups.has('iothread') && Array.isArray(r.iothreads)) iothreadGroup(p, r.iothreads);
  if (groups.has('vm')) vmGroup(p, r.vm);
  if (groups.has('dirtyrate')) dirtyrateGroup(p, r.dirtyrate);
  return p;
}

function balloonGroup(
  p: Params,
  e: Entry,
  def: DomainDef | undefined,
  r: Record<string, unknown>,
  pid?: number,
) {
  const max = def?.memory?.value;
  const actual = (r.balloon as { actual?: number } | undefined)?.actual;
  const current =
    actual !== undefined
      ? Math.floor(actual / 1024)
      : e.runner && isActive(e)
        ? e.runner.getInfo().memory
        : (def?.currentMemory?.value ?? max);
  if (current !== undefined) p['balloon.current'] = current;
  if (max !== undefined) p['balloon.maximum'] = max;
  Object.assign(p, guestMemory(r.guestStats, 'balloon.'));
  const rss = pid !== undefined ? residentKiB(pid) : undefined;
  if (rss !== undefined) p['balloon.rss'] = rss;
}

/** The balloon driver's figures by libvirt's names (QEMU's in bytes become KiB). */
const GUEST_STATS: readonly [string, string, string, number][] = [
  ['stat-swap-in', 'swap_in', 'swapIn', 1024],
  ['stat-swap-out', 'swap_out', 'swapOut', 1024],
  ['stat-major-faults', 'major_fault', 'majorFault', 1],
  ['stat-minor-faults', 'minor_fault', 'minorFault', 1],
  ['stat-free-memory', 'unused', 'unused', 1024],
  ['stat-total-memory', 'available', 'available', 1024],
  ['stat-available-memory', 'usable', 'usable', 1024],
  ['stat-disk-caches', 'disk_caches', 'diskCaches', 1024],
  ['stat-htlb-pgalloc', 'hugetlb_pgalloc', 'hugetlbPgalloc', 1],
  ['stat-htlb-pgfail', 'hugetlb_pgfail', 'hugetlbPgfail', 1],
];

export function guestMemory(reply: unknown, prefix: string, camel = false): Record<string, number> {
  const out: Record<string, number> = {};
  const g = reply as { stats?: Record<string, number>; 'last-update'?: number } | undefined;
  if (!g?.stats) return out;
  for (const [qemu, name, camelName, div] of GUEST_STATS) {
    const v = g.stats[qemu];
    // QEMU sends -1 (as an unsigned 64-bit number) for a figure the guest never reported
    if (typeof v === 'number' && v >= 0 && v < 2 ** 63)
      out[prefix + (camel ? camelName : name)] = Math.floor(v / div);
  }
  // 0 until the guest's balloon driver first reports; libvirt passes it on as it is
  if (typeof g['last-update'] === 'number')
    out[prefix + (camel ? 'lastUpdate' : 'last-update')] = g['last-update'];
  return out;
}

function vcpuGroup(p: Params, def: DomainDef | undefined, cpus: unknown, pid?: number) {
  const max = def?.vcpu?.count;
  const cur = def?.vcpu?.current ?? max;
  if (cur !== undefined) p['vcpu.current'] = cur;
  if (max !== undefined) p['vcpu.maximum'] = max;
  if (!Array.isArray(cpus) || pid === undefined) return;
  for (const c of cpus as { 'cpu-index': number; 'thread-id': number }[]) {
    const n = c['cpu-index'];
    p[`vcpu.${n}.state`] = 1; // listed by QEMU: online and running (libvirt's VIR_VCPU_RUNNING)
    const t = cpuTimes(pid, c['thread-id']);
    if (t) p[`vcpu.${n}.time`] = t.user + t.system;
    const wait = schedWait(pid, c['thread-id']);
    if (wait !== undefined) p[`vcpu.${n}.wait`] = wait;
    const delay = runQueueDelay(pid, c['thread-id']);
    if (delay !== undefined) p[`vcpu.${n}.delay`] = delay;
  }
}

/** Whether libvirt reads a tap's counters swapped (the host's rx is the guest's tx): all but ethernet/direct. */
export function swapped(type: string | undefined): boolean {
  return type !== 'ethernet' && type !== 'direct';
}

function netGroup(p: Params, def: DomainDef | undefined) {
  const nets = def?.devices?.interfaces ?? [];
  p['net.count'] = nets.length;
  nets.forEach((n, i) => {
    const dev = n.target?.dev;
    if (!dev) return; // user-mode or passt networking: no host device, no counters
    p[`net.${i}.name`] = dev;
    const c = netDevCounters(dev);
    if (!c) return;
    const [rx, tx] = swapped(n.type) ? ['tx', 'rx'] : ['rx', 'tx'];
    Object.assign(p, {
      [`net.${i}.rx.bytes`]: c[`${rx}_bytes`],
      [`net.${i}.rx.pkts`]: c[`${rx}_packets`],
      [`net.${i}.rx.errs`]: c[`${rx}_errors`],
      [`net.${i}.rx.drop`]: c[`${rx}_dropped`],
      [`net.${i}.tx.bytes`]: c[`${tx}_bytes`],
      [`net.${i}.tx.pkts`]: c[`${tx}_packets`],
      [`net.${i}.tx.errs`]: c[`${tx}_errors`],
      [`net.${i}.tx.drop`]: c[`${tx}_dropped`],
    });
  });
}

function iothreadGroup(p: Params, threads: unknown[]) {
  if (threads.length === 0) return; // libvirt reports the group only for a guest with I/O threads
  p['iothread.count'] = threads.length;
  for (const t of threads as {
    id: string;
    'poll-max-ns'?: number;
    'poll-grow'?: number;
    'poll-shrink'?: number;
  }[]) {
    const id = /(\d+)$/.exec(t.id)?.[1] ?? t.id;
    for (const k of ['poll-max-ns', 'poll-grow', 'poll-shrink'] as const) {
      if (typeof t[k] === 'number') p[`iothread.${id}.${k}`] = t[k];
    }
  }
}

/** `query-stats` of the VM: its scalar counters as `vm.<name>` (histograms are left out). */
function vmGroup(p: Params, reply: unknown) {
  if (!Array.isArray(reply)) return;
  for (const provider of reply as { stats?: { name: string; value: unknown }[] }[]) {
    for (const s of provider.stats ?? []) {
      if (typeof s.value === 'number' || typeof s.value === 'boolean') p[`vm.${s.name}`] = s.value;
    }
  }
}

/**
 * `fleet-plan -c URI -c URI ... [--guest FILE] [--json] [--timeout MS]`:
 * which of the hosts can start each guest and receive it by live
 * migration, and what blocks it, as a guests × hosts matrix; per host
 * group the migratable baseline and the best named model.
 *
 * The hosts are asked concurrently, each within the timeout; a host that
 * does not answer is listed and left out, the others are still planned.
 * The session's own connection is not used: every host is named.
 *
 * @module
 */
import type { FleetGuestInput, FleetPlan } from '../../cpu/index.js';
import type { FleetFromConnectionsResult } from '../../fleet.js';
import type { XmlElement } from '../../xml/tree.js';
import type { OptSpec } from '../args.js';
import { attempt, CliError, type CommandDef, describeError } from '../command.js';

/**
 * The option parser takes each option once, so the words of `-c URI -c URI`
 * fill these positional slots in order: room for 16 hosts given with `-c`
 * (32 given as bare URIs).
 */
const HOST_SLOTS = 32;

const HOST_OPTS: readonly OptSpec[] = Array.from({ length: HOST_SLOTS }, (_, i) => ({
  name: `host${i + 1}`,
  kind: 'string' as const,
  positional: true,
  help: i === 0 ? 'a host: -c URI (repeat for each host)' : '',
}));

/** `-c URI -c URI` or bare URIs, in order. */
function hostUris(words: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (w === '-c' || w === '--connect') {
      const uri = words[++i];
      if (uri === undefined) throw new CliError(`option '${w}' requires a URI`);
      out.push(uri);
    } else if (w.startsWith('-c')) out.push(w.slice(2));
    else out.push(w);
  }
  return out;
}

/** Every `<domain>` and `<cpu>` of the file, serialised, in document order. */
async function guestsOf(xml: string, file: string): Promise<FleetGuestInput[]> {
  const [{ parseXml }, { serializeXml }, { childElements }] = await Promise.all([
    import('../../xml/parse.js'),
    import('../../xml/serialize.js'),
    import('../../xml/tree.js'),
  ]);
  const body = xml.trimStart().startsWith('<?xml') ? xml.slice(xml.indexOf('?>') + 2) : xml;
  let root: XmlElement;
  try {
    root = parseXml(`<container>${body}</container>`);
  } catch (e) {
    throw new CliError(`${file}: ${describeError(e)}`);
  }
  const out = childElements(root)
    .filter((e) => e.name === 'domain' || e.name === 'cpu')
    .map((e) => serializeXml(e));
  if (out.length === 0) throw new CliError(`File '${file}' holds no <domain> or <cpu> element`);
  return out;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

/** The matrix, the blockers of every refused cell, and the groups, for people. */
export function formatPlan(result: FleetFromConnectionsResult): string[] {
  const { plan } = result;
  const lines: string[] = [];
  const hostNames = plan.hosts.map((h, i) => `[${i + 1}] ${h.name}`);
  lines.push('Hosts:');
  for (const [i, h] of plan.hosts.entries()) {
    const model = h.hostModel ? `${h.model ?? '?'} (host-model ${h.hostModel})` : (h.model ?? 'unknown CPU');
    lines.push(
      `  ${hostNames[i]}: ${h.arch} ${h.vendor ?? ''} ${model}${h.problems.length ? ` — ${h.problems.join('; ')}` : ''}`,
    );
  }
  for (const u of result.unreachable) lines.push(`  unreachable: ${u.name}: ${u.message}`);
  for (const p of result.partial) lines.push(`  no domain capabilities: ${p.name}: ${p.message}`);
  if (plan.guests.length > 0) lines.push('', ...matrix(plan), '', ...blockers(plan));
  lines.push('', 'Groups:');
  for (const g of plan.groups) {
    const base = g.baseline?.model?.name;
    const extra = (g.baseline?.features ?? []).filter((f) => f.policy === 'require').length;
    lines.push(
      `  ${g.name} (${g.hosts.join(', ')}): ${
        g.error ? `no baseline: ${g.error.message}` : `baseline ${base}${extra ? ` +${extra} features` : ''}`
      }; best model ${g.bestModel ?? 'none'}`,
    );
  }
  return lines;
}

function matrix(plan: FleetPlan): string[] {
  const width = Math.max(5, ...plan.guests.map((g) => g.name.length));
  const head = `${pad('guest', width)}  ${plan.hosts.map((_, i) => pad(`[${i + 1}]`, 4)).join(' ')}`;
  const rows = plan.guests.map((g) => {
    const cells = g.cells.map((c) =>
      pad(`${c.canStart.ok ? 'S' : '-'}${c.canReceiveMigration.ok ? 'M' : '-'}`, 4),
    );
    return `${pad(g.name, width)}  ${cells.join(' ')}`;
  });
  return ["S: can start there, M: can receive it by live migration (from the guest's source)", head, ...rows];
}

function blockers(plan: FleetPlan): string[] {
  const out: string[] = [];
  for (const g of plan.guests) {
    out.push(`${g.name} (${g.model ?? g.mode}${g.source ? `, migrating from ${g.source}` : ''}):`);
    for (const c of g.cells) {
      if (!c.canStart.ok) out.push(`  start on ${c.host}: ${list(c.canStart.blockers)}`);
      else if (!c.canReceiveMigration.ok)
        out.push(`  migrate to ${c.host}: ${list(c.canReceiveMigration.blockers)}`);
    }
    for (const w of g.whatIf.slice(0, 5)) {
      const gains = [...new Set([...w.gainsStart, ...w.gainsMigration])];
      out.push(`  without ${w.feature}: also ${gains.join(', ')}`);
    }
  }
  return out;
}

function list(bs: readonly { feature?: string; reason: string }[]): string {
  const features = bs.filter((b) => b.feature).map((b) => b.feature);
  const other = bs.filter((b) => !b.feature).map((b) => b.reason);
  const shown =
    features.slice(0, 12).join(', ') + (features.length > 12 ? `, … (${features.length} features)` : '');
  return [...other, ...(features.length ? [`lacks or refuses ${shown}`] : [])].join('; ');
}

const fleetPlan: CommandDef = {
  name: 'fleet-plan',
  group: 'host',
  summary: 'which hosts can start or receive each guest, and why (virtkit)',
  description:
    'Fetch the capabilities and domain capabilities of every host (-c URI, repeated) concurrently and print, for the guests of --guest FILE (domains or CPUs), a matrix of where each can start and be migrated to, with the features that block it; per host group the migratable baseline CPU and the best named model. --json prints the whole plan.',
  options: [
    ...HOST_OPTS,
    { name: 'guest', kind: 'string', help: 'file with the guests: <domain> or <cpu> elements' },
    { name: 'json', kind: 'bool', help: 'print the plan as JSON' },
    { name: 'timeout', kind: 'number', help: 'milliseconds each host has to answer (default 10000)' },
  ],
  async run(ctx, opts) {
    const words: string[] = [];
    for (let i = 1; i <= HOST_SLOTS; i++) {
      const w = opts.str(`host${i}`);
      if (w !== undefined) words.push(w);
    }
    const uris = hostUris(words);
    if (uris.length === 0) throw new CliError('fleet-plan needs at least one host: -c URI');
    const file = opts.str('guest');
    const guests = file === undefined ? [] : await guestsOf(ctx.readFile(file), file);
    const t = opts.str('timeout');
    const timeoutMs = t === undefined ? 10_000 : Number(t);
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new CliError(`invalid timeout '${t}'`);
    const { planFleetFromConnections } = await import('../../fleet.js');
    const result = await attempt('failed to plan the fleet', () =>
      planFleetFromConnections({ hosts: uris, guests, timeoutMs, signal: ctx.signal }),
    );
    if (opts.flag('json')) ctx.out(JSON.stringify(result, null, 2));
    else for (const l of formatPlan(result)) ctx.out(l);
    return result.unreachable.length === 0;
  },
};

export const fleetPlanCommands: readonly CommandDef[] = [fleetPlan];

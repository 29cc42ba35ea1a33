/**
 * `planFleet`: for every guest and host, whether the guest can start there
 * and whether the host can receive it by live migration, with the features
 * at fault; per host group, the migratable baseline and the best named
 * model; and for every feature that blocks a guest somewhere, the hosts it
 * would gain by dropping it. No I/O: the node entry
 * (`planFleetFromConnections`) fetches the documents from connections.
 *
 * @module
 */
import { VirError } from '../../errors.js';
import type { FeatureSet } from '../feature-set.js';
import { x86Database } from '../x86-db.js';
import { checkMigration, checkStart, runningOn, Verdict } from './check.js';
import { defaultGroups, planGroup } from './groups.js';
import { type PreparedGuest, prepareGuest, withoutFeature } from './guest.js';
import { type PreparedHost, prepareHost } from './host.js';
import type {
  FleetCell,
  FleetGroupPlan,
  FleetGuestPlan,
  FleetHostSummary,
  FleetInput,
  FleetPlan,
  FleetVerdict,
  FleetWhatIf,
} from './types.js';

/**
 * Plans a fleet. Throws `INVALID_ARG` for a guest with an unknown model,
 * feature or vendor, a host without a name or documents, duplicate host
 * names or an unknown source host; parse errors of the documents keep their
 * code, with the place in the input in the message and field.
 */
export function planFleet(input: FleetInput): FleetPlan {
  const hosts = input.hosts.map(prepareHost);
  const byName = new Map<string, PreparedHost>();
  for (const h of hosts) {
    if (byName.has(h.name)) {
      throw new VirError('INVALID_ARG', 'cpu', `two hosts are named '${h.name}'`, { field: 'hosts/name' });
    }
    byName.set(h.name, h);
  }
  const guests = input.guests.map(prepareGuest);
  for (const g of guests) {
    if (g.source !== undefined && !byName.has(g.source)) {
      throw new VirError('INVALID_ARG', 'cpu', `${g.field}: unknown source host '${g.source}'`, {
        field: `${g.field}/source`,
      });
    }
  }
  const whatIf = input.options?.whatIf ?? true;
  return {
    hosts: hosts.map(summary),
    guests: guests.map((g) => planGuest(g, hosts, byName, whatIf)),
    groups: planGroups(hosts, byName, input.options?.groups),
  };
}

function summary(h: PreparedHost): FleetHostSummary {
  return {
    name: h.name,
    arch: h.arch,
    vendor: h.vendor,
    model: h.cpuModel ?? h.hostModel?.model.name,
    hostModel: h.hostModel?.model.name,
    problems: [...h.problems],
  };
}

interface Row {
  source: PreparedHost | undefined;
  starts: FleetVerdict[];
  cells: FleetCell[];
}

function rowOf(
  g: PreparedGuest,
  hosts: readonly PreparedHost[],
  byName: ReadonlyMap<string, PreparedHost>,
): Row {
  const starts = hosts.map((h) => checkStart(g, h));
  let source: PreparedHost | undefined;
  let sourceStart: FleetVerdict | undefined;
  if (g.source !== undefined) {
    source = byName.get(g.source);
    sourceStart = starts[hosts.findIndex((h) => h.name === g.source)];
  } else {
    const i = starts.findIndex((v) => v.ok);
    if (i >= 0) {
      source = hosts[i];
      sourceStart = starts[i];
    }
  }
  const running = source && sourceStart?.ok ? runningOn(g, source) : undefined;
  const cells = hosts.map((h, i) => {
    return {
      host: h.name,
      canStart: starts[i] as FleetVerdict,
      canReceiveMigration: checkMigration(g, source, sourceStart, running, h),
    };
  });
  return { source, starts, cells };
}

function planGuest(
  g: PreparedGuest,
  hosts: readonly PreparedHost[],
  byName: ReadonlyMap<string, PreparedHost>,
  whatIf: boolean,
): FleetGuestPlan {
  const row = rowOf(g, hosts, byName);
  return {
    name: g.name,
    mode: g.mode,
    model: g.model?.name,
    source: row.source?.name,
    cells: row.cells,
    whatIf: whatIf ? whatIfs(g, hosts, row) : [],
  };
}

/**
 * Every feature that blocks the guest somewhere, most frequent first, with
 * what dropping it gains. Only the cells the feature blocks are checked again.
 */
function whatIfs(g: PreparedGuest, hosts: readonly PreparedHost[], row: Row): FleetWhatIf[] {
  const db = x86Database();
  const count = new Map<number, number>();
  const startSets: (FeatureSet | undefined)[] = [];
  const migrationSets: (FeatureSet | undefined)[] = [];
  const collect = (v: FleetVerdict, sets: (FeatureSet | undefined)[]) => {
    if (v.ok || !(v instanceof Verdict)) {
      sets.push(undefined);
      return;
    }
    const set = db.emptySet();
    // A cell blocked by something other than a feature gains nothing from dropping one.
    const onlyFeatures = v.blockingFeatures(set);
    sets.push(onlyFeatures ? set : undefined);
    if (onlyFeatures) for (const f of set) count.set(f, (count.get(f) ?? 0) + 1);
  };
  for (const c of row.cells) {
    collect(c.canStart, startSets);
    collect(c.canReceiveMigration, migrationSets);
  }
  const order = [...count].sort((a, b) => b[1] - a[1] || a[0] - b[0]).map(([f]) => f);
  const out: FleetWhatIf[] = [];
  for (const f of order) {
    const feature = db.features[f]?.name ?? `#${f}`;
    const alt = withoutFeature(g, feature);
    const gainsStart: string[] = [];
    const gainsMigration: string[] = [];
    let source = row.source;
    let sourceStart = source ? row.starts[hosts.indexOf(source)] : undefined;
    const hadSource = sourceStart?.ok === true;
    if (!hadSource) {
      // A guest that could start nowhere may get a source by dropping the feature.
      const i = g.source === undefined ? hosts.findIndex((h) => checkStart(alt, h).ok) : -1;
      if (i >= 0) {
        source = hosts[i];
        sourceStart = checkStart(alt, hosts[i] as PreparedHost);
      } else if (source) {
        sourceStart = checkStart(alt, source);
      }
    }
    const running = source && sourceStart?.ok ? runningOn(alt, source) : undefined;
    for (const [i, h] of hosts.entries()) {
      if (startSets[i]?.has(f) && checkStart(alt, h).ok) gainsStart.push(h.name);
      // Gaining a source can open any destination; otherwise only the cells the feature blocks.
      const blocked = migrationSets[i]?.has(f) || (!hadSource && sourceStart?.ok === true);
      if (
        blocked &&
        !row.cells[i]?.canReceiveMigration.ok &&
        checkMigration(alt, source, sourceStart, running, h).ok
      ) {
        gainsMigration.push(h.name);
      }
    }
    if (gainsStart.length > 0 || gainsMigration.length > 0) out.push({ feature, gainsStart, gainsMigration });
  }
  return out;
}

function planGroups(
  hosts: readonly PreparedHost[],
  byName: ReadonlyMap<string, PreparedHost>,
  groups: Readonly<Record<string, readonly string[]>> | undefined,
): FleetGroupPlan[] {
  if (!groups) return [...defaultGroups(hosts)].map(([name, members]) => planGroup(name, members));
  return Object.entries(groups).map(([name, names]) => {
    const members = names.map((n) => {
      const h = byName.get(n);
      if (!h) {
        throw new VirError('INVALID_ARG', 'cpu', `group '${name}' names unknown host '${n}'`, {
          field: `options/groups/${name}`,
        });
      }
      return h;
    });
    return planGroup(name, members);
  });
}

/** A verdict's blockers as one line, for messages and the CLI. */
export function describeBlockers(v: FleetVerdict): string {
  return v.blockers.map((b) => (b.feature ? `${b.feature}: ${b.reason}` : b.reason)).join('; ');
}

/**
 * Snapshot commands that only read: `snapshot-list` (with virsh's filters
 * and its `--tree` drawing), `snapshot-info`, `snapshot-parent`, and the
 * helpers the changing commands share (which snapshot a command means).
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { Domain } from '../../domain.js';
import type { SnapshotInfo } from '../../driver.js';
import type { OptSpec, ParsedOpts } from '../args.js';
import { attempt, CliError, type CommandDef, DOMAIN_OPT } from '../command.js';
import { table } from '../format.js';

/** The optional snapshot name most snapshot commands take. */
export const SNAPSHOT_NAME: OptSpec = {
  name: 'snapshotname',
  kind: 'string',
  positional: true,
  helpAsOption: true,
  help: 'snapshot name',
};

/** virsh's `%Y-%m-%d %H:%M:%S %z`, in local time. */
function creationTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = `${off >= 0 ? '+' : '-'}${pad(Math.floor(Math.abs(off) / 60))}${pad(Math.abs(off) % 60)}`;
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${zone}`
  );
}

/** The domain's current snapshot; a domain without one fails as virsh words it. */
export async function currentSnapshot(d: Domain<Connection>): Promise<SnapshotInfo> {
  const snap = (await d.listSnapshots()).find((s) => s.current);
  if (!snap) throw new CliError(`domain '${d.name}' has no current snapshot`);
  return snap;
}

/**
 * The snapshot a command means, as virsh looks it up: `--snapshotname`
 * (which must exist) or `--current` (the domain must have one), never both,
 * one of them required.
 */
export async function chosenSnapshot(d: Domain<Connection>, opts: ParsedOpts): Promise<string> {
  const name = opts.str('snapshotname');
  const current = opts.flag('current');
  if (name !== undefined && current) {
    throw new CliError('--snapshotname and --current are mutually exclusive');
  }
  if (name === undefined && !current) throw new CliError('--snapshotname or --current is required');
  const snaps = await d.listSnapshots();
  if (name !== undefined) return find(snaps, name).name;
  const snap = snaps.find((s) => s.current);
  if (!snap) throw new CliError('Domain snapshot not found: the domain does not have a current snapshot');
  return snap.name;
}

/** One snapshot by name, or virsh's "not found" line. */
function find(snaps: readonly SnapshotInfo[], name: string): SnapshotInfo {
  const s = snaps.find((x) => x.name === name);
  if (!s) {
    throw new CliError(`Domain snapshot not found: no domain snapshot with matching name '${name}'`);
  }
  return s;
}

function descendantsOf(snaps: readonly SnapshotInfo[], name: string): SnapshotInfo[] {
  const out: SnapshotInfo[] = [];
  const walk = (parent: string) => {
    for (const s of snaps) {
      if (s.parent === parent) {
        out.push(s);
        walk(s.name);
      }
    }
  };
  walk(name);
  return out;
}

/**
 * virsh's tree drawing: a root at the margin, each child as `+- name`
 * under a `|` line, the connector kept open (`|`) past children that
 * have later siblings, and a closing line of blanks after each last leaf.
 */
export function snapshotTree(snaps: readonly SnapshotInfo[]): string[] {
  const names = new Set(snaps.map((s) => s.name));
  const lines: string[] = [];
  const childrenOf = (name: string) => snaps.filter((s) => s.parent === name);
  const draw = (s: SnapshotInfo, root: boolean, last: boolean, indent: string) => {
    lines.push(`${indent}${root ? '' : '+- '}${s.name}`);
    const inner = root ? indent : `${indent}${last ? ' ' : '|'} `;
    const kids = childrenOf(s.name);
    if (kids.length > 0) lines.push(`${inner}  |`);
    for (const [i, k] of kids.entries()) draw(k, false, i === kids.length - 1, `${inner}  `);
    if (kids.length === 0 && last) lines.push(inner);
  };
  for (const s of snaps) if (s.parent === undefined || !names.has(s.parent)) draw(s, true, true, '');
  return lines;
}

const BOOL = (name: string, help: string): OptSpec => ({ name, kind: 'bool', help });

/** virsh's pairs of `snapshot-list` options that cannot go together. */
const EXCLUSIVE: readonly (readonly [string, string])[] = [
  ['tree', 'name'],
  ['parent', 'roots'],
  ['parent', 'tree'],
  ['roots', 'tree'],
  ['roots', 'from'],
  ['roots', 'current'],
  ['leaves', 'tree'],
  ['no-leaves', 'tree'],
  ['inactive', 'tree'],
  ['active', 'tree'],
  ['disk-only', 'tree'],
  ['internal', 'tree'],
  ['external', 'tree'],
];

/** The filters virsh refuses beside `--tree` with its own words (`--X and --tree are ...`). */
const FILTERS: readonly string[] = [
  'leaves',
  'no-leaves',
  'inactive',
  'active',
  'disk-only',
  'internal',
  'external',
];

/** The filters libvirt applies by the state a snapshot's XML records (`VIR_DOMAIN_SNAPSHOT_LIST_*`). */
const STATE_FILTERS = ['inactive', 'active', 'disk-only'] as const;

/** What a snapshot's own XML says that its listing does not: the recorded state, and its location. */
async function snapshotFacts(d: Domain, name: string): Promise<{ state: string; external: boolean }> {
  const [{ parseXml }, { childElements, getAttr, textContent }] = await Promise.all([
    import('../../xml/parse.js'),
    import('../../xml/tree.js'),
  ]);
  const doc = parseXml(await d.getSnapshotXML(name));
  // external: a memory or disk image kept outside the disk (libvirt's virDomainSnapshotIsExternal)
  const external = [
    ...childElements(doc, 'memory'),
    ...childElements(doc, 'disks').flatMap((disks) => childElements(disks, 'disk')),
  ].some((e) => getAttr(e, 'snapshot') === 'external');
  const state = childElements(doc, 'state')[0];
  return { state: state ? textContent(state).trim() : '', external };
}

const list: CommandDef = {
  name: 'snapshot-list',
  group: 'snapshot',
  summary: 'List snapshots for a domain',
  description: 'Snapshot List',
  options: [
    DOMAIN_OPT,
    BOOL('parent', 'add a column showing parent snapshot'),
    BOOL('roots', 'list only snapshots without parents'),
    BOOL('leaves', 'list only snapshots without children'),
    BOOL('no-leaves', 'list only snapshots that are not leaves (with children)'),
    BOOL('metadata', 'list only snapshots that have metadata that would prevent undefine'),
    BOOL('no-metadata', 'list only snapshots that have no metadata managed by libvirt'),
    BOOL('inactive', 'filter by snapshots taken while inactive'),
    BOOL('active', 'filter by snapshots taken while active (full system snapshots)'),
    BOOL('disk-only', 'filter by disk-only snapshots'),
    BOOL('internal', 'filter by internal snapshots'),
    BOOL('external', 'filter by external snapshots'),
    BOOL('tree', 'list snapshots in a tree'),
    { name: 'from', kind: 'string', help: 'limit list to children of given snapshot' },
    BOOL('current', 'limit list to children of current snapshot'),
    BOOL('descendants', 'with --from, list all descendants'),
    BOOL('name', 'list snapshot names only'),
    BOOL('topological', 'sort list topologically rather than by name'),
  ],
  async run(ctx, opts) {
    for (const [a, b] of EXCLUSIVE) {
      if (opts.has(a) && opts.has(b)) {
        const both = a === 'tree' || b === 'tree';
        const other = a === 'tree' ? b : a;
        throw new CliError(
          both && FILTERS.includes(other)
            ? `--${other} and --tree are mutually exclusive`
            : `Options --${a} and --${b} are mutually exclusive`,
        );
      }
    }
    const from = opts.str('from');
    if (opts.flag('descendants') && from === undefined && !opts.flag('current')) {
      throw new CliError('--descendants requires either --from or --current');
    }
    const d = await ctx.domain(opts.need('domain'));
    const all = await attempt('Failed to list snapshots', () => d.listSnapshots());
    let snaps = opts.flag('topological') ? all : [...all].sort((x, y) => (x.name < y.name ? -1 : 1));
    const start = from ?? (opts.flag('current') ? (await currentSnapshot(d)).name : undefined);
    const tree = opts.flag('tree');
    if (start !== undefined) {
      const top = find(all, start);
      const below = descendantsOf(snaps, start);
      // A tree from a snapshot is drawn from that snapshot (a root here, its parent being
      // outside the set); a list shows only what is under it.
      if (tree) snaps = [top, ...below];
      else snaps = opts.flag('descendants') ? below : below.filter((s) => s.parent === start);
    }
    if (opts.flag('roots')) snaps = snaps.filter((s) => s.parent === undefined);
    const hasChildren = (s: SnapshotInfo) => all.some((c) => c.parent === s.name);
    if (opts.flag('leaves')) snaps = snaps.filter((s) => !hasChildren(s));
    if (opts.flag('no-leaves')) snaps = snaps.filter(hasChildren);
    // every snapshot of these drivers has metadata: asking for those without (alone) finds none
    if (opts.flag('no-metadata') && !opts.flag('metadata')) snaps = [];
    const states = STATE_FILTERS.filter((f) => opts.flag(f));
    // both locations asked for is no filter by location (libvirt drops the pair)
    const both = opts.flag('internal') && opts.flag('external');
    const internal = opts.flag('internal') && !both;
    const external = opts.flag('external') && !both;
    if (states.length > 0 || internal || external) {
      const kept: SnapshotInfo[] = [];
      for (const s of snaps) {
        const facts = await attempt('Failed to list snapshots', () => snapshotFacts(d, s.name));
        const kind =
          facts.state === 'shutoff' ? 'inactive' : facts.state === 'disk-snapshot' ? 'disk-only' : 'active';
        if (states.length > 0 && !states.includes(kind)) continue;
        if (internal && facts.external) continue;
        if (external && !facts.external) continue;
        kept.push(s);
      }
      snaps = kept;
    }
    if (tree) {
      for (const l of snapshotTree(snaps)) ctx.out(l);
      return true;
    }
    if (opts.flag('name')) {
      for (const s of snaps) ctx.out(s.name);
      return true;
    }
    const header = ['Name', 'Creation Time', 'State', ...(opts.flag('parent') ? ['Parent'] : [])];
    const rows = snaps.map((s) => [
      s.name,
      creationTime(s.creationTime),
      s.state,
      ...(opts.flag('parent') ? [s.parent ?? ''] : []),
    ]);
    for (const l of table(header, rows, { header: !ctx.quiet })) ctx.out(l);
    return true;
  },
};

const WHICH: readonly OptSpec[] = [
  SNAPSHOT_NAME,
  { name: 'current', kind: 'bool', help: 'info on current snapshot' },
];

const info: CommandDef = {
  name: 'snapshot-info',
  group: 'snapshot',
  summary: 'snapshot information',
  description: 'Returns basic information about a snapshot.',
  options: [DOMAIN_OPT, ...WHICH],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const all = await attempt('Failed to list snapshots', () => d.listSnapshots());
    const snap = find(all, await chosenSnapshot(d, opts));
    // The location is in the snapshot's XML.
    const { external } = await snapshotFacts(d, snap.name);
    const field = (label: string, value: string | number) => ctx.out(`${label.padEnd(15)} ${value}`);
    field('Name:', snap.name);
    field('Domain:', d.name);
    field('Current:', snap.current ? 'yes' : 'no');
    field('State:', snap.state);
    field('Location:', external ? 'external' : 'internal');
    field('Parent:', snap.parent ?? '-');
    field('Children:', all.filter((s) => s.parent === snap.name).length);
    field('Descendants:', descendantsOf(all, snap.name).length);
    field('Metadata:', 'yes');
    return true;
  },
};

const parent: CommandDef = {
  name: 'snapshot-parent',
  group: 'snapshot',
  summary: 'Get the name of the parent of a snapshot',
  description: "Extract the snapshot's parent, if any",
  options: [
    DOMAIN_OPT,
    { ...SNAPSHOT_NAME, help: 'find parent of snapshot name' },
    { name: 'current', kind: 'bool', help: 'find parent of current snapshot' },
  ],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const all = await attempt('Failed to list snapshots', () => d.listSnapshots());
    const snap = find(all, await chosenSnapshot(d, opts));
    if (snap.parent === undefined) throw new CliError(`snapshot '${snap.name}' has no parent`);
    ctx.out(snap.parent);
    ctx.noBlankLine();
    return true;
  },
};

export const snapshotQueryCommands: readonly CommandDef[] = [list, info, parent];

/**
 * Snapshot commands: `snapshot-create`, `snapshot-create-as`,
 * `snapshot-list`, `snapshot-current`, `snapshot-dumpxml`,
 * `snapshot-revert`, `snapshot-delete`.
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { Domain } from '../../domain.js';
import type { SnapshotInfo } from '../../driver.js';
import type { ParsedOpts } from '../args.js';
import { attempt, CliError, type CommandContext, type CommandDef, DOMAIN_OPT } from '../command.js';
import { table } from '../format.js';

const SNAPSHOT_NAME = {
  name: 'snapshotname',
  kind: 'string',
  positional: true,
  help: 'snapshot name',
} as const;
const CURRENT = { name: 'current', kind: 'bool', help: 'also set current snapshot' } as const;

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

async function current(d: Domain<Connection>): Promise<SnapshotInfo> {
  const snap = (await d.listSnapshots()).find((s) => s.current);
  if (!snap) throw new CliError(`domain '${d.name}' has no current snapshot`);
  return snap;
}

/** The snapshot named by `--snapshotname`, else (`--current` or nothing) the domain's current one. */
async function chosen(d: Domain<Connection>, opts: ParsedOpts): Promise<string> {
  const name = opts.str('snapshotname');
  if (name !== undefined && opts.flag('current')) {
    throw new CliError('--snapshotname and --current are mutually exclusive');
  }
  return name ?? (await current(d)).name;
}

async function announce(
  ctx: CommandContext,
  d: Domain<Connection>,
  xml: string,
  from?: string,
): Promise<void> {
  const name = await attempt('Failed to create snapshot', () => d.createSnapshot(xml));
  ctx.extra(from ? `Domain snapshot ${name} created from '${from}'` : `Domain snapshot ${name} created`);
  ctx.noBlankLine();
}

const create: CommandDef = {
  name: 'snapshot-create',
  group: 'snapshot',
  summary: 'Create a snapshot from XML',
  description: 'Create a snapshot (disk and RAM) from XML',
  options: [DOMAIN_OPT, { name: 'xmlfile', kind: 'string', help: 'domain snapshot XML' }],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const file = opts.str('xmlfile');
    await announce(ctx, d, file === undefined ? '<domainsnapshot/>' : ctx.readFile(file), file);
    return true;
  },
};

const createAs: CommandDef = {
  name: 'snapshot-create-as',
  group: 'snapshot',
  summary: 'Create a snapshot from a set of args',
  description: 'Create a snapshot (disk and RAM) from arguments',
  options: [
    DOMAIN_OPT,
    { name: 'name', kind: 'string', positional: true, help: 'name of snapshot' },
    { name: 'description', kind: 'string', positional: true, help: 'description of snapshot' },
    { name: 'print-xml', kind: 'bool', help: 'print XML document rather than create' },
  ],
  async run(ctx, opts) {
    const [{ serializeXml }, { element, text }] = await Promise.all([
      import('../../xml/serialize.js'),
      import('../../xml/tree.js'),
    ]);
    const children = [];
    const name = opts.str('name');
    const description = opts.str('description');
    if (name !== undefined) children.push(element('name', [], [text(name)]));
    if (description !== undefined) children.push(element('description', [], [text(description)]));
    const xml = serializeXml(element('domainsnapshot', [], children));
    if (opts.flag('print-xml')) {
      ctx.out(xml.trimEnd());
      return true;
    }
    await announce(ctx, await ctx.domain(opts.need('domain')), xml);
    return true;
  },
};

const list: CommandDef = {
  name: 'snapshot-list',
  group: 'snapshot',
  summary: 'List snapshots for a domain',
  description: 'Snapshot List',
  options: [
    DOMAIN_OPT,
    { name: 'parent', kind: 'bool', help: 'add a column showing parent snapshot' },
    { name: 'name', kind: 'bool', help: 'list snapshot names only' },
  ],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const snaps = await attempt('Failed to list snapshots', () => d.listSnapshots());
    if (opts.flag('name')) {
      if (opts.flag('parent')) throw new CliError('Options --parent and --name are mutually exclusive');
      for (const s of snaps) ctx.out(s.name);
      return true;
    }
    const header = ['Name', 'Creation Time', 'State', ...(opts.flag('parent') ? ['Parent'] : [])];
    const rows = snaps.map((s) => [
      s.name,
      creationTime(s.creationTime),
      s.state === 'shutoff' ? 'shutoff' : s.state,
      ...(opts.flag('parent') ? [s.parent ?? ''] : []),
    ]);
    for (const l of table(header, rows)) ctx.out(l);
    return true;
  },
};

const showCurrent: CommandDef = {
  name: 'snapshot-current',
  group: 'snapshot',
  summary: 'Get the current snapshot',
  description: 'Get the current snapshot',
  options: [DOMAIN_OPT, { name: 'name', kind: 'bool', help: 'list the name, rather than the full xml' }],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const snap = await current(d);
    ctx.out(opts.flag('name') ? snap.name : (await d.getSnapshotXML(snap.name)).trimEnd());
    return true;
  },
};

const dumpxml: CommandDef = {
  name: 'snapshot-dumpxml',
  group: 'snapshot',
  summary: 'Dump XML for a domain snapshot',
  description: 'Snapshot Dump XML',
  options: [DOMAIN_OPT, { ...SNAPSHOT_NAME, required: true }],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    ctx.out((await d.getSnapshotXML(opts.need('snapshotname'))).trimEnd());
    return true;
  },
};

const revert: CommandDef = {
  name: 'snapshot-revert',
  group: 'snapshot',
  summary: 'Revert a domain to a snapshot',
  description: 'Revert domain to snapshot',
  options: [DOMAIN_OPT, SNAPSHOT_NAME, { ...CURRENT, help: 'revert to current snapshot' }],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const name = await chosen(d, opts);
    await d.revertToSnapshot(name);
    ctx.extra(`Domain snapshot ${name} reverted`);
    return true;
  },
};

const remove: CommandDef = {
  name: 'snapshot-delete',
  group: 'snapshot',
  summary: 'Delete a domain snapshot',
  description: 'Snapshot Delete',
  options: [
    DOMAIN_OPT,
    SNAPSHOT_NAME,
    { ...CURRENT, help: 'delete current snapshot' },
    { name: 'children', kind: 'bool', help: 'delete snapshot and all children' },
  ],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const name = await chosen(d, opts);
    await d.deleteSnapshot(name, { children: opts.flag('children') });
    ctx.extra(
      opts.flag('children')
        ? `Domain snapshot ${name} and all children deleted`
        : `Domain snapshot ${name} deleted`,
    );
    return true;
  },
};

export const snapshotCommands: readonly CommandDef[] = [
  create,
  createAs,
  list,
  showCurrent,
  dumpxml,
  revert,
  remove,
];

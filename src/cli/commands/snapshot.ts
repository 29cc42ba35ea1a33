/**
 * Snapshot commands: `snapshot-create`, `snapshot-create-as`,
 * `snapshot-current`, `snapshot-dumpxml`, `snapshot-revert`,
 * `snapshot-delete` (the reading ones are in snapshot-query.ts).
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { Domain } from '../../domain.js';
import { attempt, type CommandContext, type CommandDef, DOMAIN_OPT } from '../command.js';
import { chosenSnapshot, currentSnapshot, SNAPSHOT_NAME, snapshotQueryCommands } from './snapshot-query.js';

const CURRENT = { name: 'current', kind: 'bool', help: 'also set current snapshot' } as const;

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

const showCurrent: CommandDef = {
  name: 'snapshot-current',
  group: 'snapshot',
  summary: 'Get the current snapshot',
  description: 'Get the current snapshot',
  options: [DOMAIN_OPT, { name: 'name', kind: 'bool', help: 'list the name, rather than the full xml' }],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const snap = await currentSnapshot(d);
    if (opts.flag('name')) {
      // virsh prints the bare name with no blank line after it, so scripts can capture it.
      ctx.out(snap.name);
      ctx.noBlankLine();
    } else ctx.out((await d.getSnapshotXML(snap.name)).trimEnd());
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
    const name = await chosenSnapshot(d, opts);
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
    const name = await chosenSnapshot(d, opts);
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
  ...snapshotQueryCommands,
  showCurrent,
  dumpxml,
  revert,
  remove,
];

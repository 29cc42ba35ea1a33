/**
 * Storage pool commands as virsh names them: `pool-list`, `pool-info`,
 * `pool-dumpxml`, `pool-define`, `pool-create`, `pool-start`,
 * `pool-destroy`, `pool-undefine`, `pool-autostart`, `pool-refresh`,
 * `pool-build` (the volume commands are in volume.ts).
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { StoragePool } from '../../storage-pool.js';
import type { OptSpec } from '../args.js';
import { CliError, type CommandContext, type CommandDef } from '../command.js';
import { field, table } from '../format.js';
import { prettyBytes, tryTo } from '../libvirt-words.js';
import { listFilter, objectCommands, sortByName, yesNo } from './object-commands.js';

/** The pool option of the pool and volume commands. */
export const POOL_OPT: OptSpec = {
  name: 'pool',
  kind: 'string',
  required: true,
  positional: true,
  help: 'pool name or uuid',
};

const POOL_FILE: OptSpec = {
  name: 'file',
  kind: 'string',
  required: true,
  positional: true,
  help: 'file containing an XML pool description',
};

/** Looks a pool up by UUID or name; a miss fails with virsh's two lines. */
export async function lookupPool(ctx: CommandContext, key: string): Promise<StoragePool<Connection>> {
  const conn = await ctx.conn();
  return tryTo(`failed to get pool '${key}'`, () => conn.storagePools.lookup(key));
}

const kit = objectCommands({
  group: 'pool',
  title: 'Pool',
  opt: POOL_OPT,
  fileOpt: POOL_FILE,
  lookup: lookupPool,
  define: (conn, xml) => conn.storagePools.define(xml),
  create: (conn, xml) => conn.storagePools.create(xml),
});

const list: CommandDef = {
  name: 'pool-list',
  group: 'pool',
  summary: 'list pools',
  description: 'Returns list of pools.',
  options: [
    { name: 'inactive', kind: 'bool', help: 'list inactive pools' },
    { name: 'all', kind: 'bool', help: 'list inactive & active pools' },
    { name: 'transient', kind: 'bool', help: 'list transient pools' },
    { name: 'persistent', kind: 'bool', help: 'list persistent pools' },
    { name: 'details', kind: 'bool', help: 'display extended details for pools' },
  ],
  async run(ctx, opts) {
    if (opts.flag('all') && opts.flag('inactive')) {
      throw new CliError('Options --all and --inactive are mutually exclusive');
    }
    const conn = await ctx.conn();
    const pools = sortByName(
      await tryTo('Failed to list pools', () => conn.storagePools.list(listFilter(opts))),
    );
    const rows: string[][] = [];
    for (const p of pools) {
      const [info, autostart, isPersistent] = await Promise.all([
        p.getInfo(),
        p.getAutostart(),
        p.isPersistent(),
      ]);
      const up = info.state === 'running' || info.state === 'degraded';
      if (!opts.flag('details')) {
        rows.push([p.name, up ? 'active' : 'inactive', yesNo(autostart)]);
        continue;
      }
      const size = (n: bigint) => (up ? prettyBytes(n) : '-');
      rows.push([
        p.name,
        info.state,
        yesNo(autostart),
        yesNo(isPersistent),
        size(info.capacity),
        size(info.allocation),
        size(info.available),
      ]);
    }
    const header = opts.flag('details')
      ? ['Name', 'State', 'Autostart', 'Persistent', 'Capacity', 'Allocation', 'Available']
      : ['Name', 'State', 'Autostart'];
    for (const l of table(header, rows, { header: !ctx.quiet })) ctx.out(l);
    return true;
  },
};

const info: CommandDef = {
  name: 'pool-info',
  group: 'pool',
  summary: 'storage pool information',
  description: 'Returns basic information about the storage pool.',
  options: [POOL_OPT, { name: 'bytes', kind: 'bool', help: 'Return pool info in bytes' }],
  async run(ctx, opts) {
    const p = await lookupPool(ctx, opts.need('pool'));
    const [i, autostart, persistent] = await Promise.all([p.getInfo(), p.getAutostart(), p.isPersistent()]);
    const size = (n: bigint) => (opts.flag('bytes') ? n.toString() : prettyBytes(n));
    ctx.out(field('Name:', p.name));
    ctx.out(field('UUID:', p.uuid));
    ctx.out(field('State:', i.state));
    ctx.out(field('Persistent:', yesNo(persistent)));
    ctx.out(field('Autostart:', yesNo(autostart)));
    if (i.state === 'running' || i.state === 'degraded') {
      ctx.out(field('Capacity:', size(i.capacity)));
      ctx.out(field('Allocation:', size(i.allocation)));
      ctx.out(field('Available:', size(i.available)));
    }
    return true;
  },
};

export const poolCommands: readonly CommandDef[] = [
  kit.autostart('pool-autostart'),
  kit.action('pool-build', 'build a pool', 'build', 'built', (p) => p.build()),
  kit.fromFile('pool-create', 'create', 'created', 'create a pool from an XML file'),
  kit.fromFile(
    'pool-define',
    'define',
    'defined',
    'define an inactive persistent storage pool or modify an existing persistent one from an XML file',
  ),
  kit.action('pool-destroy', 'destroy (stop) a pool', 'destroy', 'destroyed', (p) => p.destroy()),
  kit.dumpxml('pool-dumpxml'),
  info,
  list,
  kit.action('pool-refresh', 'refresh a pool', 'refresh', 'refreshed', (p) => p.refresh()),
  kit.action('pool-start', 'start a (previously defined) inactive pool', 'start', 'started', (p) =>
    p.start(),
  ),
  kit.action('pool-undefine', 'undefine an inactive pool', 'undefine', 'has been undefined', (p) =>
    p.undefine(),
  ),
];

/**
 * Storage volume commands as virsh names them: `vol-list`, `vol-info`,
 * `vol-dumpxml`, `vol-create`, `vol-create-as`, `vol-delete`, `vol-path`,
 * `vol-resize`, `vol-wipe`.
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { StorageVol } from '../../storage-pool.js';
import type { OptSpec } from '../args.js';
import type { CommandContext, CommandDef } from '../command.js';
import { field, table } from '../format.js';
import { failure, parseSize, prettyBytes, tryTo } from '../libvirt-words.js';
import { printXml, XPATH_OPTIONS } from '../xpath-view.js';
import { lookupPool, POOL_OPT } from './pool.js';

/** The volume option of the volume commands. */
export const VOL_OPT: OptSpec = {
  name: 'vol',
  kind: 'string',
  required: true,
  positional: true,
  help: 'vol name, key or path',
};

/** `--pool`, where a volume's name is looked up. */
export const IN_POOL: OptSpec = { name: 'pool', kind: 'string', help: 'pool name or uuid' };

/**
 * Finds a volume as virsh does: by name in `--pool` when given, then by key,
 * then by path; the cause printed is the last lookup's.
 */
export async function lookupVol(ctx: CommandContext, key: string, pool: string | undefined) {
  const conn = await ctx.conn();
  const p = pool === undefined ? undefined : await lookupPool(ctx, pool);
  const what = `failed to get vol '${key}'${pool === undefined ? ', specifying --pool might help' : ''}`;
  if (p) {
    try {
      return await p.lookupVolume(key);
    } catch {
      // virsh goes on to the key and the path
    }
  }
  try {
    return await conn.storagePools.lookupVolume({ key });
  } catch {
    // then the path
  }
  return tryTo(what, () => conn.storagePools.lookupVolume({ path: key }));
}

function byName(vols: StorageVol<Connection>[]): StorageVol<Connection>[] {
  return vols.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

const list: CommandDef = {
  name: 'vol-list',
  group: 'volume',
  summary: 'list vols',
  description: 'Returns list of vols by pool.',
  options: [POOL_OPT, { name: 'details', kind: 'bool', help: 'display extended details for volumes' }],
  async run(ctx, opts) {
    const p = await lookupPool(ctx, opts.need('pool'));
    const vols = byName(await tryTo('Failed to list volumes', () => p.listVolumes()));
    const rows: string[][] = [];
    for (const v of vols) {
      const path = await v.getPath();
      if (!opts.flag('details')) {
        rows.push([v.name, path]);
        continue;
      }
      const i = await v.getInfo();
      rows.push([v.name, path, i.type, prettyBytes(i.capacity), prettyBytes(i.allocation)]);
    }
    const header = opts.flag('details')
      ? ['Name', 'Path', 'Type', 'Capacity', 'Allocation']
      : ['Name', 'Path'];
    for (const l of table(header, rows, { header: !ctx.quiet })) ctx.out(l);
    return true;
  },
};

const info: CommandDef = {
  name: 'vol-info',
  group: 'volume',
  summary: 'storage vol information',
  description: 'Returns basic information about the storage vol.',
  options: [
    VOL_OPT,
    IN_POOL,
    { name: 'bytes', kind: 'bool', help: 'sizes are represented in bytes rather than pretty units' },
  ],
  async run(ctx, opts) {
    const v = await lookupVol(ctx, opts.need('vol'), opts.str('pool'));
    const i = await v.getInfo();
    const size = (n: bigint) => (opts.flag('bytes') ? `${n} bytes` : prettyBytes(n));
    ctx.out(field('Name:', v.name));
    ctx.out(field('Type:', i.type));
    ctx.out(field('Capacity:', size(i.capacity)));
    ctx.out(field('Allocation:', size(i.allocation)));
    return true;
  },
};

const dumpxml: CommandDef = {
  name: 'vol-dumpxml',
  group: 'volume',
  summary: 'vol information in XML',
  description: 'Output the vol information as an XML dump to stdout.',
  options: [VOL_OPT, IN_POOL, ...XPATH_OPTIONS],
  async run(ctx, opts) {
    const v = await lookupVol(ctx, opts.need('vol'), opts.str('pool'));
    await printXml(ctx, await v.getXML(), opts);
    return true;
  },
};

const path: CommandDef = {
  name: 'vol-path',
  group: 'volume',
  summary: 'returns the volume path for a given volume name or key',
  description: 'Returns the volume path for a given volume name or key',
  options: [{ ...VOL_OPT, help: 'volume name or key' }, IN_POOL],
  async run(ctx, opts) {
    const v = await lookupVol(ctx, opts.need('vol'), opts.str('pool'));
    ctx.out(await v.getPath());
    return true;
  },
};

const create: CommandDef = {
  name: 'vol-create',
  group: 'volume',
  summary: 'create a vol from an XML file',
  description: 'Create a vol.',
  options: [
    POOL_OPT,
    {
      name: 'file',
      kind: 'string',
      required: true,
      positional: true,
      help: 'file containing an XML vol description',
    },
  ],
  async run(ctx, opts) {
    const p = await lookupPool(ctx, opts.need('pool'));
    const file = opts.need('file');
    const xml = ctx.readFile(file);
    const v = await tryTo(`Failed to create vol from ${file}`, () => p.createVolume(xml));
    ctx.extra(`Vol ${v.name} created from ${file}`);
    return true;
  },
};

const createAs: CommandDef = {
  name: 'vol-create-as',
  group: 'volume',
  summary: 'create a volume from a set of args',
  description: 'Create a vol.',
  options: [
    POOL_OPT,
    { name: 'name', kind: 'string', required: true, positional: true, help: 'name of the volume' },
    {
      name: 'capacity',
      kind: 'string',
      required: true,
      positional: true,
      help: 'size of the vol, as scaled integer (default bytes)',
    },
    {
      name: 'allocation',
      kind: 'string',
      help: 'initial allocation size, as scaled integer (default bytes)',
    },
    { name: 'format', kind: 'string', help: 'file format type raw,bochs,qcow,qcow2,qed,vmdk' },
  ],
  async run(ctx, opts) {
    const p = await lookupPool(ctx, opts.need('pool'));
    const name = opts.need('name');
    const capacity = parseSize(opts.need('capacity'));
    const alloc = opts.str('allocation');
    const allocation = alloc === undefined ? undefined : parseSize(alloc);
    const format = opts.str('format');
    const [{ serializeXml }, { element, text }] = await Promise.all([
      import('../../xml/serialize.js'),
      import('../../xml/tree.js'),
    ]);
    const children = [
      element('name', [], [text(name)]),
      element('capacity', [], [text(capacity.toString())]),
    ];
    if (allocation !== undefined) children.push(element('allocation', [], [text(allocation.toString())]));
    if (format !== undefined) {
      children.push(element('target', [], [element('format', [{ name: 'type', value: format }])]));
    }
    const xml = serializeXml(element('volume', [], children));
    await tryTo(`Failed to create vol ${name}`, () => p.createVolume(xml));
    ctx.extra(`Vol ${name} created`);
    return true;
  },
};

/** vol-delete and vol-wipe: look up, one call, one line. */
function volAction(
  name: string,
  summary: string,
  verb: string,
  done: string,
  run: (v: StorageVol<Connection>) => Promise<void>,
): CommandDef {
  return {
    name,
    group: 'volume',
    summary,
    description: `${summary[0]?.toUpperCase()}${summary.slice(1)}`,
    options: [VOL_OPT, IN_POOL],
    async run(ctx, opts) {
      const key = opts.need('vol');
      const v = await lookupVol(ctx, key, opts.str('pool'));
      await tryTo(`Failed to ${verb} vol ${key}`, () => run(v));
      ctx.extra(`Vol ${key} ${done}`);
      return true;
    },
  };
}

const resize: CommandDef = {
  name: 'vol-resize',
  group: 'volume',
  summary: 'resize a vol',
  description:
    'Resizes a storage volume. This is safe only for storage volumes not in use by an active guest.',
  options: [
    VOL_OPT,
    {
      name: 'capacity',
      kind: 'string',
      required: true,
      positional: true,
      help: 'new capacity for the vol, as scaled integer (default bytes)',
    },
    IN_POOL,
    { name: 'allocate', kind: 'bool', help: 'allocate the new capacity, rather than leaving it sparse' },
    {
      name: 'delta',
      kind: 'bool',
      help: 'use capacity as a delta to current size, rather than the new size',
    },
    { name: 'shrink', kind: 'bool', help: 'allow the resize to shrink the volume' },
  ],
  async run(ctx, opts) {
    const key = opts.need('vol');
    const v = await lookupVol(ctx, key, opts.str('pool'));
    const raw = opts.need('capacity');
    const bytes = parseSize(raw);
    const what = `Failed to change size of volume '${v.name}' to ${raw}`;
    try {
      await v.resize(bytes, {
        ...(opts.flag('delta') ? { delta: true } : {}),
        ...(opts.flag('allocate') ? { allocate: true } : {}),
        ...(opts.flag('shrink') ? { shrink: true } : {}),
      });
    } catch (e) {
      throw failure(what, e);
    }
    ctx.extra(
      opts.flag('delta')
        ? `Size of volume '${v.name}' successfully changed by ${raw}`
        : `Size of volume '${v.name}' successfully changed to ${raw}`,
    );
    return true;
  },
};

export const volumeCommands: readonly CommandDef[] = [
  createAs,
  create,
  volAction('vol-delete', 'delete a vol', 'delete', 'deleted', (v) => v.delete()),
  dumpxml,
  info,
  list,
  path,
  resize,
  volAction('vol-wipe', 'wipe a vol', 'wipe', 'wiped', (v) => v.wipe()),
];

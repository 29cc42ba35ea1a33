/**
 * Node device commands as virsh names them: `nodedev-list`,
 * `nodedev-dumpxml`, `nodedev-detach`, `nodedev-reattach`, `nodedev-reset`.
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { NodeDeviceCapName } from '../../driver-objects.js';
import type { NodeDevice } from '../../node-device.js';
import type { OptSpec } from '../args.js';
import { CliError, type CommandContext, type CommandDef } from '../command.js';
import { tryTo } from '../libvirt-words.js';
import { printXml, XPATH_OPTIONS } from '../xpath-view.js';

const DEVICE_OPT: OptSpec = {
  name: 'device',
  kind: 'string',
  required: true,
  positional: true,
  help: 'device key',
};

async function lookupDevice(ctx: CommandContext, name: string): Promise<NodeDevice<Connection>> {
  const conn = await ctx.conn();
  return tryTo(`Could not find matching device '${name}'`, () => conn.nodeDevices.lookup(name));
}

/**
 * virsh's device tree: a root, then each child after `+- ` under a `|`
 * line, the indent carrying `|` while a later sibling is still to come;
 * a blank (indent only) line closes the last child of a branch.
 */
export function deviceTree(devices: readonly { name: string; parent: string | undefined }[]): string[] {
  const lines: string[] = [];
  const children = (name: string) => devices.filter((d) => d.parent === name);
  const walk = (name: string, indent: string, root: boolean, last: boolean): void => {
    lines.push(`${indent}${root ? '' : '+- '}${name}`);
    const own = root ? indent : `${indent}${last ? ' ' : '|'} `;
    const kids = children(name);
    if (kids.length > 0) lines.push(`${own}  |`);
    kids.forEach((k, i) => {
      walk(k.name, `${own}  `, false, i === kids.length - 1);
    });
    if (kids.length === 0 && last) lines.push(own);
  };
  for (const d of devices) if (d.parent === undefined) walk(d.name, '', true, true);
  return lines;
}

const list: CommandDef = {
  name: 'nodedev-list',
  group: 'nodedev',
  summary: 'enumerate devices on this host',
  // virsh's help for nodedev-list has no description
  description: '',
  options: [
    { name: 'tree', kind: 'bool', help: 'list devices in a tree' },
    { name: 'cap', kind: 'string', help: 'capability names, separated by comma' },
    { name: 'inactive', kind: 'bool', help: 'list inactive devices' },
    { name: 'all', kind: 'bool', help: 'list inactive & active devices' },
  ],
  async run(ctx, opts) {
    if (opts.flag('inactive') && opts.flag('all')) {
      throw new CliError('Option --all is incompatible with --inactive');
    }
    if (opts.flag('tree') && (opts.has('cap') || opts.flag('inactive'))) {
      throw new CliError('Option --tree is incompatible with --cap and --inactive');
    }
    // the library lists the devices that are there; defined-but-inactive ones (mdevs) it has no filter for
    for (const o of ['inactive', 'all']) {
      if (opts.flag(o)) throw new CliError(`Option --${o} is not supported by virtkit`);
    }
    // loaded here, as the library is, so `--help` and the like load none of it
    const { NODE_DEVICE_CAPS } = await import('../../driver-objects.js');
    const caps: NodeDeviceCapName[] = [];
    for (const c of (opts.str('cap') ?? '').split(',').filter((w) => w !== '')) {
      if (!(NODE_DEVICE_CAPS as readonly string[]).includes(c)) throw new CliError('Invalid capability type');
      caps.push(c as NodeDeviceCapName);
    }
    const conn = await ctx.conn();
    const devs = await tryTo('Failed to list node devices', () =>
      conn.nodeDevices.list(caps.length > 0 ? { cap: caps } : {}),
    );
    // virsh sorts by name as strcasecmp does: byte order of the lower-cased names
    const key = (d: { name: string }) => d.name.toLowerCase();
    devs.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    if (!opts.flag('tree')) {
      for (const d of devs) ctx.out(d.name);
      return true;
    }
    const withParents = await Promise.all(
      devs.map(async (d) => ({ name: d.name, parent: await d.getParent() })),
    );
    for (const l of deviceTree(withParents)) ctx.out(l);
    return true;
  },
};

const dumpxml: CommandDef = {
  name: 'nodedev-dumpxml',
  group: 'nodedev',
  summary: 'node device details in XML',
  description: 'Output the node device details as an XML dump to stdout.',
  options: [{ ...DEVICE_OPT, help: 'device name' }, ...XPATH_OPTIONS],
  async run(ctx, opts) {
    const d = await lookupDevice(ctx, opts.need('device'));
    await printXml(ctx, await d.getXML(), opts);
    return true;
  },
};

const detach: CommandDef = {
  name: 'nodedev-detach',
  group: 'nodedev',
  summary: 'detach node device from its device driver',
  description: 'Detach node device from its device driver before assigning to a domain.',
  options: [
    DEVICE_OPT,
    { name: 'driver', kind: 'string', help: "pci device assignment backend driver (e.g. 'vfio' or 'xen')" },
  ],
  async run(ctx, opts) {
    const name = opts.need('device');
    const d = await lookupDevice(ctx, name);
    const driverName = opts.str('driver');
    await tryTo(`Failed to detach device ${name}`, () =>
      d.detach(driverName === undefined ? {} : { driverName }),
    );
    ctx.extra(`Device ${name} detached`);
    return true;
  },
};

function simple(
  name: string,
  summary: string,
  description: string,
  verb: string,
  done: string,
  run: (d: NodeDevice<Connection>) => Promise<void>,
): CommandDef {
  return {
    name,
    group: 'nodedev',
    summary,
    description,
    options: [DEVICE_OPT],
    async run(ctx, opts) {
      const key = opts.need('device');
      const d = await lookupDevice(ctx, key);
      await tryTo(`Failed to ${verb} device ${key}`, () => run(d));
      ctx.extra(`Device ${key} ${done}`);
      return true;
    },
  };
}

export const nodedevCommands: readonly CommandDef[] = [
  detach,
  dumpxml,
  list,
  simple(
    'nodedev-reattach',
    'reattach node device to its device driver',
    'Reattach node device to its device driver once released by the domain.',
    're-attach',
    're-attached',
    (d) => d.reattach(),
  ),
  simple(
    'nodedev-reset',
    'reset node device',
    'Reset node device before or after assigning to a domain.',
    'reset',
    'reset',
    (d) => d.reset(),
  ),
];

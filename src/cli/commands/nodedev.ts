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

const list: CommandDef = {
  name: 'nodedev-list',
  group: 'nodedev',
  summary: 'enumerate devices on this host',
  // virsh's help for nodedev-list has no description
  description: '',
  options: [{ name: 'cap', kind: 'string', help: 'capability names, separated by comma' }],
  async run(ctx, opts) {
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
    for (const name of devs.map((d) => d.name).sort()) ctx.out(name);
    return true;
  },
};

const dumpxml: CommandDef = {
  name: 'nodedev-dumpxml',
  group: 'nodedev',
  summary: 'node device details in XML',
  description: 'Output the node device details as an XML dump to stdout.',
  options: [{ ...DEVICE_OPT, help: 'device name' }],
  async run(ctx, opts) {
    const d = await lookupDevice(ctx, opts.need('device'));
    ctx.out((await d.getXML()).trimEnd());
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

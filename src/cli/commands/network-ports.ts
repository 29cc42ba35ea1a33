/**
 * Network port commands as virsh names them: `net-port-list`,
 * `net-port-create`, `net-port-dumpxml`, `net-port-delete`.
 *
 * virsh's port lookup prints `failed to get network port 'U'` and goes on
 * to a successful exit without the library's cause (its dumpxml and delete
 * start out successful); that is kept, so scripts see the same statuses.
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { Network, NetworkPort } from '../../network.js';
import type { OptSpec } from '../args.js';
import { CliError, type CommandContext, type CommandDef } from '../command.js';
import { table } from '../format.js';
import { libvirtMessage, tryTo } from '../libvirt-words.js';
import { printXml, XPATH_OPTIONS } from '../xpath-view.js';
import { lookupNetwork, NETWORK_OPT } from './network.js';

const PORT_OPT: OptSpec = {
  name: 'port',
  kind: 'string',
  required: true,
  positional: true,
  help: 'port UUID',
};

/** The network and its port, or undefined after virsh's one error line (the network's or the port's). */
async function lookupPort(
  ctx: CommandContext,
  netKey: string,
  uuid: string,
): Promise<NetworkPort<Connection> | undefined> {
  let net: Network<Connection>;
  try {
    net = await (await ctx.conn()).networks.lookup(netKey);
  } catch {
    ctx.error(`failed to get network '${netKey}'`);
    return undefined;
  }
  try {
    return await net.lookupPort(uuid);
  } catch {
    ctx.error(`failed to get network port '${uuid}'`);
    return undefined;
  }
}

// virsh sorts ports by their UUID's 16 bytes, which is the order of the canonical lower-case text
function byUuid(a: { uuid: string }, b: { uuid: string }): number {
  return a.uuid < b.uuid ? -1 : a.uuid > b.uuid ? 1 : 0;
}

const list: CommandDef = {
  name: 'net-port-list',
  group: 'network',
  summary: 'list network ports',
  description: 'Returns list of network ports.',
  options: [
    NETWORK_OPT,
    { name: 'uuid', kind: 'bool', help: "list uuid's only" },
    { name: 'table', kind: 'bool', help: 'list table (default)' },
  ],
  async run(ctx, opts) {
    if (opts.flag('uuid') && opts.flag('table')) {
      throw new CliError('Only one argument from --table and --uuid may be specified.');
    }
    const n = await lookupNetwork(ctx, opts.need('network'));
    // virsh prints the library's cause alone here
    let ports: NetworkPort<Connection>[];
    try {
      ports = await n.listPorts();
    } catch (e) {
      throw new CliError(libvirtMessage(e));
    }
    ports.sort(byUuid);
    if (opts.flag('uuid')) {
      for (const p of ports) ctx.out(p.uuid);
      return true;
    }
    for (const l of table(
      ['UUID'],
      ports.map((p) => [p.uuid]),
      { header: !ctx.quiet },
    ))
      ctx.out(l);
    return true;
  },
};

const create: CommandDef = {
  name: 'net-port-create',
  group: 'network',
  summary: 'create a network port from an XML file',
  description: 'Create a network port.',
  options: [
    NETWORK_OPT,
    {
      name: 'file',
      kind: 'string',
      required: true,
      positional: true,
      help: 'file containing an XML network port description',
    },
    { name: 'validate', kind: 'bool', help: 'validate the XML against the schema' },
  ],
  async run(ctx, opts) {
    const n = await lookupNetwork(ctx, opts.need('network'));
    const file = opts.need('file');
    const xml = ctx.readFile(file);
    // the library has no schema for <networkport> to check against: refused, not pretended
    if (opts.flag('validate')) throw new CliError('Option --validate is not supported by virtkit');
    // virsh's message says "network" here, not "network port"
    const p = await tryTo(`Failed to create network from ${file}`, () => n.createPort(xml));
    ctx.extra(`Network port ${p.uuid} created from ${file}`);
    return true;
  },
};

const dumpxml: CommandDef = {
  name: 'net-port-dumpxml',
  group: 'network',
  summary: 'network port information in XML',
  description: 'Output the network port information as an XML dump to stdout.',
  options: [NETWORK_OPT, PORT_OPT, ...XPATH_OPTIONS],
  async run(ctx, opts) {
    const p = await lookupPort(ctx, opts.need('network'), opts.need('port'));
    if (!p) return true;
    await printXml(ctx, await tryTo('Failed to get the XML of the network port', () => p.getXML()), opts);
    return true;
  },
};

const del: CommandDef = {
  name: 'net-port-delete',
  group: 'network',
  summary: 'delete the specified network port',
  description: 'Delete the specified network port.',
  options: [NETWORK_OPT, PORT_OPT],
  async run(ctx, opts) {
    const p = await lookupPort(ctx, opts.need('network'), opts.need('port'));
    if (!p) return true;
    try {
      await p.delete();
    } catch {
      ctx.error(`Failed to delete network port ${p.uuid}`);
      return true;
    }
    ctx.extra(`Network port ${p.uuid} deleted`);
    return true;
  },
};

/** The commands, for the session's table. */
export const networkPortCommands: readonly CommandDef[] = [create, del, dumpxml, list];

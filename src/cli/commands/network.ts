/**
 * Network commands as virsh names them: `net-list`, `net-info`,
 * `net-dumpxml`, `net-define`, `net-create`, `net-start`, `net-destroy`,
 * `net-undefine`, `net-autostart`, `net-dhcp-leases`, `net-uuid`,
 * `net-name`.
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { Network } from '../../network.js';
import type { OptSpec } from '../args.js';
import { CliError, type CommandContext, type CommandDef } from '../command.js';
import { field, table } from '../format.js';
import { tryTo } from '../libvirt-words.js';
import { listFilter, objectCommands, sortByName, yesNo } from './object-commands.js';

/** The network option of the network commands. */
export const NETWORK_OPT: OptSpec = {
  name: 'network',
  kind: 'string',
  required: true,
  positional: true,
  help: 'network name or uuid',
};

const NET_FILE: OptSpec = {
  name: 'file',
  kind: 'string',
  required: true,
  positional: true,
  help: 'file containing an XML network description',
};

/** Looks a network up by name or UUID; a miss fails with virsh's two lines. */
export async function lookupNetwork(ctx: CommandContext, key: string): Promise<Network<Connection>> {
  const conn = await ctx.conn();
  return tryTo(`failed to get network '${key}'`, () => conn.networks.lookup(key));
}

const kit = objectCommands({
  group: 'network',
  title: 'Network',
  opt: NETWORK_OPT,
  fileOpt: NET_FILE,
  lookup: lookupNetwork,
  define: (conn, xml) => conn.networks.define(xml),
  create: (conn, xml) => conn.networks.create(xml),
});

const list: CommandDef = {
  name: 'net-list',
  group: 'network',
  summary: 'list networks',
  description: 'Returns list of networks.',
  options: [
    { name: 'inactive', kind: 'bool', help: 'list inactive networks' },
    { name: 'all', kind: 'bool', help: 'list inactive & active networks' },
    { name: 'persistent', kind: 'bool', help: 'list persistent networks' },
    { name: 'transient', kind: 'bool', help: 'list transient networks' },
    { name: 'name', kind: 'bool', help: 'list network names only' },
    { name: 'uuid', kind: 'bool', help: "list uuid's only" },
  ],
  async run(ctx, opts) {
    if (opts.flag('name') && opts.flag('uuid')) {
      throw new CliError('Only one argument from --table, --name and --uuid may be specified.');
    }
    const conn = await ctx.conn();
    const nets = sortByName(
      await tryTo('Failed to list networks', () => conn.networks.list(listFilter(opts))),
    );
    if (opts.flag('name') || opts.flag('uuid')) {
      for (const n of nets) ctx.out(opts.flag('name') ? n.name : n.uuid);
      return true;
    }
    const rows: string[][] = [];
    for (const n of nets) {
      const [on, autostart, isPersistent] = await Promise.all([
        n.isActive(),
        n.getAutostart(),
        n.isPersistent(),
      ]);
      rows.push([n.name, on ? 'active' : 'inactive', yesNo(autostart), yesNo(isPersistent)]);
    }
    for (const l of table(['Name', 'State', 'Autostart', 'Persistent'], rows, { header: !ctx.quiet }))
      ctx.out(l);
    return true;
  },
};

const info: CommandDef = {
  name: 'net-info',
  group: 'network',
  summary: 'network information',
  description: 'Returns basic information about the network',
  options: [NETWORK_OPT],
  async run(ctx, opts) {
    const n = await lookupNetwork(ctx, opts.need('network'));
    const [on, persistent, autostart] = await Promise.all([n.isActive(), n.isPersistent(), n.getAutostart()]);
    ctx.out(field('Name:', n.name));
    ctx.out(field('UUID:', n.uuid));
    ctx.out(field('Active:', yesNo(on)));
    ctx.out(field('Persistent:', yesNo(persistent)));
    ctx.out(field('Autostart:', yesNo(autostart)));
    // virsh leaves the line out for a network without a bridge
    const bridge = await n.getBridgeName().catch(() => undefined);
    if (bridge) ctx.out(field('Bridge:', bridge));
    return true;
  },
};

/** A lease's expiry as virsh's `%Y-%m-%d %H:%M:%S` in local time. */
function expiry(seconds: number): string {
  const d = new Date(seconds * 1000);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

const leases: CommandDef = {
  name: 'net-dhcp-leases',
  group: 'network',
  summary: 'print lease info for a given network',
  description: 'Print lease info for a given network',
  options: [NETWORK_OPT, { name: 'mac', kind: 'string', help: 'MAC address' }],
  async run(ctx, opts) {
    const key = opts.need('network');
    const n = await lookupNetwork(ctx, key);
    const mac = opts.str('mac');
    const got = await tryTo(`Failed to get leases info for ${key}`, () =>
      n.getDhcpLeases(mac === undefined ? {} : { mac }),
    );
    // virsh sorts by MAC address, then by IP address
    got.sort((a, b) => (a.mac ?? '').localeCompare(b.mac ?? '') || a.ipaddr.localeCompare(b.ipaddr));
    const rows = got.map((l) => [
      expiry(l.expiryTime),
      l.mac ?? '-',
      l.type,
      `${l.ipaddr}/${l.prefix}`,
      l.hostname ?? '-',
      l.clientId ?? '-',
    ]);
    const header = ['Expiry Time', 'MAC address', 'Protocol', 'IP address', 'Hostname', 'Client ID or DUID'];
    for (const l of table(header, rows, { header: !ctx.quiet })) ctx.out(l);
    return true;
  },
};

const uuid: CommandDef = {
  name: 'net-uuid',
  group: 'network',
  summary: 'convert a network name to network UUID',
  description: 'Convert a network name to network UUID.',
  options: [{ ...NETWORK_OPT, help: 'network name' }],
  async run(ctx, opts) {
    // by name only, as virsh's net-uuid
    const key = opts.need('network');
    const conn = await ctx.conn();
    ctx.out((await tryTo(`failed to get network '${key}'`, () => conn.networks.lookup({ name: key }))).uuid);
    return true;
  },
};

const name: CommandDef = {
  name: 'net-name',
  group: 'network',
  summary: 'convert a network UUID to network name',
  description: 'Convert a network UUID to network name.',
  options: [{ ...NETWORK_OPT, help: 'network uuid' }],
  async run(ctx, opts) {
    // by UUID only, as virsh's net-name; a word that is no UUID fails without a cause
    const key = opts.need('network');
    if (!/^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(key)) {
      throw new CliError(`failed to get network '${key}'`);
    }
    const conn = await ctx.conn();
    ctx.out((await tryTo(`failed to get network '${key}'`, () => conn.networks.lookup({ uuid: key }))).name);
    return true;
  },
};

export const networkCommands: readonly CommandDef[] = [
  kit.autostart('net-autostart'),
  kit.fromFile('net-create', 'create', 'created', 'create a network from an XML file'),
  kit.fromFile(
    'net-define',
    'define',
    'defined',
    'define an inactive persistent virtual network or modify an existing persistent one from an XML file',
  ),
  kit.action('net-destroy', 'destroy (stop) a network', 'destroy', 'destroyed', (n) => n.destroy()),
  leases,
  kit.dumpxml('net-dumpxml'),
  info,
  list,
  name,
  kit.action('net-start', 'start a (previously defined) inactive network', 'start', 'started', (n) =>
    n.start(),
  ),
  kit.action('net-undefine', 'undefine a persistent network', 'undefine', 'has been undefined', (n) =>
    n.undefine(),
  ),
  uuid,
];

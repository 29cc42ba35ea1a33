/**
 * Host commands: `version`, `hostname`, `uri`, `nodeinfo`, `capabilities`,
 * `domcapabilities` (with virsh's option names).
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { attempt, type CommandDef } from '../command.js';
import { versionString } from '../format.js';

/** virtkit's own version, from the package.json three levels above both `src/cli/commands` and `dist/cli/commands`. */
export function virtkitVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: unknown;
    };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

const version: CommandDef = {
  name: 'version',
  group: 'host',
  summary: 'show version',
  description: 'Display the system version information.',
  options: [],
  async run(ctx) {
    const c = await ctx.conn();
    const hv = await attempt('failed to get the hypervisor version', () => c.getVersion());
    // virsh names the libvirt it was built with; virtkit is its own library.
    const lib = virtkitVersion();
    ctx.out(`Compiled against library: virtkit ${lib}`);
    ctx.out(`Using library: virtkit ${lib}`);
    ctx.out(`Using API: ${c.type} ${lib}`);
    ctx.out(`Running hypervisor: ${c.type} ${versionString(hv)}`);
    return true;
  },
};

const hostname: CommandDef = {
  name: 'hostname',
  group: 'host',
  summary: 'print the hypervisor hostname',
  description: '',
  options: [],
  async run(ctx) {
    ctx.out(await attempt('failed to get hostname', async () => (await ctx.conn()).getHostname()));
    return true;
  },
};

const uri: CommandDef = {
  name: 'uri',
  group: 'host',
  summary: 'print the hypervisor canonical URI',
  description: '',
  options: [],
  async run(ctx) {
    ctx.out((await ctx.conn()).uri.uri);
    return true;
  },
};

const nodeinfo: CommandDef = {
  name: 'nodeinfo',
  group: 'host',
  summary: 'node information',
  description: 'Returns basic information about the node.',
  options: [],
  async run(ctx) {
    const n = await attempt('failed to get node information', async () => (await ctx.conn()).getNodeInfo());
    // virsh's nodeinfo aligns at 20 columns, not dominfo's 15.
    const row = (label: string, value: string | number) => `${label.padEnd(20)} ${value}`;
    ctx.out(row('CPU model:', n.model));
    ctx.out(row('CPU(s):', n.cpus));
    ctx.out(row('CPU frequency:', `${n.mhz} MHz`));
    ctx.out(row('CPU socket(s):', n.sockets));
    ctx.out(row('Core(s) per socket:', n.cores));
    ctx.out(row('Thread(s) per core:', n.threads));
    ctx.out(row('NUMA cell(s):', n.nodes));
    ctx.out(row('Memory size:', `${n.memory} KiB`));
    return true;
  },
};

const capabilities: CommandDef = {
  name: 'capabilities',
  group: 'host',
  summary: 'capabilities',
  description: 'Returns capabilities of hypervisor/driver.',
  options: [],
  async run(ctx) {
    const caps = await attempt('failed to get capabilities', async () =>
      (await ctx.conn()).getCapabilities(),
    );
    ctx.out(caps.toXML().trimEnd());
    return true;
  },
};

const domcapabilities: CommandDef = {
  name: 'domcapabilities',
  group: 'host',
  summary: 'domain capabilities',
  description: 'Returns capabilities of emulator with respect to host and libvirt.',
  options: [
    { name: 'virttype', kind: 'string', help: 'virtualization type (/domain/@type)' },
    { name: 'emulatorbin', kind: 'string', help: 'path to emulator binary (/domain/devices/emulator)' },
    { name: 'arch', kind: 'string', help: 'domain architecture (/domain/os/type/@arch)' },
    { name: 'machine', kind: 'string', help: 'machine type (/domain/os/type/@machine)' },
  ],
  async run(ctx, opts) {
    const emulator = opts.str('emulatorbin');
    const arch = opts.str('arch');
    const machine = opts.str('machine');
    const virttype = opts.str('virttype');
    const xml = await attempt('failed to get emulator capabilities', async () =>
      (await ctx.conn()).getDomainCapabilities({
        ...(emulator !== undefined ? { emulator } : {}),
        ...(arch !== undefined ? { arch } : {}),
        ...(machine !== undefined ? { machine } : {}),
        ...(virttype !== undefined ? { virttype } : {}),
      }),
    );
    ctx.out(xml.trimEnd());
    return true;
  },
};

export const hostCommands: readonly CommandDef[] = [
  version,
  hostname,
  uri,
  nodeinfo,
  capabilities,
  domcapabilities,
];

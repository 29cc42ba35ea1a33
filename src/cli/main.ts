#!/usr/bin/env node
/**
 * `virtkit`: a command shaped like virsh for the same everyday jobs, on any
 * virtkit driver.
 *
 *   virtkit [-c URI] COMMAND [ARGS...]
 *
 * The URI defaults to $VIRTKIT_DEFAULT_URI, then $LIBVIRT_DEFAULT_URI, then
 * test:///default. Errors print as `error: CODE: message` and exit 1; a usage
 * mistake exits 2.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { type Connection, connect } from '../connection.js';
import { VirError } from '../errors.js';
import { type SchemaKind, validate } from '../xml/validate.js';

type Out = (line: string) => void;

interface Command {
  usage: string;
  summary: string;
  run(conn: () => Promise<Connection>, args: string[], out: Out): Promise<number>;
}

function arg(args: string[], i: number, usage: string): string {
  const v = args[i];
  if (v === undefined) throw new UsageError(`missing argument: ${usage}`);
  return v;
}

class UsageError extends Error {}

const commands: Record<string, Command> = {
  capabilities: {
    usage: 'capabilities',
    summary: 'host and guest capabilities XML',
    async run(conn, _args, out) {
      out((await (await conn()).getCapabilities()).toXML().trimEnd());
      return 0;
    },
  },
  domcapabilities: {
    usage: 'domcapabilities [--arch A] [--machine M] [--virttype T] [--emulator PATH]',
    summary: 'domain capabilities XML',
    async run(conn, args, out) {
      const q: Record<string, string> = {};
      for (let i = 0; i < args.length; i += 2) {
        const k = args[i]?.replace(/^--/, '');
        if (!k || !['arch', 'machine', 'virttype', 'emulator'].includes(k))
          throw new UsageError(`unknown option ${args[i]}`);
        q[k] = arg(args, i + 1, `${args[i]} VALUE`);
      }
      out((await (await conn()).getDomainCapabilities(q)).trimEnd());
      return 0;
    },
  },
  nodeinfo: {
    usage: 'nodeinfo',
    summary: 'host CPU and memory summary',
    async run(conn, _args, out) {
      const n = await (await conn()).getNodeInfo();
      out(`CPU model:           ${n.model}`);
      out(`CPU(s):              ${n.cpus}`);
      out(`CPU frequency:       ${n.mhz} MHz`);
      out(`CPU socket(s):       ${n.sockets}`);
      out(`Core(s) per socket:  ${n.cores}`);
      out(`Thread(s) per core:  ${n.threads}`);
      out(`NUMA cell(s):        ${n.nodes}`);
      out(`Memory size:         ${n.memory} KiB`);
      return 0;
    },
  },
  list: {
    usage: 'list [--all] [--inactive]',
    summary: 'domains (running ones unless --all / --inactive)',
    async run(conn, args, out) {
      const all = args.includes('--all');
      const inactive = args.includes('--inactive');
      const c = await conn();
      const doms = await c.listDomains(all ? {} : { active: !inactive });
      out(' Id   Name                 State');
      out('------------------------------------------');
      for (const d of doms) {
        const { state } = await d.getState();
        out(
          ` ${(d.id >= 0 ? String(d.id) : '-').padEnd(4)} ${d.name.padEnd(20)} ${state === 'shutoff' ? 'shut off' : state}`,
        );
      }
      return 0;
    },
  },
  dominfo: {
    usage: 'dominfo DOMAIN',
    summary: 'state, memory and vCPUs of a domain',
    async run(conn, args, out) {
      const d = await (await conn()).lookupDomain(arg(args, 0, 'DOMAIN'));
      const info = await d.getInfo();
      out(`Id:             ${d.id >= 0 ? d.id : '-'}`);
      out(`Name:           ${d.name}`);
      out(`UUID:           ${d.uuid}`);
      out(`State:          ${info.state}`);
      out(`CPU(s):         ${info.nrVirtCpu}`);
      out(`Max memory:     ${info.maxMem} KiB`);
      out(`Used memory:    ${info.memory} KiB`);
      return 0;
    },
  },
  domstate: {
    usage: 'domstate DOMAIN [--reason]',
    summary: 'state of a domain',
    async run(conn, args, out) {
      const d = await (await conn()).lookupDomain(arg(args, 0, 'DOMAIN'));
      const { state, reason } = await d.getState();
      out(args.includes('--reason') ? `${state} (${reason})` : state);
      return 0;
    },
  },
  dumpxml: {
    usage: 'dumpxml DOMAIN [--inactive] [--security-info]',
    summary: 'domain XML',
    async run(conn, args, out) {
      const d = await (await conn()).lookupDomain(arg(args, 0, 'DOMAIN'));
      const xml = await d.getXML({
        inactive: args.includes('--inactive'),
        secure: args.includes('--security-info'),
      });
      out(xml.trimEnd());
      return 0;
    },
  },
  define: {
    usage: 'define FILE',
    summary: 'define a persistent domain from an XML file',
    async run(conn, args, out) {
      const d = await (await conn()).defineDomain(readFileSync(arg(args, 0, 'FILE'), 'utf8'));
      out(`Domain '${d.name}' defined from ${args[0]}`);
      return 0;
    },
  },
  ...lifecycle('start', 'started', (d) => d.start()),
  ...lifecycle('shutdown', 'is being shutdown', (d) => d.shutdown()),
  ...lifecycle('reboot', 'is being rebooted', (d) => d.reboot()),
  ...lifecycle('reset', 'was reset', (d) => d.reset()),
  ...lifecycle('destroy', 'destroyed', (d) => d.destroy()),
  ...lifecycle('suspend', 'suspended', (d) => d.suspend()),
  ...lifecycle('resume', 'resumed', (d) => d.resume()),
  ...lifecycle('undefine', 'has been undefined', (d) => d.undefine()),
  validate: {
    usage: 'validate FILE [capability|domaincaps|domain|cpu]',
    summary: 'validate XML against our RelaxNG schema (kind from the root element by default)',
    async run(_conn, args, out) {
      const file = arg(args, 0, 'FILE');
      const xml = readFileSync(file, 'utf8');
      const kind = (args[1] ?? guessKind(xml)) as SchemaKind;
      const r = await validate(xml, kind);
      if (r.valid) {
        out(`${file} validates`);
        return 0;
      }
      for (const e of r.errors) out(`${file}:${e.line}: ${e.message}`);
      out(`${file} fails to validate`);
      return 1;
    },
  },
  'cpu-compare': {
    usage: 'cpu-compare FILE',
    summary: "compare a guest CPU with the host's",
    async run(conn, args, out) {
      const r = await (await conn()).compareCpu(readFileSync(arg(args, 0, 'FILE'), 'utf8'));
      out(
        `CPU described in ${args[0]} is ${r === 'superset' ? 'a superset of' : r === 'identical' ? 'identical to' : 'incompatible with'} the host CPU`,
      );
      return r === 'incompatible' ? 1 : 0;
    },
  },
  'cpu-baseline': {
    usage: 'cpu-baseline FILE [--features] [--migratable]',
    summary: 'baseline CPU of the <cpu> elements in FILE',
    async run(conn, args, out) {
      const text = readFileSync(arg(args, 0, 'FILE'), 'utf8');
      const cpus = text.match(/<cpu[\s>][\s\S]*?<\/cpu>|<cpu\s[^>]*\/>/g) ?? [];
      const xml = await (await conn()).baselineCpu(cpus, {
        expandFeatures: args.includes('--features'),
        migratable: args.includes('--migratable'),
      });
      out(xml.trimEnd());
      return 0;
    },
  },
  version: {
    usage: 'version',
    summary: 'hypervisor type and version',
    async run(conn, _args, out) {
      const c = await conn();
      const v = await c.getVersion();
      out(`Running hypervisor: ${c.type} ${Math.floor(v / 1e6)}.${Math.floor(v / 1e3) % 1000}.${v % 1000}`);
      return 0;
    },
  },
  hostname: {
    usage: 'hostname',
    summary: 'host name of the hypervisor',
    async run(conn, _args, out) {
      out(await (await conn()).getHostname());
      return 0;
    },
  },
};

function lifecycle(
  name: string,
  done: string,
  act: (d: Awaited<ReturnType<Connection['lookupDomain']>>) => Promise<void>,
): Record<string, Command> {
  return {
    [name]: {
      usage: `${name} DOMAIN`,
      summary: `${name} a domain`,
      async run(conn, args, out) {
        const d = await (await conn()).lookupDomain(arg(args, 0, 'DOMAIN'));
        await act(d);
        out(`Domain '${d.name}' ${done}`);
        return 0;
      },
    },
  };
}

function guessKind(xml: string): SchemaKind {
  const root = /<([A-Za-z_][\w.-]*)/.exec(xml.replace(/<\?[\s\S]*?\?>|<!--[\s\S]*?-->/g, ''))?.[1];
  switch (root) {
    case 'capabilities':
      return 'capability';
    case 'domainCapabilities':
      return 'domaincaps';
    case 'cpu':
      return 'cpu';
    default:
      return 'domain';
  }
}

function help(out: Out): void {
  out('usage: virtkit [-c URI] COMMAND [ARGS...]\n');
  for (const c of Object.values(commands)) out(`  ${c.usage.padEnd(48)} ${c.summary}`);
}

/** Runs the CLI; returns the exit status. Exported for tests. */
export async function main(
  argv: string[],
  out: Out = console.log,
  err: Out = console.error,
): Promise<number> {
  let uri = process.env.VIRTKIT_DEFAULT_URI ?? process.env.LIBVIRT_DEFAULT_URI ?? 'test:///default';
  const args = [...argv];
  while (args[0]?.startsWith('-')) {
    const opt = args.shift();
    if (opt === '-c' || opt === '--connect') uri = args.shift() ?? '';
    else if (opt === '-h' || opt === '--help') {
      help(out);
      return 0;
    } else {
      err(`unknown option ${opt}`);
      return 2;
    }
  }
  const name = args.shift();
  if (!name || name === 'help') {
    help(out);
    return name ? 0 : 2;
  }
  const cmd = commands[name];
  if (!cmd) {
    err(`unknown command '${name}' (try: virtkit help)`);
    return 2;
  }
  let conn: Connection | undefined;
  const open = async () => {
    conn ??= await connect(uri);
    return conn;
  };
  try {
    return await cmd.run(open, args, out);
  } catch (e) {
    if (e instanceof UsageError) {
      err(`${e.message}\nusage: virtkit ${cmd.usage}`);
      return 2;
    }
    if (e instanceof VirError) err(`error: ${e.code}: ${e.message}`);
    else err(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await conn?.close().catch(() => {});
  }
}

const invokedDirectly =
  process.argv[1] !== undefined && /(?:^|[\\/])(?:main\.[cm]?[jt]s|virtkit)$/.test(process.argv[1]);
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      console.error(e);
      process.exitCode = 1;
    },
  );
}

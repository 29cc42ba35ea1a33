/**
 * Commands that change domains: `define`, `create`, `undefine`, the
 * lifecycle ones (`start`, `shutdown`, ...), `autostart`, `setmem`,
 * `setvcpus`, `managedsave`, `domrename`.
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { Domain } from '../../domain.js';
import { isVirError } from '../../errors.js';
import { type ParsedOpts, parseCount, parseScaledKiB } from '../args.js';
import {
  attempt,
  CliError,
  type CommandContext,
  type CommandDef,
  DOMAIN_OPT,
  describeError,
  FILE_OPT,
  SCOPE_OPTS,
  scopeOf,
} from '../command.js';

const VALIDATE_OPT = { name: 'validate', kind: 'bool', help: 'validate the XML against the schema' } as const;

/** `--validate`: refuses a document our schema rejects, with its first error's line. */
async function checkSchema(xml: string, file: string): Promise<void> {
  const { validate } = await import('../../xml/validate.js');
  const r = await validate(xml, 'domain');
  const first = r.errors[0];
  if (!r.valid && first) throw new CliError(`${file}:${first.line}: ${first.message}`);
}

const define: CommandDef = {
  name: 'define',
  group: 'domain',
  summary: "define (but don't start) a domain from an XML file",
  description: 'Define a domain.',
  options: [FILE_OPT, VALIDATE_OPT],
  async run(ctx, opts) {
    const file = opts.need('file');
    const xml = ctx.readFile(file);
    const d = await attempt(`Failed to define domain from ${file}`, async () => {
      if (opts.flag('validate')) await checkSchema(xml, file);
      return (await ctx.conn()).defineDomain(xml);
    });
    ctx.extra(`Domain '${d.name}' defined from ${file}`);
    return true;
  },
};

const domxmlToNative: CommandDef = {
  name: 'domxml-to-native',
  group: 'domain',
  summary: 'convert domain XML to native guest configuration',
  description: 'Convert domain XML config to a native guest configuration format (qemu-argv).',
  options: [
    {
      name: 'format',
      kind: 'string',
      required: true,
      positional: true,
      help: 'target config data type format',
    },
    { name: 'xml', kind: 'string', required: true, positional: true, help: 'xml data file to export from' },
  ],
  async run(ctx, opts) {
    const file = opts.need('xml');
    const xml = ctx.readFile(file);
    const line = await attempt(`Failed to convert ${file}`, async () =>
      (await ctx.conn()).domainXMLToNative(opts.need('format'), xml),
    );
    ctx.out(line);
    return true;
  },
};

const create: CommandDef = {
  name: 'create',
  group: 'domain',
  summary: 'create a domain from an XML file',
  description: 'Create a domain.',
  options: [
    FILE_OPT,
    { name: 'paused', kind: 'bool', help: 'leave the guest paused after creation' },
    VALIDATE_OPT,
  ],
  async run(ctx, opts) {
    const file = opts.need('file');
    const xml = ctx.readFile(file);
    const d = await attempt(`Failed to create domain from ${file}`, async () => {
      if (opts.flag('validate')) await checkSchema(xml, file);
      return (await ctx.conn()).createDomain(xml, { paused: opts.flag('paused') });
    });
    ctx.extra(`Domain '${d.name}' created from ${file}`);
    return true;
  },
};

type Dom = Domain<Connection>;

/** A command that takes a domain, does one thing to it and says so. */
function action(
  name: string,
  summary: string,
  description: string,
  done: string,
  act: (d: Dom, ctx: CommandContext, opts: ParsedOpts) => Promise<void>,
  extraOptions: CommandDef['options'] = [],
): CommandDef {
  return {
    name,
    group: 'domain',
    summary,
    description,
    options: [DOMAIN_OPT, ...extraOptions],
    async run(ctx, opts) {
      const d = await ctx.domain(opts.need('domain'));
      const label = d.name;
      await attempt(`Failed to ${name} domain '${label}'`, () => act(d, ctx, opts));
      ctx.extra(`Domain '${label}' ${done}`);
      return true;
    },
  };
}

const lifecycle: readonly CommandDef[] = [
  action(
    'start',
    'start a (previously defined) inactive domain',
    'Start a (previously defined) inactive domain.',
    'started',
    async (d, _ctx, opts) => {
      if (d.id >= 0) throw new CliError('Domain is already active');
      await d.start({ paused: opts.flag('paused') });
    },
    [{ name: 'paused', kind: 'bool', help: 'leave the guest paused after start' }],
  ),
  action(
    'shutdown',
    'gracefully shutdown a domain',
    'Run shutdown in the target domain.',
    'is being shutdown',
    (d) => d.shutdown(),
  ),
  action(
    'reboot',
    'reboot a domain',
    'Run a reboot command in the target domain.',
    'is being rebooted',
    (d) => d.reboot(),
  ),
  action('reset', 'reset a domain', 'Reset the target domain as if by power button', 'was reset', (d) =>
    d.reset(),
  ),
  action('destroy', 'destroy (stop) a domain', 'Forcefully stop a given domain.', 'destroyed', (d) =>
    d.destroy(),
  ),
  action('suspend', 'suspend a domain', 'Suspend a running domain.', 'suspended', (d) => d.suspend()),
  action('resume', 'resume a domain', 'Resume a previously suspended domain.', 'resumed', (d) => d.resume()),
  action(
    'undefine',
    'undefine a domain',
    'Undefine an inactive domain, or convert persistent to transient.',
    'has been undefined',
    (d, _ctx, opts) => d.undefine({ snapshots: opts.flag('snapshots-metadata') }),
    [
      {
        name: 'snapshots-metadata',
        kind: 'bool',
        help: 'remove all domain snapshot metadata (vm must be inactive)',
      },
    ],
  ),
];

const autostart: CommandDef = {
  name: 'autostart',
  group: 'domain',
  summary: 'autostart a domain',
  description: 'Configure a domain to be automatically started at boot.',
  options: [DOMAIN_OPT, { name: 'disable', kind: 'bool', help: 'disable autostarting' }],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const on = !opts.flag('disable');
    await attempt(`Failed to ${on ? 'mark' : 'unmark'} domain '${d.name}' as autostarted`, () =>
      d.setAutostart(on),
    );
    ctx.extra(`Domain '${d.name}' ${on ? 'marked' : 'unmarked'} as autostarted`);
    return true;
  },
};

const setmem: CommandDef = {
  name: 'setmem',
  group: 'domain',
  summary: 'change memory allocation',
  description: 'Change the current memory allocation in the guest domain.',
  options: [
    DOMAIN_OPT,
    {
      name: 'size',
      kind: 'number',
      required: true,
      positional: true,
      help: 'new memory size, as scaled integer (default KiB)',
    },
    ...SCOPE_OPTS,
  ],
  async run(ctx, opts) {
    const scope = scopeOf(opts);
    const kib = parseScaledKiB(opts.need('size'), 'size');
    const d = await ctx.domain(opts.need('domain'));
    await d.setMemory(kib, scope);
    return true;
  },
};

const setvcpus: CommandDef = {
  name: 'setvcpus',
  group: 'domain',
  summary: 'change number of virtual CPUs',
  description: 'Change the number of virtual CPUs in the guest domain.',
  options: [
    DOMAIN_OPT,
    { name: 'count', kind: 'number', required: true, positional: true, help: 'number of virtual CPUs' },
    ...SCOPE_OPTS,
  ],
  async run(ctx, opts) {
    const scope = scopeOf(opts);
    const count = parseCount(opts.need('count'), 'count');
    const d = await ctx.domain(opts.need('domain'));
    await d.setVcpus(count, scope);
    return true;
  },
};

const managedsave: CommandDef = {
  name: 'managedsave',
  group: 'domain',
  summary: 'managed save of a domain state',
  description:
    'Save and destroy a running domain, so it can be restarted from the same state at a later time. ' +
    'When the virsh start command is next run for the domain, it will automatically be started from this saved state.',
  options: [DOMAIN_OPT],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    await attempt(`Failed to save domain '${d.name}' state`, () => d.managedSave());
    ctx.extra('');
    ctx.extra(`Domain '${d.name}' state saved by libvirt`);
    return true;
  },
};

const domrename: CommandDef = {
  name: 'domrename',
  group: 'domain',
  summary: 'rename a domain',
  description: 'Rename an inactive domain.',
  options: [
    { ...DOMAIN_OPT, help: 'domain name or uuid' },
    { name: 'new-name', kind: 'string', required: true, positional: true, help: 'new domain name' },
  ],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    // virsh prints libvirt's error alone here (no "Failed to ..." line), led by the
    // words libvirt gives its code.
    try {
      await d.rename(opts.need('new-name'));
    } catch (e) {
      if (isVirError(e, 'OPERATION_INVALID')) {
        throw new CliError(`Requested operation is not valid: ${describeError(e)}`);
      }
      throw new CliError(describeError(e));
    }
    ctx.extra('Domain successfully renamed');
    return true;
  },
};

export const domainControlCommands: readonly CommandDef[] = [
  define,
  create,
  domxmlToNative,
  ...lifecycle,
  autostart,
  setmem,
  setvcpus,
  managedsave,
  domrename,
];

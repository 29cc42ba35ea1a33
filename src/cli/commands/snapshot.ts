/**
 * Snapshot commands: `snapshot-create`, `snapshot-create-as`,
 * `snapshot-current`, `snapshot-dumpxml`, `snapshot-revert`,
 * `snapshot-delete` (the reading ones are in snapshot-query.ts).
 *
 * @module
 */
import type { Connection } from '../../connection.js';
import type { Domain } from '../../domain.js';
import type { SnapshotCreateOptions, SnapshotRevertOptions } from '../../driver.js';
import { isVirError } from '../../errors.js';
import type { OptSpec, ParsedOpts } from '../args.js';
import { CliError, type CommandContext, type CommandDef, DOMAIN_OPT, describeError } from '../command.js';
import { libvirtMessage } from '../libvirt-words.js';
import { printXml, XPATH_OPTIONS } from '../xpath-view.js';
import { chosenSnapshot, currentSnapshot, SNAPSHOT_NAME, snapshotQueryCommands } from './snapshot-query.js';
import { snapshotXml } from './snapshot-spec.js';

const CURRENT = { name: 'current', kind: 'bool', help: 'also set current snapshot' } as const;

// libvirt's VIR_ERR_SNAPSHOT_REVERT_RISKY, which a daemon's error carries as its number.
const REVERT_RISKY = 77;

/** The create flags both create commands take, in virsh's order, with the library option each sets. */
const CREATE_FLAGS: readonly (readonly [OptSpec, keyof SnapshotCreateOptions])[] = [
  [{ name: 'no-metadata', kind: 'bool', help: 'take snapshot but create no metadata' }, 'noMetadata'],
  [{ name: 'halt', kind: 'bool', help: 'halt domain after snapshot is created' }, 'halt'],
  [{ name: 'disk-only', kind: 'bool', help: 'capture disk state but not vm state' }, 'diskOnly'],
  [{ name: 'reuse-external', kind: 'bool', help: 'reuse any existing external files' }, 'reuseExt'],
  [{ name: 'quiesce', kind: 'bool', help: "quiesce guest's file systems" }, 'quiesce'],
  [{ name: 'atomic', kind: 'bool', help: 'require atomic operation' }, 'atomic'],
  [{ name: 'live', kind: 'bool', help: 'take a live snapshot' }, 'live'],
  [{ name: 'validate', kind: 'bool', help: 'validate the XML against the schema' }, 'validate'],
];

function createFlags(opts: ParsedOpts): SnapshotCreateOptions {
  const flags: { -readonly [K in keyof SnapshotCreateOptions]: boolean } = {};
  for (const [spec, key] of CREATE_FLAGS) if (opts.flag(spec.name)) flags[key] = true;
  if (opts.flag('redefine')) flags.redefine = true;
  if (opts.flag('current')) flags.current = true;
  return flags;
}

/** A string option, refused when given empty (virsh's `vshCommandOptStringReq`). */
function nonEmpty(opts: ParsedOpts, name: string): string | undefined {
  const v = opts.str(name);
  if (v === '') throw new CliError(`Failed to get option '${name}': Option argument is empty`);
  return v;
}

/**
 * A library failure worded as libvirt words it, except that an invalid
 * argument goes without its code's phrase: libvirt raises the flag checks
 * (`unsupported flags`, `mutually exclusive`) without it.
 */
function message(e: unknown): string {
  return isVirError(e, 'INVALID_ARG') ? describeError(e) : libvirtMessage(e);
}

/** A library failure as virsh reports it: libvirt's message alone. */
function reported(e: unknown): CliError {
  return e instanceof CliError ? e : new CliError(message(e));
}

/** virsh's two lines: what failed, then libvirt's message. */
function failed(what: string, e: unknown): CliError {
  return e instanceof CliError ? e : new CliError(`${what}\nerror: ${message(e)}`);
}

/**
 * Takes the snapshot as virsh does: a `validate` the driver does not know is
 * dropped for the default document, and a `halt` refused as an invalid
 * argument is emulated (the snapshot without it, then the guest destroyed),
 * as virsh does for servers older than the flag.
 */
async function takeSnapshot(
  ctx: CommandContext,
  d: Domain<Connection>,
  xml: string,
  flags: SnapshotCreateOptions,
  from?: string,
): Promise<void> {
  let opts = flags;
  let halt = false;
  const create = () => d.createSnapshot(xml, opts);
  let name: string;
  try {
    name = await create().catch((e: unknown) => {
      if (!isVirError(e, 'NO_SUPPORT') || from !== undefined || !opts.validate) throw e;
      opts = { ...opts, validate: false };
      return create();
    });
  } catch (e) {
    if (!isVirError(e, 'INVALID_ARG') || !opts.halt) throw reported(e);
    if (!(await d.isPersistent().catch((err: unknown) => Promise.reject(reported(err))))) {
      throw new CliError('cannot halt after snapshot of transient domain');
    }
    // virDomainIsActive: any state but shut off
    halt = await d.getState().then(
      (s) => s.state !== 'shutoff',
      () => false,
    );
    opts = { ...opts, halt: false };
    name = await create().catch((err: unknown) => Promise.reject(reported(err)));
  }
  if (halt) await d.destroy().catch((err: unknown) => Promise.reject(reported(err)));
  ctx.extra(from ? `Domain snapshot ${name} created from '${from}'` : `Domain snapshot ${name} created`);
  ctx.noBlankLine();
}

const create: CommandDef = {
  name: 'snapshot-create',
  group: 'snapshot',
  summary: 'Create a snapshot from XML',
  description: 'Create a snapshot (disk and RAM) from XML',
  options: [
    DOMAIN_OPT,
    { name: 'xmlfile', kind: 'string', help: 'domain snapshot XML' },
    { name: 'redefine', kind: 'bool', help: 'redefine metadata for existing snapshot' },
    { ...CURRENT, help: 'with redefine, set current snapshot' },
    ...CREATE_FLAGS.map(([spec]) => spec),
  ],
  async run(ctx, opts) {
    const flags = createFlags(opts);
    const d = await ctx.domain(opts.need('domain'));
    const file = nonEmpty(opts, 'xmlfile');
    await takeSnapshot(ctx, d, file === undefined ? '<domainsnapshot/>' : ctx.readFile(file), flags, file);
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
    { name: 'name', kind: 'string', positional: true, helpAsOption: true, help: 'name of snapshot' },
    {
      name: 'description',
      kind: 'string',
      positional: true,
      helpAsOption: true,
      help: 'description of snapshot',
    },
    { name: 'print-xml', kind: 'bool', help: 'print XML document rather than create' },
    ...CREATE_FLAGS.map(([spec]) => spec),
    { name: 'memspec', kind: 'string', help: 'memory attributes: [file=]name[,snapshot=type]' },
    {
      name: 'diskspec',
      kind: 'argv',
      positional: true,
      help: 'disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]',
    },
  ],
  async run(ctx, opts) {
    const flags = createFlags(opts);
    // virsh looks the domain up before anything else, --print-xml too
    const d = await ctx.domain(opts.need('domain'));
    const name = nonEmpty(opts, 'name');
    const description = nonEmpty(opts, 'description');
    const memspec = nonEmpty(opts, 'memspec');
    const xml = snapshotXml({
      ...(name === undefined ? {} : { name }),
      ...(description === undefined ? {} : { description }),
      ...(memspec === undefined ? {} : { memspec }),
      diskspecs: opts.list('diskspec'),
    });
    if (opts.flag('print-xml')) {
      // virsh prints the document's own line end and one more
      ctx.out(xml);
      return true;
    }
    await takeSnapshot(ctx, d, xml, flags);
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
  options: [
    DOMAIN_OPT,
    { ...SNAPSHOT_NAME, required: true, helpAsOption: false },
    { name: 'security-info', kind: 'bool', help: 'include security sensitive information in XML dump' },
    ...XPATH_OPTIONS,
  ],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const xml = await d.getSnapshotXML(opts.need('snapshotname'), { secure: opts.flag('security-info') });
    await printXml(ctx, xml, opts);
    return true;
  },
};

const revert: CommandDef = {
  name: 'snapshot-revert',
  group: 'snapshot',
  summary: 'Revert a domain to a snapshot',
  description: 'Revert domain to snapshot',
  options: [
    DOMAIN_OPT,
    SNAPSHOT_NAME,
    { ...CURRENT, help: 'revert to current snapshot' },
    { name: 'running', kind: 'bool', help: 'after reverting, change state to running' },
    { name: 'paused', kind: 'bool', help: 'after reverting, change state to paused' },
    { name: 'force', kind: 'bool', help: 'try harder on risky reverts' },
    { name: 'reset-nvram', kind: 'bool', help: 're-initialize NVRAM from its pristine template' },
  ],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const name = await chosenSnapshot(d, opts);
    const flags: SnapshotRevertOptions = {
      ...(opts.flag('running') ? { running: true } : {}),
      ...(opts.flag('paused') ? { paused: true } : {}),
      ...(opts.flag('reset-nvram') ? { resetNvram: true } : {}),
    };
    // as virsh: --force is sent only after a revert refused as risky, so a server without the flag still reverts
    await d
      .revertToSnapshot(name, flags)
      .catch((e: unknown) => {
        if (!opts.flag('force') || !isVirError(e) || e.libvirtCode !== REVERT_RISKY) throw e;
        return d.revertToSnapshot(name, { ...flags, force: true });
      })
      .catch((e: unknown) => Promise.reject(failed(`Failed to revert snapshot ${name}`, e)));
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
    { name: 'children-only', kind: 'bool', help: 'delete children but not snapshot' },
    {
      name: 'metadata',
      kind: 'bool',
      help: 'delete only libvirt metadata, leaving snapshot contents behind',
    },
  ],
  async run(ctx, opts) {
    const d = await ctx.domain(opts.need('domain'));
    const name = await chosenSnapshot(d, opts);
    const childrenOnly = opts.flag('children-only');
    await d
      .deleteSnapshot(name, {
        ...(opts.flag('children') ? { children: true } : {}),
        ...(childrenOnly ? { childrenOnly: true } : {}),
        ...(opts.flag('metadata') ? { metadataOnly: true } : {}),
      })
      .catch((e: unknown) => Promise.reject(failed(`Failed to delete snapshot ${name}`, e)));
    ctx.extra(childrenOnly ? `Domain snapshot ${name} children deleted` : `Domain snapshot ${name} deleted`);
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
